"""The knee on fat-suppressed T2 (or PD) MR: bones, and the bright joint fluid as the target.

On a fat-suppressed fluid-sensitive series joint fluid is the brightest tissue; bone marrow is
about as dark as the (suppressed) fat, cortex darker, muscle brighter. Method:

1. the **limb outline** from the image itself (above twice the air level, largest component,
   holes filled; the skin surface then moved half way between air and skin): a threshold taken
   from the bright tissue would lose the dark subcutaneous fat;
2. the **weighting** from the series description, or, without one, from the image (on T1 the
   subcutaneous fat is brighter than the deep tissue, on a fat-suppressed series darker). T1 is
   refused with advice: fluid is dark and marrow bright there, so the target cannot be found;
3. intensities normalised to the body's median;
4. **target**: the large bright components (fluid, above 4 x the median), outline half way to
   each neighbouring tissue, kept where they touch the articular gaps of femur, tibia and
   patella (the capsule model of the CT method);
5. **bones**: marrow-level signal (smoothed 1.5 mm against noise) away from the subcutaneous
   layer and the fluid, opened, split from deep cores, named from anatomy as on CT, then grown
   back three steps through marrow-level signal (a step reaches neighbours within 1 mm: on
   thick slices only in-plane, so that partial volume does not carry a bone into the next
   slice's fat; the thin fibula also across slices), the shafts' darker fatty marrow added
   where the cortex rings enclose it in axial planes, and their cortex. Unnamed pieces are not
   bone (marrow and fat look alike here). Then **slice continuity**: from the slice through
   the bone's deepest point outwards, a piece of a slice stays only where most of it lies
   within the bone of the previous slice (fat pockets beside the bone that joined it through
   another slice are dropped), and marrow-level signal inside the previous slice's bone
   continues it (the bone's tapering ends), and each bone is kept no brighter than its own
   marrow (the fibula's fatty marrow is darker than the femur's). Then the **edge**: a voxel next to a bone joins it when darker than half way between the
   cortex's signal void and the brightest tissue just outside (the blurred edge of a black
   cortex against bright cartilage is brighter than against fat); last, in the slice planes,
   thin bands (fat sheets, septa) cut off by an opening, narrow gaps closed and what the bone
   encloses filled, with the edge of the image closing a shaft it cuts; and a **cortex-ring
   constraint**: in each slice the bone less its dark cortex falls into pieces, and a smaller
   piece that borders the bone on one side only (a fat or muscle band stuck outside the cortex)
   is dropped. Last, the fibular head is **parted from the subcutaneous fat** against it by a
   marker watershed (:func:`_apart_from_fat`). Dice on the phantom: femur 0.960, tibia 0.965,
   patella 0.936, fibula 0.908;
6. skin (outer 2 mm) and "soft tissue" as on CT.
"""

from __future__ import annotations

import numpy as np

from imaging.labelmap import LabelMap
from imaging.progress import Cancel, Progress, check_cancel, report
from imaging.segmentation import joints as J
from imaging.segmentation.body import skin_layer
from imaging.segmentation.common import ball
from imaging.volume import Volume

__all__ = ["KneeMRError", "mr_weighting", "segment_knee_mr", "weighting_from_text"]

_T1_WORDS = ("T1",)
_FLUID_WORDS = ("T2", "PD", "STIR", "FS", "FATSAT", "FAT SAT", "SPAIR", "SPIR", "DIXON W", "WATER", "TIRM")


class KneeMRError(J.JointSegmentationError):
    """This MR cannot be segmented as a knee (T1 weighting, no bones or no fluid found)."""


def body_mask_mr(volume: Volume, sm: np.ndarray | None = None) -> np.ndarray:
    """The limb on MR, whatever the weighting (fat is dark on fat-suppressed images, so a
    threshold from the bright tissue would lose it): above twice the background (air) level,
    the largest component, holes filled slice by slice and in 3D (dark cortex, tendons and flow
    voids inside the limb are body)."""
    from scipy import ndimage

    from imaging.segmentation.common import fill_holes_slices, largest_component

    arr = sm if sm is not None else J._smooth(volume, 0.6)
    sample = arr[::2, ::2, ::2].ravel()
    low = sample[sample <= np.percentile(sample, 60)]
    background = J._mode(low, float(low.min()), float(np.percentile(low, 90)), bin_width=max(1.0, float(np.ptp(low)) / 200))
    threshold = max(2.0 * background, background + 3.0 * float(np.std(low[low <= 2 * background])) if low.size else 0.0)
    tissue = arr > threshold
    body = largest_component(ndimage.binary_opening(tissue, iterations=1))
    body = ndimage.binary_dilation(body, iterations=1) & tissue | body
    for axis in range(3):
        body = fill_holes_slices(body, axis=axis)
    body = ndimage.binary_fill_holes(body)
    # The skin surface half way between air and the skin itself (a threshold near the noise
    # floor puts the outline a blur width outside); only the outermost layer is decided again,
    # so dark subcutaneous fat on fat-suppressed images stays in.
    outer = skin_layer(body, volume, thickness_mm=1.0)
    level = float(np.median(arr[skin_layer(body, volume, thickness_mm=2.5) & ~outer])) if outer.any() else threshold
    edge = 0.5 * (background + level)
    if edge > threshold:
        body &= ~(outer & (arr < edge))
    return body


