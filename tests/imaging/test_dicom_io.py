"""DICOM writer and basic reader: round trips, checked against SimpleITK's (GDCM) series reader."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

import imaging
from imaging.dicom.write import SeriesUids, deterministic_uid, write_series
from imaging.errors import NoImagesError, NotAVolumeError
from imaging.volume import SeriesInfo, Volume, affine_from_geometry
from tests.helpers import assert_same_image
from tests.imaging.test_volume import DIRECTIONS


def sitk_read(folder):
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return reader.Execute()


def make_volume(direction, modality="CT", dtype=np.int16, shape=(6, 9, 11)):
    rng = np.random.default_rng(0)
    if modality == "CT":
        arr = rng.integers(-1024, 3000, shape).astype(dtype)
    else:
        arr = rng.uniform(0, 900.5, shape).astype(dtype)
    aff = affine_from_geometry((-100.25, 50.5, 300.0), (0.8, 0.6, 2.5), direction)
    return Volume(arr, aff, SeriesInfo(modality=modality))


@pytest.mark.parametrize("name", ["identity", "flipped_xy", "sagittal", "oblique", "oblique_flipped"])
def test_ct_round_trip_exact(tmp_path, name):
    vol = make_volume(DIRECTIONS[name])
    write_series(vol, tmp_path, seed="t", series_description="test")
    ours = imaging.load(tmp_path)
    assert ours.array.dtype == np.int16
    # every voxel where it was written, with its value (a left-handed grid comes back with its
    # slices in the order of the slice normal, which is allowed)
    assert_same_image(ours, vol, atol_mm=1e-4)
    # independent reader: GDCM via SimpleITK, on the same files
    ref = Volume.from_sitk(sitk_read(tmp_path))
    np.testing.assert_allclose(ours.corner_centres(), ref.corner_centres(), atol=1e-4)
    assert np.array_equal(ours.array, ref.array.astype(np.int16))


def test_mr_float_values_survive_within_quantisation(tmp_path):
    vol = make_volume(DIRECTIONS["oblique"], modality="MR", dtype=np.float32)
    write_series(vol, tmp_path, seed="mr", series_description="mr")
    ours = imaging.load(tmp_path)
    step = (vol.array.max() - vol.array.min()) / 65000
    assert_same_image(ours, vol, atol_mm=1e-4, atol_value=step)
    assert ours.modality == "MR"


def test_written_files_are_valid_ct_image_storage(tmp_path):
    vol = make_volume(np.eye(3))
    paths = write_series(vol, tmp_path, seed="tags", series_description="derived test", patient_name="A^B")
    ds = pydicom.dcmread(paths[0])
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert ds.SOPClassUID == pydicom.uid.CTImageStorage
    assert ds.RescaleType == "HU" and float(ds.RescaleIntercept) == -1024.0
    assert ds.PatientIdentityRemoved == "YES"
    assert len(paths) == 6
    uids = {pydicom.dcmread(p).SOPInstanceUID for p in paths}
    assert len(uids) == 6


def test_uids_are_deterministic_and_valid():
    a, b = SeriesUids.from_seed("x"), SeriesUids.from_seed("x")
    assert a == b
    assert len({a.study, a.series, a.frame_of_reference}) == 3
    assert SeriesUids.from_seed("y").study != a.study
    uid = pydicom.uid.UID(deterministic_uid("x", "1"))
    assert uid.is_valid and len(uid) <= 64


def test_writing_twice_gives_identical_bytes(tmp_path):
    vol = make_volume(DIRECTIONS["oblique"])
    p1 = write_series(vol, tmp_path / "a", seed="s", series_description="d")
    p2 = write_series(vol, tmp_path / "b", seed="s", series_description="d")
    assert [p.read_bytes() for p in p1] == [p.read_bytes() for p in p2]


def test_empty_folder_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("not dicom")
    with pytest.raises(NoImagesError, match="No DICOM images"):
        imaging.load(tmp_path)


def test_missing_folder_is_refused(tmp_path):
    with pytest.raises(NoImagesError, match="not a folder"):
        imaging.load(tmp_path / "nope")


def test_two_series_are_refused_with_advice(tmp_path):
    vol = make_volume(np.eye(3))
    write_series(vol, tmp_path / "s1", seed="1", series_description="a")
    write_series(vol, tmp_path / "s2", seed="2", series_description="b")
    with pytest.raises(NotAVolumeError, match="2 image series"):
        imaging.load(tmp_path)


def test_repeated_positions_are_not_a_volume(tmp_path):
    vol = make_volume(np.eye(3))
    paths = write_series(vol, tmp_path, seed="dup", series_description="d")
    ds = pydicom.dcmread(paths[1])
    ds.ImagePositionPatient = pydicom.dcmread(paths[0]).ImagePositionPatient
    ds.save_as(paths[1])
    with pytest.raises(NotAVolumeError, match="same position"):
        imaging.load(tmp_path)


def test_files_in_any_order_load_sorted_by_position(tmp_path):
    vol = make_volume(DIRECTIONS["oblique"])
    paths = write_series(vol, tmp_path, seed="order", series_description="d")
    # scramble file names so that name order differs from position order
    for n, p in enumerate(paths):
        p.rename(tmp_path / f"x{(n * 7) % len(paths):03d}_{n}.dcm")
    assert_same_image(imaging.load(tmp_path), vol, atol_mm=1e-4)


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"Laterality": "L"}, "L"),
        ({"ImageLaterality": "R"}, "R"),
        ({"Laterality": "R", "ImageLaterality": "L"}, "R"),  # the series' own value first
        ({"ImageLaterality": "B"}, ""),  # both sides: not one
        ({}, ""),
    ],
)
def test_laterality_is_read_from_the_header(tmp_path, tags, expected):
    """(0020,0060) Laterality, else (0020,0062) ImageLaterality: R or L, read by the fast header
    parser and by pydicom alike (the segmentation checks the side the anatomy shows against it)."""
    from imaging.dicom.load import series_info

    vol = make_volume(np.eye(3))
    paths = write_series(vol, tmp_path, seed="lat", series_description="knee", extra=tags)
    assert imaging.load(tmp_path).info.laterality == expected
    assert series_info(pydicom.dcmread(paths[0])).laterality == expected
