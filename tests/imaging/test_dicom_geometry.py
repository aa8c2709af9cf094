"""Irregular stacks: gantry tilt and gaps are resampled honestly, the rest is refused by rule.

The synthetic series below hold a known linear function of the LPS position, so every voxel of
the loaded volume can be checked against the truth at its own centre (linear interpolation of a
linear function is exact)."""

from __future__ import annotations

import math

import numpy as np
import pydicom
import pytest

import imaging
from imaging.dicom.geometry import MAX_GAP_FACTOR, orientation_label
from imaging.dicom.write import SeriesUids
from imaging.errors import IrregularSpacingError, NotAVolumeError
from imaging.volume import SeriesInfo, Volume
from tests.helpers import voxel_centres
from tests.imaging import dicom_factory as fac


def truth(lps):
    return 100.0 + 2.0 * lps[..., 0] - 3.0 * lps[..., 1] + 4.0 * lps[..., 2]


def linear_series(folder, affine, shape=(6, 20, 16)):
    """An MR series whose voxels hold truth(LPS); ``affine`` may be sheared (gantry tilt)."""
    vol = Volume(np.zeros(shape, np.float32), affine, SeriesInfo(modality="MR"))
    vol = vol.with_array(truth(voxel_centres(vol)).astype(np.float32))
    return vol, fac.series(folder, vol)


def check_truth(loaded, fill_ok=True, atol=0.05):
    values = loaded.array.astype(float)
    expected = truth(voxel_centres(loaded))
    covered = values != values.min() if fill_ok else np.ones(values.shape, bool)
    assert covered.mean() > 0.7
    np.testing.assert_allclose(values[covered], expected[covered], atol=atol)


def tilted_affine(tilt_deg, dz=2.0, dx=0.9, dy=1.1):
    t = math.radians(tilt_deg)
    a = np.eye(4)
    a[:3, 0] = [dx, 0, 0]
    a[:3, 1] = np.array([0, math.cos(t), -math.sin(t)]) * dy
    a[:3, 2] = [0, 0, dz]  # the table moves along z; the slices are tilted: a sheared grid
    a[:3, 3] = [-7.0, 12.0, 30.0]
    return a


def test_gantry_tilt_is_resampled_onto_an_orthogonal_grid(tmp_path):
    _, paths = linear_series(tmp_path, tilted_affine(20.0))
    loaded = imaging.load(tmp_path)
    assert "Gantry tilt" in loaded.warnings[0] and "20.0 degrees" in loaded.warnings[0]
    d = loaded.direction
    np.testing.assert_allclose(d.T @ d, np.eye(3), atol=1e-9)
    # slices keep their planes: the k axis is the slice normal, spacing dz * cos(tilt)
    np.testing.assert_allclose(loaded.spacing[2], 2.0 * math.cos(math.radians(20.0)), atol=1e-3)
    check_truth(loaded)
    # each original slice's first pixel lies on a voxel centre of the volume
    for p in paths:
        ipp = np.array(pydicom.dcmread(p).ImagePositionPatient, float)
        idx = loaded.lps_to_index(ipp)
        assert abs(idx[2] - round(idx[2])) < 1e-4 and abs(idx[0] - round(idx[0])) < 1e-4


def test_missing_slice_is_interpolated(tmp_path):
    vol, paths = linear_series(tmp_path, fac.volume(direction=fac.OBLIQUE).affine, shape=(7, 12, 10))
    paths[3].unlink()
    loaded = imaging.load(tmp_path)
    assert loaded.shape == vol.shape
    (w,) = loaded.warnings
    assert f"between {paths[2].name} and {paths[4].name}" in w and "1 slice missing" in w
    np.testing.assert_allclose(loaded.affine, vol.affine, atol=1e-4)
    check_truth(loaded, fill_ok=False)


def test_tilt_and_gap_together(tmp_path):
    _, paths = linear_series(tmp_path, tilted_affine(12.0), shape=(7, 20, 16))
    paths[2].unlink()
    loaded = imaging.load(tmp_path)
    assert len(loaded.warnings) == 2
    check_truth(loaded)


def test_a_gap_wider_than_the_rule_is_refused(tmp_path):
    _, paths = linear_series(tmp_path, fac.volume().affine, shape=(8, 6, 6))
    paths[3].unlink()
    paths[4].unlink()
    with pytest.raises(IrregularSpacingError, match=f"gaps up to {MAX_GAP_FACTOR:g} x the usual spacing") as exc:
        imaging.load(tmp_path)
    assert paths[2].name in str(exc.value) and paths[5].name in str(exc.value)
    assert isinstance(exc.value, NotAVolumeError)


def test_jittered_positions_are_resampled_with_a_warning(tmp_path):
    vol, paths = linear_series(tmp_path, fac.volume().affine, shape=(6, 6, 6))
    ds = pydicom.dcmread(paths[2])
    ipp = [float(v) for v in ds.ImagePositionPatient]
    ds.ImagePositionPatient = [ipp[0], ipp[1], ipp[2] + 0.3]
    ds.save_as(paths[2])
    loaded = imaging.load(tmp_path)
    assert loaded.warnings and "resampled" in loaded.warnings[0]
    assert loaded.shape == vol.shape


def test_slice_spacing_comes_from_positions_not_thickness(tmp_path):
    vol = fac.volume(spacing=(0.7, 0.7, 2.5))
    paths = fac.series(tmp_path, vol)
    for p in paths:
        fac.rewrite(p, SliceThickness="5", SpacingBetweenSlices="5")
    loaded = imaging.load(tmp_path)
    np.testing.assert_allclose(loaded.spacing, [0.7, 0.7, 2.5], atol=1e-6)


def test_instance_numbers_in_any_order(tmp_path):
    vol = fac.volume(direction=fac.OBLIQUE)
    paths = fac.series(tmp_path, vol)
    rng = np.random.default_rng(3)
    for p, n in zip(paths, rng.permutation(len(paths)) + 1, strict=True):
        fac.rewrite(p, InstanceNumber=int(n))
    loaded = imaging.load(tmp_path)
    np.testing.assert_allclose(loaded.affine, vol.affine, atol=1e-4)
    np.testing.assert_array_equal(loaded.array, vol.array)


def test_single_slice_uses_spacing_between_slices(tmp_path):
    vol = fac.volume(shape=(1, 8, 8))
    (path,) = fac.series(tmp_path, vol)
    fac.rewrite(path, SliceThickness="3", SpacingBetweenSlices="4")
    loaded = imaging.load(tmp_path)
    assert loaded.shape == (1, 8, 8)
    np.testing.assert_allclose(loaded.spacing[2], 4.0)
    np.testing.assert_allclose(loaded.origin, vol.origin, atol=1e-4)


def test_mismatched_sizes_are_not_one_volume(tmp_path):
    uids = SeriesUids.from_seed("one series")
    a = fac.series(tmp_path / "a", fac.volume(shape=(3, 8, 8)), uids=uids)
    b = fac.series(tmp_path / "b", fac.volume(shape=(3, 8, 10), origin=(0, 0, 200)), uids=uids)
    with pytest.raises(NotAVolumeError, match="separate stacks"):
        imaging.dicom.load_files(a + b)


def test_orientation_labels():
    assert orientation_label((1, 0, 0, 0, 1, 0)) == "axial"
    assert orientation_label((0, 1, 0, 0, 0, -1)) == "sagittal"
    assert orientation_label((1, 0, 0, 0, 0, -1)) == "coronal"
    assert orientation_label((0.609, 0.791, 0.064, -0.143, 0.188, -0.972)) == "oblique"
