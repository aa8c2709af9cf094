"""Must-show on the bundled studies: the template plan and the best automatic plan pass `check`
(exit 0); a deliberately bad plan (through bone; tip 1 mm from an artery) is flagged with the
right structure and depth (the depth compared with an independent walk of the label array).

The phantom samples are built by `make samples` / `make test`; when one is missing these tests
FAIL (they do not skip) and say how to build it. The lumbar test segments the real lumbar CT with
`imaging.segmentation.segment(volume, "lumbar")`.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from imaging.labelmap import read_labelmap, write_labelmap
from planner.cli import main
from planner.io.plan_json import load_plan
from planner.safety import ClearanceMaps
from planner.templates import APPROACHES, DEFAULT_APPROACH, default_target, skin_along
from tests.conftest import SAMPLES

PHANTOMS = {"knee_ct": "knee", "knee_mr": "knee", "shoulder_ct": "shoulder", "hip_ct": "hip"}


def _sample(name: str):
    folder = SAMPLES / name
    labels = folder / "labels.nrrd"
    if not labels.is_file():
        pytest.fail(f"The sample study {name} is missing ({labels} not found). Build it with `make samples` "
                    f"or `.venv/bin/python -m imaging.samples --only {name}`.")
    if not any(folder.rglob("*.dcm")):
        pytest.fail(f"The sample study {name} has no DICOM images in {folder} (incomplete build). Rebuild it with "
                    f"`make samples` or `.venv/bin/python -m imaging.samples --only {name}`.")
    meta = json.loads((folder / "sample.json").read_text())
    return folder, labels, meta


def _run(capsys, *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    rc = main(list(argv))
    cap = capsys.readouterr()
    return rc, cap.out + cap.err


def _pt(p) -> str:
    return ",".join(f"{float(v):.3f}" for v in p)


def _side(meta: dict, labelmap) -> list[str]:
    side = meta.get("side") or (labelmap.landmarks.extra.get("side") if labelmap.landmarks else None)
    for ref in meta.get("approaches") or []:
        side = side or (ref.get("side") if isinstance(ref, dict) else None)
    return ["--side", side] if side in ("left", "right") else []


def _check_json(capsys, plan, labels) -> tuple[int, dict]:
    rc, out = _run(capsys, "check", str(plan), "--labels", str(labels), "--json")
    return rc, json.loads(out)


def _walk(labelmap, entry, tip, kinds=("bone",), step=0.05):
    """Independent reference: the first voxel of a structure of ``kinds`` met walking the label
    array (nearest voxel) from the entry: (name, depth mm)."""
    entry, tip = np.asarray(entry, float), np.asarray(tip, float)
    L = float(np.linalg.norm(tip - entry))
    t = np.arange(0.0, L, step)
    vals = labelmap.volume.value_at(entry[None] + t[:, None] * ((tip - entry) / L)[None])
    wanted = {lab.value: lab.name for lab in labelmap.legend.of_kind(*kinds)}
    for ti, v in zip(t, vals, strict=True):
        if not np.isnan(v) and int(v) in wanted:
            return wanted[int(v)], float(ti)
    return None, None


def _bad_through_bone(labelmap, target):
    """Entry on the skin such that the path to the target runs through a bone first."""
    vol = labelmap.volume
    tgt = np.asarray(target, float)
    bones = [lab for lab in labelmap.present() if lab.kind == "bone"]
    best = None
    for lab in bones:
        kk, jj, ii = np.nonzero(vol.array == lab.value)
        sel = slice(None, None, max(1, len(kk) // 20000))
        pts = vol.index_to_lps(np.stack([ii[sel], jj[sel], kk[sel]], -1).astype(float))
        d = np.linalg.norm(pts - tgt, axis=1)
        order = np.argsort(d)
        order = order[(d[order] >= 3) & (d[order] <= 60)]
        for i in order[:: max(1, len(order) // 400)]:
            u = (pts[i] - tgt) / d[i]
            deep = pts[i] + 4.0 * u
            if vol.value_at(deep[None])[0] != lab.value:
                continue
            entry = skin_along(labelmap, tgt, u)
            if entry is None:
                continue
            length = float(np.linalg.norm(entry - tgt))
            if best is None or length < best[0]:
                best = (length, entry)
    assert best is not None, "no bone found next to the target to plan a bad path through"
    return best[1]


def _bad_near_artery(labelmap, target, radius_mm=0.36):
    """(entry, tip): a path that ends with the needle's surface 1 mm from the artery nearest the target."""
    vol = labelmap.volume
    tgt = np.asarray(target, float)
    arteries = [lab for lab in labelmap.present() if lab.kind == "artery"]
    assert arteries, "the sample has no artery"
    cands = []
    for lab in arteries:
        kk, jj, ii = np.nonzero(vol.array == lab.value)
        pts = vol.index_to_lps(np.stack([ii, jj, kk], -1).astype(float))
        d = np.linalg.norm(pts - tgt, axis=1)
        cands.append((float(d.min()), lab.name, pts[int(np.argmin(d))]))
    _, name, a = min(cands)
    maps = ClearanceMaps.around(labelmap, a, 90.0, pad_mm=10.0)
    u = (tgt - a) / np.linalg.norm(tgt - a)
    t = np.arange(0.0, 40.0, 0.05)
    phi = maps.sample(a[None] + t[:, None] * u[None])[:, maps.index[name]]
    k = int(np.argmax(phi >= 1.0 + radius_mm))
    tip = a + t[k] * u
    # come in from the skin on the side away from the artery (the closest approach is the tip)
    p1 = np.cross(u, [1.0, 0.0, 0.0] if abs(u[0]) < 0.9 else [0.0, 1.0, 0.0])
    p1 /= np.linalg.norm(p1)
    p2 = np.cross(u, p1)
    for tilt in (0.0, 20.0, 40.0, 60.0):
        for rot in range(0, 360, 45):
            r = math.radians(rot)
            w = math.cos(math.radians(tilt)) * u + math.sin(math.radians(tilt)) * (math.cos(r) * p1 + math.sin(r) * p2)
            entry = skin_along(labelmap, tip, w)
            if entry is not None and np.linalg.norm(entry - tip) > 5:
                return name, entry, tip
            if tilt == 0.0:
                break
    raise AssertionError("no skin entry found for a path ending 1 mm from the artery")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PHANTOMS))
