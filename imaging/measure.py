"""Measurements in patient space: distances (mm) and angles (degrees) between LPS points, and the
length a scale bar should show."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["distance_mm", "angle_deg", "Measurement", "nice_length_mm", "structure_centre_ijk"]


def distance_mm(a: np.ndarray | tuple[float, float, float], b: np.ndarray | tuple[float, float, float]) -> float:
    """Straight-line distance between two LPS points, in mm."""
    return float(np.linalg.norm(np.asarray(b, float) - np.asarray(a, float)))


def angle_deg(
    a: np.ndarray | tuple[float, float, float],
    vertex: np.ndarray | tuple[float, float, float],
    b: np.ndarray | tuple[float, float, float],
) -> float:
    """The angle at ``vertex`` between the rays to ``a`` and ``b``, in degrees (0-180).

    Raises ``ValueError`` when a ray has no length (the angle is undefined)."""
    u = np.asarray(a, float) - np.asarray(vertex, float)
    v = np.asarray(b, float) - np.asarray(vertex, float)
    nu, nv = np.linalg.norm(u), np.linalg.norm(v)
    if nu == 0 or nv == 0:
        raise ValueError("An angle needs three distinct points: an arm has no length.")
    # atan2 of |u x v| and u.v is accurate near 0 and 180 degrees, where acos is not.
    return float(np.degrees(np.arctan2(np.linalg.norm(np.cross(u, v)), float(u @ v))))


@dataclass(frozen=True)
class Measurement:
    """A ruler (two points) or an angle (three points, the vertex in the middle), in LPS mm.

    ``plane`` names the view it was drawn in and ``slice_lps`` a point on that slice, so the view
    can show it when that slice is displayed again."""

    kind: str  # "distance" or "angle"
    points: tuple[tuple[float, float, float], ...]
    plane: str = ""

    def __post_init__(self) -> None:
        need = {"distance": 2, "angle": 3}.get(self.kind)
        if need is None:
            raise ValueError(f"Unknown measurement kind {self.kind!r}; expected 'distance' or 'angle'.")
        pts = tuple(tuple(float(c) for c in p) for p in self.points)
        if len(pts) != need or any(len(p) != 3 for p in pts):
            raise ValueError(f"A {self.kind} measurement needs {need} LPS points.")
        object.__setattr__(self, "points", pts)

    @property
    def value(self) -> float:
        """mm for a distance, degrees for an angle."""
        if self.kind == "distance":
            return distance_mm(*self.points)
        return angle_deg(*self.points)

    @property
    def unit(self) -> str:
        return "mm" if self.kind == "distance" else "deg"

    def label(self) -> str:
        """Short text for the view and the list: ``"42.3 mm"`` or ``"37.5°"``."""
        if self.kind == "distance":
            return f"{self.value:.1f} mm"
        return f"{self.value:.1f}\N{DEGREE SIGN}"

    def describe(self) -> str:
        """One line for the measurement list."""
        where = f" ({self.plane})" if self.plane else ""
        name = "Distance" if self.kind == "distance" else "Angle"
        return f"{name} {self.label()}{where}"


def nice_length_mm(max_mm: float) -> float:
    """The longest 1, 2 or 5 x 10^n mm not above ``max_mm`` (the length a scale bar shows)."""
    if not (max_mm > 0) or not math.isfinite(max_mm):
        raise ValueError("max_mm must be a positive length")
    exp = math.floor(math.log10(max_mm))
    best = 10.0**exp
    for m in (1.0, 2.0, 5.0, 10.0):
        cand = m * 10.0**exp
        if cand <= max_mm * (1 + 1e-9):
            best = cand
    return best


def structure_centre_ijk(labels: np.ndarray, value: int) -> np.ndarray | None:
    """Voxel index ``(i, j, k)`` of a labelled structure's centre: its centroid when that voxel
    belongs to the structure (a vertebral body), else the structure's voxel nearest the
    centroid (a curved vessel). None when no voxel has ``value``. ``labels`` is ``(nz, ny, nx)``."""
    k, j, i = np.nonzero(np.asarray(labels) == value)
    if k.size == 0:
        return None
    pts = np.stack([i, j, k], axis=1).astype(float)
    centroid = np.rint(pts.mean(axis=0)).astype(int)
    ci, cj, ck = centroid
    if labels[ck, cj, ci] == value:
        return centroid
    nearest = pts[np.argmin(((pts - centroid) ** 2).sum(axis=1))]
    return nearest.astype(int)
