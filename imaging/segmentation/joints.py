"""Joints on CT (knee, shoulder, hip): the bones separated and named, the joint space, the body.

Method (classical: SimpleITK, numpy, scipy, scikit-image), on a working grid of about 0.8 mm
(finer studies are block-averaged; bone outlines and the target are carried back to the study's
grid at the end):

1. **Body and skin** from :mod:`imaging.segmentation.body` (skin = the body's voxels within 2 mm
   of its surface, :func:`~imaging.segmentation.body.skin_mask`).
2. **Bones**: above 180 HU on the lightly smoothed image, connected components that reach
   cortical density (contrast-filled vessels do not). Two bones touching across a thin joint are
   split by a watershed on the inverted image from their cortical shells (> 500 HU), whose
   dividing line runs along the dark joint gap. Holes are filled per bone, slice by slice in each
   direction, one bone at a time, and each outline is moved to the local half-maximum between
   cortex and the tissue outside. Fluid that hole filling walled into a bone (the acetabular
   fossa in a sagittal slice of the pelvis) is given back when it joins the articular gap.
3. **Names** from anatomy in patient axes (LPS): at the knee the femur is the large bone above,
   the tibia the large bone below, the fibula the thin vertical bone beside and behind the tibia
   (lateral, so it gives the side), the patella the bone in front of the femur; at the shoulder
   the humerus is the thickest bone (its head), the clavicle the long horizontal bone above it,
   the scapula the largest of the rest, ribs the thin long bones medial to it; at the hip the
   femur is the lowest large bone and the pelvis the largest of the rest. The side is where the
   lateral bone lies (LPS +x is the patient's left).
4. **Target** (joint space; "capsule space" at the hip): a capsule model, i.e. for each pair of
   articulating bones the voxels whose distances to the two bones add up to at most the widest
   articular gap; the joint fluid connected to it (within 15 HU of the fluid's level, opened
   in-plane against noise specks; the level is measured, first in the articular gaps, then
   inside the fluid found, so an effusion of 20 HU, blood or a calibration shift is followed;
   within 30 mm of the bones the capsule wraps: at the hip the femur, since the pelvis reaches
   the bladder), plus fluid pockets lying against the joint's bones (gutters,
   posterior recesses; thin tubes such as nerves rejected); its outline placed half way between
   the fluid and the tissue on each side, on the unsmoothed image. Where no fluid is visible the
   capsule model alone is the target.
5. **Default target**: :func:`target_centre`, the centre of the deepest pocket of the joint
   space (at the knee the suprapatellar recess), or, where the textbook approach comes from one
   side (hip: anterior; shoulder: posterior), of the quarter of the region facing it; computed
   on the study's own grid, to sub-voxel precision.
6. The rest of the body is "soft tissue" (kind ``other``, never an obstacle).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from imaging.kinds import DEFAULT_COLORS
from imaging.labelmap import Label, LabelMap, Landmarks, Legend
from imaging.progress import Cancel, Progress, check_cancel, report
from imaging.segmentation import SegmentationError
from imaging.segmentation.body import body_mask, skin_mask
from imaging.segmentation.common import CoarseGrid, bounding_box, is_ct, shell
from imaging.volume import Volume

__all__ = ["JOINT_SITES", "JointSegmentationError", "segment_joint", "bones_of", "target_centre"]

JOINT_SITES = ("knee", "shoulder", "hip")

_BONES = {
    "knee": ("femur", "tibia", "fibula", "patella"),
    "shoulder": ("humerus", "scapula", "clavicle"),
    "hip": ("femur", "pelvis"),
}
_BONE_COLORS = {
    "femur": (241, 214, 145),
    "tibia": (230, 200, 120),
    "fibula": (250, 230, 170),
    "patella": (255, 190, 110),
    "humerus": (241, 214, 145),
    "scapula": (230, 200, 120),
    "clavicle": (255, 190, 110),
    "pelvis": (230, 200, 120),
}
TARGET_NAMES = {"knee": "joint space", "shoulder": "joint space", "hip": "capsule space"}



class JointSegmentationError(SegmentationError):
    """The study cannot be segmented as the joint asked for (wrong site, no bones found, ...)."""


def bones_of(site: str) -> tuple[str, ...]:
    """The bones a joint segmentation names for ``site``."""
    return _BONES[_check_site(site)]


def _check_site(site: str) -> str:
    s = str(site).lower().strip()
    if s not in JOINT_SITES:
        raise JointSegmentationError(f"Unknown joint {site!r}; choose one of {', '.join(JOINT_SITES)}.")
    return s


def _largest_component(mask: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    lab, n = ndimage.label(mask)
    if n <= 1:
        return mask.astype(bool)
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    return lab == int(np.argmax(sizes))


def _fill_holes_2d(mask: np.ndarray, axes: tuple[int, ...] = (0, 1, 2)) -> np.ndarray:
    """Fill holes slice by slice along each of ``axes`` (one scipy call per axis)."""
    from scipy import ndimage

    out = mask.astype(bool)
    for axis in axes:
        st = np.zeros((3, 3, 3), dtype=bool)
        idx = [slice(None)] * 3
        idx[axis] = 1
        plane = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)
        st[tuple(idx)] = plane
        pad = [(0, 0)] * 3
        pad[axis] = (1, 1)
        filled = ndimage.binary_fill_holes(np.pad(out, pad), structure=st)
        sl = [slice(None)] * 3
        sl[axis] = slice(1, -1)
        out = out | filled[tuple(sl)]
    return out


def segment_joint(
    volume: Volume,
    site: str,
    *,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> LabelMap:
    """Segment a knee, shoulder or hip study into named bones, the joint-space target, skin and
    soft tissue; the target's centre is the default target in the label map's landmarks.

    MR (knee only: fat-suppressed T2) goes to :mod:`imaging.segmentation.knee_mr`."""
    site = _check_site(site)
    _check_resolution(volume, site)
    if not is_ct(volume):
        if site != "knee":
            raise JointSegmentationError(
                f"Joint segmentation on MR is available for the knee only; open a CT of the {site}."
            )
        from imaging.segmentation.knee_mr import segment_knee_mr

        return segment_knee_mr(volume, progress=progress, cancel=cancel)
    return _segment_ct(volume, site, progress, cancel)


# A joint space is a few millimetres wide: coarser voxels blur the bones into one another.
MAX_INPLANE_MM = 1.5
MAX_SLICE_MM = 3.0


def _check_resolution(volume: Volume, site: str) -> None:
    sp = np.sort(np.asarray(volume.spacing, dtype=float))
    if sp[1] > MAX_INPLANE_MM or sp[2] > MAX_SLICE_MM:
        dims = " x ".join(f"{v:.2g}" for v in volume.spacing)
        raise JointSegmentationError(
            f"This study's voxels are {dims} mm: too coarse to see the {site} joint space, which is only a few "
            f"millimetres wide. Joint segmentation needs in-plane voxels of {MAX_INPLANE_MM:g} mm or less and slices "
            f"of {MAX_SLICE_MM:g} mm or less; open a thin-slice reconstruction of the {site}, or draw the target."
        )


# ---------------------------------------------------------------------------------------------
# CT


BONE_HU = 180.0
CORTEX_HU = 500.0  # a bone's densest 5 % reach this (cortex); contrast vessels do not


def _smooth(volume: Volume, sigma_mm: float) -> np.ndarray:
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(np.asarray(volume.array, dtype=np.float32))
    img.SetSpacing(tuple(float(s) for s in volume.spacing))
    out = sitk.SmoothingRecursiveGaussian(img, float(sigma_mm))
    return sitk.GetArrayFromImage(out)


SMOOTH_MM = 0.6  # the image is smoothed this much (Gaussian sigma) against noise
WORK_MM = 0.8  # working voxel size (finer grids are block-averaged to about this)


def _work_grid(volume: Volume) -> tuple[CoarseGrid, Volume]:
    """The working grid (block means to about ``WORK_MM``) and the study on it."""
    grid = CoarseGrid.for_volume(volume, WORK_MM)
    if grid.identity:
        return grid, volume
    return grid, grid.coarse_volume(volume, grid.down_mean(volume.array))


def _segment_ct(volume: Volume, site: str, progress: Progress | None, cancel: Cancel | None) -> LabelMap:
    check_cancel(cancel)
    report(progress, 0.02, "Body and skin")
    body = body_mask(volume, cancel=cancel)
    if body.sum() == 0:
        raise JointSegmentationError("No body was found in this study (nothing denser than air).")
    check_cancel(cancel)
    report(progress, 0.15, "Smoothing")
    grid, work = _work_grid(volume)
    body_w = body if grid.identity else grid.down_fraction(body) >= 0.5
    sm = _smooth(work, SMOOTH_MM)
    check_cancel(cancel)
    report(progress, 0.25, "Bones")
    bones = _bones_ct(work, sm, body_w, site, cancel)
    check_cancel(cancel)
    report(progress, 0.6, "Joint space")
    named, side = _name_bones(work, bones, site)
    named = _reopen_fossae(sm, body_w, named, _joint_space_gaps(work, body_w, named, site))
    target = _joint_space(work, sm, body_w, named, site)
    check_cancel(cancel)
    report(progress, 0.85, "Labels")
    if not grid.identity:
        named, target = _to_full_grid(volume, grid, sm, named, target, body)
    # the default target on the study's own grid (the working grid's voxels make it jump)
    return _assemble(volume, body, named, target, site, side)


def _reopen_fossae(sm: np.ndarray, body: np.ndarray, named: dict[str, np.ndarray], gaps: np.ndarray) -> dict[str, np.ndarray]:
    """Give back fluid that hole filling put inside a bone: filling a bone slice by slice also
    fills a fossa it wraps (the acetabular fossa in a sagittal slice of the pelvis). Fluid-density
    voxels inside a bone that connect, through fluid density, to the fluid of the articular gaps
    are not bone (fatty marrow is walled in by cortex and stays)."""
    from scipy import ndimage

    anybone = np.zeros(sm.shape, dtype=bool)
    for m in named.values():
        anybone |= m
    fluid_like = (sm >= FAT_EDGE_HU) & (sm <= 0.5 * (FLUID_HU[1] + NEIGHBOUR_MAX_HU)) & body
    lab, n = ndimage.label(fluid_like)
    if n == 0:
        return named
    outside = np.unique(lab[fluid_like & gaps & ~anybone])
    inside = np.unique(lab[fluid_like & anybone])
    both = np.intersect1d(outside[outside > 0], inside[inside > 0])
    if both.size == 0:
        return named
    give_back = np.isin(lab, both) & anybone
    return {name: m & ~give_back for name, m in named.items()}


def _to_full_grid(
    volume: Volume,
    grid: CoarseGrid,
    sm: np.ndarray,
    named: dict[str, np.ndarray],
    target: np.ndarray,
    body: np.ndarray,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Carry the working-grid bones and target to the study's grid: each bone's outline is
    placed again at full resolution (a voxel near the outline is bone where it is at least half
    way between the local minimum and maximum of the working image)."""
    from scipy import ndimage

    size = (3, 3, 3)
    lmax = ndimage.maximum_filter(sm, size=size)
    lmin = ndimage.minimum_filter(sm, size=size)
    half_w = 0.5 * (lmax + lmin)  # carried up per bone box (the whole grid up is 4 bytes a voxel)
    arr = volume.array
    out: dict[str, np.ndarray] = {}
    anybone = np.zeros(volume.shape, dtype=bool)
    for name, m in named.items():
        sl_w = bounding_box(m, (2, 2, 2), m.shape)
        if sl_w is None:
            continue
        f = grid.factors
        sl = tuple(slice(s.start * k, min(n, s.stop * k)) for s, k, n in zip(sl_w, f, volume.shape, strict=True))
        sub_grid = CoarseGrid(tuple(s.stop - s.start for s in sl), f)  # type: ignore[arg-type]
        mw = m[sl_w]
        inner = grid_up(sub_grid, ndimage.binary_erosion(mw))
        outer = grid_up(sub_grid, ndimage.binary_dilation(mw))
        band = outer & ~inner
        keep = inner | (band & (arr[sl] >= grid_up(sub_grid, half_w[sl_w])))
        full = np.zeros(volume.shape, dtype=bool)
        full[sl] = keep & ~anybone[sl]
        anybone |= full
        out[name] = full
    t = grid.up(target) & body & ~anybone
    return out, t


