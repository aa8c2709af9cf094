"""The kinds of labelled structure, shared by the segmentation, the sample studies and the planner.

A label's *kind* decides how the planner treats it: bone must not be crossed, arteries, veins and
nerves keep a clearance margin, the target is where the tip belongs. ``other`` (for example the
rest of the body, labelled "soft tissue") is never an obstacle.
"""

from __future__ import annotations

__all__ = ["KINDS", "OBSTACLE_KINDS", "DEFAULT_COLORS", "is_kind"]

KINDS: tuple[str, ...] = (
    "bone",
    "target",
    "artery",
    "vein",
    "nerve",
    "cord",
    "cartilage",
    "tendon",
    "muscle",
    "fat",
    "skin",
    "fluid",
    "disc",
    "canal",
    "other",
)

# Kinds that a needle path is checked against (margins by kind live in planner.margins).
OBSTACLE_KINDS: frozenset[str] = frozenset({"bone", "artery", "vein", "nerve", "cord", "cartilage", "tendon", "disc"})

# Default display colours (RGB 0-255) by kind.
DEFAULT_COLORS: dict[str, tuple[int, int, int]] = {
    "bone": (241, 214, 145),
    "target": (60, 220, 90),
    "artery": (216, 60, 50),
    "vein": (60, 90, 210),
    "nerve": (245, 225, 40),
    "cord": (250, 150, 30),
    "cartilage": (120, 200, 220),
    "tendon": (200, 170, 240),
    "muscle": (190, 90, 80),
    "fat": (230, 220, 120),
    "skin": (230, 180, 150),
    "fluid": (80, 160, 255),
    "disc": (150, 110, 200),
    "canal": (120, 120, 255),
    "other": (160, 160, 160),
}


def is_kind(kind: str) -> bool:
    """True when ``kind`` is one of :data:`KINDS`."""
    return kind in KINDS
