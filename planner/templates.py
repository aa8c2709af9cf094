"""Approach templates (CLINICAL.md): a default target from the segmentation and a suggested entry.

| site | approach | needle direction (entry -> target) |
| knee | superolateral (default) | lateral to medial under the superolateral patella into the suprapatellar recess, knee extended |
| knee | anterolateral | beside the patellar tendon, posteromedially toward the notch |
| shoulder | posterior | from ~2 cm below / 1 cm medial to the posterolateral acromion, anteriorly toward the coracoid |
| hip | anterior | anterior (anterolateral) to the femoral head-neck junction, lateral to the femoral vessels |
| lumbar | midline (default) / paramedian | through the interlaminar window of L3-L4 or L4-L5, ~10-15 deg cephalad; paramedian ~10 mm lateral, angled medially |

The textbook line is tried first (its entry is where the line from the target leaves the body).
If that exact line is not clear of the structures at risk, the clearest entry within 15 degrees
of it (then 25, then 35; lumbar midline entries stay within 4 degrees of the sagittal plane,
paramedian ones come from the left angled 4-30 degrees medially) is suggested instead, and the
trajectory's notes say so. A template suggests; the
safety check judges. For planning, review and training; not a medical device.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from imaging.labelmap import Label, LabelMap
from planner import margins as margins_mod
from planner.autoplan import SearchConstraints, search_entries
from planner.errors import PlanError
from planner.model import Needle, StructureMargin, Trajectory
from planner.safety import DEFAULT_OPTIONS, ClearanceMaps, SafetyOptions, evaluate_trajectory

__all__ = [
    "APPROACHES",
    "DEFAULT_APPROACH",
    "DEFAULT_NEEDLE",
    "Approach",
    "approach_direction",
    "default_target",
    "infer_side",
    "skin_along",
    "template_trajectory",
]


@dataclass(frozen=True)
class Approach:
    """A textbook approach: direction from the target toward the entry in patient terms
    (lateral, anterior, superior components; lateral follows the side) and target name hints."""

    region: str
    name: str
    lateral: float
    anterior: float
    superior: float
    target_hints: tuple[str, ...]
    description: str


APPROACHES: dict[tuple[str, str], Approach] = {
    ("knee", "superolateral"): Approach(
        "knee", "superolateral", 1.0, 0.25, 0.1, ("suprapatellar", "recess", "joint"),
        "superolateral: lateral to medial under the superolateral corner of the patella into the suprapatellar recess (knee extended)",
    ),
    ("knee", "anterolateral"): Approach(
        "knee", "anterolateral", 0.5, 1.0, -0.2, ("joint space", "femorotibial", "joint"),
        "anterolateral: beside the patellar tendon, posteromedially toward the intercondylar notch (knee flexed)",
    ),
    ("shoulder", "posterior"): Approach(
        "shoulder", "posterior", 0.35, -1.0, -0.15, ("glenohumeral", "joint"),
        "posterior: ~2 cm below and 1 cm medial to the posterolateral acromion, aimed anteriorly toward the coracoid",
    ),
    ("hip", "anterior"): Approach(
        "hip", "anterior", 0.35, 1.0, 0.25, ("head-neck", "capsule", "joint"),
        "anterior/anterolateral: to the femoral head-neck junction, lateral to the femoral nerve, artery and vein",
    ),
    ("lumbar", "midline"): Approach(
        "lumbar", "midline", 0.0, -1.0, -0.22, ("thecal", "dural", "csf", "sac", "canal"),
        "midline: between the spinous processes through the interlaminar window, ~12 deg cephalad",
    ),
    ("lumbar", "paramedian"): Approach(
        "lumbar", "paramedian", 0.15, -1.0, -0.25, ("thecal", "dural", "csf", "sac", "canal"),
        "paramedian: ~10 mm lateral to the midline, angled medially and cephalad through the interlaminar window",
    ),
}
NO_CLEAR = "no clear entry near the textbook line"
DEFAULT_APPROACH = {"knee": "superolateral", "shoulder": "posterior", "hip": "anterior", "lumbar": "midline"}
# 89 mm spinal needles for anything deeper than a superficial knee recess (lessons: 38 mm with a
# 10 mm hub allowance does not reach a suprapatellar recess). Pencil point for the dura.
DEFAULT_NEEDLE = {
    "knee": Needle("22G", 89, "quincke"),
    "shoulder": Needle("22G", 89, "quincke"),
    "hip": Needle("22G", 89, "quincke"),
    "lumbar": Needle("22G", 89, "whitacre"),
}


def approach_direction(approach: Approach, side: str) -> np.ndarray:
    """Unit LPS vector from the target toward the entry. Lateral is -x for the right side
    (patient right), +x for the left; anterior is -y; superior is +z."""
    lat = -1.0 if side == "right" else 1.0
    v = np.array([lat * approach.lateral, -approach.anterior, approach.superior], dtype=float)
    return v / np.linalg.norm(v)


def _target_labels(labelmap: LabelMap, hints: Sequence[str]) -> list[Label]:
    targets = list(labelmap.legend.of_kind("target"))
    present = {lab.value for lab in labelmap.present()}
    targets = [t for t in targets if t.value in present]
    for hint in hints:
        hit = [t for t in targets if hint.lower() in t.name.lower()]
        if hit:
            return hit
    return targets


def default_target(labelmap: LabelMap, hints: Sequence[str] = (), *, near: Sequence[float] | None = None) -> tuple[np.ndarray, str]:
    """The default target: the segmentation's landmark when it names a matching structure, else
    the deepest point (farthest from its walls) of the matching target structure (the largest
    one, or the one nearest ``near``). Returns (LPS point, structure name)."""
    from scipy import ndimage

    labs = _target_labels(labelmap, hints)
    if not labs:
        raise PlanError("The label map has no target structure; segment the study or give --target X,Y,Z.")
    lm = labelmap.landmarks
    if lm is not None and lm.target and lm.target.get("lps") is not None:
        name = lm.target.get("name", "")
        if near is None and (not name or any(lab.name == name for lab in labs)):
            return np.asarray(lm.target["lps"], dtype=float), name or labs[0].name
    vol = labelmap.volume
    best: tuple[float, np.ndarray, str] | None = None
    for lab in labs:
        mask = vol.array == lab.value
        zs, ys, xs = np.nonzero(mask)
        lo = np.array([zs.min(), ys.min(), xs.min()])
        hi = np.array([zs.max(), ys.max(), xs.max()]) + 1
        sub = np.pad(mask[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]], 1)
        edt = ndimage.distance_transform_edt(sub, sampling=tuple(vol.spacing[::-1]))
        k, j, i = np.unravel_index(int(np.argmax(edt)), edt.shape)
        p = vol.index_to_lps(np.array([i + lo[2] - 1, j + lo[1] - 1, k + lo[0] - 1], dtype=float))
        score = -float(np.linalg.norm(p - np.asarray(near, float))) if near is not None else float(mask.sum())
        if best is None or score > best[0]:
            best = (score, p, lab.name)
    assert best is not None
    return best[1], best[2]


def skin_along(labelmap: LabelMap, target: Sequence[float], direction: Sequence[float], *, step_mm: float = 0.5, max_mm: float = 400.0) -> np.ndarray | None:
    """Where the line from ``target`` along ``direction`` finally leaves the body (the last
    labelled voxel on it), or None when it leaves the study still inside the body (a field-of-view
    cut is not skin)."""
    d = np.asarray(direction, dtype=float)
    d = d / np.linalg.norm(d)
    t = np.arange(0.0, max_mm, step_mm)
    pts = np.asarray(target, float)[None] + t[:, None] * d[None]
    vol = labelmap.volume
    in_vol = vol.contains_lps(pts, margin_voxels=0.0)
    body = (np.nan_to_num(vol.value_at(pts), nan=0) != 0) & in_vol
    if not body.any():
        return None
    last = int(np.flatnonzero(body).max())
    if last + 1 >= len(t) or not in_vol[last + 1]:
        return None
    return pts[last]


def template_trajectory(
    labelmap: LabelMap,
    region: str,
    *,
    approach: str = "",
    side: str = "",
    level: str = "",
    needle: Needle | None = None,
    target: Sequence[float] | None = None,
    plan_margins: Sequence[StructureMargin] = (),
    options: SafetyOptions = DEFAULT_OPTIONS,
    name: str = "",
) -> Trajectory:
    """A trajectory following the textbook approach for ``region`` (see the module docstring)."""
    chosen = approach
    approach = approach or DEFAULT_APPROACH.get(region, "")
    key = (region, approach)
    if key not in APPROACHES:
        known = ", ".join(f"{r} {a}" for r, a in APPROACHES)
        raise PlanError(f"No template for {region} {approach}; templates: {known}.")
    ap = APPROACHES[key]
    needle = needle or DEFAULT_NEEDLE[region]
    if region == "lumbar":
        traj = _lumbar(labelmap, ap, level, needle, target, plan_margins, options, name)
        if not chosen and NO_CLEAR in traj.notes:
            # the default: midline, and paramedian when the midline is blocked (e.g. a calcified
            # interspinous ligament) -- the usual clinical fallback
            para = _lumbar(labelmap, APPROACHES[("lumbar", "paramedian")], level, needle, target, plan_margins, options, name.replace("midline", "paramedian") if name else "")
            if NO_CLEAR not in para.notes:
                return dataclasses.replace(para, notes=f"midline blocked at {level or 'L4-L5'} (no clear line within 4 deg of the sagittal plane); {para.notes}")
        return traj
    if target is None:
        tgt, tname = _approach_target(labelmap, ap) or default_target(labelmap, ap.target_hints)
    else:
        tgt, tname = np.asarray(target, float), ""
    if not side:
        side = infer_side(labelmap, tgt)
    direction = approach_direction(ap, side)
    return _fit(labelmap, ap, tgt, tname, direction, needle, plan_margins, options, name or f"{side} {region} {approach}".strip())


def _approach_target(labelmap: LabelMap, ap: Approach) -> tuple[np.ndarray, str] | None:
    """The segmentation's target for this approach by name (landmarks ``extra["approaches"]``,
    e.g. the femorotibial joint for the anterolateral knee), when it gives one."""
    lm = labelmap.landmarks
    if lm is None:
        return None
    for a in lm.extra.get("approaches") or []:
        if isinstance(a, dict) and a.get("target") is not None and str(a.get("name", "")).lower().startswith(ap.name):
            tgt = np.asarray(a["target"], dtype=float)
            labs = _target_labels(labelmap, ap.target_hints)
            if not labs:
                return None
            maps = ClearanceMaps.around(labelmap, tgt, 6.0, pad_mm=2.0, structures=[lab.name for lab in labs])
            if not maps.labels:
                return None
            vals = maps.sample(tgt[None])[0]
            c = int(np.argmin(vals))
            name = maps.labels[c].name
            if vals[c] > -0.5:  # on or outside the wall: the deepest point of the structure close by
                tgt = maps.deepest_near(name, tgt, 4.0)
            return tgt, name
    return None


def infer_side(labelmap: LabelMap, target: Sequence[float] | None = None) -> str:
    """The side of the joint: the landmarks say so, or a structure's name does, or else the
    target's x (patients lie centred on the table: x > 0 is the patient's left)."""
    lm = labelmap.landmarks
    if lm is not None and lm.extra.get("side") in ("left", "right"):
        return str(lm.extra["side"])
    if lm is not None:
        sides = {a.get("side") for a in lm.extra.get("approaches") or [] if isinstance(a, dict)}
        if len(sides) == 1 and next(iter(sides)) in ("left", "right"):
            return str(next(iter(sides)))
    for lab in labelmap.legend:
        low = lab.name.lower()
        if low.startswith("right ") or low.endswith(" right") or "(right)" in low:
            return "right"
        if low.startswith("left ") or low.endswith(" left") or "(left)" in low:
            return "left"
    if target is not None:
        return "left" if float(target[0]) > 0 else "right"
    return "right"


def _fit(
    labelmap: LabelMap,
    ap: Approach,
    tgt: np.ndarray,
    tname: str,
    direction: np.ndarray,
    needle: Needle,
    plan_margins: Sequence[StructureMargin],
    options: SafetyOptions,
    name: str,
    *,
    entry: np.ndarray | None = None,
    craniocaudal_deg: tuple[float, float] | None = None,
    mediolateral_deg: tuple[float, float] | None = None,
) -> Trajectory:
    reach = needle.length_mm - options.hub_allowance_mm
    maps = ClearanceMaps.around(labelmap, tgt, needle.length_mm, pad_mm=options.pad_mm)
    margins = margins_mod.margins_for(labelmap.legend, plan_margins)
    textbook = entry if entry is not None else skin_along(labelmap, tgt, direction)
    note = ap.description
    if textbook is not None and maps.covers(textbook[None]):
        traj = Trajectory(name, tuple(textbook), tuple(tgt), needle, note, tname)  # type: ignore[arg-type]
        if evaluate_trajectory(maps, traj, margins, options).verdict == "ok":
            return traj
    for cone in (15.0, 25.0, 35.0):
        cons = SearchConstraints(
            needle=needle, approach=tuple(direction), max_approach_deg=cone, n_best=1, target_structure=tname,  # type: ignore[arg-type]
            craniocaudal_deg=craniocaudal_deg, mediolateral_deg=mediolateral_deg,
        )
        try:
            res = search_entries(labelmap, tgt, cons, plan_margins, options, maps=maps)
        except PlanError:
            continue
        if res.best and res.best[0].report.verdict == "ok":
            c = res.best[0]
            off = math.degrees(math.acos(float(np.clip((np.asarray(c.entry) - tgt) @ direction / np.linalg.norm(np.asarray(c.entry) - tgt), -1, 1))))
            return Trajectory(name, c.entry, tuple(tgt), needle, f"{note}; the textbook line was not clear, entry moved {off:.0f} deg from it to the clearest one within {cone:g} deg", tname)  # type: ignore[arg-type]
    if textbook is None:
        raise PlanError(f"The {ap.region} {ap.name} line from the target does not reach the skin inside the study (reach {reach:g} mm).")
    return Trajectory(name, tuple(textbook), tuple(tgt), needle, f"{note}; {NO_CLEAR}: check the safety table", tname)  # type: ignore[arg-type]


def _lumbar(
    labelmap: LabelMap,
    ap: Approach,
    level: str,
    needle: Needle,
    target: Sequence[float] | None,
    plan_margins: Sequence[StructureMargin],
    options: SafetyOptions,
    name: str,
) -> Trajectory:
    level = level or "L4-L5"
    lm = labelmap.landmarks
    window = lm.window(level) if lm is not None else None
    if window is None:
        have = ", ".join(w.get("interspace", "?") for w in (lm.windows if lm else ())) or "none"
        raise PlanError(f"The label map has no interlaminar window for {level} (windows: {have}); segment the study (lumbar) first.")
    if window.get("below_conus") is False:
        raise PlanError(f"{level} is not below the conus medullaris in this study; choose a lower interspace.")
    mid_p = np.asarray(window.get("midline_point") or window["centre"], dtype=float)
    mid_d = np.asarray(window.get("midline_direction") or (0.0, 1.0, 0.0), dtype=float)
    mid_d = mid_d / np.linalg.norm(mid_d)
    if mid_d[1] < 0:  # point it posteriorly (toward the skin of the back)
        mid_d = -mid_d
    hints = ap.target_hints
    if target is None:
        # the thecal sac on the midline line through the window: a few mm inside its posterior wall
        t = np.arange(-80.0, 80.0, 0.5)
        pts = mid_p[None] - t[:, None] * mid_d[None]  # increasing t: anterior
        labs = _target_labels(labelmap, hints)
        if not labs:
            raise PlanError("The label map has no thecal sac (target) structure; give --target X,Y,Z.")
        names = [lab.name for lab in labs]
        sac = ClearanceMaps.around(labelmap, mid_p, 90.0, pad_mm=5.0, structures=names)
        if not sac.labels:
            raise PlanError(f"No thecal sac (target) near the {level} window; give --target X,Y,Z.")
        ok = np.array([sac.covers(p[None]) for p in pts])
        phi = np.where(ok[:, None], sac.sample(pts), np.inf).min(axis=1)
        inside = phi < 0
        if not inside.any():
            tgt, tname = default_target(labelmap, hints, near=mid_p)
        else:
            # the posterior part of the sac: the deepest point of the first run along the line,
            # within 8 mm of its posterior wall
            first = int(np.argmax(inside))
            last = first
            while last + 1 < len(inside) and inside[last + 1]:
                last += 1
            window_end = min(last, first + 16)
            k = first + int(np.argmin(phi[first : window_end + 1]))
            tgt = pts[k]
            vals = sac.sample(tgt[None])[0]
            tname = sac.labels[int(np.argmin(vals))].name
    else:
        tgt, tname = np.asarray(target, float), ""
    # midline: the window's midline line (through the gap between the spinous processes, which
    # sets the cephalad angle), kept in the sagittal plane: a line a few mm off the midline,
    # extrapolated to the skin, swings onto a lamina
    mid_sag = mid_d - (mid_d @ np.array([1.0, 0, 0])) * np.array([1.0, 0, 0])
    direction = mid_sag / np.linalg.norm(mid_sag)  # target -> entry: posterior (and caudal)
    name = name or f"{level} {ap.name}"
    if ap.name == "paramedian":
        skin = skin_along(labelmap, tgt, direction)
        if skin is None:
            raise PlanError(f"The {level} midline line does not reach the skin inside the study.")
        entry_guess = skin + np.array([10.0, 0.0, 0.0])  # 10 mm lateral (patient left)
        d2 = entry_guess - tgt
        d2 /= np.linalg.norm(d2)
        entry = skin_along(labelmap, tgt, d2)
        # from the patient's left, angled medially (toward the patient's right) and cephalad
        return _fit(labelmap, ap, tgt, tname, d2, needle, plan_margins, options, name, entry=entry,
                    craniocaudal_deg=(-5.0, 35.0), mediolateral_deg=(-30.0, -4.0))
    # midline: in the sagittal plane (within 4 deg), cephalad or level
    return _fit(labelmap, ap, tgt, tname, direction, needle, plan_margins, options, name,
                craniocaudal_deg=(-5.0, 35.0), mediolateral_deg=(-4.0, 4.0))
