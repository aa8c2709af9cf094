"""Safety margins by structure kind (CLINICAL.md defaults; always editable in the plan).

| kind | default clearance from the needle's surface |
| artery, vein, nerve | 3 mm, grows with depth by the tip's deflection allowance |
| cord | 5 mm, grows with depth |
| cartilage, tendon | 1 mm (fixed) |
| bone, disc | must not be entered (0 mm from the surface) |

Kinds ``other``, ``muscle``, ``fat``, ``skin``, ``fluid`` (and ``target``, ``canal``) are never
obstacles. Inside the target's region (the target structure and ``target_region_mm`` around it)
the joint walls (bone, cartilage, tendon, disc) need only not be entered by the needle's axis.
The deflection allowance grows only vessel, nerve and cord margins: applied to bone and cartilage
it would fail every intra-articular textbook plan.
"""

from __future__ import annotations

from collections.abc import Iterable

from imaging.kinds import OBSTACLE_KINDS
from imaging.labelmap import Label, Legend
from planner import needles
from planner.model import StructureMargin

__all__ = [
    "DEFAULT_MARGIN_MM",
    "GROWING_KINDS",
    "MUST_NOT_ENTER_KINDS",
    "WALL_KINDS",
    "NEVER_OBSTACLE_KINDS",
    "WARNING_BAND_MM",
    "default_margin",
    "margins_for",
    "required_clearance_mm",
    "explain_margin",
]

DEFAULT_MARGIN_MM: dict[str, float] = {
    "artery": 3.0,
    "vein": 3.0,
    "nerve": 3.0,
    "cord": 5.0,
    "cartilage": 1.0,
    "tendon": 1.0,
    "bone": 0.0,
    "disc": 0.0,
}
GROWING_KINDS = frozenset({"artery", "vein", "nerve", "cord"})
MUST_NOT_ENTER_KINDS = frozenset({"bone", "disc"})
WALL_KINDS = frozenset({"bone", "cartilage", "tendon", "disc"})
NEVER_OBSTACLE_KINDS = frozenset({"other", "muscle", "fat", "skin", "fluid", "target", "canal"})
WARNING_BAND_MM = 1.0

assert OBSTACLE_KINDS >= set(DEFAULT_MARGIN_MM)


def default_margin(label: Label) -> StructureMargin | None:
    """The default margin of a label by its kind, or None when the kind is never an obstacle."""
    if label.kind not in DEFAULT_MARGIN_MM:
        return None
    kind = label.kind
    if kind in MUST_NOT_ENTER_KINDS:
        note = f"{kind}: must not be entered"
    else:
        note = f"{kind} default {DEFAULT_MARGIN_MM[kind]:g} mm" + (" + deflection allowance" if kind in GROWING_KINDS else "")
    return StructureMargin(label.name, kind, DEFAULT_MARGIN_MM[kind], kind in GROWING_KINDS, kind in MUST_NOT_ENTER_KINDS, note)


def margins_for(legend: Legend | Iterable[Label], overrides: Iterable[StructureMargin] = ()) -> dict[str, StructureMargin]:
    """Margin of every obstacle structure in ``legend``: a plan's margin for that structure's name
    wins, then a plan margin for its kind (name ""), then the default by kind."""
    by_name: dict[str, StructureMargin] = {}
    by_kind: dict[str, StructureMargin] = {}
    for m in overrides:
        (by_name if m.name else by_kind).__setitem__(m.name or m.kind, m)
    out: dict[str, StructureMargin] = {}
    for lab in legend:
        if lab.kind in NEVER_OBSTACLE_KINDS:
            continue
        if lab.name in by_name:
            m = by_name[lab.name]
            out[lab.name] = StructureMargin(lab.name, lab.kind, m.margin_mm, m.grows_with_depth, m.must_not_enter, m.note or "set in the plan")
        elif lab.kind in by_kind:
            m = by_kind[lab.kind]
            out[lab.name] = StructureMargin(lab.name, lab.kind, m.margin_mm, m.grows_with_depth, m.must_not_enter, m.note or f"{lab.kind} margin set in the plan")
        else:
            d = default_margin(lab)
            if d is not None:
                out[lab.name] = d
    return out


def required_clearance_mm(margin: StructureMargin, depth_mm: float, tip: str) -> float:
    """Clearance required from the needle's surface at ``depth_mm`` below the entry."""
    grow = needles.deflection_mm(tip, depth_mm) if margin.grows_with_depth else 0.0
    return float(margin.margin_mm + grow)


def explain_margin(margin: StructureMargin, depth_mm: float, tip: str) -> str:
    """Why this margin: e.g. "3 mm artery default + 2.4 mm Quincke deflection at 22 mm"."""
    if margin.must_not_enter and margin.margin_mm == 0:
        return f"{margin.kind}: must not be entered"
    text = margin.note.split(" + ")[0] if margin.note else f"{margin.margin_mm:g} mm"
    if margin.grows_with_depth:
        grow = needles.deflection_mm(tip, depth_mm)
        text += f" + {grow:.1f} mm {needles.TIP_NAMES[needles.normalise_tip(tip)].split(' ')[0]} deflection at {depth_mm:.0f} mm"
    return text
