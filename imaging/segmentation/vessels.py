"""Vessels by seeded region growing (contrast CT, MR): the user clicks inside a vessel, we grow it.

Method: SimpleITK ``ConfidenceConnected`` from the seed (the intensity band is learned from the
seed's neighbourhood and refined a few times), on a box of ``reach_mm`` around the seed, limited
to a sphere of that radius. A leak guard shrinks the band when the region stops looking like a
vessel (too big a share of the box, or too thick), and only the part connected to the seed is kept.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from imaging.errors import ImagingError
from imaging.progress import Cancel, Progress, check_cancel, report
from imaging.volume import Volume

__all__ = ["VesselGrowingError", "grow_vessel"]

# Thickest vessel we expect (aorta ~ 30 mm, popliteal/femoral 6-10 mm): a region whose inscribed
# radius exceeds this has leaked into something else.
_MAX_RADIUS_MM = 16.0
# Largest share of the reach sphere a vessel tree can fill before we call it a leak.
_MAX_FILL = 0.06


class VesselGrowingError(ImagingError):
    """The seed is not inside a vessel that can be grown (outside the study, or in background)."""


def grow_vessel(
    volume: Volume,
    seed_lps: Sequence[float],
    *,
    reach_mm: float = 80.0,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> np.ndarray:
    """Grow the vessel containing ``seed_lps`` (LPS mm); a boolean ``(nz, ny, nx)`` mask on the
    volume's grid, limited to ``reach_mm`` from the seed."""
    import SimpleITK as sitk
    from scipy import ndimage

    seed = np.asarray(seed_lps, dtype=float).reshape(3)
    if not bool(volume.contains_lps(seed)):
        raise VesselGrowingError(
            f"The seed point {tuple(round(float(c), 1) for c in seed)} mm lies outside the study; click inside a vessel."
        )
    if reach_mm <= 0:
        raise ValueError("reach_mm must be positive")
    report(progress, 0.0, "Growing the vessel")
    nz, ny, nx = volume.shape
    ijk = np.rint(volume.lps_to_index(seed)).astype(int)
    # Box of reach_mm around the seed, in index space.
    half = np.ceil(reach_mm / volume.spacing).astype(int)
    lo = np.maximum(ijk - half, 0)
    hi = np.minimum(ijk + half + 1, (nx, ny, nz))
    sub = np.ascontiguousarray(volume.array[lo[2] : hi[2], lo[1] : hi[1], lo[0] : hi[0]], dtype=np.float32)
    box = Volume(sub, volume.affine @ _translation(lo))
    image = box.to_sitk()
    # Light smoothing keeps noise from fragmenting the band estimate.
    image = sitk.SmoothingRecursiveGaussian(image, float(min(volume.spacing) * 0.6))
    local_seed = tuple(int(v) for v in (ijk - lo))

    # The sphere of reach around the seed (world distances: spacing may be anisotropic).
    kk, jj, ii = np.ogrid[: sub.shape[0], : sub.shape[1], : sub.shape[2]]
    sp = volume.spacing
    d2 = ((ii - local_seed[0]) * sp[0]) ** 2 + ((jj - local_seed[1]) * sp[1]) ** 2 + ((kk - local_seed[2]) * sp[2]) ** 2
    sphere = d2 <= reach_mm**2
    sphere_vox = max(1, int(sphere.sum()))

    radius = max(1, int(round(1.0 / float(min(sp)))))  # ~1 mm neighbourhood for the first estimate
    best = None
    for step, multiplier in enumerate((2.5, 2.0, 1.6, 1.3)):
        check_cancel(cancel)
        report(progress, 0.1 + 0.2 * step, "Growing the vessel")
        region = sitk.ConfidenceConnected(
            image,
            seedList=[local_seed],
            numberOfIterations=4,
            multiplier=float(multiplier),
            initialNeighborhoodRadius=radius,
            replaceValue=1,
        )
        mask = sitk.GetArrayViewFromImage(region).astype(bool) & sphere
        lab, _ = ndimage.label(mask)
        seed_label = lab[local_seed[2], local_seed[1], local_seed[0]]
        if seed_label == 0:
            continue
        mask = lab == seed_label
        best = mask
        if mask.sum() <= _MAX_FILL * sphere_vox and _inscribed_radius_mm(mask, sp) <= _MAX_RADIUS_MM:
            break
    if best is None:
        raise VesselGrowingError(
            "Nothing could be grown from this seed; click inside the bright lumen of a vessel "
            "(contrast CT or MR), not on its wall."
        )
    best = _half_max_edge(best, sitk.GetArrayViewFromImage(image), sphere)
    out = np.zeros(volume.shape, dtype=bool)
    out[lo[2] : hi[2], lo[1] : hi[1], lo[0] : hi[0]] = best
    report(progress, 1.0, "Vessel grown")
    return out


def _half_max_edge(mask: np.ndarray, values: np.ndarray, sphere: np.ndarray) -> np.ndarray:
    """Move the region's edge to half way between the lumen and its surroundings (the grown band
    stops short of partial-volume voxels at the wall)."""
    from scipy import ndimage

    sl = ndimage.find_objects(mask.astype(np.uint8))[0]
    sl = tuple(slice(max(0, s.start - 3), s.stop + 3) for s in sl)
    m = mask[sl]
    v = values[sl]
    ring = ndimage.binary_dilation(m, iterations=2) & ~ndimage.binary_dilation(m, iterations=1)
    if not ring.any():
        return mask
    inside = float(np.median(v[m]))
    outside = float(np.median(v[ring]))
    mid = 0.5 * (inside + outside)
    near = ndimage.binary_dilation(m, iterations=1) & sphere[sl]
    edge = (v >= mid) if inside >= outside else (v <= mid)
    grown = m | (near & edge)
    out = mask.copy()
    out[sl] = grown
    return out


def _translation(lo: np.ndarray) -> np.ndarray:
    t = np.eye(4)
    t[:3, 3] = lo.astype(float)
    return t


def _inscribed_radius_mm(mask: np.ndarray, spacing: np.ndarray) -> float:
    from scipy import ndimage

    if not mask.any():
        return 0.0
    sl = ndimage.find_objects(mask.astype(np.uint8))[0]
    sub = np.pad(mask[sl], 1)
    dist = ndimage.distance_transform_edt(sub, sampling=(spacing[2], spacing[1], spacing[0]))
    return float(dist.max())
