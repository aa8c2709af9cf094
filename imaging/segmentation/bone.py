"""Bone on CT, split into connected bones.

Method: bone is CT above 180 HU (cortex and trabecular bone) inside the body; marrow spaces
enclosed by cortex are filled per axial slice (only voxels above 60 HU, so the spinal canal and
other fluid spaces stay open). Bones are split on a ~2 mm grid: connected components, and
touching bones (a femoral head in its acetabulum, vertebrae over their facet joints) separated by
a watershed on the distance to the bone surface, started from the distance maxima that stand
3 mm above the neck between them (h-maxima). The labels are mapped back onto the study's grid
voxel by voxel (nearest coarse label).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from imaging.errors import ImagingError
from imaging.labelmap import Label, LabelMap, Legend
from imaging.progress import Cancel, Progress
from imaging.segmentation.common import (
    CoarseGrid,
    Steps,
    components,
    fill_holes_slices,
    is_ct,
    spacing_zyx,
)
from imaging.volume import Volume

__all__ = [
    "BONE_HU",
    "MARROW_HU",
    "bone_mask",
    "split_bones",
    "labels_to_fine",
    "segment_bones",
]

BONE_HU = 180.0
MARROW_HU = 60.0


def bone_mask(
    volume: Volume,
    *,
    threshold_hu: float = BONE_HU,
    body: np.ndarray | None = None,
    fill: bool = True,
    min_volume_ml: float = 0.05,
) -> np.ndarray:
    """Boolean mask of bone on a CT (specks under ``min_volume_ml`` dropped)."""
    if not is_ct(volume):
        raise ImagingError("Bone can be segmented on CT only; this study is not a CT (no Hounsfield units).")
    arr = volume.array
    mask = arr >= threshold_hu
    if body is not None:
        mask &= body
    if fill:
        from imaging.segmentation.body import axial_axis

        mask = (fill_holes_slices(mask, axis=axial_axis(volume)) & (arr >= MARROW_HU)) | mask
    voxel_ml = float(np.prod(volume.spacing)) / 1000.0
    min_vox = max(1, int(round(min_volume_ml / voxel_ml)))
    if min_vox > 1:
        labels, n = components(mask, connectivity=3)
        if n:
            sizes = np.bincount(labels.ravel())
            keep = sizes >= min_vox
            keep[0] = False
            mask = keep[labels]
    return mask


def split_bones(
    mask: np.ndarray,
    spacing: np.ndarray | tuple[float, float, float],
    *,
    core_mm: float = 3.0,
    min_volume_ml: float = 0.5,
    markers: np.ndarray | None = None,
    cancel: Cancel | None = None,
) -> tuple[np.ndarray, int]:
    """Split a bone mask into bones: ``(labels int32, count)``, labels 1..count by size.

    ``spacing`` is the voxel size along (z, y, x) in mm. Touching bones are separated by a
    watershed on the distance to the bone surface, started from its maxima that stand at least
    ``core_mm`` above the neck joining them (h-maxima), or from ``markers`` (an int label array). Pieces under ``min_volume_ml`` are dropped."""
    from skimage.segmentation import watershed

    sp = np.asarray(spacing, dtype=float)
    dist = ndimage.distance_transform_edt(mask, sampling=sp)
    if markers is None:
        from skimage.morphology import h_maxima

        markers, _ = components(h_maxima(dist, core_mm) > 0, connectivity=3)
    if cancel is not None and cancel():
        from imaging.progress import check_cancel

        check_cancel(cancel)
    labels = watershed(-dist, markers=markers, mask=mask, connectivity=1)
    # pieces of the mask no core reached (thin plates): their own connected components
    rest, n_rest = components(mask & (labels == 0), connectivity=3)
    if n_rest:
        labels = np.where(rest > 0, rest + labels.max(), labels)
    voxel_ml = float(np.prod(sp)) / 1000.0
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    order = [int(v) for v in np.argsort(-sizes) if sizes[v] * voxel_ml >= min_volume_ml and v != 0]
    remap = np.zeros(sizes.size, np.int32)
    for new, old in enumerate(order, start=1):
        remap[old] = new
    return remap[labels], len(order)


def labels_to_fine(grid: CoarseGrid, coarse_labels: np.ndarray, fine_mask: np.ndarray, *, reach_vox: int = 2) -> np.ndarray:
    """Carry coarse labels back onto the fine grid: each fine voxel of ``fine_mask`` takes the
    label of its coarse voxel, or of a labelled coarse voxel within ``reach_vox`` voxels."""
    nearest = coarse_labels
    for _ in range(max(0, int(reach_vox))):
        # grow the labels one voxel into unlabelled voxels (the largest neighbouring value wins a tie)
        grown = ndimage.grey_dilation(nearest, size=(3, 3, 3))
        nearest = np.where(nearest > 0, nearest, grown)
    dtype = np.uint8 if coarse_labels.max(initial=0) < 256 else np.uint16
    fine = grid.up(nearest.astype(dtype))
    return np.where(fine_mask, fine, 0).astype(dtype)


def segment_bones(
    volume: Volume,
    *,
    body: np.ndarray | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> LabelMap:
    """Label map of the body ("soft tissue", "skin") and its bones ("bone 1" = largest, ...)."""
    from imaging.segmentation.body import SKIN, SOFT_TISSUE, body_mask, skin_layer

    steps = Steps(progress, cancel)
    if body is None:
        body = body_mask(volume, progress=steps.sub(0.0, 0.4), cancel=cancel)
    steps(0.4, "Finding bone")
    fine_bone = bone_mask(volume, body=body)
    grid = CoarseGrid.for_volume(volume, 2.0)
    coarse = grid.down_fraction(fine_bone) >= 0.5
    steps(0.6, "Separating bones")
    labels_c, n = split_bones(coarse, spacing_zyx(volume) * np.asarray(grid.factors), cancel=cancel)
    fine = labels_to_fine(grid, labels_c, fine_bone)
    out = np.zeros(volume.shape, np.uint16 if n + 2 > 255 else np.uint8)
    out[body] = SOFT_TISSUE.value
    out[skin_layer(body, volume)] = SKIN.value
    out[fine > 0] = fine[fine > 0] + 2
    legend = [SOFT_TISSUE, SKIN] + [Label(v + 2, f"bone {v}", "bone", (241, 214, 145)) for v in range(1, n + 1)]
    steps(1.0, "Bones done")
    return LabelMap(volume.with_array(out), Legend(tuple(legend)))
