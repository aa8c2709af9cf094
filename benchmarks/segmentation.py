"""Segmentation accuracy on the phantoms and the lumbar sample, and segmentation speed.

    python benchmarks/segmentation.py [--quick]

Accuracy: on every phantom sample study (``knee_ct``, ``hip_ct``, ``shoulder_ct``, ``knee_mr``)
the joint task runs on the loaded DICOM series and each structure is compared with the study's
ground truth (``labels.nrrd``): Dice per structure (goal >= 0.90 for bones and targets, >= 0.80
for thin structures such as skin) and the target-centre error (distance in mm from the default
target point to the centre of the ground-truth joint space found by the same rule,
``imaging.segmentation.joints.target_centre``: the centre of its deepest pocket; goal <= 2 mm;
the distance to the sample's textbook approach target is printed too), plus whether the point
lies inside the ground-truth target. On the real lumbar sample: the level labels cranial to
caudal and whether the thecal sac is continuous from L1 to S1.

Speed: the lumbar task on a 512 x 512 x 300 CT (the lumbar sample resampled up) and the knee task
on the knee phantom (native grid, and resampled up to 512 x 512 x 300), each against SimpleITK's ``BinaryThreshold + ConnectedComponent`` on the same
volume (the floor: one threshold and one labelling pass). Runs alternate in one process after a
warm-up; medians are reported with the load average. ``--quick`` runs one timing of each on the
native grids (no 512 x 512 x 300 resampling).

Last line: one JSON object (convention in ARCHITECTURE.md).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imaging.dicom import load_folder  # noqa: E402
from imaging.labelmap import LabelMap, read_labelmap  # noqa: E402
from imaging.samples import samples_dir  # noqa: E402
from imaging.volume import Volume  # noqa: E402

PHANTOMS = (("knee_ct", "knee"), ("hip_ct", "hip"), ("shoulder_ct", "shoulder"), ("knee_mr", "knee"))
SERIES = {"knee_mr": "t2fs"}  # the series segmented where a sample holds several
THIN_KINDS = ("skin",)
COMPARED_KINDS = ("bone", "target", "skin")


def dice(a: np.ndarray, b: np.ndarray) -> float:
    s = int(a.sum()) + int(b.sum())
    return 1.0 if s == 0 else 2.0 * int((a & b).sum()) / s


def load_sample(name: str) -> tuple[Volume, LabelMap] | None:
    folder = samples_dir() / name
    if not (folder / "labels.nrrd").is_file():
        return None
    vol = load_folder(folder / SERIES.get(name, ""))
    return vol, read_labelmap(folder / "labels.nrrd", reference=vol)


def compare(result: LabelMap, truth: LabelMap, site: str) -> dict:
    """Dice per ground-truth structure of the compared kinds (matched by name; targets matched
    as the union of every target label), and the target-centre error."""
    from imaging.segmentation.joints import bones_of

    rows = []
    for lab in truth.legend:
        if lab.kind not in COMPARED_KINDS or lab.kind == "target":
            continue
        if lab.kind == "bone" and lab.name not in bones_of(site):
            continue  # other bones in the field of view (ribs) are not the joint's
        mine = result.legend.get(lab.name)
        g = truth.volume.array == lab.value
        if not g.any():
            continue
        m = result.volume.array == mine.value if mine is not None else np.zeros_like(g)
        rows.append({"name": lab.name, "kind": lab.kind, "dice": round(dice(m, g), 3), "found": mine is not None})
    gt_target = truth.mask_of_kind("target")
    my_target = result.mask_of_kind("target")
    out: dict = {"structures": rows}
    if gt_target.any():
        names = "+".join(lab.name for lab in truth.legend.of_kind("target"))
        rows.append({"name": names, "kind": "target", "dice": round(dice(my_target, gt_target), 3), "found": bool(my_target.any())})
        from imaging.segmentation.joints import target_centre

        centre = target_centre(truth.volume, gt_target, site)
        point = np.asarray((result.landmarks.target or {}).get("lps", [np.nan] * 3), dtype=float)
        out["target_point"] = point.round(2).tolist()
        out["truth_centre"] = centre.round(2).tolist()
        out["centre_error_mm"] = round(float(np.linalg.norm(point - centre)), 2)
        out["point_inside_truth"] = bool(truth.volume.value_at(point) in [lab.value for lab in truth.legend.of_kind("target")])
        ref = (truth.landmarks.target or {}).get("lps") if truth.landmarks else None
        if ref:
            out["approach_target"] = [round(float(v), 2) for v in ref]
            out["approach_target_mm"] = round(float(np.linalg.norm(point - np.asarray(ref, float))), 1)
    return out


def accuracy(names: list[str]) -> dict:
    from imaging.segmentation.joints import segment_joint

    report = {}
    for name, site in PHANTOMS:
        if name not in names:
            continue
        loaded = load_sample(name)
        if loaded is None:
            print(f"{name}: sample missing (run `make samples`); skipped")
            continue
        vol, truth = loaded
        t = time.perf_counter()
        try:
            result = segment_joint(vol, site)
        except Exception as exc:  # report and go on: a benchmark measures, it does not stop
            print(f"{name}: segmentation failed: {exc}")
            report[name] = {"error": str(exc)}
            continue
        seconds = time.perf_counter() - t
        r = compare(result, truth, site)
        r["seconds"] = round(seconds, 2)
        r["side"] = (result.landmarks.extra or {}).get("side", "")
        report[name] = r
        print(f"\n{name} ({vol.shape[2]}x{vol.shape[1]}x{vol.shape[0]}, {seconds:.1f} s, side {r['side'] or '?'})")
        print(f"  {'structure':<28}{'kind':<8}{'Dice':>7}  goal")
        for row in r["structures"]:
            goal = 0.80 if row["kind"] in THIN_KINDS else 0.90
            flag = "ok" if row["dice"] >= goal else "MISS"
            print(f"  {row['name']:<28}{row['kind']:<8}{row['dice']:>7.3f}  >={goal:.2f} {flag}")
        if "centre_error_mm" in r:
            print(
                f"  default target {r['target_point']}, centre of the true joint space {r['truth_centre']}: "
                f"{r['centre_error_mm']:.2f} mm (goal <= 2); inside the true target: {r['point_inside_truth']}; "
                f"{r.get('approach_target_mm', float('nan')):.1f} mm from the sample's approach target"
            )
    return report


def lumbar_check() -> dict:
    """Level labels in order and thecal sac continuity on the real lumbar sample."""
    folder = samples_dir() / "lumbar_ct"
    if not folder.is_dir():
        print("lumbar_ct: sample missing; skipped")
        return {}
    from imaging.segmentation import segment

    vol = load_folder(folder)
    t = time.perf_counter()
    try:
        lm = segment(vol, "lumbar")
    except Exception as exc:
        print(f"\nlumbar_ct: segmentation failed: {exc}")
        return {"error": str(exc)}
    seconds = time.perf_counter() - t
    levels = list((lm.landmarks.levels if lm.landmarks else ()) or ())
    all_names = [lv.get("name") for lv in levels]
    expected = ["L1", "L2", "L3", "L4", "L5", "S1"]
    chosen = [lv for lv in levels if lv.get("name") in expected]
    names = [lv.get("name") for lv in chosen]
    zs = [float(lv["centre"][2]) for lv in chosen if "centre" in lv]
    in_order = names == expected and len(zs) == 6 and all(a > b for a, b in zip(zs, zs[1:], strict=False))
    sac = lm.legend.get("thecal sac")
    continuous = False
    gaps: list[int] = []
    pieces = 0
    if sac is not None and len(zs) == 6:
        m = lm.volume.array == sac.value
        from scipy import ndimage

        top = vol.lps_to_index([0, 0, zs[0]])[2]
        bottom = vol.lps_to_index([0, 0, zs[-1]])[2]
        k0, k1 = sorted((int(round(top)), int(round(bottom))))
        band = m[k0 : k1 + 1]
        _, n = ndimage.label(band, structure=np.ones((3, 3, 3), bool))
        per_slice = band.reshape(band.shape[0], -1).any(axis=1)
        gaps = [k0 + k for k in range(band.shape[0]) if not per_slice[k]]
        continuous = n == 1 and not gaps
        pieces = n
    print(f"\nlumbar_ct ({seconds:.1f} s): levels cranial to caudal {all_names} (L1..S1 in order, caudal going down: {in_order}); "
          f"thecal sac continuous L1..S1: {continuous} ({pieces} piece(s) between the L1 and S1 centres)"
          + (f", missing on slices {gaps[:8]}" if gaps else ""))
    return {"levels": all_names, "in_order": in_order, "thecal_sac_continuous": continuous, "seconds": round(seconds, 2)}


def floor(vol: Volume) -> None:
    """SimpleITK's BinaryThreshold + ConnectedComponent: one thresholding and one labelling pass."""
    import SimpleITK as sitk

    img = vol.to_sitk()
    sitk.ConnectedComponent(sitk.BinaryThreshold(img, 180.0, 32767.0, 1, 0))


