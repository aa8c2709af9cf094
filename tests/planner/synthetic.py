"""Synthetic label maps for planner tests: spheres, cylinders and slabs on any grid (oblique,
anisotropic), with analytic signed distances to compare against."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from imaging.labelmap import Label, LabelMap, Landmarks, Legend
from imaging.volume import Volume, affine_from_geometry

Inside = Callable[[np.ndarray], np.ndarray]


def rotation(axis: Sequence[float], angle_deg: float) -> np.ndarray:
    """Rotation matrix about ``axis`` (Rodrigues)."""
    a = np.asarray(axis, dtype=float)
    a = a / np.linalg.norm(a)
    t = np.radians(angle_deg)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + np.sin(t) * k + (1 - np.cos(t)) * (k @ k)


def grid(shape_zyx: Sequence[int], spacing: Sequence[float], direction: np.ndarray | None = None, centre: Sequence[float] = (0, 0, 0)) -> Volume:
    """An empty uint16 volume of ``shape_zyx`` whose centre lies at ``centre`` (LPS)."""
    direction = np.eye(3) if direction is None else np.asarray(direction, dtype=float)
    nz, ny, nx = shape_zyx
    aff = affine_from_geometry((0, 0, 0), spacing, direction)
    mid = aff[:3, :3] @ ((np.array([nx, ny, nz]) - 1) / 2.0)
    aff = affine_from_geometry(np.asarray(centre, float) - mid, spacing, direction)
    return Volume(np.zeros(tuple(shape_zyx), dtype=np.uint16), aff)


@dataclass(frozen=True)
class Sphere:
    centre: tuple[float, float, float]
    radius: float

    def inside(self, p: np.ndarray) -> np.ndarray:
        return np.linalg.norm(p - np.asarray(self.centre), axis=-1) <= self.radius

    def sdf(self, p: np.ndarray) -> np.ndarray:
        return np.linalg.norm(np.asarray(p) - np.asarray(self.centre), axis=-1) - self.radius


@dataclass(frozen=True)
class Cylinder:
    """Infinite cylinder around the line through ``point`` along ``axis``."""

    point: tuple[float, float, float]
    axis: tuple[float, float, float]
    radius: float

    def _r(self, p: np.ndarray) -> np.ndarray:
        a = np.asarray(self.axis, float) / np.linalg.norm(self.axis)
        rel = np.asarray(p) - np.asarray(self.point)
        return np.linalg.norm(rel - (rel @ a)[..., None] * a, axis=-1)

    def inside(self, p: np.ndarray) -> np.ndarray:
        return self._r(p) <= self.radius

    def sdf(self, p: np.ndarray) -> np.ndarray:
        return self._r(p) - self.radius


@dataclass(frozen=True)
class Slab:
    """Points whose projection on ``normal`` from ``point`` lies in [0, thickness]."""

    point: tuple[float, float, float]
    normal: tuple[float, float, float]
    thickness: float

    def _s(self, p: np.ndarray) -> np.ndarray:
        n = np.asarray(self.normal, float) / np.linalg.norm(self.normal)
        return (np.asarray(p) - np.asarray(self.point)) @ n

    def inside(self, p: np.ndarray) -> np.ndarray:
        s = self._s(p)
        return (s >= 0) & (s <= self.thickness)

    def sdf(self, p: np.ndarray) -> np.ndarray:
        s = self._s(p)
        return np.maximum(-s, s - self.thickness)


def voxel_lps(vol: Volume) -> np.ndarray:
    kk, jj, ii = np.meshgrid(*(np.arange(n) for n in vol.shape), indexing="ij")
    return vol.index_to_lps(np.stack([ii, jj, kk], -1).astype(float))


def labelmap(vol: Volume, structures: Sequence[tuple[str, str, object]], *, body: object | None = "all", target_lps: Sequence[float] | None = None) -> LabelMap:
    """Paint ``structures`` [(name, kind, shape)] in order (later ones win) over a body label
    "soft tissue" (kind other) that fills the grid (``body="all"``), a shape, or nothing (None)."""
    p = voxel_lps(vol)
    arr = np.zeros(vol.shape, dtype=np.uint16)
    labels = []
    value = 1
    if body is not None:
        arr[...] = value if body == "all" else 0
        if body != "all":
            arr[body.inside(p)] = value  # type: ignore[union-attr]
        labels.append(Label(value, "soft tissue", "other"))
        value += 1
    for name, kind, shape in structures:
        arr[shape.inside(p)] = value  # type: ignore[attr-defined]
        labels.append(Label(value, name, kind))
        value += 1
    tname = next((lab.name for lab in labels if lab.kind == "target"), "target")
    lm = Landmarks(task="synthetic", target={"name": tname, "lps": list(target_lps)}) if target_lps is not None else None
    return LabelMap(vol.with_array(arr), Legend(tuple(labels)), lm)
