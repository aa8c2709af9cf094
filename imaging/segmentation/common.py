"""Helpers shared by the segmentation modules: a coarse (~2 mm) working grid, thin shells by
shifted ANDs, connected components, per-slice hole filling, progress sub-ranges.

Morphology on a 512 x 512 x 300 CT is done on a ~2 mm grid (integer block factors per axis) and
mapped back; only thin shells (skin) and final masks are made at full resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from imaging.progress import Cancel, Progress, check_cancel, report
from imaging.volume import Volume, affine_from_geometry

__all__ = [
    "bounding_box",
    "CoarseGrid",
    "is_ct",
    "erode_shifted",
    "shell",
    "largest_component",
    "components",
    "fill_holes_slices",
    "fill_holes",
    "ball",
    "Steps",
    "spacing_zyx",
]


def is_ct(volume: Volume) -> bool:
    """True for CT (modality CT, or values that look like Hounsfield units with air near -1000)."""
    mod = (volume.modality or "").upper()
    if mod == "CT":
        return True
    if mod in ("MR", "MRI"):
        return False
    arr = volume.array
    sample = arr[:: max(1, arr.shape[0] // 8), ::4, ::4]
    return bool(np.percentile(sample, 1) < -500)


@dataclass(frozen=True)
class CoarseGrid:
    """An integer down-sampling of a volume's grid to about ``target_mm`` voxels.

    Coarse voxel ``I`` (per axis) covers fine voxels ``I*f .. I*f+f-1``; the fine grid is cropped
    to whole blocks for the block mean, and :meth:`up` pads the edge back."""

    shape: tuple[int, int, int]  # fine (nz, ny, nx)
    factors: tuple[int, int, int]  # (fz, fy, fx)

    @classmethod
    def for_volume(cls, volume: Volume, target_mm: float = 2.0) -> CoarseGrid:
        sp_i, sp_j, sp_k = (float(s) for s in volume.spacing)
        f = tuple(max(1, int(round(target_mm / s))) for s in (sp_k, sp_j, sp_i))
        return cls(volume.shape, f)  # type: ignore[arg-type]

    @property
    def coarse_shape(self) -> tuple[int, int, int]:
        return tuple(max(1, n // f) for n, f in zip(self.shape, self.factors, strict=True))  # type: ignore[return-value]

    @property
    def identity(self) -> bool:
        return self.factors == (1, 1, 1)

    def coarse_volume(self, volume: Volume, array: np.ndarray | None = None) -> Volume:
        """A :class:`Volume` on the coarse grid (voxel centres at the block centres)."""
        fz, fy, fx = self.factors
        offset = np.array([(fx - 1) / 2, (fy - 1) / 2, (fz - 1) / 2])
        new = affine_from_geometry(volume.index_to_lps(offset), volume.spacing * [fx, fy, fz], volume.direction)
        arr = array if array is not None else np.zeros(self.coarse_shape, np.uint8)
        return Volume(arr, new, volume.info)

    def _crop(self, arr: np.ndarray) -> np.ndarray:
        cz, cy, cx = self.coarse_shape
        fz, fy, fx = self.factors
        return arr[: cz * fz, : cy * fy, : cx * fx]

    def down_mean(self, arr: np.ndarray) -> np.ndarray:
        """Block mean (float32)."""
        if self.identity:
            return arr.astype(np.float32, copy=False)
        a = self._crop(arr)
        fz, fy, fx = self.factors
        out = np.zeros(self.coarse_shape, np.float32)
        for dz in range(fz):
            for dy in range(fy):
                for dx in range(fx):
                    out += a[dz::fz, dy::fy, dx::fx]
        out /= fz * fy * fx
        return out

    def down_any(self, mask: np.ndarray) -> np.ndarray:
        """Block OR of a boolean mask."""
        if self.identity:
            return mask.astype(bool, copy=False)
        a = self._crop(mask)
        fz, fy, fx = self.factors
        out = np.zeros(self.coarse_shape, bool)
        for dz in range(fz):
            for dy in range(fy):
                for dx in range(fx):
                    out |= a[dz::fz, dy::fy, dx::fx]
        return out

    def down_fraction(self, mask: np.ndarray) -> np.ndarray:
        """Fraction of each block that is True (float32)."""
        return self.down_mean(mask.view(np.uint8) if mask.dtype == bool else mask)

    def up(self, coarse: np.ndarray) -> np.ndarray:
        """Nearest-neighbour up-sampling back to the fine shape (edge blocks repeated)."""
        if self.identity:
            return coarse
        fz, fy, fx = self.factors
        cz, cy, cx = coarse.shape
        out = np.empty(self.shape, dtype=coarse.dtype)
        core = out[: cz * fz, : cy * fy, : cx * fx].reshape(cz, fz, cy, fy, cx, fx)
        core[...] = coarse[:, None, :, None, :, None]
        nz, ny, nx = self.shape
        # the rim beyond whole blocks repeats the last block
        if nx > cx * fx:
            out[: cz * fz, : cy * fy, cx * fx :] = out[: cz * fz, : cy * fy, cx * fx - 1 : cx * fx]
        if ny > cy * fy:
            out[: cz * fz, cy * fy :, :] = out[: cz * fz, cy * fy - 1 : cy * fy, :]
        if nz > cz * fz:
            out[cz * fz :] = out[cz * fz - 1 : cz * fz]
        return out

    def coarse_index(self, fine_idx: np.ndarray) -> np.ndarray:
        """Coarse (z, y, x) indices of fine (z, y, x) indices (clipped into the coarse grid)."""
        f = np.asarray(self.factors)
        c = np.asarray(fine_idx) // f
        return np.minimum(c, np.asarray(self.coarse_shape) - 1)


def _radii_vox(thickness_mm: float, spacing_zyx: np.ndarray) -> tuple[int, int, int]:
    return tuple(max(1, int(round(thickness_mm / float(s)))) for s in spacing_zyx)  # type: ignore[return-value]


def erode_shifted(mask: np.ndarray, radii: tuple[int, int, int], *, border_inside: bool = True) -> np.ndarray:
    """Erosion by an axis cross of ``radii`` voxels (z, y, x) made from shifted ANDs.

    With ``border_inside`` the region beyond the array counts as inside the mask, so a mask cut by
    the field of view is not eroded at the cut."""
    out = mask.copy()
    for axis, r in enumerate(radii):
        for s in range(1, int(r) + 1):
            if s >= mask.shape[axis]:
                if not border_inside:
                    out[...] = False
                break
            lo = [slice(None)] * 3
            hi = [slice(None)] * 3
            lo[axis] = slice(0, -s)
            hi[axis] = slice(s, None)
            out[tuple(lo)] &= mask[tuple(hi)]
            out[tuple(hi)] &= mask[tuple(lo)]
            if not border_inside:
                edge_lo = [slice(None)] * 3
                edge_hi = [slice(None)] * 3
                edge_lo[axis] = slice(0, s)
                edge_hi[axis] = slice(-s, None)
                out[tuple(edge_lo)] = False
                out[tuple(edge_hi)] = False
    return out


def shell(mask: np.ndarray, thickness_mm: float, spacing_zyx, *, border_inside: bool = True) -> np.ndarray:
    """The outer layer of ``mask``, ``thickness_mm`` thick along every axis (in mm, so equally
    thick on anisotropic grids). Not made where the field of view cuts the mask (``border_inside``)."""
    radii = _radii_vox(thickness_mm, np.asarray(spacing_zyx, dtype=float))
    return mask & ~erode_shifted(mask, radii, border_inside=border_inside)


def bounding_box(mask: np.ndarray, pad, shape) -> tuple[slice, slice, slice] | None:
    """Slices of the smallest box holding every True voxel of ``mask``, grown by ``pad`` voxels
    per axis (z, y, x) and clipped to ``shape``; None when the mask is empty."""
    mask = np.asarray(mask, dtype=bool)
    # projections onto each axis (far cheaper than listing every voxel of a 512 x 512 x 300 mask)
    first = mask.any(axis=0)  # (y, x)
    if not first.any():
        return None
    along = [np.flatnonzero(mask.any(axis=(1, 2))), np.flatnonzero(first.any(axis=1)), np.flatnonzero(first.any(axis=0))]
    lo = np.maximum(np.array([a[0] for a in along]) - np.asarray(pad), 0)
    hi = np.minimum(np.array([a[-1] for a in along]) + 1 + np.asarray(pad), shape)
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))  # type: ignore[return-value]


def components(mask: np.ndarray, *, connectivity: int = 1) -> tuple[np.ndarray, int]:
    """Connected components (face connectivity by default): ``(labels int32, count)``."""
    structure = ndimage.generate_binary_structure(3, connectivity)
    labels, n = ndimage.label(mask, structure=structure)
    return labels, int(n)


def largest_component(mask: np.ndarray, *, connectivity: int = 1) -> np.ndarray:
    """The largest connected component of ``mask`` (empty mask in, empty mask out)."""
    labels, n = components(mask, connectivity=connectivity)
    if n <= 1:
        return labels > 0
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(np.argmax(sizes))


def fill_holes_slices(mask: np.ndarray, axis: int = 0, *, cancel: Cancel | None = None) -> np.ndarray:
    """Fill holes in every 2D slice perpendicular to ``axis`` (0 = axial for (z, y, x) arrays).

    One labelling of the background with in-plane connectivity only: a background region is a
    hole unless it touches its slice's edge."""
    check_cancel(cancel)
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return mask.copy()
    structure = np.zeros((3, 3, 3), bool)
    plane = [slice(None)] * 3
    plane[axis] = 1
    structure[tuple(plane)] = ndimage.generate_binary_structure(2, 1)
    background, _ = ndimage.label(~mask, structure=structure)
    edge = np.zeros(background.max() + 1, bool)
    for ax in range(3):
        if ax == axis:
            continue
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[ax] = 0
        hi[ax] = -1
        edge[background[tuple(lo)]] = True
        edge[background[tuple(hi)]] = True
    edge[0] = True
    return mask | ~edge[background]


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """3D hole filling (face connectivity) by one labelling of the background: a background
    region is a hole unless it touches the array's border. Same result as
    ``scipy.ndimage.binary_fill_holes``, much faster on large arrays."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return mask.copy()
    background, n = ndimage.label(~mask)
    edge = np.zeros(n + 1, bool)
    for ax in range(3):
        for idx in (0, -1):
            sl = [slice(None)] * 3
            sl[ax] = idx
            edge[background[tuple(sl)]] = True
    edge[0] = True
    return mask | ~edge[background]


def ball(radius_mm: float, spacing_zyx) -> np.ndarray:
    """An ellipsoidal structuring element of ``radius_mm`` on a (z, y, x) grid with that spacing."""
    sp = np.asarray(spacing_zyx, dtype=float)
    r = np.maximum(0, np.floor(radius_mm / sp + 1e-6)).astype(int)
    zz, yy, xx = np.ogrid[-r[0] : r[0] + 1, -r[1] : r[1] + 1, -r[2] : r[2] + 1]
    return (zz * sp[0]) ** 2 + (yy * sp[1]) ** 2 + (xx * sp[2]) ** 2 <= radius_mm**2 + 1e-6


class Steps:
    """Maps a sub-task's progress into ``[start, end]`` of the caller's bar and checks cancel."""

    def __init__(self, progress: Progress | None, cancel: Cancel | None, start: float = 0.0, end: float = 1.0):
        self.progress = progress
        self.cancel = cancel
        self.start = start
        self.end = end

    def __call__(self, fraction: float, message: str = "") -> None:
        check_cancel(self.cancel)
        report(self.progress, self.start + (self.end - self.start) * fraction, message)

    def sub(self, a: float, b: float) -> Steps:
        """A child covering fractions ``a``..``b`` of this range."""
        span = self.end - self.start
        return Steps(self.progress, self.cancel, self.start + span * a, self.start + span * b)

    def check(self) -> None:
        check_cancel(self.cancel)


def spacing_zyx(volume: Volume) -> np.ndarray:
    """Voxel size along (z, y, x) array axes, in mm."""
    return np.asarray(volume.spacing, dtype=float)[::-1]
