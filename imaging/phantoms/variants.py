"""A phantom study changed the way real studies differ, with its ground truth changed to match.

Used by ``benchmarks/segmentation_robustness.py`` and the segmentation tests to measure how a
method tuned on the phantoms holds up:

- ``denser +20 HU`` / ``lighter -15 HU`` (CT): every value shifted (an effusion of 28 HU, blood,
  a scanner's calibration, beam hardening);
- ``noisier``: Gaussian noise added, as much again as the study has; on MR the magnitude is
  taken, as a scanner does;
- ``other side``: mirrored left to right on the same grid (a left knee from a right one);
- ``thick slices``: neighbouring slices averaged in pairs;
- ``3 mm slices``: interpolated to 0.5 mm, then averaged over 3 mm slabs;
- ``narrow field``: a sixth of the slices cut from each end.

Thickened studies take the ground truth at each slab's centre. No Qt, no VTK.
"""

from __future__ import annotations

import numpy as np

from imaging.labelmap import LabelMap
from imaging.volume import Volume

__all__ = ["CT_ONLY", "VARIANTS", "noise_sd", "vary"]

VARIANTS = ("baseline", "denser +20 HU", "lighter -15 HU", "noisier", "other side", "thick slices", "3 mm slices", "narrow field")
CT_ONLY = ("denser +20 HU", "lighter -15 HU")
FINE_MM = 0.5  # the slice step a study is interpolated to before 3 mm slabs are averaged


def noise_sd(volume: Volume) -> float:
    """The study's noise (standard deviation) from differences of neighbouring voxels along the
    rows (median absolute difference, which ignores the few pairs across an edge), in soft
    tissue on CT and inside the brighter 40 % of an MR."""
    a = volume.array.astype(np.float32)
    ok = (a > -200) & (a < 200) if volume.info.modality == "CT" else a > np.percentile(a, 60)
    pair = ok[..., 1:] & ok[..., :-1]
    d = np.diff(a, axis=-1)[pair]
    return 1.4826 * float(np.median(np.abs(d - np.median(d)))) / float(np.sqrt(2.0))


def _relabel(truth: LabelMap, array: np.ndarray, affine: np.ndarray) -> LabelMap:
    return LabelMap(Volume(array, affine, truth.volume.info), truth.legend, truth.landmarks)


def _slabs(volume: Volume, truth: np.ndarray, k: int) -> tuple[Volume, np.ndarray]:
    """Every ``k`` slices averaged into one (placed at their centre); the truth at each centre."""
    a, aff = volume.array, volume.affine
    n = a.shape[0] // k * k
    mean = a[:n].astype(np.float32).reshape(n // k, k, *a.shape[1:]).mean(axis=1)
    thick = aff.copy()
    thick[:3, 2] *= k
    thick[:3, 3] += aff[:3, 2] * (k - 1) / 2.0
    return Volume(np.round(mean).astype(a.dtype), thick, volume.info), truth[:n][k // 2 :: k].copy()


def vary(volume: Volume, truth: LabelMap, variant: str, rng: np.random.Generator) -> tuple[Volume, LabelMap]:
    """``volume`` and its ground truth ``truth`` changed as ``variant`` (one of ``VARIANTS``) says."""
    a, t, aff = volume.array, truth.volume.array, volume.affine
    if variant == "baseline":
        return volume, truth
    if variant in CT_ONLY:
        shift = 20 if variant.startswith("denser") else -15
        return Volume(np.clip(a.astype(np.int32) + shift, -1024, 3071).astype(a.dtype), aff, volume.info), truth
    if variant == "noisier":
        noisy = a.astype(np.float32) + rng.normal(0.0, noise_sd(volume), a.shape).astype(np.float32)
        if volume.info.modality != "CT":
            noisy = np.abs(noisy)
        return Volume(np.round(noisy).astype(a.dtype), aff, volume.info), truth
    if variant == "other side":
        axis = 2 - int(np.argmax(np.abs(aff[0, :3])))  # the array axis nearest the patient's x
        sl = tuple(slice(None, None, -1) if k == axis else slice(None) for k in range(3))
        return Volume(a[sl].copy(), aff, volume.info), _relabel(truth, t[sl].copy(), aff)
    if variant == "thick slices":
        thick, tt = _slabs(volume, t, 2)
        return thick, _relabel(truth, tt, thick.affine)
    if variant == "3 mm slices":
        sp = volume.spacing
        fine = volume.resample_to_spacing((sp[0], sp[1], FINE_MM))
        fine_truth = truth.volume.resample_to_spacing((sp[0], sp[1], FINE_MM), interpolation="nearest")
        thick, tt = _slabs(fine, fine_truth.array, int(round(3.0 / FINE_MM)))
        return thick, _relabel(truth, tt, thick.affine)
    if variant == "narrow field":
        k = a.shape[0] // 6
        moved = aff.copy()
        moved[:3, 3] += k * aff[:3, 2]
        return Volume(a[k:-k].copy(), moved, volume.info), _relabel(truth, t[k:-k].copy(), moved)
    raise ValueError(f"No variant called {variant!r} (available: {', '.join(VARIANTS)}).")
