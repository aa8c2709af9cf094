"""Whole-shaft safety: clearances against analytic spheres and cylinders (oblique and anisotropic
grids), bone crossings against an independent walk of the label array, margins, tip checks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from planner import needles
from planner.model import Needle, StructureMargin, Trajectory
from planner.safety import (
    ClearanceMaps,
    SafetyEvaluator,
    evaluate_trajectory,
    needle_conflicts,
    trilinear,
)
from tests.planner.synthetic import Cylinder, Slab, Sphere, grid, labelmap, rotation

R22 = needles.radius_mm("22G")


def _line_sdf_min(shape, entry, tip, n=20001):
    t = np.linspace(0, 1, n)[:, None]
    pts = np.asarray(entry)[None] * (1 - t) + np.asarray(tip)[None] * t
    d = shape.sdf(pts)
    k = int(np.argmin(d))
    return float(d[k]), float(t[k, 0] * np.linalg.norm(np.subtract(tip, entry)))


@pytest.fixture(scope="module")
def oblique():
    """0.2 mm isotropic grid rotated obliquely: a sphere (artery) and a cylinder (nerve)."""
    vol = grid((120, 120, 120), (0.2, 0.2, 0.2), rotation((1, 2, 3), 25), centre=(0.3, -0.2, 0.1))
    ball = Sphere((3.1, -2.2, 1.4), 4.3)
    tube = Cylinder((-2.0, 5.5, 0.0), (1.0, 0.35, 0.2), 1.7)
    lm = labelmap(vol, [("ball", "artery", ball), ("tube", "nerve", tube)])
    maps = ClearanceMaps.around(lm, (0, 0, 0), 100.0, pad_mm=0.0)
    return lm, maps, ball, tube


def test_trilinear_matches_scipy_map_coordinates():
    from scipy import ndimage

    rng = np.random.default_rng(1)
    stack = rng.normal(size=(7, 9, 11, 3)).astype(np.float32)
    ijk = rng.uniform([0, 0, 0], [10, 8, 6], size=(500, 3))
    got = trilinear(stack, ijk)
    for c in range(3):
        ref = ndimage.map_coordinates(stack[..., c], ijk[:, ::-1].T, order=1)
        np.testing.assert_allclose(got[:, c], ref, atol=1e-5)


def test_distance_maps_match_analytic_shapes_on_an_oblique_grid(oblique):
    _lm, maps, ball, tube = oblique
    rng = np.random.default_rng(0)
    pts = rng.uniform(-9, 9, size=(4000, 3))
    pts = pts[np.linalg.norm(pts - (0.3, -0.2, 0.1), axis=1) < 10.5]
    vals = maps.sample(pts)
    for name, shape in (("ball", ball), ("tube", tube)):
        true = shape.sdf(pts)
        sel = (true > 0.3) & (true < 6)
        err = vals[sel, maps.index[name]] - true[sel]
        assert np.abs(err).max() < 0.12, (name, np.abs(err).max())


@pytest.mark.parametrize("offset", [0.9, 2.35, 4.2])
def test_min_clearance_to_a_sphere_matches_analytic_to_0_1_mm(oblique, offset):
    lm, maps, ball, _tube = oblique
    c = np.asarray(ball.centre)
    # a needle passing the sphere: its axis at ball.radius + offset from the centre, oblique
    u = np.array([0.6, -0.3, 0.74])
    u /= np.linalg.norm(u)
    side = np.cross(u, [0.0, 0.0, 1.0])
    side /= np.linalg.norm(side)
    closest = c + side * (ball.radius + offset)
    entry, tip = closest - 7.5 * u, closest + 3.2 * u
    traj = Trajectory("t", tuple(entry), tuple(tip), Needle("22G", 89, "whitacre"))
    rep = evaluate_trajectory(maps, traj)
    s = rep.structure("ball")
    true = offset - R22
    assert abs(s.clearance_mm - true) <= 0.1, (s.clearance_mm, true)
    assert abs(s.depth_mm - 7.5) <= 0.5


@pytest.mark.parametrize("offset", [0.8, 1.9, 3.3])
def test_min_clearance_to_an_oblique_cylinder_matches_analytic_to_0_1_mm(oblique, offset):
    lm, maps, _ball, tube = oblique
    a = np.asarray(tube.axis, float)
    a /= np.linalg.norm(a)
    # needle perpendicular to the cylinder axis, passing it at distance radius + offset
    u = np.cross(a, [0.0, 0.0, 1.0])
    u /= np.linalg.norm(u)
    w = np.cross(a, u)
    closest = np.asarray(tube.point) + 1.0 * a + w * (tube.radius + offset)
    entry, tip = closest - 6.0 * u, closest + 4.0 * u
    rep = evaluate_trajectory(maps, Trajectory("t", tuple(entry), tuple(tip), Needle("22G", 89, "whitacre")))
    s = rep.structure("tube")
    ref, ref_depth = _line_sdf_min(tube, entry, tip)
    assert abs(s.clearance_mm - (ref - R22)) <= 0.1, (s.clearance_mm, ref - R22)
    assert abs(s.depth_mm - ref_depth) <= 0.5


def test_anisotropic_grid_within_half_a_slice():
    vol = grid((60, 110, 110), (0.25, 0.25, 0.6), rotation((1, -1, 2), 40))
    ball = Sphere((1.0, 0.5, -0.7), 5.0)
    lm = labelmap(vol, [("ball", "vein", ball)])
    maps = ClearanceMaps.around(lm, (0, 0, 0), 100.0, pad_mm=0.0)
    for off in (1.1, 2.7):
        entry = np.array([-9.0, ball.centre[1] + ball.radius + off, -0.7])
        tip = np.array([9.0, ball.centre[1] + ball.radius + off, -0.7])
        rep = evaluate_trajectory(maps, Trajectory("t", tuple(entry), tuple(tip), Needle("20G", 89, "whitacre")))
        true = off - needles.radius_mm("20G")
        assert abs(rep.structure("ball").clearance_mm - true) <= 0.3  # half the 0.6 mm slice


def _walk_first_bone(lm, entry, tip, step=0.05):
    """Independent reference: nearest-voxel walk of the label array along the axis."""
    entry, tip = np.asarray(entry, float), np.asarray(tip, float)
    L = np.linalg.norm(tip - entry)
    t = np.arange(0, L, step)
    pts = entry[None] + t[:, None] * (tip - entry)[None] / L
    vals = lm.volume.value_at(pts)
    out = {}
    for lab in lm.legend.of_kind("bone"):
        hit = np.flatnonzero(vals == lab.value)
        if hit.size:
            out[lab.name] = (float(t[hit[0]]), float(t[hit[-1]]))
    return out


@pytest.mark.parametrize("rot", [0.0, 33.0])
def test_bone_crossing_named_at_the_depth_of_an_independent_walk(rot):
    vol = grid((70, 90, 90), (0.7, 0.7, 1.2), rotation((0.2, 1, 0.3), rot))
    body = Sphere((0, 0, 0), 40)
    structures = [
        ("tibia", "bone", Slab((0, 0, 8), (0.1, 0.2, 1.0), 6.0)),
        ("fibula", "bone", Sphere((12, 8, -12), 5.0)),
        ("joint", "target", Sphere((0, 0, -4), 3.0)),
    ]
    lm = labelmap(vol, structures, body=body)
    entry, tip = (1.0, 2.0, 35.0), (0.0, 0.0, -4.0)
    rep = SafetyEvaluator(lm).evaluate(Trajectory("bad", entry, tip, Needle("22G", 89, "quincke")))
    ref = _walk_first_bone(lm, entry, tip)
    assert set(ref) == {"tibia"}
    crossed = [c for c in rep.bone_crossed if c.name == "tibia"]
    assert len(crossed) == 1
    vox = float(vol.spacing.max())
    assert abs(crossed[0].depth_in_mm - ref["tibia"][0]) <= vox
    assert abs(crossed[0].depth_out_mm - ref["tibia"][1]) <= vox
    assert rep.structure("tibia").verdict == "violation"
    assert rep.verdict == "violation"
    assert rep.tip_in_target


def test_artery_1mm_from_the_tip_is_a_violation_and_margin_grows_with_depth():
    vol = grid((60, 60, 60), (0.5, 0.5, 0.5))
    artery = Cylinder((0, 0, 0), (0, 0, 1), 2.0)
    lm = labelmap(vol, [("artery", "artery", artery)])
    maps = ClearanceMaps.around(lm, (0, 0, 0), 100.0, pad_mm=0.0)
    tip = np.array([2.0 + R22 + 1.0, 0.0, 0.0])  # surface 1 mm from the artery
    entry = tip + np.array([0.0, -12.0, 0.0])
    rep = evaluate_trajectory(maps, Trajectory("t", tuple(entry), tuple(tip), Needle("22G", 89, "quincke")))
    s = rep.structure("artery")
    assert s.verdict == "violation"
    assert abs(s.clearance_mm - 1.0) <= 0.15
    assert abs(s.depth_mm - 12.0) <= 0.5
    # margin at 12 mm depth: 3 mm + 1.1 mm per 10 mm (Quincke)
    assert s.margin_mm == pytest.approx(3.0 + 1.2 * 1.1, abs=0.06)
    assert "Quincke" in s.margin_note and "3 mm" in s.margin_note
    # a pencil point needle hardly adds anything
    rep2 = evaluate_trajectory(maps, Trajectory("t", tuple(entry), tuple(tip), Needle("22G", 89, "whitacre")))
    assert rep2.structure("artery").margin_mm == pytest.approx(3.0 + 1.2 * 0.09, abs=0.02)


@pytest.mark.parametrize("gap, verdict", [(4.6, "ok"), (3.5, "warning"), (2.5, "violation")])
def test_verdict_bands(gap, verdict):
    vol = grid((60, 60, 60), (0.4, 0.4, 0.4))
    lm = labelmap(vol, [("nerve", "nerve", Cylinder((0, 0, 0), (0, 0, 1), 1.5))])
    maps = ClearanceMaps.around(lm, (0, 0, 0), 100.0, pad_mm=0.0)
    x = 1.5 + R22 + gap
    rep = evaluate_trajectory(maps, Trajectory("t", (x, -10.0, 0.0), (x, 0.0, 0.0), Needle("22G", 89, "whitacre")))
    assert rep.structure("nerve").verdict == verdict  # margin 3 mm (+0.09 mm), warning within 1 mm of it


def test_edited_margin_and_kind_wide_margin_apply():
    vol = grid((50, 50, 50), (0.5, 0.5, 0.5))
    lm = labelmap(vol, [("vein", "vein", Cylinder((0, 0, 0), (0, 0, 1), 1.5))])
    x = 1.5 + R22 + 2.0
    traj = Trajectory("t", (x, -10.0, 0.0), (x, 0.0, 0.0), Needle("22G", 89, "whitacre"))
    assert SafetyEvaluator(lm).evaluate(traj).structure("vein").verdict == "violation"
    ev = SafetyEvaluator(lm, [StructureMargin("vein", "vein", 0.5, False, False, "edited")])
    s = ev.evaluate(traj).structure("vein")
    assert s.verdict == "ok" and s.margin_mm == 0.5 and "edited" in s.margin_note
    ev = SafetyEvaluator(lm, [StructureMargin("", "vein", 1.5, False, False, "")])
    assert ev.evaluate(traj).structure("vein").verdict == "warning"


def test_never_obstacle_kinds_are_ignored():
    vol = grid((40, 40, 40), (0.5, 0.5, 0.5))
    lm = labelmap(vol, [(k, k, Sphere((0, 0, 0), 4)) for k in ("muscle",)] + [("fat", "fat", Sphere((5, 5, 5), 2))], body="all")
    rep = SafetyEvaluator(lm).evaluate(Trajectory("t", (0, -9, 0), (0, 0, 0), Needle()))
    assert rep.structures == ()


def test_tip_inside_target_sideways_miss_and_overshoot():
    vol = grid((60, 60, 60), (0.5, 0.5, 0.5))
    target = Sphere((0, 0, 0), 5.0)
    lm = labelmap(vol, [("recess", "target", target)], target_lps=(0, 0, 0))
    ev = SafetyEvaluator(lm)
    # tip 2 mm past the centre along the needle, needle line 1.5 mm beside the centre
    tip = (1.5, 2.0, 0.0)
    rep = ev.evaluate(Trajectory("t", (1.5, -12.0, 0.0), tip, Needle("22G", 89, "whitacre")))
    assert rep.tip_in_target and rep.target_name == "recess"
    assert rep.miss_sideways_mm == pytest.approx(1.5, abs=1e-6)
    assert rep.overshoot_mm == pytest.approx(2.0, abs=1e-6)
    assert rep.tip_to_far_wall_mm == pytest.approx(math.sqrt(25 - 1.5**2) - 2.0, abs=0.35)
    # past the far wall: outside the target, a violation
    rep = ev.evaluate(Trajectory("t", (0.0, -12.0, 0.0), (0.0, 6.5, 0.0), Needle("22G", 89, "whitacre")))
    assert not rep.tip_in_target and rep.verdict == "violation"
    assert any("outside the target" in f.text for f in rep.findings)


def test_joint_walls_inside_the_target_region_need_only_not_be_entered():
    vol = grid((60, 60, 60), (0.4, 0.4, 0.4))
    # a 3 mm joint space between two cartilage-capped bones; the tip sits in it
    structures = [
        ("femur", "bone", Slab((-20, -20, 2.5), (0, 0, 1), 10)),
        ("femoral cartilage", "cartilage", Slab((-20, -20, 1.5), (0, 0, 1), 1.0)),
        ("tibia", "bone", Slab((-20, -20, -12.5), (0, 0, 1), 10)),
        ("tibial cartilage", "cartilage", Slab((-20, -20, -2.5), (0, 0, 1), 1.0)),
        ("joint space", "target", Slab((-20, -20, -1.5), (0, 0, 1), 3.0)),
    ]
    lm = labelmap(vol, structures)
    rep = SafetyEvaluator(lm).evaluate(Trajectory("t", (-10.0, 0.0, 0.0), (0.0, 0.0, 0.0), Needle("22G", 89, "quincke")))
    assert rep.tip_in_target
    assert rep.structure("femoral cartilage").verdict == "ok"
    assert rep.structure("femoral cartilage").rule == "not entered"
    # a path that pierces the cartilage on its way in is a violation
    rep = SafetyEvaluator(lm).evaluate(Trajectory("t", (-8.0, 0.0, 8.0), (0.0, 0.0, 0.0), Needle("22G", 89, "quincke")))
    assert rep.structure("femur").verdict == "violation"
    assert any(c.name == "femur" for c in rep.bone_crossed)


def test_needle_too_short_and_entry_off_the_skin():
    vol = grid((80, 80, 80), (1.0, 1.0, 1.0))
    lm = labelmap(vol, [("joint", "target", Sphere((0, 0, 0), 4))], body=Sphere((0, 0, 0), 30))
    ev = SafetyEvaluator(lm)
    rep = ev.evaluate(Trajectory("t", (0, -30, 0), (0, 0, 0), Needle("22G", 38, "quincke")))
    assert rep.verdict == "violation" and any("too short" in f.text for f in rep.findings)
    rep = ev.evaluate(Trajectory("t", (0, -38, 0), (0, 0, 0), Needle("22G", 89, "quincke")))
    assert rep.skin_offset_mm == pytest.approx(8.5, abs=1.0)
    assert rep.insertion_depth_mm == pytest.approx(29.5, abs=1.0)
    assert any("outside the skin" in f.text for f in rep.findings)
    rep = ev.evaluate(Trajectory("t", (0, -20, 0), (0, 0, 0), Needle("22G", 89, "quincke")))
    assert any("under the skin" in f.text for f in rep.findings)


def test_needle_conflicts_between_trajectories():
    a = Trajectory("a", (0, -50, 0), (0, 0, 0), Needle("22G", 89, "quincke"))
    b = Trajectory("b", (3, -50, 0), (3, 0, 0), Needle("22G", 89, "quincke"))
    c = Trajectory("c", (30, -50, 0), (30, 0, 0), Needle("22G", 89, "quincke"))
    out = needle_conflicts([a, b, c], 5.0)
    assert [(x, y) for x, y, _ in out] == [("a", "b")]
    assert out[0][2] == pytest.approx(3.0 - 0.72, abs=1e-9)


def test_dragged_trajectory_reuses_the_maps():
    vol = grid((60, 60, 60), (0.5, 0.5, 0.5))
    lm = labelmap(vol, [("joint", "target", Sphere((0, 0, 0), 4)), ("artery", "artery", Sphere((6, 6, 0), 2))])
    ev = SafetyEvaluator(lm)
    ev.evaluate(Trajectory("t", (0, -12, 0), (0, 0, 0), Needle("22G", 89, "quincke")))
    maps = ev.maps
    for x in np.linspace(-3, 3, 5):
        ev.evaluate(Trajectory("t", (x, -12, 1.0), (0, 0, 0), Needle("22G", 89, "quincke")))
    assert ev.maps is maps


def test_far_structures_are_reported_as_lower_bounds():
    vol = grid((60, 60, 120), (1.0, 1.0, 1.0))
    lm = labelmap(vol, [("near vein", "vein", Sphere((0, 8, 0), 2.0)), ("far artery", "artery", Sphere((40, 0, 0), 3.0))])
    rep = SafetyEvaluator(lm).evaluate(Trajectory("t", (-20, -10, 0), (0, 0, 0), Needle("22G", 89, "whitacre")))
    far = rep.structure("far artery")
    assert far.at_least and far.verdict == "ok" and far.clearance_mm <= 40 - 3 - R22
    near = rep.structure("near vein")
    assert not near.at_least
    assert near.clearance_mm == pytest.approx(8.0 - 2.0 - R22, abs=0.5)
