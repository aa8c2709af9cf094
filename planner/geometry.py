"""Needle geometry in the angles a physician uses. All points LPS mm (x: patient left, y: posterior,
z: superior); all angles degrees.

- ``craniocaudal_deg``: angle between the needle and the axial plane; positive = the tip heads
  cranially (cephalad) from the entry, negative = caudally.
- ``mediolateral_deg``: in the axial plane, the angle between the needle's projection and the
  anteroposterior axis; positive = the tip heads toward the patient's left, negative = right.
  ``medial_deg`` gives the same angle signed toward a midline (positive = toward it).
- ``skin_angle_deg``: angle between the needle and the inward skin normal at the entry
  (0 = perpendicular to the skin).
- CT gantry: ``in_plane_deg`` is the angle inside the scan plane from the gantry's vertical
  (anteroposterior) axis, positive toward the patient's left; ``out_of_plane_deg`` is the angle
  between the needle and the scan plane (0 = the whole needle visible in one slice). A gantry tilt
  rotates the scan plane about the patient's left-right axis (positive = top of the gantry toward
  the head, i.e. the plane's normal turns toward anterior-superior... see ``gantry_angles``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from planner.errors import PlanError

__all__ = [
    "HUB_ALLOWANCE_MM",
    "NeedleAngles",
    "direction",
    "depth_mm",
    "long_enough",
    "craniocaudal_deg",
    "mediolateral_deg",
    "medial_deg",
    "skin_angle_deg",
    "gantry_angles",
    "needle_angles",
    "segment_distance_mm",
]

HUB_ALLOWANCE_MM = 10.0  # needle kept out of the skin at the hub


def _v(p: Sequence[float] | np.ndarray) -> np.ndarray:
    return np.asarray(p, dtype=float).reshape(3)


def direction(entry: Sequence[float], target: Sequence[float]) -> np.ndarray:
    """Unit vector from ``entry`` to ``target``."""
    d = _v(target) - _v(entry)
    n = float(np.linalg.norm(d))
    if n < 1e-6:
        raise PlanError("Entry and target are the same point; move one of them.")
    return d / n


def depth_mm(entry: Sequence[float], target: Sequence[float]) -> float:
    """Insertion depth from the entry to the tip (straight line)."""
    return float(np.linalg.norm(_v(target) - _v(entry)))


def long_enough(needle_length_mm: float, insertion_depth_mm: float, hub_allowance_mm: float = HUB_ALLOWANCE_MM) -> bool:
    """True when the needle reaches ``insertion_depth_mm`` with ``hub_allowance_mm`` left outside."""
    return insertion_depth_mm + hub_allowance_mm <= needle_length_mm + 1e-9


def craniocaudal_deg(entry: Sequence[float], target: Sequence[float]) -> float:
    d = direction(entry, target)
    return math.degrees(math.asin(max(-1.0, min(1.0, d[2]))))


def mediolateral_deg(entry: Sequence[float], target: Sequence[float]) -> float:
    """Angle from the AP axis in the axial plane, + toward the patient's left; 0 for a vertical
    (pure craniocaudal) needle; +-90 for a needle running left-right."""
    d = direction(entry, target)
    if abs(d[0]) < 1e-12 and abs(d[1]) < 1e-12:
        return 0.0
    return math.degrees(math.atan2(d[0], abs(d[1])))


def medial_deg(entry: Sequence[float], target: Sequence[float], midline_x: float) -> float:
    """Mediolateral angle signed toward the midline x = ``midline_x`` (+ = medially)."""
    ml = mediolateral_deg(entry, target)
    toward = 1.0 if _v(entry)[0] < midline_x else -1.0
    return ml * toward


def skin_angle_deg(entry: Sequence[float], target: Sequence[float], outward_normal: Sequence[float]) -> float:
    """Angle between the needle and the inward skin normal (0 = perpendicular to the skin)."""
    d = direction(entry, target)
    n = _v(outward_normal)
    nn = float(np.linalg.norm(n))
    if nn < 1e-9:
        raise PlanError("The skin normal at the entry is undefined.")
    c = float(np.dot(d, -n / nn))
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


def gantry_angles(entry: Sequence[float], target: Sequence[float], tilt_deg: float = 0.0) -> tuple[float, float]:
    """``(in_plane_deg, out_of_plane_deg)`` of the needle relative to a CT gantry.

    The untilted scan plane is the axial plane (normal = +z, superior). A tilt of ``tilt_deg``
    rotates the plane about the patient's left-right (x) axis so that its normal becomes
    ``(0, sin t, cos t)`` (positive tilt: the plane's anterior edge moves toward the head, so a
    needle from a posterior entry angled t degrees cephalad lies in the plane).
    ``out_of_plane_deg`` is + when the tip heads along the normal (cranially for no tilt);
    ``in_plane_deg`` is measured in the plane from its vertical axis ``(0, cos t, -sin t)``,
    + toward the patient's left."""
    d = direction(entry, target)
    t = math.radians(tilt_deg)
    normal = np.array([0.0, math.sin(t), math.cos(t)])
    vertical = np.array([0.0, math.cos(t), -math.sin(t)])
    out = math.degrees(math.asin(max(-1.0, min(1.0, float(d @ normal)))))
    a, b = float(d[0]), float(d @ vertical)
    if abs(a) < 1e-12 and abs(b) < 1e-12:
        return 0.0, out
    return math.degrees(math.atan2(a, abs(b))), out


