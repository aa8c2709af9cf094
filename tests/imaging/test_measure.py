"""Distances, angles and scale-bar lengths, against independent formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from imaging.measure import Measurement, angle_deg, distance_mm, nice_length_mm

coord = st.floats(-500, 500, allow_nan=False)
point = st.tuples(coord, coord, coord)


def test_distance_is_euclidean():
    assert distance_mm((0, 0, 0), (3, 4, 12)) == pytest.approx(13.0)
    assert distance_mm((1.5, -2, 7), (1.5, -2, 7)) == 0.0


@given(point, point)
def test_distance_matches_math_dist(a, b):
    assert distance_mm(a, b) == pytest.approx(math.dist(a, b), abs=1e-9)


def test_angles_of_known_triangles():
    assert angle_deg((1, 0, 0), (0, 0, 0), (0, 1, 0)) == pytest.approx(90.0)
    assert angle_deg((1, 0, 0), (0, 0, 0), (1, 1, 0)) == pytest.approx(45.0)
    assert angle_deg((1, 0, 0), (0, 0, 0), (-1, 0, 0)) == pytest.approx(180.0)
    assert angle_deg((2, 0, 0), (0, 0, 0), (3, 1e-7, 0)) == pytest.approx(0.0, abs=1e-4)
    with pytest.raises(ValueError, match="no length"):
        angle_deg((0, 0, 0), (0, 0, 0), (1, 0, 0))


@given(point, point, point)
def test_angles_of_a_triangle_sum_to_180(a, b, c):
    a, b, c = (np.asarray(p) for p in (a, b, c))
    sides = [np.linalg.norm(b - c), np.linalg.norm(a - c), np.linalg.norm(a - b)]
    if min(sides) < 1e-3:
        return
    # law of cosines as the independent reference, away from degenerate triangles
    area2 = np.linalg.norm(np.cross(b - a, c - a))
    if area2 < 1e-3 * max(sides) ** 2:
        return
    total = angle_deg(b, a, c) + angle_deg(a, b, c) + angle_deg(a, c, b)
    assert total == pytest.approx(180.0, abs=1e-6)
    ab, ac, bc = sides[2], sides[1], sides[0]
    ref = math.degrees(math.acos(np.clip((ab**2 + ac**2 - bc**2) / (2 * ab * ac), -1, 1)))
    assert angle_deg(b, a, c) == pytest.approx(ref, abs=1e-5)


def test_measurement_values_and_labels():
    d = Measurement("distance", [(0, 0, 0), (0, 30, 40)], plane="axial")
    assert d.value == pytest.approx(50.0) and d.label() == "50.0 mm" and d.unit == "mm"
    assert d.describe() == "Distance 50.0 mm (axial)"
    a = Measurement("angle", [(10, 0, 0), (0, 0, 0), (0, 0, 10)])
    assert a.value == pytest.approx(90.0) and a.label() == "90.0\N{DEGREE SIGN}"
    with pytest.raises(ValueError):
        Measurement("angle", [(0, 0, 0), (1, 1, 1)])
    with pytest.raises(ValueError):
        Measurement("area", [(0, 0, 0), (1, 1, 1)])


@pytest.mark.parametrize("max_mm, expected", [(73, 50), (100, 100), (19.9, 10), (4.1, 2), (0.7, 0.5), (250, 200)])
def test_scale_bar_lengths_are_1_2_5(max_mm, expected):
    assert nice_length_mm(max_mm) == pytest.approx(expected)


def test_structure_centre_is_inside_the_structure():
    from imaging.measure import structure_centre_ijk

    labels = np.zeros((20, 30, 40), np.uint8)
    labels[5:10, 11:20, 4:9] = 3  # a box: its centroid voxel (i 6, j 15, k 7)
    np.testing.assert_array_equal(structure_centre_ijk(labels, 3), [6, 15, 7])
    # a ring: the centroid is in the hole, the answer is a ring voxel next to it
    z, y, x = np.ogrid[:20, :30, :40]
    r = np.hypot(y - 15, x - 20)
    labels[:] = 0
    labels[10][(r[0] > 8) & (r[0] < 10)] = 5
    c = structure_centre_ijk(labels, 5)
    assert labels[c[2], c[1], c[0]] == 5 and 8 < math.hypot(c[1] - 15, c[0] - 20) < 10
    assert structure_centre_ijk(labels, 9) is None
