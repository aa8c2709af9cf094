"""Automatic entry search: the batched screen agrees with the single-trajectory check, ranks away
from danger, is deterministic, honours constraints and other needles."""

from __future__ import annotations

import numpy as np
import pytest

from planner.autoplan import (
    SearchConstraints,
    evaluate_candidates,
    search_entries,
    segment_distances,
)
from planner.errors import PlanError
from planner.geometry import segment_distance_mm
from planner.margins import margins_for
from planner.model import Needle, Trajectory
from planner.safety import ClearanceMaps, evaluate_trajectory
from tests.planner.synthetic import Cylinder, Slab, Sphere, grid, labelmap, rotation

NEEDLE = Needle("22G", 89, "quincke")


@pytest.fixture(scope="module")
def scene():
    vol = grid((70, 90, 90), (1.0, 0.9, 0.9), rotation((0.3, 0.2, 1.0), 12))
    body = Sphere((0, 0, 0), 38)
    structures = [
        ("femur", "bone", Slab((0, 0, -22), (0, 0, 1), 8)),
        ("artery", "artery", Cylinder((0, 14, 0), (0, 0, 1), 3)),
        ("nerve", "nerve", Cylinder((14, 0, 0), (0, 1, 0.2), 1.5)),
        ("recess", "target", Sphere((0, 0, 0), 5)),
        ("bursa", "target", Sphere((-12, -10, 8), 4)),
    ]
    lm = labelmap(vol, structures, body=body, target_lps=(0, 0, 0))
    maps = ClearanceMaps.around(lm, (0, 0, 0), NEEDLE.length_mm)
    return lm, maps


