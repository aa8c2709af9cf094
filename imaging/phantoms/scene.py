"""A phantom's anatomy (structures in a joint's local frame) and its rasterisation onto a grid.

Each :class:`Structure` is a shape (signed distance field), a label name and kind, a tissue (how
it looks on CT and MR) and painting rules: structures are painted in order, ``over`` limits which
labels a structure may replace, and ``forbid`` names labels it must never touch (a vessel running
into a bone is a bug in the phantom, reported as :class:`PhantomError`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from imaging.errors import ImagingError
from imaging.kinds import DEFAULT_COLORS
from imaging.labelmap import Label, Legend
from imaging.phantoms.sdf import Box, Cached, Shape
from imaging.volume import SeriesInfo, Volume, affine_from_geometry

__all__ = ["PhantomError", "Frame", "Grid", "BoneSpec", "Structure", "rasterise", "BACKGROUND"]

BACKGROUND = "background"


class PhantomError(ImagingError):
    """The phantom's anatomy is inconsistent (overlapping structures, a path through bone)."""


@dataclass(frozen=True)
class Frame:
    """A joint's local frame: ``origin`` in LPS mm; ``lateral`` is -1 for a right-sided joint
    (lateral = patient right = -x) and +1 for a left one. Local axes: l lateral, a anterior
    (-y), s superior (+z)."""

    origin: tuple[float, float, float]
    lateral: int

    @property
    def signs(self) -> np.ndarray:
        return np.array([self.lateral, -1.0, 1.0])

    def to_lps(self, local: Sequence[float] | np.ndarray) -> np.ndarray:
        return np.asarray(self.origin, float) + self.signs * np.asarray(local, float)

    def to_local(self, lps: Sequence[float] | np.ndarray) -> np.ndarray:
        return (np.asarray(lps, float) - np.asarray(self.origin, float)) * self.signs


_GRID_IDS = iter(range(1, 1 << 30))


