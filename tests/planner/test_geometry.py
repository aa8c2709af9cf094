"""Needle geometry against hand-computed answers."""

from __future__ import annotations

import math

import pytest

from planner import geometry as g
from planner import needles
from planner.errors import PlanError


def test_depth_and_long_enough():
    assert g.depth_mm((0, 0, 0), (3, 4, 12)) == pytest.approx(13.0)
    assert g.long_enough(89, 79)  # 79 + 10 hub = 89
    assert not g.long_enough(89, 79.5)
    assert not g.long_enough(38, 30)  # 38 mm needle, 10 mm hub: 28 mm at most
    assert g.long_enough(38, 30, hub_allowance_mm=5)


def test_craniocaudal_and_mediolateral_angles():
    # posterior entry going anteriorly (-y) and cranially: tan(angle) = 1/sqrt(3) -> 30 deg
    e, t = (0, 50, 0), (0, 50 - math.sqrt(3) * 10, 10)
    assert g.craniocaudal_deg(e, t) == pytest.approx(30.0)
    assert g.mediolateral_deg(e, t) == pytest.approx(0.0)
    # toward patient left (+x) by 1 for every 1 anteriorly: 45 deg; caudal 0
    assert g.mediolateral_deg((0, 0, 0), (10, -10, 0)) == pytest.approx(45.0)
    assert g.mediolateral_deg((0, 0, 0), (-10, 10, 0)) == pytest.approx(-45.0)
    # caudad 1 in 2 along the axial projection of length 2: atan(1/2)
    assert g.craniocaudal_deg((0, 0, 0), (0, 2, -1)) == pytest.approx(-math.degrees(math.atan(0.5)))
    # paramedian lumbar: entry 10 mm right of a midline at x = 5, aimed at x = 5 over 60 mm depth
    assert g.medial_deg((-5, 60, 0), (5, 0, 0), midline_x=5.0) == pytest.approx(math.degrees(math.atan(10 / 60)))
    assert g.medial_deg((15, 60, 0), (5, 0, 0), midline_x=5.0) == pytest.approx(math.degrees(math.atan(10 / 60)))


def test_skin_angle():
    assert g.skin_angle_deg((0, 0, 0), (0, 0, -10), (0, 0, 1)) == pytest.approx(0.0)
    assert g.skin_angle_deg((0, 0, 0), (10, 0, -10), (0, 0, 1)) == pytest.approx(45.0)
    assert g.skin_angle_deg((0, 0, 0), (10, 0, -10 * math.sqrt(3)), (0, 0, 2)) == pytest.approx(30.0)


def test_gantry_angles():
    # untilted: a needle in the axial plane is fully in plane
    inp, out = g.gantry_angles((0, 50, 0), (20, 50 - 20 * math.sqrt(3), 0))
    assert out == pytest.approx(0.0) and inp == pytest.approx(30.0)
    # 10 deg cephalad needle: 10 deg out of an untilted plane, in plane with a gantry tilted to match
    e, t = (0, 50, 0), (0, 50 - 10 * math.cos(math.radians(10)), 10 * math.sin(math.radians(10)))
    inp, out = g.gantry_angles(e, t)
    assert out == pytest.approx(10.0) and inp == pytest.approx(0.0)
    inp, out = g.gantry_angles(e, t, tilt_deg=10.0)
    assert out == pytest.approx(0.0, abs=1e-9)
    assert inp == pytest.approx(0.0, abs=1e-9)
    inp, out = g.gantry_angles(e, t, tilt_deg=-10.0)
    assert out == pytest.approx(20.0)


def test_segment_distance():
    assert g.segment_distance_mm((0, 0, 0), (10, 0, 0), (5, 3, -5), (5, 3, 5)) == pytest.approx(3.0)
    assert g.segment_distance_mm((0, 0, 0), (10, 0, 0), (12, 0, 4), (20, 0, 4)) == pytest.approx(math.hypot(2, 4))
    assert g.segment_distance_mm((0, 0, 0), (10, 0, 0), (0, 1, 0), (10, 1, 0)) == pytest.approx(1.0)


def test_needles():
    assert needles.outer_diameter_mm("22G") == 0.72 and needles.outer_diameter_mm(18) == 1.27
    assert needles.deflection_mm("quincke", 80) == pytest.approx(8.8)  # Rand 2016: 8.9 mm at 80 mm
    assert needles.deflection_mm("whitacre", 80) == pytest.approx(0.72)  # Rand 2016: 0.7 mm
    assert needles.deflection_mm("sprotte", 10) == needles.deflection_mm("whitacre", 10)
    assert needles.parse_needle_spec("22g:89:Whitacre") == ("22G", 89.0, "whitacre")
    for bad in ("22G:89", "23G:89:quincke", "22G:abc:quincke", "22G:89:foo", "22G:1000:quincke"):
        with pytest.raises(PlanError):
            needles.parse_needle_spec(bad)
    with pytest.raises(PlanError):
        g.direction((1, 2, 3), (1, 2, 3))