def timed(fn, *args) -> float:
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


def speed(quick: bool) -> dict:
    from imaging.segmentation import segment

    out = {}
    runs = 1 if quick else 3
    cases = []
    knee = load_sample("knee_ct")
    if knee is not None:
        cases.append(("knee", knee[0], "knee"))
        if not quick:
            cases.append(("knee 512", _upsampled(knee[0]), "knee"))
    lumbar_folder = samples_dir() / "lumbar_ct"
    if lumbar_folder.is_dir():
        vol = load_folder(lumbar_folder)
        if not quick:
            vol = _upsampled(vol)
        cases.append(("lumbar", vol, "lumbar"))
    for label, vol, task in cases:
        size = "x".join(str(n) for n in vol.size_ijk)
        fn = (lambda v, t=task: segment(v, t)) if task == "lumbar" else (lambda v, t=task: _joint(v, t))
        try:
            fn(vol)  # warm-up (imports, caches)
        except Exception as exc:
            print(f"{label} task failed on {size}: {exc}")
            continue
        ours, base = [], []
        for _ in range(runs):
            ours.append(timed(fn, vol))
            base.append(timed(floor, vol))
        o, b = statistics.median(ours), statistics.median(base)
        out[label] = {"size": size, "seconds": round(o, 2), "floor_seconds": round(b, 3)}
        print(f"{label} task on {size}: {o:.2f} s (median of {runs}); BinaryThreshold + ConnectedComponent: {b:.3f} s")
    return out