def mr_weighting(volume: Volume, body: np.ndarray | None = None) -> str:
    """``"T1"``, ``"fluid"`` (fat-suppressed T2/PD/STIR: fluid bright) or ``"unknown"``.

    From the series description when it says; otherwise from the image: on T1 the subcutaneous
    fat is brighter than the deep soft tissue, on a fat-suppressed series it is darker."""
    said = weighting_from_text(" ".join([volume.info.series_description, volume.info.study_description]))
    return said or _weighting_from_image(volume, body)


def weighting_from_text(text: str) -> str:
    """``"T1"``, ``"fluid"`` (T2/PD/STIR or fat-suppressed: fluid bright) or ``""`` from a series
    description such as "SAG T2 TSE FS" or "COR PD SPAIR"."""
    text = text.upper().replace("_", " ")
    t1 = any(w in text.replace("T1RHO", "") for w in _T1_WORDS)
    fluid = any(w in text for w in _FLUID_WORDS if w != "FS") or " FS" in f" {text}" or "FS " in f"{text} "
    if t1 and not any(w in text for w in ("T2", "PD", "STIR")):
        return "T1"
    return "fluid" if fluid else ""


def _weighting_from_image(volume: Volume, body: np.ndarray | None) -> str:
    if body is None:
        body = body_mask_mr(volume)
    if body.sum() < 1000:
        return "unknown"
    arr = volume.array
    outer = skin_layer(body, volume, thickness_mm=6.0)
    skin = skin_layer(body, volume, thickness_mm=1.5)
    subcut = outer & ~skin
    deep = body & ~skin_layer(body, volume, thickness_mm=15.0)
    if subcut.sum() < 100 or deep.sum() < 100:
        return "unknown"
    ratio = float(np.median(arr[subcut])) / max(1e-6, float(np.median(arr[deep])))
    if ratio > 1.25:
        return "T1"
    if ratio < 0.9:
        return "fluid"
    return "unknown"


