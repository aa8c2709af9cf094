"""Where a stack's slices are, and the regular grid the loaded volume gets.

Every slice carries its own ImagePositionPatient; the grid follows from those positions, never
from SliceThickness or InstanceNumber. Three outcomes:

* **regular** -- positions lie on a straight line at even steps perpendicular to the slices
  (within :data:`POSITION_TOL_MM`): the volume's affine comes straight from the first and last
  positions; no voxel is moved.
* **resampled** -- the slices are sheared (gantry tilt: the step between slices is not
  perpendicular to them) and/or unevenly spaced (a missing slice): the volume is resampled onto a
  regular grid whose axes are the slices' row, column and normal directions. Each output plane
  lies between the two input slices that bracket it, and within each slice the pixels are taken
  where that slice's own position puts them (no slice is ever placed where its header does not
  say it is). A warning names the tilt or the gap.
* **refused** -- duplicate positions, or a gap wider than :data:`MAX_GAP_FACTOR` times the
  usual spacing (interpolating across it would invent anatomy): a typed error naming the files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from imaging.dicom.frames import Frame
from imaging.errors import (
    GeometryError,
    IrregularSpacingError,
    NotAVolumeError,
    UnsupportedDicomError,
)

__all__ = [
    "StackGeometry",
    "analyse",
    "orientation_label",
    "POSITION_TOL_MM",
    "MAX_GAP_FACTOR",
]

POSITION_TOL_MM = 0.01
"""A slice may sit at most this far from the regular grid before the stack is resampled."""

MAX_GAP_FACTOR = 2.0
"""The widest gap filled by interpolation, in units of the usual slice spacing: one missing
slice between two present ones. Wider gaps are refused."""

_GAP_SLACK = 1.05  # gaps up to 5 % over the rule still count as "one missing slice"
_DUPLICATE_MM = 1e-3


@dataclass(frozen=True, eq=False)
class StackGeometry:
    """The slice order of a stack and the grid its volume is built on."""

    order: tuple[int, ...]  # indices into the stack's frames, first slice first
    affine: np.ndarray  # 4x4 (i, j, k) -> LPS of the output grid
    shape: tuple[int, int, int]  # output (nz, ny, nx)
    resampled: bool = False
    input_t: tuple[float, ...] = ()  # distance of each ordered input slice along the normal
    output_t: tuple[float, ...] = ()  # same for each output plane
    shifts: tuple[tuple[float, float], ...] = ()  # (column, row) shift of each ordered input slice
    warnings: tuple[str, ...] = ()
    label: str = ""

    @property
    def spacing(self) -> tuple[float, float, float]:
        s = np.linalg.norm(self.affine[:3, :3], axis=0)
        return float(s[0]), float(s[1]), float(s[2])


def orientation_label(orientation: Sequence[float] | None) -> str:
    """'axial', 'sagittal', 'coronal' (slice normal within 10 degrees of an axis) or 'oblique'."""
    if orientation is None or len(orientation) < 6:
        return "unknown"
    n = np.cross(np.asarray(orientation[:3], float), np.asarray(orientation[3:6], float))
    norm = float(np.linalg.norm(n))
    if norm < 1e-6:
        return "unknown"
    n = np.abs(n / norm)
    axis = int(np.argmax(n))
    if n[axis] < math.cos(math.radians(10.0)):
        return "oblique"
    return ("sagittal", "coronal", "axial")[axis]


def _axes(frame: Frame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    iop = np.asarray(frame.orientation, dtype=float)
    r, c = iop[:3], iop[3:6]
    nr, nc = float(np.linalg.norm(r)), float(np.linalg.norm(c))
    if nr < 0.5 or nc < 0.5 or not (np.all(np.isfinite(r)) and np.all(np.isfinite(c))):
        raise GeometryError(f"{frame.label} has an invalid ImageOrientationPatient {tuple(iop)}.")
    r, c = r / nr, c / nc
    if abs(float(np.dot(r, c))) > 1e-3:
        raise GeometryError(
            f"{frame.label}: rows and columns are not perpendicular (ImageOrientationPatient "
            f"{tuple(round(float(x), 5) for x in iop)}); the image cannot be placed in 3D."
        )
    n = np.cross(r, c)
    return r, c, n / np.linalg.norm(n)


def _check_frames(frames: Sequence[Frame]) -> None:
    first = frames[0]
    for f in frames:
        if f.position is None or f.orientation is None:
            raise UnsupportedDicomError(
                f"{f.label} has no ImagePositionPatient/ImageOrientationPatient, so it cannot be "
                "placed in patient space (e.g. a screenshot or secondary capture)."
            )
        if f.pixel_spacing is None or min(f.pixel_spacing) <= 0 or not all(map(math.isfinite, f.pixel_spacing)):
            raise UnsupportedDicomError(
                f"{f.label} has no valid PixelSpacing, so distances in it are unknown; it cannot be used for planning."
            )
        if (f.rows, f.columns) != (first.rows, first.columns):
            raise NotAVolumeError(
                f"{f.label} is {f.rows} x {f.columns} pixels but {first.label} is "
                f"{first.rows} x {first.columns}; images of different sizes are not one volume."
            )
    iop = np.array([f.orientation for f in frames], dtype=float)
    bad = np.flatnonzero(np.max(np.abs(iop - iop[0]), axis=1) > 1e-3)
    if bad.size:
        raise NotAVolumeError(
            f"{frames[int(bad[0])].label} and {first.label} have different orientations; the images mix "
            "planes (e.g. a localizer) and are not one volume."
        )
    ps = np.array([f.pixel_spacing for f in frames], dtype=float)
    bad = np.flatnonzero(np.max(np.abs(ps - ps[0]), axis=1) > 1e-5 + 1e-4 * np.abs(ps[0]).max())
    if bad.size:
        f = frames[int(bad[0])]
        raise NotAVolumeError(
            f"{f.label} has pixel spacing {f.pixel_spacing} mm but {first.label} has "
            f"{first.pixel_spacing} mm; they are not one volume."
        )


def analyse(frames: Sequence[Frame]) -> StackGeometry:
    """Work out the slice order and output grid of a stack, or raise a typed error saying why
    the frames are not one volume."""
    if not frames:
        raise NotAVolumeError("The stack holds no images.")
    _check_frames(frames)
    first = frames[0]
    r, c, n = _axes(first)
    row_mm, col_mm = float(first.pixel_spacing[0]), float(first.pixel_spacing[1])  # type: ignore[index]
    dx, dy = col_mm, row_mm  # i runs along a row (spacing between columns), j down the rows
    nx, ny = first.columns, first.rows
    label = orientation_label(first.orientation)
    positions = np.array([f.position for f in frames], dtype=float)
    if not np.all(np.isfinite(positions)):
        raise GeometryError("An ImagePositionPatient holds a value that is not a number.")
    t = positions @ n
    instance = [f.instance_number if f.instance_number is not None else 0 for f in frames]
    order = sorted(range(len(frames)), key=lambda k: (round(float(t[k]), 6), instance[k], frames[k].index))
    affine = np.eye(4)
    affine[:3, 0] = r * dx
    affine[:3, 1] = c * dy
    affine[:3, 3] = positions[order[0]]
    if len(order) == 1:
        step = first.spacing_between_slices or first.slice_thickness or 1.0
        affine[:3, 2] = n * (abs(float(step)) or 1.0)
        return StackGeometry(tuple(order), affine, (1, ny, nx), label=label)

    p = positions[order]
    ts = t[order]
    steps = np.diff(ts)
    dup = np.flatnonzero(steps < _DUPLICATE_MM)
    if dup.size:
        a, b = frames[order[dup[0]]], frames[order[dup[0] + 1]]
        count = int(np.sum(steps < _DUPLICATE_MM)) + 1
        raise NotAVolumeError(
            f"{a.label} and {b.label} lie at the same position ({_fmt(p[dup[0]])} mm); "
            f"{count} images share slice positions, so the stack holds repeated images "
            "(e.g. several time points or acquisitions at one level) and is not one volume."
        )
    span = p[-1] - p[0]
    along = float(span @ n)
    drift = span - along * n  # in-plane travel of the stack over its length: shear / gantry tilt
    k = np.arange(len(order), dtype=float)[:, None]
    predicted = p[0] + k * span / (len(order) - 1)
    deviation = float(np.max(np.linalg.norm(p - predicted, axis=1)))
    sheared = float(np.linalg.norm(drift)) > POSITION_TOL_MM
    uneven = deviation > POSITION_TOL_MM
    if not sheared and not uneven:
        affine[:3, 2] = span / (len(order) - 1)
        return StackGeometry(tuple(order), affine, (len(order), ny, nx), label=label)
    return _resampling_plan(frames, order, p, ts, r, c, n, dx, dy, nx, ny, sheared, uneven, label)


def _fmt(v: np.ndarray) -> str:
    return "(" + ", ".join(f"{float(x):.2f}" for x in v) + ")"


def _snap(x: np.ndarray, tol: float) -> np.ndarray:
    """Offsets within ``tol`` of a whole pixel become that whole pixel (rounding noise of the
    DS strings must not trigger interpolation or grow the grid)."""
    r = np.rint(x)
    return np.where(np.abs(x - r) <= tol, r, x)


def _resampling_plan(frames, order, p, ts, r, c, n, dx, dy, nx, ny, sheared, uneven, label) -> StackGeometry:
    warnings: list[str] = []
    steps = np.diff(ts)
    smallest = float(steps.min())
    nominal = float(np.median(steps[steps <= 1.5 * smallest]))
    gaps = []
    for i, s in enumerate(steps):
        if s > nominal * (1 + 0.02) + POSITION_TOL_MM:
            gaps.append((i, float(s)))
    too_wide = [(i, s) for i, s in gaps if s > MAX_GAP_FACTOR * nominal * _GAP_SLACK]
    if too_wide:
        i, s = too_wide[0]
        a, b = frames[order[i]], frames[order[i + 1]]
        raise IrregularSpacingError(
            f"Gap of {s:.2f} mm between {a.label} and {b.label} (usual spacing {nominal:.2f} mm). "
            f"Rule: gaps up to {MAX_GAP_FACTOR:g} x the usual spacing (one missing slice) are filled "
            "by interpolation; wider ones are refused because the missing anatomy would be invented. "
            "Check that the export is complete."
        )
    m = int(round((ts[-1] - ts[0]) / nominal)) + 1 if uneven else len(order)
    out_step = (ts[-1] - ts[0]) / (m - 1)
    output_t = tuple(float(ts[0] + q * out_step) for q in range(m))
    rel = p - p[0]
    u = _snap(rel @ r / dx, POSITION_TOL_MM / dx)  # in-plane offset of each slice, in output columns
    v = _snap(rel @ c / dy, POSITION_TOL_MM / dy)  # ... and rows
    i_lo, i_hi = math.floor(float(u.min())), math.ceil(float(u.max()))
    j_lo, j_hi = math.floor(float(v.min())), math.ceil(float(v.max()))
    nx_out, ny_out = nx + i_hi - i_lo, ny + j_hi - j_lo
    shifts = tuple((float(i_lo - u[k]), float(j_lo - v[k])) for k in range(len(order)))
    affine = np.eye(4)
    affine[:3, 0] = r * dx
    affine[:3, 1] = c * dy
    affine[:3, 2] = n * out_step
    affine[:3, 3] = p[0] + i_lo * dx * r + j_lo * dy * c
    if sheared:
        drift = (p[-1] - p[0]) - float((p[-1] - p[0]) @ n) * n
        angle = math.degrees(math.atan2(float(np.linalg.norm(drift)), float(ts[-1] - ts[0])))
        header_tilt = frames[order[0]].gantry_tilt
        said = f" (GantryDetectorTilt says {header_tilt:g} degrees)" if header_tilt else ""
        warnings.append(
            f"Gantry tilt: the slices are sheared by {angle:.1f} degrees{said}. The volume was "
            "resampled onto a regular grid perpendicular to the slices, each slice kept at its own "
            f"ImagePositionPatient; the grid grew from {ny} x {nx} to {ny_out} x {nx_out} pixels "
            "(new edge pixels hold the lowest value of the series)."
        )
    if uneven:
        if gaps:
            parts = []
            for i, s in gaps:
                a, b = frames[order[i]], frames[order[i + 1]]
                missing = int(round(s / nominal)) - 1
                what = f"{missing} slice{'s' if missing != 1 else ''} missing" if missing >= 1 else "uneven step"
                parts.append(f"{s:.2f} mm between {a.label} and {b.label} ({what})")
            warnings.append(
                f"Uneven slice spacing (usual {nominal:.2f} mm): " + "; ".join(parts) + ". "
                f"The volume was resampled onto a regular {out_step:.3f} mm grid ({m} slices from "
                f"{len(order)}) by linear interpolation between neighbouring slices."
            )
        else:
            warnings.append(
                f"Slice positions deviate from a regular grid by up to "
                f"{float(np.max(np.abs(ts - np.linspace(ts[0], ts[-1], len(ts))))):.3f} mm; the volume "
                f"was resampled onto a regular {out_step:.3f} mm grid by linear interpolation."
            )
    return StackGeometry(
        tuple(order),
        affine,
        (m, ny_out, nx_out),
        resampled=True,
        input_t=tuple(float(x) for x in ts),
        output_t=output_t,
        shifts=shifts,
        warnings=tuple(warnings),
        label=label,
    )
