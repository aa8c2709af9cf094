"""Volume geometry, checked against SimpleITK's own index<->physical transforms."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from imaging.errors import GeometryError
from imaging.volume import SeriesInfo, Volume, affine_from_geometry


def rotation(axis, angle_deg):
    a = np.radians(angle_deg)
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * k @ k


DIRECTIONS = {
    "identity": np.eye(3),
    "flipped_xy": np.diag([-1.0, -1.0, 1.0]),
    "flipped_z_left_handed": np.diag([1.0, 1.0, -1.0]),
    "sagittal": np.array([[0, 0, 1], [1, 0, 0], [0, -1, 0]], float),
    "oblique": rotation([1, 2, 3], 27.0),
    "oblique_flipped": rotation([0.3, -1, 0.2], 61.0) @ np.diag([1.0, -1.0, 1.0]),
}


def sitk_image(shape_zyx, spacing, origin, direction):
    img = sitk.Image(int(shape_zyx[2]), int(shape_zyx[1]), int(shape_zyx[0]), sitk.sitkInt16)
    img.SetSpacing(spacing)
    img.SetOrigin(origin)
    img.SetDirection(tuple(np.asarray(direction).ravel()))
    return img


@pytest.mark.parametrize("name", sorted(DIRECTIONS))
def test_index_to_lps_matches_simpleitk(name):
    direction = DIRECTIONS[name]
    spacing, origin = (0.7, 1.3, 2.5), (-120.5, 33.25, 410.0)
    shape = (7, 11, 13)
    vol = Volume(np.zeros(shape, np.int16), affine_from_geometry(origin, spacing, direction))
    img = sitk_image(shape, spacing, origin, direction)
    rng = np.random.default_rng(1)
    idx = rng.uniform(-2, 14, size=(50, 3))
    ours = vol.index_to_lps(idx)
    ref = np.array([img.TransformContinuousIndexToPhysicalPoint(tuple(map(float, p))) for p in idx])
    np.testing.assert_allclose(ours, ref, atol=1e-9)
    back = vol.lps_to_index(ref)
    ref_back = np.array([img.TransformPhysicalPointToContinuousIndex(tuple(map(float, p))) for p in ref])
    np.testing.assert_allclose(back, ref_back, atol=1e-9)
    np.testing.assert_allclose(vol.spacing, spacing)
    np.testing.assert_allclose(vol.direction, direction, atol=1e-12)
    np.testing.assert_allclose(vol.origin, origin)


def test_vectorised_shapes():
    vol = Volume(np.zeros((2, 3, 4)), affine_from_geometry((1, 2, 3), (1, 1, 1), np.eye(3)))
    pts = np.zeros((5, 6, 3))
    assert vol.index_to_lps(pts).shape == (5, 6, 3)
    assert vol.lps_to_index(pts).shape == (5, 6, 3)
    np.testing.assert_allclose(vol.index_to_lps([1, 1, 1]), [2, 3, 4])


def test_from_sitk_roundtrip_keeps_array_and_geometry():
    direction = DIRECTIONS["oblique_flipped"]
    img = sitk_image((5, 6, 7), (0.5, 0.6, 3.0), (10.0, -20.0, 30.0), direction)
    arr = np.arange(5 * 6 * 7, dtype=np.int16).reshape(5, 6, 7)
    img2 = sitk.GetImageFromArray(arr)
    img2.CopyInformation(img)
    vol = Volume.from_sitk(img2, SeriesInfo(modality="CT"))
    assert vol.shape == (5, 6, 7)
    assert vol.array[2, 3, 4] == arr[2, 3, 4]
    # voxel (i=4, j=3, k=2) sits where SimpleITK says
    np.testing.assert_allclose(vol.index_to_lps([4, 3, 2]), img2.TransformIndexToPhysicalPoint((4, 3, 2)), atol=1e-9)
    back = vol.to_sitk()
    assert back.GetSize() == img2.GetSize()
    np.testing.assert_allclose(back.GetOrigin(), img2.GetOrigin())
    np.testing.assert_allclose(back.GetDirection(), img2.GetDirection(), atol=1e-12)
    assert np.array_equal(sitk.GetArrayFromImage(back), arr)


def test_world_bounds_axis_aligned():
    vol = Volume(np.zeros((10, 20, 30)), affine_from_geometry((0, 0, 0), (1, 2, 3), np.diag([-1, 1, 1])))
    lo, hi = vol.world_bounds(voxel_edges=False)
    np.testing.assert_allclose(lo, [-29, 0, 0])
    np.testing.assert_allclose(hi, [0, 38, 27])
    lo, hi = vol.world_bounds()
    np.testing.assert_allclose(lo, [-29.5, -1, -1.5])
    np.testing.assert_allclose(hi, [0.5, 39, 28.5])


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_flip_keeps_every_voxel_in_place(axis):
    rng = np.random.default_rng(axis)
    vol = Volume(rng.integers(0, 1000, (4, 5, 6)).astype(np.int16),
                 affine_from_geometry((3, -4, 5), (0.8, 0.9, 2.0), DIRECTIONS["oblique"]))
    flipped = vol.flip(axis)
    pts = vol.index_to_lps(np.array([[i, j, k] for i in range(6) for j in range(5) for k in range(4)], float))
    np.testing.assert_array_equal(flipped.value_at(pts), vol.value_at(pts))


def test_oriented_like_dicom_axial():
    vol = Volume(np.zeros((4, 5, 6)), affine_from_geometry((0, 0, 0), (1, 1, 1), np.diag([-1, -1, 1])))
    std = vol.oriented_like_dicom_axial()
    np.testing.assert_allclose(std.direction, np.eye(3))
    np.testing.assert_allclose(sorted(map(tuple, std.corner_centres())), sorted(map(tuple, vol.corner_centres())))


def test_resample_preserves_positions():
    # a linear ramp in LPS x is reproduced exactly by linear interpolation anywhere inside
    aff = affine_from_geometry((0, 0, 0), (1.0, 1.0, 2.0), DIRECTIONS["oblique"])
    vol0 = Volume(np.zeros((20, 20, 20), np.float32), aff)
    kk, jj, ii = np.meshgrid(np.arange(20), np.arange(20), np.arange(20), indexing="ij")
    xyz = vol0.index_to_lps(np.stack([ii, jj, kk], -1))
    vol = vol0.with_array((2.0 * xyz[..., 0] + 0.5 * xyz[..., 2]).astype(np.float32))
    ref = Volume(np.zeros((8, 9, 10), np.float32), affine_from_geometry(vol.centre_lps() - 4, (0.9, 0.8, 0.7), np.eye(3)))
    out = vol.resample_like(ref)
    assert out.same_grid(ref)
    kk, jj, ii = np.meshgrid(np.arange(8), np.arange(9), np.arange(10), indexing="ij")
    p = ref.index_to_lps(np.stack([ii, jj, kk], -1))
    np.testing.assert_allclose(out.array, 2.0 * p[..., 0] + 0.5 * p[..., 2], atol=1e-3)


def test_resample_to_spacing_keeps_extent_and_dtype():
    vol = Volume(np.full((10, 10, 10), 7, np.int16), affine_from_geometry((1, 2, 3), (3, 3, 3), np.eye(3)))
    out = vol.resample_to_spacing(1.5)
    assert out.shape == (19, 19, 19)
    assert out.array.dtype == np.int16
    np.testing.assert_allclose(out.origin, vol.origin)
    assert np.all(out.array == 7)


def test_step_along():
    vol = Volume(np.zeros((3, 3, 3)), affine_from_geometry((0, 0, 0), (0.5, 0.7, 3.0), np.eye(3)))
    assert vol.step_along([0, 0, 1]) == pytest.approx(3.0)
    assert vol.step_along([0, -1, 0]) == pytest.approx(0.7)


@pytest.mark.parametrize(
    "array, affine",
    [
        (np.zeros((3, 3)), np.eye(4)),
        (np.zeros((3, 3, 3)), np.eye(3)),
        (np.zeros((3, 3, 3)), np.diag([1.0, 0.0, 1.0, 1.0])),
    ],
)
def test_bad_geometry_is_refused(array, affine):
    with pytest.raises(GeometryError):
        Volume(array, affine)


def test_affine_is_read_only():
    vol = Volume(np.zeros((2, 2, 2)), np.eye(4))
    with pytest.raises(ValueError):
        vol.affine[0, 0] = 5
