"""How the joint segmentation holds up when a study differs from the phantom it was tuned on.

    python benchmarks/segmentation_robustness.py [--only knee_ct,hip_ct,...] [--variants a,b]

Each phantom (``knee_ct``, ``hip_ct``, ``shoulder_ct``, ``knee_mr`` T2 fat-sat) is segmented as
built (the baseline) and changed in ways real studies differ, and each result is compared with
the ground truth changed the same way:

- ``denser +20 HU`` / ``lighter -15 HU`` (CT): every value shifted: an effusion of 28 HU instead
  of 8, blood, a scanner's calibration or beam hardening;
- ``noisier``: Gaussian noise added, as much again as the study has (a sharper kernel, a lower
  dose, a weaker coil); on MR the magnitude is taken, as a scanner does;
- ``other side``: the data mirrored left to right on the same grid (a left knee from a right);
- ``thick slices``: neighbouring slices averaged in pairs (twice the slice thickness);
- ``3 mm slices``: re-sliced to 3 mm (the thickest the joint methods accept): interpolated to
  0.5 mm, then averaged over each 3 mm slab; the ground truth taken at each slab's centre;
- ``narrow field``: a sixth of the slices cut from each end.

Printed: Dice per bone and target, the side read, and the drop from the baseline. The last line is
one JSON object (convention in ARCHITECTURE.md). This measures robustness; the accuracy goals are
in ``benchmarks/segmentation.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imaging.dicom import load_folder  # noqa: E402
from imaging.labelmap import LabelMap, read_labelmap  # noqa: E402
from imaging.samples import samples_dir  # noqa: E402
from imaging.segmentation import SegmentationError  # noqa: E402
from imaging.segmentation.joints import bones_of, segment_joint  # noqa: E402
from imaging.volume import Volume  # noqa: E402

PHANTOMS = {"knee_ct": ("knee", ""), "hip_ct": ("hip", ""), "shoulder_ct": ("shoulder", ""), "knee_mr": ("knee", "t2fs")}
VARIANTS = ("baseline", "denser +20 HU", "lighter -15 HU", "noisier", "other side", "thick slices", "3 mm slices", "narrow field")
CT_ONLY = ("denser +20 HU", "lighter -15 HU")


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    s = int(a.sum()) + int(b.sum())
    return 1.0 if s == 0 else 2.0 * int((a & b).sum()) / s


def _noise_sd(vol: Volume) -> float:
    """The study's noise from differences of neighbouring voxels along the rows (robust MAD),
    in soft tissue (CT) or inside the body (MR)."""
    a = vol.array.astype(np.float32)
    ok = (a > -200) & (a < 200) if vol.info.modality == "CT" else a > np.percentile(a, 60)
    pair = ok[..., 1:] & ok[..., :-1]
    d = np.diff(a, axis=-1)[pair]
    return 1.4826 * float(np.median(np.abs(d - np.median(d)))) / np.sqrt(2.0)


def _relabel(truth: LabelMap, array: np.ndarray, affine: np.ndarray) -> LabelMap:
    return LabelMap(Volume(array, affine, truth.volume.info), truth.legend, truth.landmarks)


def vary(vol: Volume, truth: LabelMap, variant: str, rng: np.random.Generator) -> tuple[Volume, LabelMap]:
    """The study and its ground truth changed as ``variant`` says."""
    a, t, aff = vol.array, truth.volume.array, vol.affine
    if variant == "baseline":
        return vol, truth
    if variant in CT_ONLY:
        shift = 20 if variant.startswith("denser") else -15
        out = np.clip(a.astype(np.int32) + shift, -1024, 3071).astype(a.dtype)
        return Volume(out, aff, vol.info), truth
    if variant == "noisier":
        noisy = a.astype(np.float32) + rng.normal(0.0, _noise_sd(vol), a.shape).astype(np.float32)
        if vol.info.modality != "CT":
            noisy = np.abs(noisy)
        return Volume(np.round(noisy).astype(a.dtype), aff, vol.info), truth
    if variant == "other side":
        axis = 2 - int(np.argmax(np.abs(aff[0, :3])))  # the array axis nearest the patient's x
        sl = tuple(slice(None, None, -1) if k == axis else slice(None) for k in range(3))
        return Volume(a[sl].copy(), aff, vol.info), _relabel(truth, t[sl].copy(), aff)
    if variant == "thick slices":
        n = a.shape[0] // 2 * 2
        pairs = a[:n].astype(np.float32).reshape(n // 2, 2, *a.shape[1:]).mean(axis=1)
        thick = aff.copy()
        thick[:3, 2] *= 2.0
        thick[:3, 3] += 0.5 * aff[:3, 2]  # the pair's centre
        return Volume(np.round(pairs).astype(a.dtype), thick, vol.info), _relabel(truth, t[:n:2].copy(), thick)
    if variant == "3 mm slices":
        sp = vol.spacing
        fine, fine_t = vol.resample_to_spacing((sp[0], sp[1], 0.5)), truth.volume.resample_to_spacing((sp[0], sp[1], 0.5), interpolation="nearest")
        k = 6
        n = fine.shape[0] // k * k
        slabs = fine.array[:n].astype(np.float32).reshape(n // k, k, *fine.shape[1:]).mean(axis=1)
        thick = fine.affine.copy()
        thick[:3, 2] *= k
        thick[:3, 3] += fine.affine[:3, 2] * (k - 1) / 2.0
        return Volume(np.round(slabs).astype(a.dtype), thick, vol.info), _relabel(truth, fine_t.array[:n][k // 2 :: k].copy(), thick)
    if variant == "narrow field":
        k = a.shape[0] // 6
        moved = aff.copy()
        moved[:3, 3] += k * aff[:3, 2]
        return Volume(a[k:-k].copy(), moved, vol.info), _relabel(truth, t[k:-k].copy(), moved)
    raise ValueError(variant)


def measure(name: str, variants: list[str]) -> list[dict]:
    site, series = PHANTOMS[name]
    folder = samples_dir() / name
    vol = load_folder(folder / series)
    truth = read_labelmap(folder / "labels.nrrd", reference=vol)
    rng = np.random.default_rng(0)
    rows = []
    for variant in variants:
        if variant in CT_ONLY and vol.info.modality != "CT":
            continue
        v, t = vary(vol, truth, variant, rng)
        t0 = time.perf_counter()
        try:
            result = segment_joint(v, site)
        except SegmentationError as exc:
            rows.append({"variant": variant, "refused": str(exc).split(". ")[0]})
            continue
        dice = {}
        for bone in bones_of(site):
            g, m = t.legend.get(bone), result.legend.get(bone)
            if g is not None and (t.volume.array == g.value).any():
                dice[bone] = round(_dice(result.volume.array == m.value, t.volume.array == g.value), 3) if m else 0.0
        dice["target"] = round(_dice(result.mask_of_kind("target"), t.mask_of_kind("target")), 3)
        inside = t.volume.value_at(result.landmarks.target["lps"]) in [lab.value for lab in t.legend.of_kind("target")]
        rows.append(
            {
                "variant": variant,
                "dice": dice,
                "side": result.landmarks.extra.get("side", ""),
                "target_inside": bool(inside),
                "seconds": round(time.perf_counter() - t0, 1),
            }
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(PHANTOMS), help="phantoms, comma-separated")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="variants, comma-separated")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n]
    variants = [v for v in args.variants.split(",") if v]
    if "baseline" not in variants:
        variants.insert(0, "baseline")
    missing = [n for n in names if not (samples_dir() / n / "labels.nrrd").is_file()]
    if missing:
        print(f"Phantoms not built: {', '.join(missing)}. Run `make phantoms` first.", file=sys.stderr)
        return 2
    summary: dict[str, dict] = {}
    worst = 0.0
    for name in names:
        rows = measure(name, variants)
        base = next(r for r in rows if r["variant"] == "baseline")["dice"]
        print(f"\n{name}")
        keys = list(base)
        print(f"  {'variant':16s} " + " ".join(f"{k:>11s}" for k in keys) + "  side   target inside  worst drop")
        for r in rows:
            if "refused" in r:
                print(f"  {r['variant']:16s} refused: {r['refused']}")
                continue
            drop = max(base[k] - r["dice"].get(k, 0.0) for k in keys)
            worst = max(worst, drop)
            cells = " ".join(f"{r['dice'].get(k, 0.0):11.3f}" for k in keys)
            print(f"  {r['variant']:16s} {cells}  {r['side'] or '?':6s} {str(r['target_inside']):13s}  {drop:.3f}")
        summary[name] = {r["variant"]: r.get("dice", r.get("refused")) for r in rows}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    print(
        json.dumps(
            {
                "benchmark": "segmentation_robustness",
                "value": round(worst, 3),
                "unit": "largest Dice drop from the unchanged phantom",
                "baseline": "the same method on the unchanged phantom",
                "phantoms": summary,
                "load_average": load,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
