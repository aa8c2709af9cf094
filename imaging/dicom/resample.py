"""Resample sheared (gantry tilt) or unevenly spaced slices onto a regular grid.

The plan comes from :func:`imaging.dicom.geometry.analyse`. Output plane ``q`` lies at distance
``output_t[q]`` along the slice normal. Where that equals an input slice's distance (always, for
a pure gantry tilt) only that slice is used; otherwise the two input slices that bracket it are
blended linearly by distance. Within an input slice, output pixel ``(i, j)`` is read at
``(i + shift_i, j + shift_j)`` of that slice (bilinear), which is exactly where that slice's own
ImagePositionPatient puts it.
"""

from __future__ import annotations

import math

import numpy as np

from imaging.dicom.geometry import POSITION_TOL_MM, StackGeometry
from imaging.progress import Cancel, Progress, check_cancel, report

__all__ = ["resample_stack", "shift_slice"]


def shift_slice(src: np.ndarray, shift_i: float, shift_j: float, out_shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``src`` (rows, cols) at ``(j + shift_j, i + shift_i)`` for every output pixel
    ``(j, i)`` of ``out_shape``, bilinearly. Returns ``(values float32, valid mask)``."""
    ny, nx = out_shape
    rows, cols = src.shape
    fi, fj = math.floor(shift_i), math.floor(shift_j)
    wi, wj = shift_i - fi, shift_j - fj
    if wi < 1e-6:
        wi = 0.0
    if wj < 1e-6:
        wj = 0.0
    if 1 - wi < 1e-6:
        fi, wi = fi + 1, 0.0
    if 1 - wj < 1e-6:
        fj, wj = fj + 1, 0.0
    # pad the source by one pixel so the +1 neighbour exists at the far edge
    padded = np.zeros((rows + 1, cols + 1), dtype=np.float32)
    padded[:rows, :cols] = src
    valid_src = np.zeros((rows + 1, cols + 1), dtype=bool)
    valid_src[:rows, :cols] = True
    out = np.zeros(out_shape, dtype=np.float32)
    valid = np.zeros(out_shape, dtype=bool)
    # output index range whose base source index (j + fj, i + fi) lies inside the source
    j0, j1 = max(0, -fj), min(ny, rows - fj)
    i0, i1 = max(0, -fi), min(nx, cols - fi)
    if j0 >= j1 or i0 >= i1:
        return out, valid
    sj, si = slice(j0 + fj, j1 + fj), slice(i0 + fi, i1 + fi)
    sj1, si1 = slice(j0 + fj + 1, j1 + fj + 1), slice(i0 + fi + 1, i1 + fi + 1)
    acc = (1 - wj) * (1 - wi) * padded[sj, si]
    ok = valid_src[sj, si].copy()
    if wi:
        acc += (1 - wj) * wi * padded[sj, si1]
        ok &= valid_src[sj, si1]
    if wj:
        acc += wj * (1 - wi) * padded[sj1, si]
        ok &= valid_src[sj1, si]
    if wi and wj:
        acc += wj * wi * padded[sj1, si1]
        ok &= valid_src[sj1, si1]
    out[j0:j1, i0:i1] = acc
    valid[j0:j1, i0:i1] = ok
    return out, valid


def resample_stack(
    slices: np.ndarray,
    geometry: StackGeometry,
    *,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    start: float = 0.0,
    end: float = 1.0,
) -> np.ndarray:
    """Resample ``slices`` (n, rows, cols; in the geometry's slice order) onto the geometry's
    output grid. Integer input stays integer (rounded); pixels no slice covers get the lowest
    value of the input."""
    nz, ny, nx = geometry.shape
    out = np.empty((nz, ny, nx), dtype=slices.dtype)
    fill = slices.min() if slices.size else 0
    in_t = np.asarray(geometry.input_t)
    cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def shifted(k: int) -> tuple[np.ndarray, np.ndarray]:
        if k not in cache:
            if len(cache) > 2:
                cache.clear()
            si, sj = geometry.shifts[k]
            cache[k] = shift_slice(slices[k], si, sj, (ny, nx))
        return cache[k]

    for q, t in enumerate(geometry.output_t):
        check_cancel(cancel)
        report(progress, start + (end - start) * q / nz, f"Resampling ({q} of {nz})")
        k = int(np.searchsorted(in_t, t, side="right")) - 1
        k = min(max(k, 0), len(in_t) - 1)
        if abs(t - in_t[k]) <= POSITION_TOL_MM or k == len(in_t) - 1:
            values, valid = shifted(k)
        elif k + 1 < len(in_t) and abs(in_t[k + 1] - t) <= POSITION_TOL_MM:
            values, valid = shifted(k + 1)
        else:
            w = float((t - in_t[k]) / (in_t[k + 1] - in_t[k]))
            a, va = shifted(k)
            b, vb = shifted(k + 1)
            values = (1 - w) * a + w * b
            valid = va & vb
        plane = out[q]
        if np.issubdtype(out.dtype, np.integer):
            info = np.iinfo(out.dtype)
            np.copyto(plane, np.clip(np.rint(values), info.min, info.max), casting="unsafe")
        else:
            np.copyto(plane, values, casting="unsafe")
        plane[~valid] = fill
    return out