def test_phantom_template_and_auto_plans_pass_check(name, tmp_path, capsys):
    folder, labels, meta = _sample(name)
    lm = read_labelmap(labels)
    site = PHANTOMS[name]
    common = ["plan", str(folder), "--labels", str(labels), "--site", site, *_side(meta, lm)]
    runs = [("template", []), ("auto", ["--entry", "auto"])]
    if site == "knee":
        runs.append(("anterolateral", ["--approach", "anterolateral"]))
    for how, extra in runs:
        out = tmp_path / f"{how}.plan.json"
        rc, text = _run(capsys, *common, *extra, "--out", str(out))
        assert rc == 0, text
        rc, text = _run(capsys, "check", str(out), "--labels", str(labels))
        assert rc == 0, f"{name} {how} plan does not pass the check:\n{text}"
    # the template follows the sample's reference approach of the same name, when there is one
    plan = load_plan(tmp_path / "template.plan.json")
    (traj,) = plan.trajectories
    refs = meta.get("approaches") or []
    for ref in refs if isinstance(refs, list) else []:
        if isinstance(ref, dict) and ref.get("entry") and ref.get("target") and str(ref.get("name", "")).split()[0].lower() in traj.name.lower():
            a = np.subtract(traj.entry, traj.target)
            b = np.subtract(ref["entry"], ref["target"])
            ang = math.degrees(math.acos(float(np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b), -1, 1))))
            assert ang < 35, f"{name}: template direction {ang:.0f} deg from the reference {ref.get('name')}"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PHANTOMS))