def grid_up(grid: CoarseGrid, coarse: np.ndarray) -> np.ndarray:
    """``grid.up`` for a sub-block whose coarse shape may be one larger than the grid's own."""
    f = grid.factors
    out = coarse
    for axis in range(3):
        if f[axis] > 1:
            out = np.repeat(out, f[axis], axis=axis)
    n = grid.shape
    pad = [(0, max(0, n[a] - out.shape[a])) for a in range(3)]
    if any(p[1] for p in pad):
        out = np.pad(out, pad, mode="edge")
    return out[: n[0], : n[1], : n[2]]


def _bones_ct(
    volume: Volume, sm: np.ndarray, body: np.ndarray, site: str, cancel: Cancel | None
) -> list[tuple[np.ndarray, int]]:
    """Bone pieces ``(mask, component)`` (holes filled), largest first; ``component`` numbers the
    connected component a piece was split from."""
    from scipy import ndimage

    sp = volume.spacing[::-1]
    voxel_ml = float(np.prod(sp)) / 1000.0
    raw = (sm > BONE_HU) & body
    lab, n = ndimage.label(raw)
    if n == 0:
        raise JointSegmentationError("No bone was found in this study; is it a CT of the " + site + "?")
    sizes = np.bincount(lab.ravel()) * voxel_ml
    sizes[0] = 0
    slices = ndimage.find_objects(lab)
    # Bone has a cortex; a contrast-filled vessel (or calcification) above the bone threshold
    # does not: a component must reach cortical density.
    keep = [
        int(i) for i in np.argsort(sizes)[::-1]
        if sizes[i] >= 1.0 and float(np.percentile(sm[slices[i - 1]][lab[slices[i - 1]] == i], 95)) >= CORTEX_HU
    ]
    out: list[tuple[np.ndarray, int]] = []
    for i in keep:
        check_cancel(cancel)
        sl = _pad_slices(slices[i - 1], lab.shape, 2)
        part = lab[sl] == i
        for piece in _split_component(part, sm[sl], sp):
            filled = _refine_edge(_fill_holes_2d(piece), sm[sl], sp)
            full = np.zeros(volume.shape, dtype=bool)
            full[sl] = filled
            out.append((full, int(i)))
    out.sort(key=lambda m: -int(m[0].sum()))
    return out