def _upsampled(vol: Volume) -> Volume:
    """The study resampled onto a 512 x 512 x 300 grid over the same extent."""
    lo, hi = vol.world_bounds(voxel_edges=False)
    ext = np.abs(vol.spacing * (np.asarray(vol.size_ijk) - 1))
    return vol.resample_to_spacing((ext[0] / 511.0, ext[1] / 511.0, ext[2] / 299.0))


def _joint(vol: Volume, site: str):
    from imaging.segmentation.joints import segment_joint

    return segment_joint(vol, site)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one timing on native grids (under ~30 s)")
    parser.add_argument("--only", nargs="*", default=[p for p, _ in PHANTOMS], help="phantoms to measure")
    parser.add_argument("--no-lumbar", action="store_true", help="skip the lumbar checks")
    args = parser.parse_args(argv)
    acc = accuracy(args.only)
    lum = {} if args.no_lumbar else lumbar_check()
    print()
    spd = speed(args.quick)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average {load:.2f}, {os.cpu_count()} CPUs")
    bones = [r["dice"] for a in acc.values() for r in a.get("structures", []) if r["kind"] == "bone"]
    targets = [r["dice"] for a in acc.values() for r in a.get("structures", []) if r["kind"] == "target"]
    errors = [a["centre_error_mm"] for a in acc.values() if "centre_error_mm" in a]
    knee = spd.get("knee", {})
    result = {
        "benchmark": "segmentation",
        "value": knee.get("seconds"),
        "unit": "s",
        "baseline": "SimpleITK BinaryThreshold + ConnectedComponent",
        "baseline_value": knee.get("floor_seconds"),
        "ratio": round(knee["floor_seconds"] / knee["seconds"], 3) if knee.get("seconds") else None,
        "goal": "knee < 10 s, lumbar 512x512x300 < 15 s; Dice >= 0.90 bones and targets; centre error <= 2 mm",
        "knee_512_seconds": spd.get("knee 512", {}).get("seconds"),
        "lumbar_seconds": spd.get("lumbar", {}).get("seconds"),
        "lumbar_size": spd.get("lumbar", {}).get("size"),
        "min_bone_dice": min(bones) if bones else None,
        "min_target_dice": min(targets) if targets else None,
        "max_centre_error_mm": max(errors) if errors else None,
        "phantoms": {k: {r["name"]: r["dice"] for r in v.get("structures", [])} for k, v in acc.items()},
        "lumbar": lum,
        "load_average": round(load, 2),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