def test_batched_screen_agrees_with_the_single_check(scene):
    lm, maps = scene
    rng = np.random.default_rng(3)
    dirs = rng.normal(size=(300, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    entries = dirs * rng.uniform(15, 30, size=(300, 1))
    margins = margins_for(lm.legend)
    cons = SearchConstraints(needle=NEEDLE, min_depth_mm=0)
    res = evaluate_candidates(maps, (0, 0, 0), entries, None, cons, margins, exact=True)
    fast = evaluate_candidates(maps, (0, 0, 0), entries, None, cons, margins)
    names = list(res["channels"])
    for i in range(len(entries)):
        rep = evaluate_trajectory(maps, Trajectory("c", tuple(entries[i]), (0.0, 0.0, 0.0), NEEDLE), margins)
        for s in rep.structures:
            single = s.decisive_clearance_mm - s.decisive_margin_mm
            if s.rule == "not entered":  # joint walls in the target region: judged on the axis
                single += NEEDLE.radius_mm
            assert res["excess"][i, names.index(s.name)] == pytest.approx(single, abs=0.05), (i, s.name)
        single_safe = not any(s.verdict == "violation" for s in rep.structures) and not any("leaves the body" in f.text for f in rep.findings)
        assert bool(res["feasible"][i]) == single_safe, i
    assert res["considered"].all()
    # the coarse first pass changes nothing for the safe candidates and proves the others unsafe
    np.testing.assert_array_equal(fast["feasible"], res["feasible"])
    np.testing.assert_array_equal(fast["excess"][res["feasible"]], res["excess"][res["feasible"]])
    assert 0 < res["feasible"].sum() < len(entries)


def test_search_ranks_entries_away_from_the_artery_and_is_deterministic(scene):
    lm, maps = scene
    cons = SearchConstraints(needle=NEEDLE, n_best=4)
    a = search_entries(lm, (0, 0, 0), cons, maps=maps)
    b = search_entries(lm, (0, 0, 0), cons, maps=maps)
    assert [c.entry for c in a.best] == [c.entry for c in b.best]
    np.testing.assert_array_equal(a.risk, b.risk)
    assert len(a.best) == 4 and a.n_candidates > 1000
    for c in a.best:
        assert c.report.verdict == "ok"
        assert c.entry[1] < 14 - 3  # not through the artery's side of the body
        assert any("nearest" in r for r in c.reasons)
    risks = [c.risk for c in a.best]
    assert risks == sorted(risks)
    # per-vertex risk: a value for each skin vertex; unsafe ones are 1, safe ones below
    assert a.risk.shape == (a.mesh.n_vertices,)
    assert np.all(a.risk[a.feasible] <= 0.95) and np.all(a.risk[~a.feasible & np.isfinite(a.risk)] == 1.0)
    # entries straight over the artery are unsafe
    over_artery = (a.mesh.vertices[:, 1] > 30) & (np.abs(a.mesh.vertices[:, 0]) < 4) & (np.abs(a.mesh.vertices[:, 2]) < 10)
    assert over_artery.any() and not a.feasible[over_artery].any()
    assert a.rejected["too close to a structure or crosses bone"] > 0
    # entries below the femur slab must cross it
    below = a.mesh.vertices[:, 2] < -31
    assert below.any() and not a.feasible[below].any()


def test_constraints_limit_the_candidates(scene):
    lm, maps = scene
    cons = SearchConstraints(needle=NEEDLE, approach=(-1.0, 0.0, 0.0), max_approach_deg=20, n_best=3, craniocaudal_deg=(-30, 30))
    res = search_entries(lm, (0, 0, 0), cons, maps=maps)
    for c in res.best:
        e = np.asarray(c.entry)
        ang = np.degrees(np.arccos(-e[0] / np.linalg.norm(e)))
        assert ang <= 20.0 + 1e-6
    with pytest.raises(PlanError, match="No skin lies within the needle's reach"):
        search_entries(lm, (0, 0, 0), SearchConstraints(needle=Needle("22G", 38, "quincke")), maps=maps)
    mid = search_entries(lm, (0, 0, 0), SearchConstraints(needle=Needle("22G", 50, "quincke"), max_depth_mm=39.0), maps=maps)
    assert np.all(np.isnan(mid.risk[np.linalg.norm(mid.mesh.vertices, axis=1) > 39.0]))
    assert all(c.length_mm <= 39.0 for c in mid.best)


def test_second_needle_keeps_away_from_the_first(scene):
    lm, maps = scene
    first = search_entries(lm, (0, 0, 0), SearchConstraints(needle=NEEDLE, n_best=1), maps=maps).best[0]
    t1 = first.trajectory("first", (0, 0, 0), NEEDLE)
    # a second needle into the bursa, 18 mm from the first target
    target2 = (-12.0, -10.0, 8.0)
    res = search_entries(lm, target2, SearchConstraints(needle=NEEDLE, n_best=2, avoid=(t1,), target_structure="bursa"), maps=maps)
    assert res.best
    for c in res.best:
        gap = segment_distance_mm(c.entry, target2, t1.entry, t1.target) - 0.72
        assert gap >= 5.0 - 1e-6
    assert res.rejected["too close to another needle"] > 0


def test_vectorised_segment_distance_matches_the_scalar_one():
    rng = np.random.default_rng(5)
    p0, p1 = rng.normal(size=(200, 3)) * 10, rng.normal(size=(200, 3)) * 10
    q0, q1 = rng.normal(size=3) * 10, rng.normal(size=3) * 10
    got = segment_distances(p0, p1, q0, q1)
    ref = [segment_distance_mm(a, b, q0, q1) for a, b in zip(p0, p1, strict=True)]
    np.testing.assert_allclose(got, ref, atol=1e-9)


def test_paths_through_air_between_body_parts_are_rejected():
    vol = grid((50, 60, 120), (1.0, 1.0, 1.0))
    legs = Sphere((-25, 0, 0), 20)

    class Two:
        def inside(self, p):
            return legs.inside(p) | Sphere((25, 0, 0), 20).inside(p)

    lm = labelmap(vol, [("recess", "target", Sphere((-25, 0, 0), 4))], body=Two())
    res = search_entries(lm, (-25, 0, 0), SearchConstraints(needle=Needle("22G", 89, "quincke"), max_skin_angle_deg=89))
    other_leg = res.mesh.vertices[:, 0] > 5
    considered = np.isfinite(res.risk)
    assert (other_leg & considered).any()
    assert not res.feasible[other_leg].any()
    assert res.rejected["path leaves the body"] > 0


def test_search_reports_progress_and_can_be_cancelled(scene):
    lm, _maps = scene
    seen = []
    search_entries(lm, (0, 0, 0), SearchConstraints(needle=NEEDLE, n_best=1), progress=lambda f, text: seen.append(f))
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)
    with pytest.raises(PlanError, match="cancelled"):
        search_entries(lm, (0, 0, 0), SearchConstraints(needle=NEEDLE), cancel=lambda: True)
