"""The patient's body outline and skin on CT and MR.

Method (all morphology on a ~2 mm grid, mapped back to the study's grid):

1. threshold: CT above -400 HU; MR above 0.4 x Otsu's threshold of the image;
2. opening with a 6 mm ball (erosion treats the outside of the field of view as body, so a cut
   body is not eaten at the cut), then the largest connected component: the table, its pad and
   cables, which touch the patient only over thin bridges, fall away;
3. internal air (lungs, bowel, rectum, airway) is filled: holes in every axial slice, then 3D
   holes, where air cut by the field of view counts as a hole when the body rings it on the cut
   face (a lung cut by the field of view is not outside air; :func:`fill_holes_fov`);
4. back at full resolution the outline is the threshold itself (so the skin surface is exact),
   within one coarse voxel of the coarse body; the filled interior is added;
5. skin (:func:`skin_mask`) = the body's voxels whose centre lies within 2 mm of its surface
   (half-way between a body voxel and an outside one), measured along the axes and diagonals, so
   equally deep in mm on anisotropic grids and oblique surfaces, and absent where the field of
   view cuts the body. :func:`skin_layer` is the plain axis-cross shell of a given thickness.

The rest of the body is labelled "soft tissue" (kind ``other``): the label map then covers the
whole body, so "every labelled voxel" is the patient even where the skin shell is open.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from imaging.labelmap import Label, LabelMap, Legend
from imaging.progress import Cancel, Progress
from imaging.segmentation.common import (
    CoarseGrid,
    Steps,
    ball,
    bounding_box,
    fill_holes_slices,
    is_ct,
    largest_component,
    shell,
    spacing_zyx,
)
from imaging.volume import Volume

__all__ = [
    "BODY_CT_HU",
    "SKIN_MM",
    "body_threshold",
    "body_mask",
    "body_masks",
    "skin_layer",
    "skin_mask",
    "fill_holes_fov",
    "axial_axis",
    "segment_body",
    "SOFT_TISSUE",
    "SKIN",
]

BODY_CT_HU = -400.0
SKIN_MM = 2.0
OPENING_MM = 6.0
SOFT_TISSUE = Label(1, "soft tissue", "other", (200, 170, 150))
SKIN = Label(2, "skin", "skin", (230, 180, 150))


def axial_axis(volume: Volume) -> int:
    """The array axis (0 = slices, 1 = rows, 2 = columns) closest to the patient's head-foot axis."""
    d = volume.direction  # columns: LPS directions of i, j, k
    ijk = int(np.argmax(np.abs(d[2, :])))
    return 2 - ijk