def test_phantom_bad_plans_are_flagged(name, tmp_path, capsys):
    folder, labels, meta = _sample(name)
    lm = read_labelmap(labels)
    vox = float(lm.volume.spacing.max())
    plan = tmp_path / "bad.plan.json"
    # target: the template's default target
    target, _ = default_target(lm, APPROACHES[(PHANTOMS[name], DEFAULT_APPROACH[PHANTOMS[name]])].target_hints)
    entry = _bad_through_bone(lm, target)
    rc, text = _run(capsys, "plan", str(folder), "--labels", str(labels), "--site", PHANTOMS[name], f"--entry={_pt(entry)}", f"--target={_pt(target)}", "--out", str(plan))
    assert rc == 0, text
    rc, rep = _check_json(capsys, plan, labels)
    assert rc == 2
    (tr,) = rep["trajectories"]
    ref_name, ref_depth = _walk(lm, entry, target)
    first = min((c for c in tr["crossings"] if c["kind"] == "bone"), key=lambda c: c["depth_in_mm"])
    assert first["name"] == ref_name
    assert abs(first["depth_in_mm"] - ref_depth) <= vox
    assert next(s for s in tr["structures"] if s["name"] == ref_name)["verdict"] == "violation"
    # tip 1 mm from an artery
    art, entry, tip = _bad_near_artery(lm, target)
    rc, text = _run(capsys, "plan", str(folder), "--labels", str(labels), "--site", PHANTOMS[name], f"--entry={_pt(entry)}", f"--target={_pt(tip)}", "--out", str(plan))
    assert rc == 0, text
    rc, rep = _check_json(capsys, plan, labels)
    assert rc == 2
    row = next(s for s in rep["trajectories"][0]["structures"] if s["name"] == art)
    assert row["verdict"] == "violation"
    assert abs(row["clearance_mm"] - 1.0) <= 0.5
    assert abs(row["depth_mm"] - float(np.linalg.norm(np.subtract(tip, entry)))) <= 1.0


@pytest.fixture(scope="module")
def lumbar(tmp_path_factory):
    import imaging
    from imaging.segmentation import segment

    folder = SAMPLES / "lumbar_ct"
    if not any(folder.glob("*.dcm")):
        pytest.fail(f"The lumbar sample study is missing from {folder}; run `make samples`.")
    vol = imaging.load(folder)
    lm = segment(vol, "lumbar")
    out = tmp_path_factory.mktemp("lumbar") / "labels.nrrd"
    write_labelmap(out, lm)
    return folder, out, read_labelmap(out)


@pytest.mark.slow
@pytest.mark.parametrize("level, approach", [("L4-L5", ""), ("L3-L4", ""), ("L3-L4", "paramedian"), ("L4-L5", "auto")])
def test_lumbar_plans_pass_check(lumbar, level, approach, tmp_path, capsys):
    folder, labels, _lm = lumbar
    out = tmp_path / "p.plan.json"
    extra = ["--entry", "auto"] if approach == "auto" else ["--approach", approach] if approach else []
    rc, text = _run(capsys, "plan", str(folder), "--labels", str(labels), "--route", "intrathecal", "--level", level, *extra, "--out", str(out))
    assert rc == 0, text
    rc, text = _run(capsys, "check", str(out), "--labels", str(labels))
    assert rc == 0, f"lumbar {level} {approach} plan does not pass the check:\n{text}"
    (traj,) = load_plan(out).trajectories
    assert traj.needle.tip == "whitacre"


@pytest.mark.slow
def test_lumbar_bad_plan_through_bone_is_flagged(lumbar, tmp_path, capsys):
    folder, labels, lm = lumbar
    plan = tmp_path / "p.plan.json"
    rc, text = _run(capsys, "plan", str(folder), "--labels", str(labels), "--route", "intrathecal", "--level", "L4-L5", "--out", str(plan))
    assert rc == 0, text
    target = load_plan(plan).trajectories[0].target
    entry = _bad_through_bone(lm, target)
    rc, text = _run(capsys, "plan", str(folder), "--labels", str(labels), "--route", "intrathecal", f"--entry={_pt(entry)}", f"--target={_pt(target)}", "--out", str(plan))
    assert rc == 0, text
    rc, rep = _check_json(capsys, plan, labels)
    assert rc == 2
    ref_name, ref_depth = _walk(lm, entry, target)
    first = min((c for c in rep["trajectories"][0]["crossings"] if c["kind"] == "bone"), key=lambda c: c["depth_in_mm"])
    assert first["name"] == ref_name
    assert abs(first["depth_in_mm"] - ref_depth) <= float(lm.volume.spacing.max())
