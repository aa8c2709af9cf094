"""Label surfaces for the 3D view: computed on each structure's bounding box, they equal the
surface of the whole-volume mask (oblique grid), and wrapping kinds are left out."""

from __future__ import annotations

import numpy as np
import pytest

from imaging.errors import CancelledError
from imaging.labelmap import Label, LabelMap, Legend
from imaging.mesh import surface_mesh
from imaging.volume import Volume, affine_from_geometry
from ui.label_surfaces import label_meshes


def _labelmap():
    a = np.radians(25)
    direction = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    vol = Volume(np.zeros((30, 40, 50), np.uint8), affine_from_geometry((10, -20, 5), (0.8, 0.9, 2.0), direction))
    z, y, x = np.ogrid[:30, :40, :50]
    arr = np.ones((30, 40, 50), np.uint8)  # the rest of the body: kind other
    arr[((z - 15) / 6.0) ** 2 + ((y - 12) / 5.0) ** 2 + ((x - 14) / 7.0) ** 2 < 1] = 2  # bone
    arr[((z - 10) / 4.0) ** 2 + ((y - 28) / 6.0) ** 2 + ((x - 35) / 5.0) ** 2 < 1] = 3  # target
    legend = Legend((Label(1, "soft tissue", "other"), Label(2, "femur", "bone"), Label(3, "joint space", "target"),
                     Label(4, "skin", "skin")))
    return LabelMap(vol.with_array(arr), legend)


def test_cropped_surfaces_equal_whole_volume_surfaces():
    lm = _labelmap()
    meshes = label_meshes(lm)
    assert set(meshes) == {2, 3}  # not "other" (and "skin" is absent)
    for value, mesh in meshes.items():
        full = surface_mesh(lm.volume.array == value, lm.volume)
        assert mesh.vertices.shape == full.vertices.shape
        np.testing.assert_allclose(np.sort(mesh.vertices, axis=0), np.sort(full.vertices, axis=0), atol=1e-4)
        # in LPS: the vertices lie around the structure's voxels
        k, j, i = np.nonzero(lm.volume.array == value)
        centre = lm.volume.index_to_lps(np.stack([i, j, k], -1).mean(axis=0))
        assert np.linalg.norm(mesh.vertices.mean(axis=0) - centre) < 2.0


def test_progress_and_cancel():
    lm = _labelmap()
    seen = []
    label_meshes(lm, progress=lambda f, m="": seen.append(f))
    assert seen[-1] == 1.0 and seen == sorted(seen)
    with pytest.raises(CancelledError):
        label_meshes(lm, cancel=lambda: True)