def body_threshold(volume: Volume, coarse: np.ndarray | None = None) -> float:
    """The intensity above which a voxel is tissue: -400 HU on CT; 0.4 x Otsu on MR."""
    if is_ct(volume):
        return BODY_CT_HU
    from skimage.filters import threshold_otsu

    vals = (coarse if coarse is not None else volume.array[::2, ::2, ::2]).astype(np.float32).ravel()
    if vals.size > 2_000_000:
        vals = vals[:: vals.size // 2_000_000 + 1]
    lo, hi = np.percentile(vals, [0.5, 99.5])
    vals = np.clip(vals, lo, hi)
    if hi <= lo:
        return float(lo)
    return float(lo + 0.4 * (threshold_otsu(vals) - lo))


def body_mask(
    volume: Volume,
    *,
    threshold: float | None = None,
    coarse: np.ndarray | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> np.ndarray:
    """Boolean ``(nz, ny, nx)`` mask of the patient: no table, internal air filled.

    ``coarse``: the block mean of the volume on ``CoarseGrid.for_volume(volume, 2.0)`` when the
    caller has it already (saves one pass over the study)."""
    return body_masks(volume, threshold=threshold, coarse=coarse, progress=progress, cancel=cancel)[0]


def body_masks(
    volume: Volume,
    *,
    threshold: float | None = None,
    coarse: np.ndarray | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`body_mask` and the same body on the ~2 mm grid (``CoarseGrid.for_volume(volume, 2.0)``)."""
    steps = Steps(progress, cancel)
    steps(0.0, "Finding the body outline")
    grid = CoarseGrid.for_volume(volume, 2.0)
    if coarse is None or coarse.shape != grid.coarse_shape:
        coarse = grid.down_mean(volume.array)
    thr = body_threshold(volume, coarse) if threshold is None else float(threshold)
    tissue = coarse > thr
    sp_c = spacing_zyx(volume) * np.asarray(grid.factors)
    se = ball(OPENING_MM, sp_c)
    steps(0.15, "Removing the table")
    pad = [(s.shape[0] // 2,) * 2 for s in (se, se[0], se[0, 0])]
    eroded = ndimage.binary_erosion(np.pad(tissue, pad, mode="edge"), se)
    opened = ndimage.binary_dilation(eroded, se)[tuple(slice(p[0], -p[0] or None) for p in pad)] & tissue
    body = largest_component(opened)
    if not body.any():
        body = largest_component(tissue)
    steps(0.35, "Filling internal air")
    body = tissue & ndimage.binary_dilation(body, iterations=1)
    body = largest_component(body)
    filled = fill_holes_slices(body, axis=axial_axis(volume), cancel=cancel)
    filled = fill_holes_fov(filled)
    steps(0.6, "Body outline at full resolution")
    if grid.identity:
        return filled, filled
    interior = ndimage.binary_erosion(filled, iterations=1, border_value=1)
    outer = ndimage.binary_dilation(filled, iterations=1)
    fine = volume.array > thr
    fine &= grid.up(outer)
    fine |= grid.up(interior)
    steps(1.0, "Body outline done")
    return fine, filled


def skin_layer(body: np.ndarray, volume: Volume, thickness_mm: float = SKIN_MM) -> np.ndarray:
    """The outer ``thickness_mm`` of ``body`` along every axis (mm, not voxels); none where the
    field of view cuts the body."""
    return shell(body, thickness_mm, spacing_zyx(volume), border_inside=True)


def fill_holes_fov(mask: np.ndarray) -> np.ndarray:
    """Hole filling (face connectivity) that also fills internal air cut by the field of view.

    A background region is outside air when it reaches the outside beyond the array's border;
    on each border face (and, recursively, each face's edges) the body closes the border where it
    encloses a gap within that face: a lung cut by the field of view is ringed by chest wall on
    the cut face, so it is a hole, while air in front of the body reaches the face's edges."""
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim == 1:
        out = mask.copy()
        idx = np.flatnonzero(mask)
        if idx.size:
            out[idx[0] : idx[-1] + 1] = True
        return out
    if not mask.any():
        return mask.copy()
    padded = np.zeros(tuple(n + 2 for n in mask.shape), dtype=bool)
    inner = tuple(slice(1, -1) for _ in mask.shape)
    padded[inner] = mask
    for axis in range(mask.ndim):
        for src, dst in ((0, 0), (-1, -1)):
            face = np.take(mask, src, axis=axis)
            sl = list(inner)
            sl[axis] = dst
            padded[tuple(sl)] = fill_holes_fov(face)
    structure = ndimage.generate_binary_structure(mask.ndim, 1)
    background, n = ndimage.label(~padded, structure=structure)
    edge = np.zeros(n + 1, bool)
    for axis in range(mask.ndim):
        for idx in (0, -1):
            edge[np.take(background, idx, axis=axis)] = True
    edge[0] = True
    return mask | ~edge[background[inner]]


def _star_offsets(thickness_mm: float, spacing_zyx) -> list[tuple[int, int, int]]:
    """Voxel offsets (z, y, x) along the 13 lines of a 3 x 3 x 3 neighbourhood (axes, face and
    body diagonals), one of each +/- pair, out to the last voxel whose centre lies within
    ``thickness_mm`` of a surface half-way to the next voxel (``s * step - step / 2``); each axis
    reaches at least its neighbour voxel. Erosion by this star is close to erosion by a ball
    (every surface normal is within 27 degrees of one of the lines) at a fraction of the cost."""
    sp = np.asarray(spacing_zyx, dtype=float)
    out = []
    for d in np.ndindex(3, 3, 3):
        step = np.asarray(d) - 1
        if tuple(step) <= (0, 0, 0):
            continue  # the centre, and the negative half of every pair
        length = float(np.sqrt(((step * sp) ** 2).sum()))
        k = int(np.floor(thickness_mm / length + 0.5 + 1e-9))
        if np.count_nonzero(step) == 1:
            k = max(k, 1)
        out.extend(tuple(int(v) for v in s * step) for s in range(1, k + 1))
    return out


def _erode_offsets(mask: np.ndarray, offsets) -> np.ndarray:
    """Erosion by the symmetric set ``offsets`` (and their negatives) made from shifted ANDs; the
    region beyond the array counts as inside (a body cut by the field of view is not eroded there)."""
    out = mask.copy()
    n = mask.shape
    for off in offsets:
        if any(abs(o) >= s for o, s in zip(off, n, strict=True)):
            continue
        a = tuple(slice(max(0, -o), s - max(0, o)) for o, s in zip(off, n, strict=True))
        b = tuple(slice(max(0, o), s - max(0, -o)) for o, s in zip(off, n, strict=True))
        out[a] &= mask[b]
        out[b] &= mask[a]
    return out


def skin_mask(body: np.ndarray, volume: Volume, thickness_mm: float = SKIN_MM) -> np.ndarray:
    """The skin: the voxels of ``body`` whose centre lies within ``thickness_mm`` of the body's
    surface (half-way between a body voxel and an outside voxel), measured along the axes and the
    diagonals, so an oblique surface gets the same depth in mm as one along an axis; a voxel with
    an outside face neighbour is always skin. None where the field of view cuts the body.

    Unlike :func:`skin_layer` (an axis cross of ``round(thickness / spacing)`` voxels, one voxel
    on 1.5 mm slices and thin on oblique surfaces) this matches the usual definition of a skin
    layer of a given thickness, on any grid."""
    offsets = _star_offsets(thickness_mm, spacing_zyx(volume))
    body = np.asarray(body, dtype=bool)
    out = np.zeros_like(body)
    # Work on the body's bounding box grown by the star's reach: the same result (outside voxels
    # inside the box still erode; the array's own faces stay faces) at a fraction of the cost.
    box = bounding_box(body, np.max(np.abs(np.asarray(offsets)), axis=0) + 1, body.shape) if offsets else None
    if box is None:
        return out
    crop = body[box]
    out[box] = crop & ~_erode_offsets(crop, offsets)
    return out


def segment_body(
    volume: Volume,
    *,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> LabelMap:
    """Label map with "soft tissue" (the whole body, kind other) and "skin" (its outer 2 mm)."""
    steps = Steps(progress, cancel)
    body = body_mask(volume, progress=steps.sub(0.0, 0.8), cancel=cancel)
    steps(0.85, "Skin layer")
    labels = np.zeros(volume.shape, np.uint8)
    labels[body] = SOFT_TISSUE.value
    labels[skin_mask(body, volume)] = SKIN.value
    steps(1.0, "Body and skin done")
    return LabelMap(volume.with_array(labels), Legend((SOFT_TISSUE, SKIN)))
