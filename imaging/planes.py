"""The standard viewing planes in patient LPS space, in radiological convention.

A plane is given by two in-plane unit vectors: ``right`` (what runs to the right of the screen)
and ``up`` (what runs up the screen). Radiological convention puts the patient's right on the
screen's left in axial and coronal views, anterior at the top of axial views and anterior on the
left of sagittal views.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imaging.volume import Volume

__all__ = [
    "SlicePlane",
    "position_label",
    "AXIAL",
    "CORONAL",
    "SAGITTAL",
    "STANDARD_PLANES",
    "orientation_label",
    "plane_extent",
    "ResliceGrid",
    "reslice_grid",
    "reslice_axes",
    "slice_position",
    "plane_origin",
    "in_plane",
]

_LETTERS = (("L", "R"), ("P", "A"), ("S", "I"))  # LPS +x, +y, +z and their opposites


def orientation_label(vector: np.ndarray | tuple[float, float, float], threshold: float = 0.2) -> str:
    """Letters of the patient directions a vector points to, strongest first (e.g. ``"LA"``).

    Components whose magnitude is below ``threshold`` of the vector's length are left out, as
    viewers do for slightly oblique acquisitions.
    """
    v = np.asarray(vector, dtype=float)
    n = float(np.linalg.norm(v))
    if n == 0:
        return ""
    v = v / n
    order = np.argsort(-np.abs(v), kind="stable")
    return "".join(_LETTERS[a][0 if v[a] > 0 else 1] for a in order if abs(v[a]) >= threshold)


@dataclass(frozen=True)
class SlicePlane:
    """A viewing plane: name and the LPS unit vectors running right and up on the screen."""

    name: str
    right: tuple[float, float, float]
    up: tuple[float, float, float]

    @property
    def normal(self) -> np.ndarray:
        """Unit normal (right x up): the direction the viewer looks *from*, toward the screen."""
        return np.cross(np.asarray(self.right, float), np.asarray(self.up, float))

    def frame(self, point_lps: np.ndarray | tuple[float, float, float]) -> np.ndarray:
        """4x4 matrix mapping in-plane (u, v, w) mm around ``point_lps`` to LPS mm."""
        m = np.eye(4)
        m[:3, 0] = self.right
        m[:3, 1] = self.up
        m[:3, 2] = self.normal
        m[:3, 3] = np.asarray(point_lps, dtype=float)
        return m

    def to_lps(self, origin_lps: np.ndarray, u: float, v: float) -> np.ndarray:
        """LPS position of the in-plane point (u, v) mm from ``origin_lps``."""
        return np.asarray(origin_lps, float) + u * np.asarray(self.right) + v * np.asarray(self.up)

    def edge_labels(self) -> dict[str, str]:
        """Orientation letters for the four screen edges: left, right, top, bottom."""
        r, u = np.asarray(self.right, float), np.asarray(self.up, float)
        return {
            "left": orientation_label(-r),
            "right": orientation_label(r),
            "top": orientation_label(u),
            "bottom": orientation_label(-u),
        }


AXIAL = SlicePlane("axial", right=(1.0, 0.0, 0.0), up=(0.0, -1.0, 0.0))
CORONAL = SlicePlane("coronal", right=(1.0, 0.0, 0.0), up=(0.0, 0.0, 1.0))
SAGITTAL = SlicePlane("sagittal", right=(0.0, 1.0, 0.0), up=(0.0, 0.0, 1.0))
STANDARD_PLANES = {p.name: p for p in (AXIAL, CORONAL, SAGITTAL)}


def plane_extent(volume: Volume, plane: SlicePlane, centre_lps: np.ndarray) -> tuple[float, float, float, float]:
    """In-plane bounds ``(u_min, u_max, v_min, v_max)`` in mm, relative to ``centre_lps``, that
    enclose the whole volume projected onto ``plane``."""
    nx, ny, nz = volume.size_ijk
    corners = np.array(
        [[i, j, k] for i in (-0.5, nx - 0.5) for j in (-0.5, ny - 0.5) for k in (-0.5, nz - 0.5)]
    )
    rel = volume.index_to_lps(corners) - np.asarray(centre_lps, float)
    u = rel @ np.asarray(plane.right)
    v = rel @ np.asarray(plane.up)
    return float(u.min()), float(u.max()), float(v.min()), float(v.max())


def position_label(plane: SlicePlane, point_lps: np.ndarray | tuple[float, float, float]) -> str:
    """Where a slice lies along its normal, as viewers print it: e.g. ``"S 260.8 mm"``.

    Uses the patient axis closest to the plane's normal; the letter says which side of the
    origin the slice is on.
    """
    n = plane.normal
    axis = int(np.argmax(np.abs(n)))
    value = float(np.asarray(point_lps, float)[axis])
    letter = _LETTERS[axis][0 if value >= 0 else 1]
    return f"{letter} {abs(value):.1f} mm"


@dataclass(frozen=True)
class ResliceGrid:
    """The pixel grid a view resamples the volume onto, in-plane mm around the volume centre.

    Pixel ``(a, b)`` has its centre at ``u = u0 + a * pixel_mm``, ``v = v0 + b * pixel_mm``."""

    pixel_mm: float
    nu: int
    nv: int
    u0: float
    v0: float
    extent: tuple[float, float, float, float]


def reslice_grid(volume: Volume, plane: SlicePlane, centre_lps: np.ndarray, pixel_mm: float | None = None) -> ResliceGrid:
    """Square pixels (the volume's finest spacing unless given) covering the whole volume as
    projected onto ``plane``."""
    extent = plane_extent(volume, plane, centre_lps)
    pixel = float(pixel_mm if pixel_mm is not None else volume.spacing.min())
    umin, umax, vmin, vmax = extent
    nu = max(1, int(np.ceil((umax - umin) / pixel - 1e-6)))
    nv = max(1, int(np.ceil((vmax - vmin) / pixel - 1e-6)))
    return ResliceGrid(pixel, nu, nv, umin + pixel / 2, vmin + pixel / 2, extent)


def plane_origin(plane: SlicePlane, centre_lps: np.ndarray, point_lps: np.ndarray) -> np.ndarray:
    """``centre_lps`` moved along the plane's normal onto the slice through ``point_lps``."""
    n = plane.normal
    c = np.asarray(centre_lps, float)
    return c + float(np.dot(np.asarray(point_lps, float) - c, n)) * n


def reslice_axes(volume: Volume, plane: SlicePlane, origin_lps: np.ndarray) -> np.ndarray:
    """4x4 matrix mapping in-plane (u, v, w) mm around ``origin_lps`` to continuous voxel
    indices (i, j, k): what a resampler needs to cut ``plane`` out of ``volume`` in patient
    space, whatever the acquisition's orientation."""
    return np.linalg.inv(volume.affine) @ plane.frame(origin_lps)


def in_plane(plane: SlicePlane, origin_lps: np.ndarray, point_lps: np.ndarray) -> np.ndarray:
    """In-plane coordinates ``(..., 3)`` (u right, v up, w toward the viewer) of LPS points."""
    rel = np.asarray(point_lps, float) - np.asarray(origin_lps, float)
    basis = np.stack([np.asarray(plane.right, float), np.asarray(plane.up, float), plane.normal])
    return rel @ basis.T


def slice_position(volume: Volume, plane: SlicePlane, point_lps: np.ndarray) -> tuple[int, int]:
    """``(number, count)`` of the slice through ``point_lps``: 1-based, counted in voxel steps
    into the screen (along minus the plane's normal) from the slice nearest the viewer. For an
    axial view of an axial series ordered foot to head this is the image number, and the wheel
    turned forward (into the screen) adds one."""
    into = -plane.normal
    step = volume.step_along(into)
    nx, ny, nz = volume.size_ijk
    corners = np.array([[i, j, k] for i in (0, nx - 1) for j in (0, ny - 1) for k in (0, nz - 1)], float)
    depth = volume.index_to_lps(corners) @ into
    first, last = float(depth.min()), float(depth.max())
    count = int(round((last - first) / step)) + 1
    number = int(round((float(np.asarray(point_lps, float) @ into) - first) / step)) + 1
    return number, count
