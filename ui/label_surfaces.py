"""Surfaces of a label map's structures for the 3D view, as core meshes (numpy, LPS).

Runs on a worker thread; only core functions (:func:`imaging.mesh.surface_mesh`) and the
:class:`~imaging.volume.Volume` API, no Qt or VTK."""

from __future__ import annotations

import numpy as np

from imaging.errors import CancelledError
from imaging.labelmap import LabelMap
from imaging.mesh import Mesh, surface_mesh
from imaging.volume import Volume, affine_from_geometry

NO_SURFACE_KINDS = ("other", "fat", "muscle", "skin")


def label_meshes(labelmap: LabelMap, *, progress=None, cancel=None) -> dict[int, Mesh]:
    """A surface per labelled structure present, for the 3D view; not the rest of the body
    (kind ``other``), fat, muscle or the skin layer, which would only wrap the rest (a thin
    translucent shell also shimmers in software rendering). Coarser (every second voxel) on large
    studies."""
    vol = labelmap.volume
    step = 1 if vol.array.size <= 6_000_000 else 2
    labels = [lab for lab in labelmap.present() if lab.kind not in NO_SURFACE_KINDS]
    out: dict[int, Mesh] = {}
    for n, lab in enumerate(labels):
        if cancel is not None and cancel():
            raise CancelledError("Cancelled.")
        if progress is not None:
            progress(n / max(len(labels), 1), f"Surface of {lab.name}")
        out[lab.value] = _cropped_surface(vol, lab.value, step)
    if progress is not None:
        progress(1.0, "Surfaces done")
    return out


def _cropped_surface(vol: Volume, value: int, step: int) -> Mesh:
    """The surface of one label, computed on its bounding box (plus a margin) only."""
    mask = vol.array == value
    nz = [np.nonzero(mask.any(axis=a))[0] for a in ((1, 2), (0, 2), (0, 1))]
    lo = [max(int(n[0]) - 3, 0) for n in nz]
    hi = [min(int(n[-1]) + 4, size) for n, size in zip(nz, vol.shape, strict=True)]
    crop = mask[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
    origin = vol.index_to_lps((lo[2], lo[1], lo[0]))
    sub = Volume(crop, affine_from_geometry(origin, vol.spacing, vol.direction))
    return surface_mesh(crop, sub, step=step)
