"""Label map files: legend, landmarks, grid checks, atomic writes, surface meshes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk

from imaging.errors import LabelMapError
from imaging.files import atomic_write_text
from imaging.labelmap import (
    Label,
    LabelMap,
    Landmarks,
    Legend,
    landmarks_path,
    legend_path,
    read_labelmap,
    write_labelmap,
)
from imaging.mesh import surface_mesh
from imaging.volume import Volume, affine_from_geometry


def _oblique_volume(shape=(12, 14, 16)) -> Volume:
    a = np.deg2rad(25)
    rot = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1.0]])
    return Volume(np.zeros(shape, np.int16), affine_from_geometry((-40.0, 12.5, 300.0), (0.7, 0.9, 2.0), rot))


def test_paths_share_the_stem() -> None:
    assert legend_path("/a/labels.nrrd").name == "labels.json"
    assert legend_path("/a/labels.nii.gz").name == "labels.json"
    assert landmarks_path("/a/seg.mha").name == "seg.landmarks.json"


def test_round_trip_keeps_values_geometry_legend_and_landmarks(tmp_path) -> None:
    vol = _oblique_volume()
    arr = np.zeros(vol.shape, np.uint16)
    arr[2:5, 3:6, 4:9] = 1
    arr[7, 7, 7] = 300  # needs 16 bits
    legend = Legend((Label(300, "popliteal artery", "artery", (216, 60, 50)), Label(1, "femur", "bone")))
    marks = Landmarks(task="knee", target={"name": "joint space", "lps": [1.5, -2.0, 3.25]}, extra={"note": "x"})
    path = write_labelmap(tmp_path / "labels.nrrd", LabelMap(vol.with_array(arr), legend, marks))
    back = read_labelmap(path, reference=vol)
    assert np.array_equal(back.volume.array, arr)
    np.testing.assert_allclose(back.volume.affine, vol.affine, atol=1e-9)
    assert [lab.value for lab in back.legend] == [1, 300]  # sorted by value
    assert back.legend.by_name("popliteal artery").color == (216, 60, 50)
    assert back.landmarks == marks
    assert back.mask("femur").sum() == 3 * 3 * 5
    assert [lab.name for lab in back.present()] == ["femur", "popliteal artery"]
    # The legend file is exactly the documented list of {value, name, kind, color}.
    data = json.loads((tmp_path / "labels.json").read_text())
    assert data[0] == {"value": 1, "name": "femur", "kind": "bone", "color": [160, 160, 160]}
    # An independent reader sees the same LPS geometry.
    img = sitk.ReadImage(str(path))
    np.testing.assert_allclose(img.TransformIndexToPhysicalPoint((4, 3, 2)), vol.index_to_lps([4, 3, 2]), atol=1e-6)


def test_map_on_another_grid_is_refused(tmp_path) -> None:
    vol = _oblique_volume()
    path = write_labelmap(tmp_path / "l.nrrd", LabelMap(vol.with_array(np.zeros(vol.shape, np.uint8)), Legend()))
    shifted = vol.affine.copy()
    shifted[0, 3] += 1.0  # the same grid 1 mm to the left: another series
    other = Volume(np.zeros(vol.shape), shifted)
    with pytest.raises(LabelMapError, match="another study"):
        read_labelmap(path, reference=other)


def test_bad_legends_are_refused_with_reasons(tmp_path) -> None:
    with pytest.raises(LabelMapError, match="unknown kind"):
        Label(1, "x", "organ")
    with pytest.raises(LabelMapError, match="same structure name"):
        Legend((Label(1, "femur", "bone"), Label(2, "femur", "bone")))
    vol = _oblique_volume()
    arr = np.zeros(vol.shape, np.uint8)
    arr[0, 0, 0] = 5
    path = write_labelmap(tmp_path / "l.nrrd", LabelMap(vol.with_array(arr), Legend((Label(1, "a", "bone"),))))
    with pytest.raises(LabelMapError, match="does not list"):
        read_labelmap(path)
    (tmp_path / "l.json").write_text("[{\"value\": 1, \"name\": \"a\"")  # truncated
    with pytest.raises(LabelMapError, match="not valid JSON"):
        read_labelmap(path)
    (tmp_path / "l.json").unlink()
    with pytest.raises(LabelMapError, match="missing"):
        read_labelmap(path)


def test_landmarks_from_a_newer_version_are_refused() -> None:
    with pytest.raises(LabelMapError, match="newer version"):
        Landmarks.from_json({"schema_version": 99})


def test_atomic_write_keeps_one_backup_and_leaves_no_temporary(tmp_path) -> None:
    p = tmp_path / "plan.json"
    atomic_write_text(p, "one")
    atomic_write_text(p, "two", backup=True)
    assert p.read_text() == "two"
    assert (tmp_path / "plan.json.bak").read_text() == "one"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["plan.json", "plan.json.bak"]


def test_surface_mesh_of_a_sphere_on_an_oblique_anisotropic_grid() -> None:
    vol = _oblique_volume((40, 50, 60))
    nz, ny, nx = vol.shape
    k, j, i = np.mgrid[:nz, :ny, :nx]
    lps = vol.index_to_lps(np.stack([i, j, k], -1).reshape(-1, 3)).reshape(nz, ny, nx, 3)
    centre = vol.index_to_lps([30, 25, 20])
    radius = 14.0
    mesh = surface_mesh(np.linalg.norm(lps - centre, axis=-1) <= radius, vol)
    r = np.linalg.norm(mesh.vertices - centre, axis=1)
    assert abs(np.median(r) - radius) < 0.5
    radial = (mesh.vertices - centre) / r[:, None]
    assert np.all(np.sum(radial * mesh.normals, axis=1) > 0.7)  # normals point outwards
    assert mesh.faces.max() < mesh.n_vertices
    assert surface_mesh(np.zeros(vol.shape, bool), vol).is_empty()