@dataclass(frozen=True)
class NeedleAngles:
    depth_mm: float
    craniocaudal_deg: float
    mediolateral_deg: float
    skin_angle_deg: float | None
    in_plane_deg: float
    out_of_plane_deg: float

    def describe(self) -> str:
        cc = "cephalad" if self.craniocaudal_deg >= 0 else "caudad"
        ml = "toward patient left" if self.mediolateral_deg >= 0 else "toward patient right"
        text = f"{abs(self.craniocaudal_deg):.0f} deg {cc}, {abs(self.mediolateral_deg):.0f} deg {ml}"
        if self.skin_angle_deg is not None:
            text += f", {self.skin_angle_deg:.0f} deg from the skin normal"
        return text


def needle_angles(
    entry: Sequence[float], target: Sequence[float], outward_normal: Sequence[float] | None = None, tilt_deg: float = 0.0
) -> NeedleAngles:
    inp, outp = gantry_angles(entry, target, tilt_deg)
    return NeedleAngles(
        depth_mm(entry, target),
        craniocaudal_deg(entry, target),
        mediolateral_deg(entry, target),
        None if outward_normal is None else skin_angle_deg(entry, target, outward_normal),
        inp,
        outp,
    )


def segment_distance_mm(p0: Sequence[float], p1: Sequence[float], q0: Sequence[float], q1: Sequence[float]) -> float:
    """Shortest distance between segments p0-p1 and q0-q1 (axis to axis)."""
    p0, p1, q0, q1 = _v(p0), _v(p1), _v(q0), _v(q1)
    u, v, w = p1 - p0, q1 - q0, p0 - q0
    a, b, c, d, e = float(u @ u), float(u @ v), float(v @ v), float(u @ w), float(v @ w)
    den = a * c - b * b
    s = float(np.clip((b * e - c * d) / den, 0.0, 1.0)) if den > 1e-12 * max(a * c, 1e-12) else 0.0
    t = (b * s + e) / c if c > 1e-12 else 0.0
    if t < 0.0:
        t = 0.0
        s = float(np.clip(-d / a, 0.0, 1.0)) if a > 1e-12 else 0.0
    elif t > 1.0:
        t = 1.0
        s = float(np.clip((b - d) / a, 0.0, 1.0)) if a > 1e-12 else 0.0
    return float(np.linalg.norm(p0 + s * u - (q0 + t * v)))
