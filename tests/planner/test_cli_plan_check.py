"""`plan` and `check` on a synthetic study: exit codes, refusals, what is recorded."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk

from imaging.labelmap import write_labelmap
from planner.cli import main
from planner.io.plan_json import load_plan
from tests.planner.synthetic import Cylinder, Slab, Sphere, grid, labelmap, rotation


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    d = tmp_path_factory.mktemp("study")
    vol = grid((70, 90, 90), (1.0, 0.9, 0.9), rotation((0.3, 0.2, 1.0), 12))
    structures = [
        ("femur", "bone", Slab((0, 0, -22), (0, 0, 1), 8)),
        ("popliteal artery", "artery", Cylinder((0, 14, 0), (0, 0, 1), 3)),
        ("suprapatellar recess", "target", Sphere((0, 0, 0), 8)),
    ]
    lm = labelmap(vol, structures, body=Sphere((0, 0, 0), 38))
    sitk.WriteImage(vol.with_array(np.zeros(vol.shape, np.int16)).to_sitk(), str(d / "study.nrrd"))
    write_labelmap(d / "labels.nrrd", lm)
    return d


def _plan(study, tmp_path, *extra):
    out = tmp_path / "p.plan.json"
    rc = main(["plan", str(study / "study.nrrd"), "--labels", str(study / "labels.nrrd"), "--site", "knee", "--side", "right", "--out", str(out), *extra])
    return rc, out


def _check(study, plan, *extra):
    return main(["check", str(plan), "--labels", str(study / "labels.nrrd"), *extra])


def test_template_plan_passes_check(study, tmp_path, capsys):
    rc, out = _plan(study, tmp_path, "--author", "Dr A")
    assert rc == 0
    plan = load_plan(out)
    (t,) = plan.trajectories
    assert plan.route == "intra-articular" and plan.site.region == "knee" and plan.site.side == "right"
    assert t.entry[0] < -30  # superolateral on the right knee: entry on the patient's right (-x)
    assert plan.audit[0].who == "Dr A"
    capsys.readouterr()
    assert _check(study, out) == 0
    text = capsys.readouterr().out
    assert "Bone crossed: none" in text and "not a medical device" in text and "Overall: OK" in text


def test_auto_plan_passes_check(study, tmp_path, capsys):
    rc, out = _plan(study, tmp_path, "--entry", "auto", "--needle", "22G:89:whitacre")
    assert rc == 0
    assert load_plan(out).trajectories[0].needle.tip == "whitacre"
    assert _check(study, out) == 0


def test_bad_plans_are_recorded_and_flagged(study, tmp_path, capsys):
    # through the femur: recorded by plan, violation in check with the bone and depth
    rc, out = _plan(study, tmp_path, "--entry=0,0,-30", "--target", "0,0,0")
    assert rc == 0
    capsys.readouterr()
    assert _check(study, out, "--json") == 2
    rep = json.loads(capsys.readouterr().out)
    (tr,) = rep["trajectories"]
    femur = [c for c in tr["crossings"] if c["name"] == "femur"]
    assert femur and femur[0]["depth_in_mm"] == pytest.approx(30 - 22, abs=1.0)
    # tip 1 mm (surface) from the artery
    x = 14 - 3 - 0.36 - 1.0
    rc, out = _plan(study, tmp_path, f"--entry=-20,{x},0", "--target", f"0,{x},0")
    capsys.readouterr()
    assert _check(study, out, "--json") == 2
    tr = json.loads(capsys.readouterr().out)["trajectories"][0]
    art = next(s for s in tr["structures"] if s["name"] == "popliteal artery")
    assert art["verdict"] == "violation" and art["clearance_mm"] == pytest.approx(1.0, abs=0.3)
    assert art["depth_mm"] > 15


def test_warning_exit_code(study, tmp_path):
    # 3.9 mm from the artery with a pencil point: inside the 1 mm warning band of the 3 mm margin
    x = 14 - 3 - 0.36 - 3.6
    rc, out = _plan(study, tmp_path, f"--entry=-30,{x},0", "--target", f"0,{x},0", "--needle", "22G:89:whitacre")
    assert rc == 0
    assert _check(study, out) == 1


def test_points_outside_the_study_are_refused(study, tmp_path, capsys):
    rc, out = _plan(study, tmp_path, "--entry", "0,0,500", "--target", "0,0,0")
    assert rc == 3 and not out.exists()
    err = capsys.readouterr().err
    assert "lies outside the study" in err
    rc, _ = _plan(study, tmp_path, "--target", "1,2")
    assert rc == 3 and "X,Y,Z" in capsys.readouterr().err


def test_check_refuses_a_damaged_plan(study, tmp_path, capsys):
    p = tmp_path / "bad.plan.json"
    p.write_text('{"schema_version": 2, "rou')
    assert _check(study, p) == 3
    assert "damaged" in capsys.readouterr().err


def test_plan_records_margins_and_check_reports_needle_conflicts(study, tmp_path, capsys):
    from planner.io.plan_json import save_plan
    from planner.model import Needle, Trajectory

    rc, out = _plan(study, tmp_path)
    assert rc == 0
    plan = load_plan(out)
    margins = {m.name: m for m in plan.margins}
    assert margins["popliteal artery"].margin_mm == 3.0 and margins["popliteal artery"].grows_with_depth
    assert margins["femur"].must_not_enter and "suprapatellar recess" not in margins
    (t,) = plan.trajectories
    twin = Trajectory("second", tuple(np.add(t.entry, (0, 0, 2.0))), tuple(np.add(t.target, (0, 0, 2.0))), Needle("22G", 89, "quincke"))
    save_plan(out, plan.with_trajectory(twin))
    capsys.readouterr()
    assert _check(study, out) == 1
    assert "come within" in capsys.readouterr().out