def segment_knee_mr(
    volume: Volume,
    *,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> LabelMap:
    """Segment a fat-suppressed fluid-sensitive knee MR (see the module docstring)."""
    from scipy import ndimage

    report(progress, 0.02, "Body outline")
    sm = J._smooth(volume, 0.6)
    body = body_mask_mr(volume, sm)
    weighting = mr_weighting(volume, body)
    if weighting == "T1":
        raise KneeMRError(
            "This knee MR is T1-weighted: joint fluid is dark and marrow bright on it, so the joint "
            "space cannot be found. Open the fat-suppressed series of the study (T2 or PD with fat "
            "suppression, or STIR), where fluid is bright."
        )
    check_cancel(cancel)
    report(progress, 0.15, "Normalising")
    ref = float(np.median(sm[body])) if body.any() else 1.0
    if ref <= 0:
        ref = float(np.percentile(sm[body], 75)) or 1.0
    norm = sm / ref
    # The body's median depends on the field of view's mix of tissues (cut the lateral slices and
    # it rises 5 %); muscle, the commonest tissue brighter than the median, anchors the scale.
    bright = norm[body]
    bright = bright[(bright > MUSCLE_SEARCH[0]) & (bright < MUSCLE_SEARCH[1])]
    if bright.size >= 1000:
        muscle = J._mode(bright, MUSCLE_SEARCH[0], MUSCLE_SEARCH[1], bin_width=0.02)
        norm *= MUSCLE_LEVEL / muscle
    check_cancel(cancel)
    report(progress, 0.3, "Joint fluid")
    fluid = _fluid_mr(volume, norm, body)
    check_cancel(cancel)
    report(progress, 0.5, "Bones")
    s15 = J._smooth_array(norm, volume.spacing[::-1], MARROW_SMOOTH_MM)
    bones = _bones_mr(volume, s15, body, fluid, cancel)
    named, side = J._name_bones(volume, bones, "knee")
    # On MR, unnamed marrow-like pieces are as likely fat as bone: not labelled as bone.
    named.pop("other bone", None)
    if "fibula" not in named:
        found = _find_fibula(volume, s15, body, fluid, named)
        if found is not None:
            named["fibula"], side = found
    deep = body & ~skin_layer(body, volume, thickness_mm=SUBCUT_MM)
    seeds = dict(named)
    named = _grow_back(named, norm, deep, fluid, volume.spacing[::-1])
    named = _add_shafts(volume, named, norm, deep)
    taken = np.zeros(norm.shape, dtype=bool)
    for m in named.values():
        taken |= m
    marrowish = deep & (norm < MARROW[1]) & (norm > CORTEX) & ~ndimage.binary_dilation(fluid)
    named = {name: _slice_continuity(m, volume, MIN_OVERLAP, marrowish & ~(taken & ~m)) for name, m in named.items()}
    named = _own_level(named, norm, volume, seeds)
    named = _rim(named, norm, deep, volume.spacing[::-1])
    named = _tidy(named, volume, deep, norm)
    if "fibula" in named:
        named["fibula"] = _apart_from_fat(named, "fibula", norm, body, volume)
    check_cancel(cancel)
    report(progress, 0.8, "Joint space")
    target = _fluid_target(volume, fluid, body, named)
    for name in named:
        named[name] = named[name] & ~target
    report(progress, 0.9, "Labels")
    return J._assemble(
        volume, body, named, target, "knee", side,
        extra={"method": "MR: dark marrow/cortex components; bright fluid connected to the articular gaps", "weighting": weighting},
    )


MUSCLE_LEVEL = 1.31  # muscle on the scale the levels below are set in (x the body's median) ...
MUSCLE_SEARCH = (1.0, 2.5)  # ... found as the commonest level in this range
MARROW_SMOOTH_MM = 1.5  # bones are found on the image smoothed this much against noise
MARROW = (0.72, 1.0)  # bone marrow on a fat-suppressed image, as multiples of the body's median
FLUID = 4.0  # joint fluid above this multiple of the body's median (cartilage ~3, muscle ~1.4)
OPEN_MM = 1.5
CORE_MM = 8.0  # bones are split from cores deeper than this


def _bones_mr(
    volume: Volume, s15: np.ndarray, body: np.ndarray, fluid: np.ndarray, cancel: Cancel | None
) -> list[tuple[np.ndarray, int]]:
    """Bone pieces on a fat-suppressed image: marrow-level signal (``s15``: the normalised image
    smoothed ``MARROW_SMOOTH_MM`` against noise) away from the subcutaneous layer and the fluid,
    opened, split from deep cores."""
    from scipy import ndimage
    from skimage.segmentation import watershed

    sp = volume.spacing[::-1]
    rim = skin_layer(body, volume, thickness_mm=10.0)
    band = (s15 > MARROW[0]) & (s15 < MARROW[1]) & body & ~rim & ~ndimage.binary_dilation(fluid)
    band = ndimage.binary_opening(band, structure=ball(OPEN_MM, sp))
    lab, n = ndimage.label(band)
    if n == 0:
        raise KneeMRError("No bone was found on this MR; is it a fat-suppressed series of the knee?")
    voxel_ml = float(np.prod(sp)) / 1000.0
    sizes = np.bincount(lab.ravel()) * voxel_ml
    sizes[0] = 0
    out: list[tuple[np.ndarray, int]] = []
    slices = ndimage.find_objects(lab)
    for i in np.argsort(sizes)[::-1]:
        if sizes[i] < 2.0:
            break
        check_cancel(cancel)
        sl = J._pad_slices(slices[i - 1], lab.shape, 2)
        part = lab[sl] == i
        dist = ndimage.distance_transform_edt(part, sampling=sp)
        cores, m = ndimage.label(dist > CORE_MM)
        csz = np.bincount(cores.ravel()) * voxel_ml
        csz[0] = 0
        keep = [k for k in range(1, m + 1) if csz[k] >= 1.0]
        pieces = [part]
        if len(keep) >= 2:
            markers = np.zeros(part.shape, np.int32)
            for j, k in enumerate(keep, 1):
                markers[cores == k] = j
            ws = watershed(-dist, markers=markers, mask=part)
            pieces = [ws == j for j in range(1, len(keep) + 1)]
        for piece in pieces:
            full = np.zeros(volume.shape, dtype=bool)
            full[sl] = J._fill_holes_2d(piece)
            out.append((full, int(i)))
    out.sort(key=lambda m: -int(m[0].sum()))
    return out


FIBULA_DARKER = 1.0  # the fibula (fatty marrow, cortex) is darker than muscle ...
FIBULA_LIGHTER = 0.25  # ... and lighter than the signal void of tendons and air
FIBULA_SUBCUT_MM = 10.0  # looked for deeper than this under the skin (the fat layer is a sheet)
FIBULA_OPEN_MM = 2.5  # fat sheets between muscles are thinner than twice this; the shaft is not


def _find_fibula(
    volume: Volume, s15: np.ndarray, body: np.ndarray, fluid: np.ndarray, named: dict[str, np.ndarray]
) -> tuple[np.ndarray, str] | None:
    """The fibula where the marrow band missed it (its fatty marrow is darker than the femur's,
    and noise joins it to the fat and muscle around): a tube darker than muscle, deep to the
    subcutaneous layer, away from the named bones and the fluid, opened so that fat sheets fall
    away; of the pieces, the largest that lies as the fibula does beside the tibia (below the
    joint line, beside and behind it, running down the leg: the knee's naming rule). Returns the
    piece and the side it gives, or None."""
    from scipy import ndimage

    if "tibia" not in named or "femur" not in named:
        return None
    sp = volume.spacing[::-1]
    taken = np.zeros(s15.shape, dtype=bool)
    for m in named.values():
        taken |= m
    deep = body & ~skin_layer(body, volume, thickness_mm=FIBULA_SUBCUT_MM)
    cand = deep & (s15 < FIBULA_DARKER) & (s15 > FIBULA_LIGHTER)
    cand &= ~ndimage.binary_dilation(fluid) & ~ndimage.binary_dilation(taken, iterations=2)
    cand = ndimage.binary_opening(cand, structure=ball(FIBULA_OPEN_MM, sp))
    lab, n = ndimage.label(cand)
    if n == 0:
        return None
    sizes = np.bincount(lab.ravel()) * float(np.prod(sp)) / 1000.0
    sizes[0] = 0
    tibia = J._describe(volume, named["tibia"])
    femur = J._describe(volume, named["femur"])
    best = None
    for i in np.argsort(sizes)[::-1][:12]:
        if sizes[i] < 0.5:
            break
        part = J._describe(volume, lab == i)
        if J._looks_like_fibula(part, tibia, femur) and (best is None or part.ml > best.ml):
            best = part
    if best is None:
        return None
    return best.mask, J._side_from_x(best.centroid[0], tibia.centroid[0])


GROW_STEPS = 3
SUBCUT_MM = 8.0  # bones do not grow into the skin and subcutaneous fat
THIN_BONE_ML = 10.0  # smaller bones (fibula) also grow across thick slices: they span only a few
STEP_MM = 1.0  # one growing step: neighbours within this distance
CORTEX = 0.45  # cortex below this multiple of the body's median


def _grow_back(
    named: dict[str, np.ndarray], norm: np.ndarray, body: np.ndarray, fluid: np.ndarray, sp: np.ndarray
) -> dict[str, np.ndarray]:
    """Give the bones back the rim that smoothing and opening took: grow each bone, a voxel at
    a time (``GROW_STEPS``), into darker-than-muscle voxels (marrow, cortex) that are not fluid
    and not another bone."""
    from scipy import ndimage

    # grow through marrow, not through the dark cortex (the wall between marrow and fat) ...
    cortex = norm < CORTEX
    allowed = (norm < MARROW[1]) & ~cortex & body & ~ndimage.binary_dilation(fluid)
    taken = np.zeros(norm.shape, dtype=bool)
    for m in named.values():
        taken |= m
    # one step reaches the neighbours within STEP_MM: on thick slices only in-plane, so that
    # the bones do not grow through partial volume into the next slice's fat
    out = {}
    for name, m in named.items():
        step = ball(STEP_MM if m.sum() * float(np.prod(sp)) > THIN_BONE_ML * 1000 else max(sp) * 1.01, sp)
        grown = m.copy()
        free = allowed & ~(taken & ~m)
        for _ in range(GROW_STEPS):
            grown = ndimage.binary_dilation(grown, structure=step) & (free | grown)
        # ... then take the cortex around it
        grown |= ndimage.binary_dilation(grown, structure=step, iterations=2) & cortex & body & ~(taken & ~m)
        out[name] = grown
    return out


def _add_shafts(volume: Volume, named: dict[str, np.ndarray], norm: np.ndarray, body: np.ndarray) -> dict[str, np.ndarray]:
    """Add the fatty marrow of the shafts, darker than the epiphyses on a fat-suppressed image:
    what the cortex rings enclose in each axial plane, where it joins a named bone (pieces larger
    than half the bone are something else), then the cortex around the bone."""
    from scipy import ndimage

    from imaging.segmentation.body import axial_axis

    cortex = (norm < CORTEX) & body
    inner = J._fill_holes_2d(cortex, axes=(axial_axis(volume),)) & ~cortex & (norm < MARROW[1])
    lab, n = ndimage.label(inner)
    if n == 0:
        return named
    sizes = np.bincount(lab.ravel())
    out = {}
    for name, m in named.items():
        ids = np.unique(lab[ndimage.binary_dilation(m, iterations=2) & inner])
        ids = [i for i in ids if i > 0 and sizes[i] <= 0.5 * m.sum()]
        grown = m | np.isin(lab, ids) if ids else m
        grown = grown | (ndimage.binary_dilation(grown) & cortex)
        out[name] = grown
    # a voxel claimed by two bones stays with the first (largest) one
    taken = np.zeros(norm.shape, dtype=bool)
    for name in sorted(out, key=lambda k: -int(named[k].sum())):
        out[name] = out[name] & ~taken
        taken |= out[name]
    return out


CORTEX_LEVEL = 0.2  # the cortex's signal void, as a multiple of the body's median
RIM_MM = 2.0  # the tissue next to a bone: the brightest within this distance


def _rim(named: dict[str, np.ndarray], norm: np.ndarray, deep: np.ndarray, sp: np.ndarray) -> dict[str, np.ndarray]:
    """The bones' outer edge, half way between the cortex and the tissue outside it: a voxel next
    to a bone joins it when darker than half way between the cortex level and the brightest
    non-bone tissue within ``RIM_MM`` (blur and partial volume put the edge of a black cortex
    against bright cartilage at a brighter level than against dark fat or tendon)."""
    from scipy import ndimage

    step = ball(STEP_MM, sp)
    taken = np.zeros(deep.shape, dtype=bool)
    for m in named.values():
        taken |= m
    outside = ndimage.maximum_filter(np.where(taken, 0.0, norm), footprint=ball(RIM_MM, sp))
    edge = deep & ~taken & (norm < 0.5 * (CORTEX_LEVEL + outside))
    out = {}
    for name, m in named.items():
        out[name] = m | (ndimage.binary_dilation(m, structure=step) & edge)
    return out


EXTEND_ERODE = 1  # marrow continues a bone this many voxels inside the previous slice's outline ...
EXTEND_MIN = 0.5  # ... touching the bone in this slice, or covering half the previous cross-section
MIN_OVERLAP = 0.7  # a bone's piece of a slice lies at least this much within the previous slice's bone


SHEET_MM = 3.5  # bands of fat or muscle thinner than about twice this are cut off a bone in-plane
SHEET_RESTORE = 3  # ... and what the opening rounds off the bone's outline given back (steps)


EDGE_ROWS = 2
FILL_FRACTION = 0.5  # a region enclosed with the image edge is marrow when smaller than this x the bone's slice


LEVEL_PCT = 95  # a bone's own marrow level: this percentile inside it (2 mm deep) ...
LEVEL_MARGIN = 0.05  # ... plus this; brighter voxels (smoothed LEVEL_MM) are not its marrow ...
LEVEL_MM = 1.0
LEVEL_RESTORE = 2  # ... except within this many in-plane steps of what stays (partial volume at its edge)


def _own_level(
    named: dict[str, np.ndarray], norm: np.ndarray, volume: Volume, seeds: dict[str, np.ndarray] | None = None
) -> dict[str, np.ndarray]:
    """Each bone no brighter than its own marrow: the fibula's fatty marrow is darker than the
    femur's, so muscle that the fixed marrow band let into it is dropped; voxels brighter than
    the bone's level stay only next to its outline (partial volume with cartilage or muscle)."""
    from scipy import ndimage

    sp = volume.spacing[::-1]
    s = J._smooth_array(norm, sp, LEVEL_MM)
    out = {}
    for name, m in named.items():
        # the level from the bone as first found (growing may have reached into fat beside it)
        ref = seeds.get(name, m) & m if seeds else m
        core = ndimage.binary_erosion(ref, structure=ball(2.0, sp))
        if core.sum() < 100:
            core = ndimage.binary_erosion(m, structure=ball(2.0, sp))
        if core.sum() < 100:
            out[name] = m
            continue
        hi = float(np.percentile(s[core], LEVEL_PCT)) + LEVEL_MARGIN
        kept = m & (s <= hi)
        flat = np.asarray(sp, dtype=float).copy()
        flat[int(np.argmax(flat))] = 1e6
        out[name] = ndimage.binary_dilation(kept, structure=ball(STEP_MM, flat), iterations=LEVEL_RESTORE, mask=m) | kept
    return out


CLOSE_MM = 2.0  # gaps in a bone's outline narrower than about twice this are closed in-plane


def _tidy(named: dict[str, np.ndarray], volume: Volume, deep: np.ndarray, norm: np.ndarray) -> dict[str, np.ndarray]:
    """Each bone's outline in the slice planes: thin bands cut off (:func:`_cut_sheets`), narrow
    gaps closed, what it encloses filled (:func:`_fill_to_edge`); what this adds stays out of
    the other bones and the subcutaneous layer; last, what lies outside the cortex ring is
    dropped (:func:`_outside_cortex`)."""
    from scipy import ndimage

    sp = np.asarray(volume.spacing[::-1], dtype=float)
    flat = sp.copy()
    flat[int(np.argmax(sp))] = 1e6  # a disc in the slice plane
    disc = ball(CLOSE_MM, flat)
    r = max(disc.shape) // 2 + 1
    taken = np.zeros(deep.shape, dtype=bool)
    for m in named.values():
        taken |= m
    out = {}
    for name, m in named.items():
        m = _cut_sheets(m, volume)
        closed = ndimage.binary_closing(np.pad(m, r), structure=disc)[r:-r, r:-r, r:-r]
        m = _fill_to_edge(m | closed, volume, norm)
        m = m & (deep & ~(taken & ~named[name]) | named[name])
        out[name] = _outside_cortex(m, volume, norm)
    return out


WALL_GAP = 1  # gaps in the cortex up to about twice this many voxels still wall off
OUTSIDE_CORTEX = 0.65  # a piece walled off by the cortex with less than this of its border in the bone is outside it


FAT_DEPTH_MM = 13.0  # marrow deeper than this under the skin is the bone's own (seeds) ...
SUBCUT_SEED_MM = 6.0  # ... and tissue this close to the skin is not bone (seeds of the outside)
APART_RING_MM = 3.0  # the watershed decides within this distance of the bone, in-plane
APART_CORE_MM = 1.5  # bone seeds lie at least this deep inside the bone, in-plane
APART_SMOOTH_MM = 0.8
APART_EDGE_STEPS = 1  # the smoothed edge the watershed line runs through is given back ...
APART_CORTEX = 0.7  # what the watershed gives away but is darker than this (cortex) stays ...
APART_CORTEX_STEPS = 2  # ... within this many in-plane steps of the bone
APART_MIN_KEPT = 0.6  # a result keeping less than this of the bone is not used


def _apart_from_fat(
    named: dict[str, np.ndarray], name: str, norm: np.ndarray, body: np.ndarray, volume: Volume
) -> np.ndarray:
    """Part a subcutaneous bone from the fat against it: the fibular head lies under the skin,
    and on a fat-suppressed image its fatty marrow is as dark as the subcutaneous fat beside it,
    with only a thin cortex between them (a faint dark line, with gaps). A marker watershed on
    the smoothed image, in the bone's neighbourhood: seeds of the bone where it lies deeper than
    ``FAT_DEPTH_MM`` under the skin, seeds of the outside in the subcutaneous layer, a ring
    around the bone and the other bones; each floods its own level until the fronts meet on
    the cortex line. What the outside wins is dropped, except the dark cortex next to what
    stays (the watershed line runs through it)."""
    from scipy import ndimage
    from skimage.segmentation import watershed

    mask = named[name]
    if not mask.any():
        return mask
    sp = np.asarray(volume.spacing[::-1], dtype=float)
    axis = int(np.argmax(sp))
    flat = sp.copy()
    flat[axis] = 1e6  # in the slice plane
    reach = ball(APART_RING_MM + 1.0, flat).shape
    box = tuple(
        slice(max(0, s.start - (r // 2 + 1)), min(n, s.stop + r // 2 + 1))
        for s, r, n in zip(ndimage.find_objects(mask.astype(np.uint8))[0], reach, mask.shape, strict=True)
    )
    m = mask[box]
    inside = _inplane_distance(m, sp, axis)
    outside = _inplane_distance(~m, sp, axis)
    region = (outside <= APART_RING_MM) & body[box]
    depth = _depth_under_skin(body, box, sp, FAT_DEPTH_MM)
    deep_enough = depth > FAT_DEPTH_MM
    subcut = body[box] & (depth <= SUBCUT_SEED_MM)
    others = np.zeros(m.shape, dtype=bool)
    for other, om in named.items():
        if other != name:
            others |= om[box]
    bone_seed = (inside > APART_CORE_MM) & deep_enough
    if not bone_seed.any():
        return mask
    markers = np.zeros(m.shape, dtype=np.int32)
    markers[region & ((outside > APART_RING_MM - 1.0) | subcut | others)] = 2
    markers[bone_seed] = 1
    sigma = [APART_SMOOTH_MM / s for s in sp]
    sigma[axis] = 0.0
    smooth = ndimage.gaussian_filter(norm[box].astype(np.float32), sigma)
    kept = m & (watershed(-smooth, markers=markers, mask=region) == 1)
    cortex = m & (norm[box] < APART_CORTEX)
    step = ball(float(min(sp[a] for a in range(3) if a != axis)) * 1.01, flat)
    kept |= ndimage.binary_dilation(kept, structure=step, iterations=APART_EDGE_STEPS) & m
    kept |= ndimage.binary_dilation(kept, structure=step, iterations=APART_CORTEX_STEPS, mask=cortex)
    if kept.sum() < APART_MIN_KEPT * m.sum():
        return mask  # this trims fat stuck to a bone; it never takes most of one
    out = np.zeros_like(mask)
    out[box] = kept
    return out


def _depth_under_skin(body: np.ndarray, box: tuple[slice, ...], sp: np.ndarray, up_to_mm: float) -> np.ndarray:
    """Distance (mm) from each voxel of ``box`` to the nearest voxel outside the body, exact up to
    ``up_to_mm`` (larger depths read at least that): measured on the box grown by that much, not
    on the whole study."""
    from scipy import ndimage

    grow = [int(np.ceil(up_to_mm / s)) + 1 for s in sp]
    big = tuple(slice(max(0, b.start - g), min(n, b.stop + g)) for b, g, n in zip(box, grow, body.shape, strict=True))
    crop = body[big]
    if crop.all():
        return np.full(tuple(b.stop - b.start for b in box), np.inf, dtype=np.float32)
    depth = ndimage.distance_transform_edt(crop, sampling=sp)
    inner = tuple(slice(b.start - g.start, b.stop - g.start) for b, g in zip(box, big, strict=True))
    return depth[inner]


def _inplane_distance(mask: np.ndarray, sp: np.ndarray, axis: int) -> np.ndarray:
    """Distance (mm) from each voxel of ``mask`` to the nearest voxel outside it, in its slice."""
    from scipy import ndimage

    m = np.moveaxis(mask, axis, 0)
    plane = [float(sp[a]) for a in range(3) if a != axis]
    out = np.zeros(m.shape, dtype=np.float32)
    for k in range(m.shape[0]):
        if m[k].all():
            out[k] = np.inf
        elif m[k].any():
            out[k] = ndimage.distance_transform_edt(m[k], sampling=plane)
    return np.moveaxis(out, 0, axis)


def _outside_cortex(mask: np.ndarray, volume: Volume, norm: np.ndarray) -> np.ndarray:
    """Drop what lies outside the cortex ring, in the slice planes: the bone less its dark cortex
    falls into pieces; the largest is the marrow, and a smaller piece is kept only when the bone
    surrounds it (most of its border in the bone: marrow cut off by a cortical strut). A fat or
    muscle band stuck to the outside of the cortex borders the bone on one side only."""
    from scipy import ndimage

    axis = int(np.argmax(volume.spacing[::-1]))
    m = np.moveaxis(mask, axis, 0)
    dark = np.moveaxis(norm < CORTEX, axis, 0)
    out = m.copy()
    cross = ndimage.generate_binary_structure(2, 1)
    # a gap of a voxel or two in the cortex (noise, partial volume) still walls off
    wall = np.zeros((3, 3, 3), dtype=bool)
    wall[1] = cross
    dark = ndimage.binary_dilation(dark, structure=wall, iterations=WALL_GAP)
    for k in range(m.shape[0]):
        if not m[k].any():
            continue
        lab, n = ndimage.label(m[k] & ~dark[k], structure=cross)
        if n < 2:
            continue
        comp, _ = ndimage.label(m[k], structure=cross)
        sizes = np.bincount(lab.ravel())
        sizes[0] = 0
        owner = np.zeros(n + 1, dtype=np.int64)
        owner[lab[lab > 0]] = comp[lab > 0]
        biggest = {}
        for i in np.argsort(sizes)[::-1]:
            if i > 0:
                biggest.setdefault(int(owner[i]), int(i))
        for i, sl in enumerate(ndimage.find_objects(lab), 1):
            if sl is None or biggest.get(int(owner[i])) == i:
                continue
            sl = tuple(slice(max(0, s.start - 1), s.stop + 1) for s in sl)
            piece = lab[sl] == i
            border = ndimage.binary_dilation(piece, structure=cross) & ~piece
            if m[k][sl][border].mean() < OUTSIDE_CORTEX:
                out[k][sl][piece] = False
    return np.moveaxis(out, 0, axis)


def _fill_to_edge(mask: np.ndarray, volume: Volume, norm: np.ndarray) -> np.ndarray:
    """Fill what a bone encloses in each slice, also where the field of view closes it (a
    shaft's dark fatty marrow between its two cortices, cut by the edge of the image); not
    regions brighter than marrow (muscle between two pieces is not the bone's inside)."""
    from scipy import ndimage

    axis = int(np.argmax(volume.spacing[::-1]))
    pad = [(1, 1)] * 3
    pad[axis] = (0, 0)
    st = np.zeros((3, 3, 3), dtype=bool)
    idx = [slice(None)] * 3
    idx[axis] = 1
    st[tuple(idx)] = ndimage.generate_binary_structure(2, 1)
    # the bone continues across the last rows of the image (smoothing frays its outline there)
    mask = mask.copy()
    for a in range(3):
        if a == axis or mask.shape[a] <= 2 * EDGE_ROWS + 1:
            continue
        for k in range(EDGE_ROWS):
            for edge, inward in ((k, EDGE_ROWS), (-1 - k, -1 - EDGE_ROWS)):
                dst = [slice(None)] * 3
                src = [slice(None)] * 3
                dst[a], src[a] = edge, inward
                mask[tuple(dst)] |= mask[tuple(src)]
    filled = ndimage.binary_fill_holes(np.pad(mask, pad, constant_values=True), structure=st)
    inner = tuple(slice(None) if axis == a else slice(1, -1) for a in range(3))
    holes = filled[inner] & ~mask
    # the rest of the slice around a bone is "enclosed" by the padded edge too: only regions
    # smaller than the bone's cross-section in that slice are its marrow
    lab, n = ndimage.label(holes, structure=st)
    if n == 0:
        return mask
    sizes = np.bincount(lab.ravel())
    where = ndimage.find_objects(lab)
    area = np.moveaxis(mask, axis, 0).reshape(mask.shape[axis], -1).sum(1)
    level = np.bincount(lab.ravel(), weights=norm.ravel(), minlength=n + 1) / np.maximum(sizes, 1)
    keep = [i for i in range(1, n + 1) if sizes[i] < FILL_FRACTION * area[where[i - 1][axis].start] and level[i] < MARROW[1]]
    return mask | np.isin(lab, keep)


def _cut_sheets(mask: np.ndarray, volume: Volume) -> np.ndarray:
    """Cut thin bands (fat sheets, septa) off a bone in the slice planes: an in-plane opening,
    then what the opening rounded off the bone's own outline (corners, thin ends) given back by
    a few geodesic steps inside the bone; a band that reaches further stays cut."""
    from scipy import ndimage

    sp = np.asarray(volume.spacing[::-1], dtype=float)
    flat = sp.copy()
    flat[int(np.argmax(sp))] = 1e6  # a disc in the slice plane
    opened = ndimage.binary_opening(mask, structure=ball(SHEET_MM, flat))
    if not opened.any():
        return mask
    return ndimage.binary_dilation(opened, structure=ball(STEP_MM, flat), iterations=SHEET_RESTORE, mask=mask) | opened


def _slice_continuity(
    mask: np.ndarray, volume: Volume, min_overlap: float = MIN_OVERLAP, extend: np.ndarray | None = None
) -> np.ndarray:
    """Keep the parts of a bone that continue its cross-section from slice to slice.

    Through the thick slices of an MR series a bone's outline changes little from one slice to
    the next, while fat pockets that joined it through partial volume lie beside it. From the
    slice with the largest cross-section outwards, a piece of a slice (in-plane component) is
    kept when at least ``min_overlap`` of it lies within the kept bone of the previous slice."""
    from scipy import ndimage

    axis = int(np.argmax(volume.spacing[::-1]))
    m = np.moveaxis(mask, axis, 0)
    ext = np.moveaxis(extend, axis, 0) if extend is not None else None
    if not m.any():
        return mask
    # start in the slice and the piece that hold the bone's deepest point
    sl = J._pad_slices(ndimage.find_objects(m.astype(np.uint8))[0], m.shape, 1)
    sp = np.asarray(volume.spacing[::-1])[[axis] + [a for a in range(3) if a != axis]]
    depth = ndimage.distance_transform_edt(m[sl], sampling=sp)
    deepest = np.unravel_index(int(np.argmax(depth)), depth.shape)
    start = deepest[0] + sl[0].start
    out = np.zeros_like(m)
    lab, _ = ndimage.label(m[start])
    out[start] = lab == lab[deepest[1] + sl[1].start, deepest[2] + sl[2].start]
    for order in (range(start + 1, m.shape[0]), range(start - 1, -1, -1)):
        prev = start
        for k in order:
            lab, n = ndimage.label(m[k])
            if n:
                sizes = np.bincount(lab.ravel())
                inside = np.bincount(lab[out[prev]], minlength=n + 1)
                keep = np.nonzero(inside >= min_overlap * np.maximum(sizes, 1))[0]
                keep = keep[keep > 0]
                out[k] = np.isin(lab, keep)
            if ext is not None and out[prev].any():
                # marrow-like signal within the previous slice's bone continues it
                inner = ndimage.binary_erosion(out[prev], iterations=EXTEND_ERODE)
                lab, n = ndimage.label(ext[k] & inner & ~out[k])
                if n:
                    sizes = np.bincount(lab.ravel())
                    touch = np.unique(lab[ndimage.binary_dilation(out[k]) & (lab > 0)])
                    big = np.nonzero(sizes >= EXTEND_MIN * out[prev].sum())[0]
                    add = set(touch.tolist()) | {int(i) for i in big if i > 0}
                    if add:
                        out[k] |= np.isin(lab, sorted(add))
            prev = k
    return np.moveaxis(out, 0, axis)


def _fluid_mr(volume: Volume, norm: np.ndarray, body: np.ndarray) -> np.ndarray:
    """Bright fluid: the large bright components, outline half way to each neighbour."""
    from scipy import ndimage

    sp = volume.spacing[::-1]
    core = (norm > FLUID) & body
    core = ndimage.binary_opening(core, structure=J._INPLANE_CROSS)
    lab, n = ndimage.label(core)
    if n == 0:
        raise KneeMRError("No bright joint fluid was found on this MR; open the fat-suppressed (T2/PD FS, STIR) series.")
    sizes = np.bincount(lab.ravel()) * float(np.prod(sp)) / 1000.0
    sizes[0] = 0
    keep = np.nonzero(sizes >= max(0.5, 0.05 * sizes.max()))[0]
    fluid = np.isin(lab, keep)
    level = float(np.median(norm[fluid]))
    return J._half_way_outline(fluid, norm, body, level, sp, hi_cap=np.inf, lo_default=0.0)


def _fluid_target(volume: Volume, fluid: np.ndarray, body: np.ndarray, named: dict[str, np.ndarray]) -> np.ndarray:
    """The bright fluid parts that touch the knee's articular gaps (all of it when the bones
    could not be paired)."""
    from scipy import ndimage

    try:
        gap = J._joint_space_gaps(volume, body, named, "knee")
    except J.JointSegmentationError:
        return fluid
    lab, _ = ndimage.label(fluid)
    hit = np.unique(lab[gap & fluid])
    hit = hit[hit > 0]
    target = np.isin(lab, hit)
    return target if target.any() else fluid
