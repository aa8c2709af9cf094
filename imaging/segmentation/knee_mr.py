"""The knee on fat-suppressed T2 (or PD) MR: bones, and the bright joint fluid as the target.

On a fat-suppressed fluid-sensitive series, joint fluid is the brightest tissue, bone marrow is
dark (its fat is suppressed) and cortex is black; muscle and cartilage are in between. Method:

1. the **weighting** is read from the series description (T1 is refused: fluid is dark there and
   marrow bright, so neither the target nor the bones can be found; the user is told to open the
   fat-suppressed series), or, without a description, from the image (on T1 subcutaneous fat is
   brighter than muscle; on a fat-suppressed series it is darker);
2. intensities are normalised to the body's muscle level (the median of the body);
3. **bones**: dark voxels (marrow + cortex) opened by a small ball so that thin dark bridges (fat
   planes, tendons) break, connected components, holes filled per bone, named from anatomy like
   on CT (:mod:`imaging.segmentation.joints`);
4. **target**: bright fluid connected to the articular gaps between femur, tibia and patella
   (the capsule model of the CT method marks where the joint is), i.e. the joint space and its
   recesses such as the suprapatellar pouch;
5. body, skin (outer 2 mm) and "soft tissue" as on CT.
"""

from __future__ import annotations

import numpy as np

from imaging.labelmap import LabelMap
from imaging.progress import Cancel, Progress, check_cancel, report
from imaging.segmentation import joints as J
from imaging.segmentation.body import body_mask, skin_layer
from imaging.segmentation.common import ball
from imaging.volume import Volume

__all__ = ["KneeMRError", "mr_weighting", "segment_knee_mr"]

_T1_WORDS = ("T1",)
_FLUID_WORDS = ("T2", "PD", "STIR", "FS", "FATSAT", "FAT SAT", "SPAIR", "SPIR", "DIXON W", "WATER", "TIRM")


class KneeMRError(J.JointSegmentationError):
    """This MR cannot be segmented as a knee (T1 weighting, no bones or no fluid found)."""


def mr_weighting(volume: Volume, body: np.ndarray | None = None) -> str:
    """``"T1"``, ``"fluid"`` (fat-suppressed T2/PD/STIR: fluid bright) or ``"unknown"``.

    From the series description when it says; otherwise from the image: on T1 the subcutaneous
    fat is brighter than the deep soft tissue, on a fat-suppressed series it is darker."""
    text = " ".join([volume.info.series_description, volume.info.study_description]).upper().replace("_", " ")
    t1 = any(w in text.replace("T1RHO", "") for w in _T1_WORDS)
    fluid = any(w in text for w in _FLUID_WORDS if w != "FS") or " FS" in f" {text}" or "FS " in f"{text} "
    if t1 and not any(w in text for w in ("T2", "PD", "STIR")):
        return "T1"
    if fluid:
        return "fluid"
    return _weighting_from_image(volume, body)


def _weighting_from_image(volume: Volume, body: np.ndarray | None) -> str:
    if body is None:
        body = body_mask(volume)
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
    report(progress, 0.02, "Body outline")
    body = body_mask(volume, cancel=cancel)
    weighting = mr_weighting(volume, body)
    if weighting == "T1":
        raise KneeMRError(
            "This knee MR is T1-weighted: joint fluid is dark and marrow bright on it, so the joint "
            "space cannot be found. Open the fat-suppressed series of the study (T2 or PD with fat "
            "suppression, or STIR), where fluid is bright."
        )
    check_cancel(cancel)
    report(progress, 0.15, "Normalising")
    sm = J._smooth(volume, 0.6)
    ref = float(np.median(sm[body])) if body.any() else 1.0
    if ref <= 0:
        ref = float(np.percentile(sm[body], 75)) or 1.0
    norm = sm / ref
    check_cancel(cancel)
    report(progress, 0.3, "Bones")
    bones = _bones_mr(volume, norm, body, cancel)
    named, side = J._name_bones(volume, bones, "knee")
    check_cancel(cancel)
    report(progress, 0.65, "Joint fluid")
    target = _fluid_target(volume, norm, body, named)
    report(progress, 0.9, "Labels")
    return J._assemble(
        volume, body, named, target, "knee", side,
        extra={"method": "MR: dark marrow/cortex components; bright fluid connected to the articular gaps", "weighting": weighting},
    )


DARK = 0.55  # marrow and cortex below this fraction of the body's median
FLUID = 1.8  # joint fluid above this multiple of the body's median
OPEN_MM = 1.5


def _bones_mr(volume: Volume, norm: np.ndarray, body: np.ndarray, cancel: Cancel | None) -> list[tuple[np.ndarray, int]]:
    from scipy import ndimage


    sp = volume.spacing[::-1]
    # Dark tissue away from the skin surface (subcutaneous fat is dark on fat-suppressed MR too).
    rim = skin_layer(body, volume, thickness_mm=8.0)
    dark = (norm < DARK) & body & ~rim
    dark = ndimage.binary_opening(dark, structure=ball(OPEN_MM, sp))
    lab, n = ndimage.label(dark)
    if n == 0:
        raise KneeMRError("No bone was found on this MR; is it a fat-suppressed series of the knee?")
    voxel_ml = float(np.prod(sp)) / 1000.0
    sizes = np.bincount(lab.ravel()) * voxel_ml
    sizes[0] = 0
    out = []
    slices = ndimage.find_objects(lab)
    for i in np.argsort(sizes)[::-1]:
        if sizes[i] < 1.0:
            break
        check_cancel(cancel)
        sl = J._pad_slices(slices[i - 1], lab.shape, 2)
        filled = J._fill_holes_2d(lab[sl] == i)
        full = np.zeros(volume.shape, dtype=bool)
        full[sl] = filled
        out.append((full, int(i)))
    return out


def _fluid_target(volume: Volume, norm: np.ndarray, body: np.ndarray, named: dict[str, np.ndarray]) -> np.ndarray:
    """Bright fluid connected to the knee's articular gaps."""
    from scipy import ndimage

    anybone = np.zeros(volume.shape, dtype=bool)
    for m in named.values():
        anybone |= m
    gap = J._joint_space_gaps(volume, body, named, "knee")
    fluid = (norm > FLUID) & body & ~anybone
    lab, _ = ndimage.label(fluid)
    hit = np.unique(lab[gap & fluid])
    hit = hit[hit > 0]
    target = np.isin(lab, hit)
    if not target.any():
        raise KneeMRError("No joint fluid was found next to the knee's articular surfaces on this MR.")
    return target
