"""Needles: gauge -> outer diameter, tip types, and how far each tip drifts sideways with depth.

Figures (CLINICAL.md): 18G 1.27 mm, 20G 0.91 mm, 22G 0.72 mm, 25G 0.51 mm, 27G 0.41 mm outer
diameter. Deflection per 10 mm of travel (used to grow vessel, nerve and cord margins with depth):

- Quincke (cutting bevel): 1.1 mm per 10 mm. Drummond & Scott 1980 give ~1 mm per cm for bevelled
  needles; Rand 2016 measured 8.9 mm at 80 mm for a 22G Quincke in gel (1.11 mm per 10 mm).
- Whitacre / Sprotte (pencil point): 0.09 mm per 10 mm (Rand 2016: 0.7 mm at 80 mm). A symmetric
  conical tip has no net sideways force.
- Chiba: a thin-walled fine needle with a bevelled (~25 degree) asymmetric tip; its deflection is
  taken as that of a cutting bevel (1.1 mm per 10 mm): same mechanism (asymmetric tip force), and a
  thin wall is, if anything, less stiff. An estimate, not a measurement.
- Tuohy: a blunt curved ("Huber") tip is asymmetric too, but the needle is stiffer (usually 16-18G)
  and the curved tip pushes less tissue aside than a cutting bevel; taken as half a bevel's drift,
  0.5 mm per 10 mm. An estimate between the symmetric pencil point and the cutting bevel.

These are planning defaults, editable, not clinical recommendations.
"""

from __future__ import annotations

from planner.errors import PlanError

__all__ = [
    "GAUGE_OD_MM",
    "TIPS",
    "TIP_NAMES",
    "DEFLECTION_MM_PER_10MM",
    "outer_diameter_mm",
    "radius_mm",
    "deflection_mm",
    "normalise_tip",
    "parse_needle_spec",
]

GAUGE_OD_MM: dict[str, float] = {"18G": 1.27, "20G": 0.91, "22G": 0.72, "25G": 0.51, "27G": 0.41}

TIPS: tuple[str, ...] = ("quincke", "whitacre", "tuohy", "chiba")
TIP_NAMES: dict[str, str] = {
    "quincke": "Quincke (cutting bevel)",
    "whitacre": "Whitacre (pencil point)",
    "tuohy": "Tuohy",
    "chiba": "Chiba",
}
_TIP_ALIASES = {"sprotte": "whitacre", "pencil-point": "whitacre", "pencil": "whitacre", "pencilpoint": "whitacre", "bevel": "quincke"}

DEFLECTION_MM_PER_10MM: dict[str, float] = {"quincke": 1.1, "whitacre": 0.09, "tuohy": 0.5, "chiba": 1.1}


def normalise_gauge(gauge: str | int) -> str:
    g = str(gauge).strip().upper()
    if not g.endswith("G"):
        g += "G"
    if g not in GAUGE_OD_MM:
        raise PlanError(f"Unknown needle gauge {gauge!r}; choose one of {', '.join(GAUGE_OD_MM)}.")
    return g


def normalise_tip(tip: str) -> str:
    t = str(tip).strip().lower()
    t = _TIP_ALIASES.get(t, t)
    if t not in TIPS:
        raise PlanError(f"Unknown needle tip {tip!r}; choose one of quincke, whitacre (pencil point), tuohy, chiba.")
    return t


def outer_diameter_mm(gauge: str | int) -> float:
    """Outer diameter in mm of a needle of ``gauge`` ("22G" or 22)."""
    return GAUGE_OD_MM[normalise_gauge(gauge)]


def radius_mm(gauge: str | int) -> float:
    return outer_diameter_mm(gauge) / 2.0


def deflection_mm(tip: str, depth_mm: float) -> float:
    """Expected sideways drift (mm) of a ``tip`` needle after ``depth_mm`` of travel (linear)."""
    return DEFLECTION_MM_PER_10MM[normalise_tip(tip)] * max(0.0, float(depth_mm)) / 10.0


def parse_needle_spec(spec: str) -> tuple[str, float, str]:
    """``"22G:89:whitacre"`` -> ``("22G", 89.0, "whitacre")``."""
    parts = [p for p in str(spec).split(":")]
    if len(parts) != 3:
        raise PlanError(f"Needle {spec!r} is not GAUGE:LENGTH_MM:TIP (for example 22G:89:whitacre).")
    gauge = normalise_gauge(parts[0])
    try:
        length = float(parts[1])
    except ValueError as exc:
        raise PlanError(f"Needle length {parts[1]!r} is not a number of millimetres (for example 89).") from exc
    if not (5.0 <= length <= 300.0):
        raise PlanError(f"Needle length {length:g} mm is outside 5-300 mm.")
    return gauge, length, normalise_tip(parts[2])