EDGE_MM = 1.5


def _refine_edge(bone: np.ndarray, sm: np.ndarray, sp: np.ndarray) -> np.ndarray:
    """Move a bone's outline to the local half-maximum between its cortex and the tissue
    outside (a fixed low threshold makes blurred bones too fat): within ``EDGE_MM`` of the outline,
    a voxel stays bone where it is at least half way from the local minimum to the local maximum."""
    from scipy import ndimage

    r = tuple(max(1, int(round(EDGE_MM / s))) for s in sp)
    size = tuple(2 * k + 1 for k in r)
    lmax = ndimage.maximum_filter(sm, size=size)
    lmin = ndimage.minimum_filter(sm, size=size)
    inner = ndimage.binary_erosion(bone, structure=np.ones(size, bool))
    keep = sm >= 0.5 * (lmax + lmin)
    out = inner | (bone & keep)
    # Keep only what stays attached to the bone's body.
    lab, n = ndimage.label(out)
    if n > 1:
        sizes = np.bincount(lab.ravel())
        sizes[0] = 0
        out = lab == int(np.argmax(sizes))
    return _fill_holes_2d(out)


def _pad_slices(sl: tuple[slice, ...], shape: tuple[int, ...], pad: int) -> tuple[slice, ...]:
    return tuple(slice(max(0, s.start - pad), min(n, s.stop + pad)) for s, n in zip(sl, shape, strict=False))


def _split_component(part: np.ndarray, sm: np.ndarray, sp: np.ndarray) -> list[np.ndarray]:
    """Split one bone component into bones when it is two bones touching across a thin joint
    (partial volume bridges the gap at the bone threshold): the dense cortical shells
    (``SPLIT_HU``) of the two bones do not touch, so they are the markers of a watershed on the
    inverted image, whose dividing line then runs along the dark joint gap."""
    from scipy import ndimage
    from skimage.segmentation import watershed

    vox_ml = float(np.prod(sp)) / 1000.0
    dense = (sm > SPLIT_HU) & part
    lab, n = ndimage.label(dense)
    if n < 2:
        return [part]
    sizes = np.bincount(lab.ravel()) * vox_ml
    sizes[0] = 0
    big = [i for i in range(1, n + 1) if sizes[i] >= max(SPLIT_MIN_ML, 0.02 * sizes.max())]
    if len(big) < 2:
        return [part]
    markers = np.zeros(part.shape, dtype=np.int32)
    for k, i in enumerate(big, 1):
        markers[lab == i] = k
    ws = watershed(-sm, markers=markers, mask=part)
    return [ws == k for k in range(1, len(big) + 1)]


SPLIT_HU = 500.0
SPLIT_MIN_ML = 1.0


# ---------------------------------------------------------------------------------------------
# Naming bones from anatomy


@dataclass
class _Part:
    mask: np.ndarray
    ml: float
    centroid: np.ndarray  # LPS mm
    lo: np.ndarray  # LPS bounding box
    hi: np.ndarray
    axis: np.ndarray  # principal direction (unit, LPS)
    length_mm: float  # extent along the principal direction
    radius_mm: float  # radius of the largest ball inside (thick heads and condyles vs plates)
    origin: int = 0  # connected component it came from


