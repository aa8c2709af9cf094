"""How the joint segmentation holds up when a study differs from the phantom it was tuned on.

    python benchmarks/segmentation_robustness.py [--only knee_ct,hip_ct,...] [--variants a,b]

Each phantom (``knee_ct``, ``hip_ct``, ``shoulder_ct``, ``knee_mr`` T2 fat-sat) is segmented as
built (the baseline) and changed in ways real studies differ (``imaging.phantoms.variants``), and
each result is compared with the ground truth changed the same way:

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
from imaging.labelmap import read_labelmap  # noqa: E402
from imaging.phantoms.variants import CT_ONLY, VARIANTS, vary  # noqa: E402
from imaging.samples import samples_dir  # noqa: E402
from imaging.segmentation import SegmentationError  # noqa: E402
from imaging.segmentation.joints import bones_of, segment_joint  # noqa: E402

PHANTOMS = {"knee_ct": ("knee", ""), "hip_ct": ("hip", ""), "shoulder_ct": ("shoulder", ""), "knee_mr": ("knee", "t2fs")}


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    s = int(a.sum()) + int(b.sum())
    return 1.0 if s == 0 else 2.0 * int((a & b).sum()) / s


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