class Grid:
    """A regular voxel grid whose axes run along LPS axes (axial or sagittal), in a frame."""

    def __init__(self, frame: Frame, shape: tuple[int, int, int], origin: np.ndarray, spacing: np.ndarray, direction: np.ndarray):
        self.frame = frame
        self.shape = shape
        self.origin = np.asarray(origin, float)
        self.spacing = np.asarray(spacing, float)
        self.direction = np.asarray(direction, float)
        self.affine = affine_from_geometry(self.origin, self.spacing, self.direction)
        self.grid_id = next(_GRID_IDS)
        # for each LPS axis c: the index axis along which it varies and the step sign
        self.index_axis = [int(np.argmax(np.abs(self.direction[c]))) for c in range(3)]
        self.sign = [float(np.sign(self.direction[c, self.index_axis[c]])) for c in range(3)]

    @classmethod
    def make(
        cls,
        frame: Frame,
        lo_local: Sequence[float],
        hi_local: Sequence[float],
        spacing: Sequence[float],
        direction: np.ndarray | None = None,
    ) -> Grid:
        """Grid covering the local box ``[lo, hi]`` with ``spacing`` along (i, j, k) and the given
        direction (columns = LPS directions of i, j, k; identity = axial)."""
        d = np.eye(3) if direction is None else np.asarray(direction, float)
        a = frame.to_lps(lo_local)
        b = frame.to_lps(hi_local)
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        sp = np.asarray(spacing, float)
        n = [0, 0, 0]
        origin = np.zeros(3)
        for ax in range(3):
            c = int(np.argmax(np.abs(d[:, ax])))
            n[ax] = int(round((hi[c] - lo[c]) / sp[ax])) + 1
            origin[c] = lo[c] if d[c, ax] > 0 else lo[c] + (n[ax] - 1) * sp[ax]
        return cls(frame, (n[2], n[1], n[0]), origin, sp, d)

    def volume(self, array: np.ndarray, info: SeriesInfo | None = None) -> Volume:
        return Volume(array, self.affine, info or SeriesInfo())

    def _index_range(self, lo_local: np.ndarray, hi_local: np.ndarray) -> list[tuple[int, int]] | None:
        a = self.frame.to_lps(lo_local)
        b = self.frame.to_lps(hi_local)
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        ranges: list[tuple[int, int]] = [(0, 0)] * 3
        size = (self.shape[2], self.shape[1], self.shape[0])
        for c in range(3):
            ax = self.index_axis[c]
            step = self.sign[c] * self.spacing[ax]
            i0 = (lo[c] - self.origin[c]) / step
            i1 = (hi[c] - self.origin[c]) / step
            i0, i1 = min(i0, i1), max(i0, i1)
            start = max(0, int(np.ceil(i0 - 1e-9)))
            stop = min(size[ax], int(np.floor(i1 + 1e-9)) + 1)
            if stop <= start:
                return None
            ranges[ax] = (start, stop)
        return ranges

    def box(self, lo_local: Sequence[float] | None = None, hi_local: Sequence[float] | None = None) -> Box | None:
        """The voxels whose centres lie in the local box (the whole grid when not given)."""
        if lo_local is None or hi_local is None:
            ranges = [(0, self.shape[2]), (0, self.shape[1]), (0, self.shape[0])]
        else:
            found = self._index_range(np.asarray(lo_local, float), np.asarray(hi_local, float))
            if found is None:
                return None
            ranges = found
        slices = [slice(0, 0)] * 3
        for ax in range(3):
            slices[2 - ax] = slice(*ranges[ax])
        vecs, axes = [], []
        signs = self.frame.signs
        f = np.asarray(self.frame.origin, float)
        for c in range(3):
            ax = self.index_axis[c]
            idx = np.arange(*ranges[ax], dtype=float)
            lps = self.origin[c] + self.sign[c] * self.spacing[ax] * idx
            vecs.append(signs[c] * (lps - f[c]))
            axes.append(2 - ax)
        return Box(vecs, axes, tuple(slices), self.grid_id)  # type: ignore[arg-type]

    def local_coords(self, axis: int) -> tuple[np.ndarray, int]:
        """The local coordinate ``axis`` (0 l, 1 a, 2 s) of every voxel as a 1D vector and the
        array axis it varies along."""
        box = self.box()
        assert box is not None
        return box.vecs[axis].astype(np.float64), box.axes[axis]


@dataclass(frozen=True)
class BoneSpec:
    """How a bone looks inside: cortical thickness (mm) and fatty fraction of the marrow (0-1),
    each a function of the local superior coordinate ``s`` (or of distance along the bone)."""

    cortex_mm: Callable[[np.ndarray], np.ndarray]
    marrow_fat: Callable[[np.ndarray], np.ndarray]


@dataclass
class Structure:
    """One labelled structure."""

    name: str
    kind: str
    shape: Shape
    tissue: str
    over: tuple[str, ...] | None = None
    forbid: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()
    bone: BoneSpec | None = None
    diameter_mm: float | None = None
    color: tuple[int, int, int] | None = None
    label: bool = True
    info: dict = field(default_factory=dict)


def legend_of(structures: Sequence[Structure]) -> tuple[Legend, dict[str, int]]:
    """Label values in painting order (1, 2, ...); structures with the same name share one value."""
    values: dict[str, int] = {}
    labels = []
    for st in structures:
        if st.name in values:
            continue
        values[st.name] = len(values) + 1
        labels.append(Label(values[st.name], st.name, st.kind, tuple(st.color or DEFAULT_COLORS[st.kind])))  # type: ignore[arg-type]
    return Legend(tuple(labels)), values