def _describe(volume: Volume, mask: np.ndarray) -> _Part:
    idx = np.argwhere(mask)  # (z, y, x)
    sub = idx[:: max(1, len(idx) // 20000)]
    pts = volume.index_to_lps(sub[:, ::-1].astype(float))
    c = pts.mean(axis=0)
    cov = np.cov((pts - c).T) if len(pts) > 3 else np.eye(3)
    w, v = np.linalg.eigh(cov)
    ax = v[:, int(np.argmax(w))]
    proj = (pts - c) @ ax
    ml = float(mask.sum()) * float(np.prod(volume.spacing)) / 1000.0
    return _Part(mask, ml, c, pts.min(axis=0), pts.max(axis=0), ax, float(proj.max() - proj.min()), _inscribed(volume, mask))


def _inscribed(volume: Volume, mask: np.ndarray) -> float:
    """Radius (mm) of the largest ball inside ``mask``, on a ~1 mm grid."""
    from scipy import ndimage

    sl = bounding_box(mask, (1, 1, 1), volume.shape)
    if sl is None:
        return 0.0
    sub = mask[sl]
    sp = volume.spacing[::-1]
    grid = CoarseGrid(sub.shape, tuple(max(1, int(round(1.0 / s))) for s in sp))  # type: ignore[arg-type]
    c = np.pad(grid.down_fraction(sub) >= 0.5, 1)
    return float(ndimage.distance_transform_edt(c, sampling=sp * np.asarray(grid.factors)).max())


def _name_bones(volume: Volume, bones: list[tuple[np.ndarray, int]], site: str) -> tuple[dict[str, np.ndarray], str]:
    """Name the bone pieces for ``site``; returns ``({name: mask}, side)`` with side "left",
    "right" or "" when the anatomy does not tell. A piece split off a named bone's component that
    got no name of its own goes back to that bone; other unnamed bone is "other bone"."""
    parts = []
    for m, origin in bones:
        part = _describe(volume, m)
        part.origin = origin
        parts.append(part)
    if site == "knee":
        names, side = _name_knee(parts)
    elif site == "shoulder":
        names, side = _name_shoulder(parts)
    else:
        names, side = _name_hip(parts)
    names = _merge_split_pieces(parts, names)
    out: dict[str, np.ndarray] = {}
    for part, name in zip(parts, names, strict=False):
        if name is None:
            continue
        out[name] = out[name] | part.mask if name in out else part.mask
    missing = [b for b in _BONES[site] if b not in out and b not in _OPTIONAL.get(site, ())]
    if missing:
        raise JointSegmentationError(
            f"Could not find the {', '.join(missing)} in this study; is it a CT of the {site} "
            "with the joint in the field of view?"
        )
    return out, side


def _merge_split_pieces(parts: list[_Part], names: list[str | None]) -> list[str | None]:
    """Unnamed pieces (None or "other bone") of a component that also holds a named bone join
    the named piece they touch most (a watershed split one bone in two)."""
    from scipy import ndimage

    names = list(names)
    for i, p in enumerate(parts):
        if names[i] not in (None, "other bone"):
            continue
        partners = [j for j, q in enumerate(parts) if j != i and q.origin == p.origin and names[j] not in (None, "other bone")]
        if not partners:
            continue
        ring = ndimage.binary_dilation(p.mask) & ~p.mask
        contact = [int((ring & parts[j].mask).sum()) for j in partners]
        if max(contact) > 0:
            names[i] = names[partners[int(np.argmax(contact))]]
    return names


_OPTIONAL = {"knee": ("fibula", "patella"), "shoulder": ("clavicle",), "hip": ()}


def _side_from_x(lateral_x: float, medial_x: float) -> str:
    """LPS +x is the patient's left: a lateral structure at larger x than its medial partner
    belongs to a left limb."""
    return "left" if lateral_x > medial_x else "right"


PATELLA_FRONT_MM = 15.0  # the patella's centre lies at least this far in front of the femur's


def _looks_like_fibula(p: _Part, tibia: _Part, femur: _Part) -> bool:
    """Below the joint line, beside and behind the tibia, a thin bone running down the leg: the
    fibula (lateral, so it tells the side)."""
    joint_z = 0.5 * (femur.lo[2] + tibia.hi[2])
    lateral_offset = abs(p.centroid[0] - tibia.centroid[0])
    return bool(
        p.centroid[2] < joint_z
        and p.centroid[1] > tibia.centroid[1] - 15
        and 15.0 <= lateral_offset <= 60.0
        and abs(p.axis[2]) >= 0.7
        and p.length_mm >= 30.0
        and p.radius_mm <= 14.0
    )


def _name_knee(parts: list[_Part]) -> tuple[list[str | None], str]:
    names: list[str | None] = [None] * len(parts)
    big = [i for i, p in enumerate(parts) if p.ml >= 5.0]
    if len(big) < 2:
        raise JointSegmentationError("Could not find both the femur and the tibia; is the knee joint in the field of view?")
    a, b = sorted(big, key=lambda i: -parts[i].ml)[:2]
    fem, tib = (a, b) if parts[a].centroid[2] > parts[b].centroid[2] else (b, a)
    names[fem] = "femur"
    names[tib] = "tibia"
    femur, tibia = parts[fem], parts[tib]
    side = ""
    fib_candidates = []
    pat_candidates = []
    for i, p in enumerate(parts):
        if names[i] is not None or p.ml < 0.5:
            continue
        if _looks_like_fibula(p, tibia, femur):
            fib_candidates.append(i)
        elif p.centroid[1] < femur.centroid[1] - PATELLA_FRONT_MM and p.centroid[2] > femur.lo[2] - 10:
            # in front of the femur, not below its condyles: the patella (the femur's lowest
            # point is the joint line; a tibia piece that leaked upwards does not move it)
            pat_candidates.append(i)
    if fib_candidates:
        f = max(fib_candidates, key=lambda i: parts[i].ml)
        names[f] = "fibula"
        side = _side_from_x(parts[f].centroid[0], tibia.centroid[0])
    if pat_candidates:
        names[max(pat_candidates, key=lambda i: parts[i].ml)] = "patella"
    for i, p in enumerate(parts):
        if names[i] is None and p.ml >= 0.5:
            names[i] = "other bone"
    return names, side


def _name_shoulder(parts: list[_Part]) -> tuple[list[str | None], str]:
    names: list[str | None] = [None] * len(parts)
    cand = [i for i, p in enumerate(parts) if p.ml >= 2.0]
    if len(cand) < 2:
        raise JointSegmentationError("Could not find the humerus and the scapula; is the shoulder joint in the field of view?")
    # Humerus: the thickest bone (the humeral head); the scapula is a plate.
    hum = max(cand, key=lambda i: parts[i].radius_mm)
    names[hum] = "humerus"
    humerus = parts[hum]
    rest = [i for i in cand if i != hum]
    # Clavicle: elongated roughly horizontally, above the humeral head.
    clav = None
    for i in sorted(rest, key=lambda i: -parts[i].centroid[2]):
        p = parts[i]
        horizontal = np.hypot(p.axis[0], p.axis[1])
        if horizontal > 0.8 and p.length_mm > 60 and p.centroid[2] > humerus.hi[2] - 20 and p.ml < 60:
            clav = i
            break
    if clav is not None:
        names[clav] = "clavicle"
        rest.remove(clav)
    if not rest:
        raise JointSegmentationError("Could not find the scapula; is the glenohumeral joint in the field of view?")
    scap = max(rest, key=lambda i: parts[i].ml)
    names[scap] = "scapula"
    scapula = parts[scap]
    # Small pieces near the scapula (thin blade broken by the threshold) belong to it.
    for i in rest:
        if names[i] is None and np.all(parts[i].lo >= scapula.lo - 5) and np.all(parts[i].hi <= scapula.hi + 5):
            names[i] = "scapula"
    for i, p in enumerate(parts):
        if names[i] is None and p.ml >= 0.5:
            # the chest wall: thin, long bones medial to the shoulder joint
            medial = abs(p.centroid[0] - humerus.centroid[0]) > abs(scapula.centroid[0] - humerus.centroid[0])
            names[i] = "ribs" if medial and p.radius_mm <= 8.0 and p.length_mm >= 40.0 else "other bone"
    side = _side_from_x(humerus.centroid[0], scapula.centroid[0])
    return names, side


def _name_hip(parts: list[_Part]) -> tuple[list[str | None], str]:
    names: list[str | None] = [None] * len(parts)
    cand = [i for i, p in enumerate(parts) if p.ml >= 5.0]
    if len(cand) < 2:
        raise JointSegmentationError("Could not find the femur and the pelvis; is the hip joint in the field of view?")

    # Femur: the lowest large bone running cranio-caudally.
    fem = min(cand, key=lambda i: parts[i].centroid[2])
    names[fem] = "femur"
    femur = parts[fem]
    rest = [i for i in cand if i != fem]
    pelv = max(rest, key=lambda i: parts[i].ml)
    names[pelv] = "pelvis"
    pelvis = parts[pelv]
    for i, p in enumerate(parts):
        if names[i] is None and p.ml >= 0.5:
            inside = np.all(p.lo >= pelvis.lo - 5) and np.all(p.hi <= pelvis.hi + 5)
            names[i] = "pelvis" if inside and p.centroid[2] > femur.hi[2] - 40 else "other bone"
    side = _side_from_x(femur.centroid[0], pelvis.centroid[0])
    return names, side


# ---------------------------------------------------------------------------------------------
# The joint space (capsule model)

# Articulating pairs whose gap forms the joint space, per site.
_PAIRS = {
    "knee": (("femur", "tibia"), ("femur", "patella")),
    "shoulder": (("humerus", "scapula"),),
    "hip": (("femur", "pelvis"),),
}
# Widest articular gap (bone to bone, mm) the capsule model bridges, per pair.
GAP_MM = {("femur", "tibia"): 11.0, ("femur", "patella"): 12.0, ("humerus", "scapula"): 7.0, ("femur", "pelvis"): 7.0}
# Joint fluid on CT (smoothed HU) and how far a recess may reach from the articular gap.
FLUID_HU = (-25.0, 22.0)  # joint fluid below the upper value, soft tissue above it
FAT_EDGE_HU = -45.0  # half way between fluid and fat
FAT_HU = -100.0
RECESS_REACH_MM = 30.0  # how far from the joint's bones a recess may reach
# The bones whose capsule holds the recesses, where not all of the joint's bones: the hip's
# capsule wraps the femoral head and neck, and the pelvis reaches the bladder and bowel.
_CAPSULE_BONES = {"hip": ("femur",)}
NEIGHBOUR_MAX_HU = 110.0  # densest tissue (cartilage) that borders joint fluid
POCKET_ML = 0.15
POCKET_CONTACT_MM = 2.0
POCKET_CONTACT_VOXELS = 20
TUBE_SD_MM = 2.5
SUBCUTIS_MM = 5.0
CORE_BAND_HU = 15.0
FLUID_SEARCH_MAX_HU = 60.0  # the fluid's level is looked for below this (blood ~40-60 HU)
LEVEL_ROUNDS = 2  # the level measured again inside the fluid it finds, this many times ...
LEVEL_MIN_VOXELS = 50  # ... when there are at least this many voxels to measure
EDGE_BAND = 3
NEIGHBOUR_GAP = 2


def _joint_space(
    volume: Volume, sm: np.ndarray, body: np.ndarray, named: dict[str, np.ndarray], site: str
) -> np.ndarray:
    """The joint space: the articular gap between each articulating pair (non-bone voxels within
    the pair's gap of both surfaces) plus fluid-density recesses connected to it."""
    sp = volume.spacing[::-1]
    target = _joint_space_gaps(volume, body, named, site)
    anybone = np.zeros(volume.shape, dtype=bool)
    for m in named.values():
        anybone |= m
    capsule = None
    if site in _CAPSULE_BONES:
        capsule = np.zeros(volume.shape, dtype=bool)
        for name in _CAPSULE_BONES[site]:
            if name in named:
                capsule |= named[name]
    return _add_recesses(volume, sm, body, anybone, target, sp, capsule if capsule is not None and capsule.any() else None)


def _joint_space_gaps(volume: Volume, body: np.ndarray, named: dict[str, np.ndarray], site: str) -> np.ndarray:
    """The articular gaps of ``site``: for each articulating pair of bones, the non-bone voxels
    whose distances to the two bones add up to at most the pair's widest gap."""
    from scipy import ndimage

    sp = volume.spacing[::-1]
    anybone = np.zeros(volume.shape, dtype=bool)
    for m in named.values():
        anybone |= m
    target = np.zeros(volume.shape, dtype=bool)
    for a, b in _PAIRS[site]:
        if a not in named or b not in named:
            continue
        gap = GAP_MM[(a, b)]
        pad = tuple(int(np.ceil(gap / s)) + 1 for s in sp)
        near_a = _near(named[a], gap, sp)
        near_b = _near(named[b], gap, sp)
        box = bounding_box(near_a & near_b, pad, volume.shape)
        if box is None:
            continue
        da = ndimage.distance_transform_edt(~named[a][box], sampling=sp)
        db = ndimage.distance_transform_edt(~named[b][box], sampling=sp)
        lens = (da + db <= gap) & ~anybone[box] & body[box]
        target[box] |= lens
    if not target.any():
        raise JointSegmentationError(
            f"The articular surfaces of the {site} were not found close together; is the joint in the field of view?"
        )
    return target


def _near(mask: np.ndarray, mm: float, sp: np.ndarray) -> np.ndarray:
    """Cheap dilation by ``mm`` on a coarse grid (for bounding boxes only)."""
    from scipy import ndimage

    grid = CoarseGrid(mask.shape, tuple(max(1, int(round(2.0 / s))) for s in sp))  # type: ignore[arg-type]
    c = grid.down_any(mask)
    step = float(min(np.asarray(grid.factors) * sp))
    n = int(np.ceil(mm / step))
    if n:
        c = ndimage.binary_dilation(c, iterations=n)
    return grid.up(c)


_INPLANE_CROSS = np.zeros((3, 3, 3), dtype=bool)
_INPLANE_CROSS[1] = [[0, 1, 0], [1, 1, 1], [0, 1, 0]]


def _half_way_outline(
    fluid: np.ndarray,
    img: np.ndarray,
    allowed: np.ndarray,
    level: float,
    sp: np.ndarray,
    *,
    hi_cap: float | None = None,
    lo_default: float | None = None,
) -> np.ndarray:
    """Place the outline of a fluid region half way between the fluid ``level`` and the level of
    the tissue next to it (the mean of the non-fluid voxels nearby, capped at cartilage density):
    every voxel within ``EDGE_BAND`` voxels of the outline is decided again."""
    from scipy import ndimage

    size = (3, 5, 5) if sp[0] > 1.5 * sp[2] else (5, 5, 5)
    # The tissue on each side: denser (soft tissue, muscle, cartilage; capped at cartilage so
    # that bone behind cartilage does not pull the outline onto it) and less dense (fat).
    outside = allowed & ~ndimage.binary_dilation(fluid, iterations=NEIGHBOUR_GAP)
    denser = (outside & (img > level)).astype(np.float32)
    lighter = (outside & (img < level)).astype(np.float32)
    hi_cap = NEIGHBOUR_MAX_HU if hi_cap is None else hi_cap
    lo_default = FAT_HU if lo_default is None else lo_default
    capped = np.minimum(img, hi_cap)
    n_hi = ndimage.uniform_filter(denser, size=size)
    n_lo = ndimage.uniform_filter(lighter, size=size)
    hi = np.where(n_hi > 1e-3, ndimage.uniform_filter(capped * denser, size=size) / np.maximum(n_hi, 1e-3), hi_cap)
    lo = np.where(n_lo > 1e-3, ndimage.uniform_filter(img * lighter, size=size) / np.maximum(n_lo, 1e-3), lo_default)
    decide = np.where(img >= level, img <= 0.5 * (level + hi), img >= 0.5 * (level + lo))
    band = ndimage.binary_dilation(fluid, iterations=EDGE_BAND) & ~ndimage.binary_erosion(fluid, iterations=EDGE_BAND) & allowed
    out = (fluid & ~band) | (band & decide)
    lab, _ = ndimage.label(out)
    keep = np.unique(lab[fluid & out])
    return np.isin(lab, keep[keep > 0])


def _is_tube(lab: np.ndarray, i: int, sp: np.ndarray) -> bool:
    """True when component ``i`` is a thin tube (a nerve or vessel in fat), not a fluid pocket:
    its second principal extent (standard deviation) is under ``TUBE_SD_MM``."""
    pts = np.argwhere(lab == i) * sp
    if len(pts) < 4:
        return True
    w = np.sort(np.linalg.eigvalsh(np.cov(pts.T)))[::-1]
    return bool(np.sqrt(max(w[1], 0.0)) < TUBE_SD_MM)


def _smooth_array(arr: np.ndarray, sp: np.ndarray, sigma_mm: float) -> np.ndarray:
    import SimpleITK as sitk

    im = sitk.GetImageFromArray(np.ascontiguousarray(arr, dtype=np.float32))
    im.SetSpacing(tuple(float(v) for v in sp[::-1]))
    return sitk.GetArrayFromImage(sitk.SmoothingRecursiveGaussian(im, float(sigma_mm)))


def _mode(values: np.ndarray, lo: float, hi: float, bin_width: float = 2.0) -> float:
    """The most common value of ``values`` within ``[lo, hi]`` (lightly smoothed histogram)."""
    from scipy import ndimage

    hist, edges = np.histogram(values, bins=int((hi - lo) / bin_width), range=(lo, hi))
    hist = ndimage.gaussian_filter1d(hist.astype(float), 1.0)
    k = int(np.argmax(hist))
    return float(0.5 * (edges[k] + edges[k + 1]))


def _add_recesses(
    volume: Volume,
    sm: np.ndarray,
    body: np.ndarray,
    anybone: np.ndarray,
    gap: np.ndarray,
    sp: np.ndarray,
    capsule: np.ndarray | None = None,
) -> np.ndarray:
    """The joint fluid: fluid-density voxels connected to the articular gaps (the films between
    the cartilage surfaces, and recesses such as the suprapatellar pouch and the gutters), no
    farther than ``RECESS_REACH_MM`` from the bones the capsule wraps (``capsule``; all of the
    joint's bones when not given), with the outline placed half way between fluid and each
    neighbouring tissue.

    Voxels next to fat are left out of the connected core (a blurred fat/muscle boundary passes
    through fluid density and would carry the region away), then the outline is grown back. Where
    no fluid is visible the gaps themselves are the target (the capsule model alone)."""
    from scipy import ndimage

    reach = tuple(int(np.ceil(RECESS_REACH_MM / s)) for s in sp)
    box = bounding_box(anybone, reach, volume.shape)
    if box is None:
        return gap
    s0 = sm[box]
    f = body[box] & ~anybone[box]
    # joint fluid never lies in the skin and subcutaneous layer
    deep = (body & ~shell(body, SUBCUTIS_MM, sp, border_inside=True))[box]
    g = gap[box] & f
    bone_dist = ndimage.distance_transform_edt(~anybone[box], sampling=sp)
    wrapped = bone_dist if capsule is None else ndimage.distance_transform_edt(~capsule[box], sampling=sp)
    near = f & (wrapped <= RECESS_REACH_MM)
    # The fluid's level: first the commonest density in the articular gaps (thin films, which
    # partial volume with cartilage biases upwards), then, twice, the commonest density inside
    # the fluid that level finds, away from its outline. No fixed water value: an effusion
    # measures 0-20 HU, blood more, and a scanner's calibration or beam hardening shifts all.
    lens = s0[g]
    lens = lens[(lens > FLUID_HU[0]) & (lens < FLUID_SEARCH_MAX_HU)]
    fluid_level = _mode(lens, FLUID_HU[0], FLUID_SEARCH_MAX_HU) if lens.size >= 20 else 10.0
    for _ in range(LEVEL_ROUNDS):
        lab, seeds = _fluid_core(s0, g, near, deep, fluid_level)
        inner = ndimage.binary_erosion(np.isin(lab, seeds[seeds > 0]), structure=_INPLANE_CROSS)
        inner &= ~ndimage.binary_dilation(g, iterations=1)
        if inner.sum() < LEVEL_MIN_VOXELS:
            break
        fluid_level = _mode(s0[inner], fluid_level - CORE_BAND_HU, fluid_level + CORE_BAND_HU, bin_width=1.0)
    lab, seeds = _fluid_core(s0, g, near, deep, fluid_level)
    core = lab > 0
    # Pockets of fluid lying against the joint's bones (gutters, posterior condylar recesses)
    # belong to the joint too, even where the film joining them to the gap is too thin to see.
    sizes = np.bincount(lab.ravel()) * float(np.prod(sp)) / 1000.0
    touching = np.bincount(lab[(bone_dist <= POCKET_CONTACT_MM) & core], minlength=sizes.size)
    pockets = np.nonzero((sizes >= POCKET_ML) & (touching >= POCKET_CONTACT_VOXELS))[0]
    pockets = [i for i in pockets if i > 0 and i not in seeds and not _is_tube(lab, i, sp)]
    seeds = np.union1d(seeds, np.asarray(pockets, dtype=seeds.dtype))
    seeds = seeds[seeds > 0]
    if seeds.size == 0:
        return gap
    grown = np.isin(lab, seeds)
    # The outline is placed on the unsmoothed image (smoothing would spread cartilage and bone
    # into a 3 mm film).
    grown = _half_way_outline(grown, np.asarray(volume.array[box], dtype=np.float32), f, fluid_level, sp)
    out = np.zeros(volume.shape, dtype=bool)
    out[box] = grown
    return out


def _fluid_core(
    s0: np.ndarray, g: np.ndarray, near: np.ndarray, deep: np.ndarray, fluid_level: float
) -> tuple[np.ndarray, np.ndarray]:
    """The fluid's connected core at ``fluid_level``, labelled, and the labels that reach the
    articular gaps ``g``: within ``CORE_BAND_HU`` of the level (periarticular fat with fibrous
    strands lies below, muscle and viscera above), in the gaps anything darker than half way to
    cartilage (the film between cartilage layers); opened in-plane so that noise specks of
    fluid density in soft tissue fall away while 3 mm films stay."""
    from scipy import ndimage

    core = (np.abs(s0 - fluid_level) <= CORE_BAND_HU) & near & deep
    core |= g & (s0 <= 0.5 * (fluid_level + NEIGHBOUR_MAX_HU)) & (s0 >= fluid_level - CORE_BAND_HU)
    core &= near
    core = ndimage.binary_opening(core, structure=_INPLANE_CROSS)
    lab, _ = ndimage.label(core)
    return lab, np.unique(lab[g & core])


# ---------------------------------------------------------------------------------------------
# Label map


def target_centre(volume: Volume, target: np.ndarray, site: str | None = None) -> np.ndarray:
    """The centre of a joint-space region, the default target (LPS mm): the centre of its
    deepest part, i.e. of the largest pocket of fluid (at the knee the suprapatellar recess), where
    a needle tip has the most room: voxels at least ``DEEP_FRACTION`` of the greatest depth form
    the deep part; of its largest piece, the point nearest to its depth-weighted centroid. Where
    the site's textbook approach comes from one side (the hip from the front, to the anterior
    recess at the head-neck junction; the shoulder from behind), the quarter of the region facing
    the approach is used instead (the quarter of its voxels lying furthest toward that side): its
    depth-weighted centroid, moved to the nearest point at least ``SNAP_DEPTH`` as deep as the
    deepest there.

    "Nearest point" is sub-voxel: the depth-weighted centre of the qualifying voxels within
    ``REFINE_MM`` of the nearest one (the nearest voxel alone where that centre falls outside the
    region), so the point does not jump by a voxel when the outline moves by one. Call it on the
    study's own grid."""
    from scipy import ndimage

    sl = bounding_box(target, (1, 1, 1), volume.shape)
    if sl is None:
        raise JointSegmentationError("The joint space is empty; no target can be proposed.")
    # On grids much finer than the working grid every ``step``-th voxel is enough (the point is
    # refined below the voxel anyway) and the distance transform costs ``step**3`` times less.
    step = np.maximum(1, np.floor(TARGET_GRID_MM / volume.spacing[::-1] + 1e-6)).astype(int)
    sp = volume.spacing[::-1] * step
    t = target[sl][:: step[0], :: step[1], :: step[2]]
    dist = ndimage.distance_transform_edt(t, sampling=sp)
    facing = APPROACH_SIDE.get(site or "")
    if facing is not None:
        # The quarter of the region facing the approach (projection on the approach side).
        idx = np.argwhere(t)
        d_zyx = (volume.affine[:3, :3].T @ np.asarray(facing, float))[::-1]
        proj = idx @ d_zyx
        near = proj >= np.percentile(proj, 100.0 * (1.0 - APPROACH_FRACTION))
        idx = idx[near]
        w = dist[tuple(idx.T)]
        centroid = (idx * w[:, None]).sum(axis=0) / w.sum()
        keep = w >= SNAP_DEPTH * w.max()
        idx, w = idx[keep], w[keep]
    else:
        deep = dist >= DEEP_FRACTION * dist.max()
        lab, n = ndimage.label(deep, structure=np.ones((3, 3, 3), bool))
        if n > 1:
            weight = ndimage.sum_labels(dist, lab, index=np.arange(1, n + 1))
            deep = lab == 1 + int(np.argmax(weight))
        idx = np.argwhere(deep)
        w = dist[deep]
        centroid = (idx * w[:, None]).sum(axis=0) / w.sum()
    best = idx[np.argmin((((idx - centroid) * sp) ** 2).sum(axis=1))]
    # Sub-voxel: the depth-weighted centre of those voxels within REFINE_MM of the nearest one (a
    # single voxel jumps when the region's outline moves by a voxel), kept where it lies inside.
    near = (((idx - best) * sp) ** 2).sum(axis=1) <= REFINE_MM**2
    zyx = (idx[near] * w[near, None]).sum(axis=0) / w[near].sum()
    if not t[tuple(np.clip(np.rint(zyx).astype(int), 0, np.array(t.shape) - 1))]:
        zyx = best.astype(float)
    zyx = zyx * step + np.array([s.start for s in sl])
    return volume.index_to_lps(zyx[::-1])


DEEP_FRACTION = 0.8
TARGET_GRID_MM = 0.8  # finest grid the default target is looked for on
SNAP_DEPTH = 0.3  # the default target lies at least this share of the deepest depth inside
REFINE_MM = 4.0  # radius of the sub-voxel refinement round the nearest deep voxel
APPROACH_FRACTION = 0.25  # share of the region's voxels, those nearest the approach side
# The side each site's textbook approach comes from (LPS unit vector), CLINICAL.md.
APPROACH_SIDE = {"hip": (0.0, -1.0, 0.0), "shoulder": (0.0, 1.0, 0.0)}


_SIDE_WORDS = {"right": ("RIGHT", "RT"), "left": ("LEFT", "LT")}


def header_side(volume: Volume) -> str:
    """The side the DICOM header names: ``Laterality`` / ``ImageLaterality``, else a whole word
    RIGHT/RT or LEFT/LT in the series, study or body-part text; ``""`` when it does not say or
    says both."""
    code = volume.info.laterality
    if code in ("R", "L"):
        return "right" if code == "R" else "left"
    text = " ".join([volume.info.series_description, volume.info.study_description, volume.info.body_part]).upper()
    words = set(re.findall(r"[A-Z]+", text))
    said = [side for side, keys in _SIDE_WORDS.items() if words & set(keys)]
    return said[0] if len(said) == 1 else ""


def check_side(volume: Volume, anatomy: str, site: str) -> tuple[str, str, list[str]]:
    """The joint's side, where it was read from, and warnings for the user: the anatomy decides
    (it is measured in patient coordinates); the DICOM header is the fallback, and a header that
    names the other side is a warning to check before planning (a wrong-side plan is a never
    event)."""
    header = header_side(volume)
    if anatomy and header and anatomy != header:
        return anatomy, "anatomy", [
            f"The anatomy reads as a {anatomy} {site}, but the DICOM header says {header}. Check the side "
            "(the patient's position and the study's labels) before planning."
        ]
    if anatomy:
        return anatomy, "anatomy", []
    if header:
        return header, "DICOM header", [
            f"The side could not be read from the anatomy; the DICOM header says {header} {site}. Confirm it on the images."
        ]
    return "", "", [
        f"The side of this {site} could be read neither from the anatomy nor from the DICOM header; "
        "the planner will assume the side of the patient's midline the target lies on. Confirm it on the images."
    ]


def _assemble(
    volume: Volume,
    body: np.ndarray,
    named: dict[str, np.ndarray],
    target: np.ndarray,
    site: str,
    side: str,
    *,
    extra: dict | None = None,
    point: np.ndarray | None = None,
) -> LabelMap:
    labels: list[Label] = []
    arr = np.zeros(volume.shape, dtype=np.uint8)
    value = 1
    order = [b for b in _BONES[site] if b in named] + [n for n in named if n not in _BONES[site]]
    # Soft tissue first, then skin, target and bones on top.
    soft_v, skin_v = 20, 21
    arr[body] = soft_v
    skin = skin_mask(body, volume)
    arr[skin] = skin_v
    tname = TARGET_NAMES[site]
    arr[target] = 10
    labels.append(Label(10, tname, "target", DEFAULT_COLORS["target"]))
    for name in order:
        arr[named[name]] = value
        labels.append(Label(value, name, "bone", _BONE_COLORS.get(name, DEFAULT_COLORS["bone"])))
        value += 1
    labels.append(Label(skin_v, "skin", "skin", DEFAULT_COLORS["skin"]))
    labels.append(Label(soft_v, "soft tissue", "other", DEFAULT_COLORS["other"]))
    if point is None:
        point = target_centre(volume, target, site)
    side, source, warnings = check_side(volume, side, site)
    info = {"side": side, "side_from": source, "method": "capsule model between articular surfaces + connected fluid recesses"}
    info.update(extra or {})
    info["warnings"] = list(info.get("warnings", [])) + warnings
    landmarks = Landmarks(task=site, target={"name": tname, "lps": [round(float(c), 2) for c in point]}, extra=info)
    return LabelMap(volume.with_array(arr), Legend(tuple(labels)), landmarks)