def rasterise(structures: Sequence[Structure], grid: Grid) -> tuple[np.ndarray, Legend]:
    """Paint the structures onto ``grid`` in order; return the label array and its legend."""
    legend, values = legend_of(structures)
    labels = np.zeros(grid.shape, dtype=np.uint8)
    clear_caches(structures)
    for st in structures:  # bones and the body outline are asked for by many structures
        if isinstance(st.shape, Cached):
            box = grid.box(st.shape.lo, st.shape.hi)
            if box is not None:
                st.shape.prime(box)
    for st in structures:
        box = grid.box(st.shape.lo, st.shape.hi)
        if box is None:
            continue
        d = np.broadcast_to(st.shape(box), box.shape)
        mask = d <= 0
        if not mask.any():
            continue
        region = labels[box.slices]
        if st.forbid:
            bad = [values.get(n, -1) if n != BACKGROUND else 0 for n in st.forbid]
            hit = mask & np.isin(region, bad)
            if st.keep:
                hit &= ~np.isin(region, [values[n] for n in st.keep if n in values])
            if hit.any():
                names = sorted({legend.by_value(int(v)).name if v else BACKGROUND for v in np.unique(region[hit])})
                where = np.argwhere(hit).mean(axis=0).astype(int)
                at = [float(np.ravel(box.coords[c])[where[box.axes[c]]]) for c in range(3)]
                raise PhantomError(
                    f"{st.name} overlaps {', '.join(names)} in {int(hit.sum())} voxels "
                    f"(around local l, a, s = {at[0]:.0f}, {at[1]:.0f}, {at[2]:.0f} mm)."
                )
        if st.over is not None:
            allowed = [values.get(n, -1) if n != BACKGROUND else 0 for n in st.over]
            mask &= np.isin(region, allowed)
        if st.keep:
            mask &= ~np.isin(region, [values[n] for n in st.keep if n in values])
        region[mask] = values[st.name]
    for st in structures:
        if st.info.get("outer_layer"):
            _close_outer_layer(labels, values[st.name])
        if st.info.get("one_piece_else"):
            _keep_largest_piece(labels, values[st.name], values[st.info["one_piece_else"]])
    clear_caches(structures)
    return labels, legend


def _close_outer_layer(labels: np.ndarray, value: int) -> None:
    """Make every labelled voxel that touches the outside air (6-neighbours) part of the outer
    layer (skin): a thin shell sampled on thick slices can otherwise leave gaps where the body
    outline changes quickly from slice to slice."""
    from scipy import ndimage

    air = labels == 0
    comp, n = ndimage.label(air)
    if n > 1:  # pockets of air enclosed by the body (a crease of the outline): not air
        border = np.zeros_like(air)
        border[[0, -1], :, :] = border[:, [0, -1], :] = border[:, :, [0, -1]] = True
        outside = np.unique(comp[border & air])
        pocket = air & ~np.isin(comp, outside)
        labels[pocket] = value
        air &= ~pocket
    edge = ndimage.binary_dilation(air) & ~air
    labels[edge & ~np.isin(labels, [value])] = value


def _keep_largest_piece(labels: np.ndarray, value: int, fallback: int) -> None:
    """Relabel every piece of ``value`` but the largest (26-connected) as ``fallback``: crumbs
    that the grid cut off from a cavity are not cavity."""
    from scipy import ndimage

    mask = labels == value
    comp, n = ndimage.label(mask, structure=np.ones((3, 3, 3)))
    if n <= 1:
        return
    sizes = np.bincount(comp.ravel())
    sizes[0] = 0
    labels[(comp > 0) & (comp != int(np.argmax(sizes)))] = fallback


def clear_caches(structures: Sequence[Structure]) -> None:
    seen = set()

    def visit(shape: object) -> None:
        if id(shape) in seen:
            return
        seen.add(id(shape))
        if isinstance(shape, Cached):
            shape.clear()
        for attr in ("shape", "shapes", "a", "b"):
            child = getattr(shape, attr, None)
            if isinstance(child, tuple):
                for c in child:
                    visit(c)
            elif isinstance(child, Shape):
                visit(child)

    for st in structures:
        visit(st.shape)
