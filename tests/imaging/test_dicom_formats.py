"""Every encoding the loader supports gives the same voxels at the same places.

The reference for values is pydicom's own decoder on the same files; for geometry, the volume
that was written."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.uid import JPEG2000Lossless, JPEGLSLossless, RLELossless

import imaging
from imaging.dicom.header import read_header, read_header_pydicom
from tests.helpers import assert_same_image
from tests.imaging import dicom_factory as fac


@pytest.fixture
def ct(tmp_path):
    vol = fac.volume(shape=(4, 64, 48), direction=fac.OBLIQUE)
    paths = fac.series(tmp_path / "src", vol)
    return vol, paths


def convert_all(paths, out, fn, *args):
    out.mkdir()
    for p in paths:
        fn(p, out / p.name, *args)
    return out


@pytest.mark.parametrize("name", ["implicit", "big_endian", "rle", "jpegls", "j2k"])
def test_encodings_load_the_same_volume(tmp_path, ct, name):
    vol, paths = ct
    fn = {
        "implicit": (fac.to_implicit,),
        "big_endian": (fac.to_big_endian,),
        "rle": (fac.compress, RLELossless),
        "jpegls": (fac.compress, JPEGLSLossless),
        "j2k": (fac.compress, JPEG2000Lossless),
    }[name]
    folder = convert_all(paths, tmp_path / name, *fn)
    loaded = imaging.load(folder)
    assert_same_image(loaded, vol, atol_mm=1e-4)
    assert loaded.array.dtype == np.int16


def test_jpeg_baseline_matches_pydicom_decoder(tmp_path, ct):
    _, paths = ct
    out = tmp_path / "jpeg"
    out.mkdir()
    for p in paths:
        fac.to_jpeg_baseline(p, out / p.name)
    loaded = imaging.load(out)
    files = sorted(out.iterdir())
    ref = {round(float(pydicom.dcmread(f).ImagePositionPatient[2]), 3): pydicom.dcmread(f).pixel_array for f in files}
    for k in range(loaded.shape[0]):
        z = round(float(loaded.index_to_lps((0, 0, k))[2]), 3)
        np.testing.assert_array_equal(loaded.array[k], ref[z])


def test_files_without_preamble_or_meta_are_read(tmp_path, ct):
    vol, paths = ct
    folder = convert_all(paths, tmp_path / "raw", fac.raw_implicit_dataset)
    h = read_header(next(folder.iterdir()))
    assert h.transfer_syntax == pydicom.uid.ImplicitVRLittleEndian
    assert_same_image(imaging.load(folder), vol, atol_mm=1e-4)


def test_unused_high_bits_are_ignored_like_pydicom(tmp_path):
    vol = fac.volume(shape=(3, 16, 16), modality="MR")
    paths = fac.series(tmp_path, vol)
    for p in paths:
        ds = pydicom.dcmread(p)
        raw = np.frombuffer(ds.PixelData, "<u2").copy()
        raw |= 0xF000  # garbage (e.g. overlay bits) above BitsStored
        ds.BitsStored, ds.HighBit = 12, 11
        ds.PixelData = raw.tobytes()
        ds.save_as(p)
    loaded = imaging.load(tmp_path)
    ref = np.stack([pydicom.dcmread(p).pixel_array for p in paths])
    np.testing.assert_array_equal(np.sort(loaded.array.ravel()), np.sort(ref.ravel().astype(loaded.array.dtype)))
    assert loaded.array.max() < 4096


def test_large_unsigned_mr_values_widen_to_int32(tmp_path):
    vol = fac.volume(shape=(3, 8, 8), modality="MR")
    paths = fac.series(tmp_path, vol)
    ds = pydicom.dcmread(paths[1])
    raw = np.frombuffer(ds.PixelData, "<u2").copy()
    raw[0] = 60000
    ds.PixelData = raw.tobytes()
    ds.save_as(paths[1])
    loaded = imaging.load(tmp_path)
    assert loaded.array.dtype == np.int32
    assert loaded.array.max() == 60000


def test_signed_values_that_overflow_int16_after_rescale_widen(tmp_path):
    vol = fac.volume(shape=(60, 8, 8))  # enough slices for the threaded reader
    paths = fac.series(tmp_path, vol)
    ds = pydicom.dcmread(paths[40])
    raw = np.frombuffer(ds.PixelData, "<i2").copy()
    raw[3] = -32768  # stored -32768 with intercept -1024 is -33792 HU: does not fit int16
    ds.PixelData = raw.tobytes()
    ds.save_as(paths[40])
    loaded = imaging.load(tmp_path)
    assert loaded.array.dtype == np.int32
    assert loaded.array.min() == -33792
    expected = vol.array.astype(np.int32)
    expected[40].reshape(-1)[3] = -33792
    np.testing.assert_array_equal(loaded.array, expected)


def test_float_rescale_gives_float32(tmp_path):
    vol = fac.volume(shape=(3, 8, 8), modality="MR")
    paths = fac.series(tmp_path, vol)
    for p in paths:
        fac.rewrite(p, RescaleSlope="0.5", RescaleIntercept="10.25")
    loaded = imaging.load(tmp_path)
    assert loaded.array.dtype == np.float32
    np.testing.assert_allclose(loaded.array, vol.array * 0.5 + 10.25)


def test_fast_header_parser_agrees_with_pydicom(tmp_path, ct):
    _, paths = ct
    made = [paths[0]]
    for name, fn in [("implicit", (fac.to_implicit,)), ("be", (fac.to_big_endian,)), ("rle", (fac.compress, RLELossless))]:
        out = tmp_path / f"{name}.dcm"
        fn[0](paths[0], out, *fn[1:])
        made.append(out)
    # a file with nested sequences of undefined length (pydicom writes them that way)
    ds = pydicom.dcmread(paths[0])
    item = pydicom.Dataset()
    item.CodeValue, item.CodingSchemeDesignator = "T-D0146", "SRT"
    inner = pydicom.Dataset()
    inner.CodeMeaning = "nested"
    item.PurposeOfReferenceCodeSequence = pydicom.Sequence([inner])
    ds.AnatomicRegionSequence = pydicom.Sequence([item, item])
    ds.add_new(0x00291010, "OB", b"\x01\x02" * 500)  # a private binary element
    seq_path = tmp_path / "seq.dcm"
    ds.save_as(seq_path)
    made.append(seq_path)
    for p in made:
        fast = read_header(p)
        ref, full = read_header_pydicom(p)
        assert fast.values == ref.values, p
        assert fast.transfer_syntax == ref.transfer_syntax
        pix = pydicom.dcmread(p)["PixelData"]
        if not pix.is_undefined_length:
            raw = p.read_bytes()
            assert raw[fast.pixel_offset : fast.pixel_offset + fast.pixel_length] == pix.value


def test_compressed_enhanced_multiframe_matches_the_native_file(tmp_path):
    from tests.conftest import shared_data

    src = shared_data("dicom2nifti_tests", "hyperfine", "anatomical", "001")
    ds = pydicom.dcmread(next(src.glob("*.dcm")))
    ds.compress(RLELossless)
    (tmp_path / "rle").mkdir()
    ds.save_as(tmp_path / "rle" / "x.dcm")
    native, rle = imaging.load(src), imaging.load(tmp_path / "rle")
    np.testing.assert_array_equal(rle.array, native.array)
    np.testing.assert_allclose(rle.affine, native.affine, atol=1e-9)


def test_colour_images_are_listed_but_not_loadable(tmp_path):
    paths = fac.series(tmp_path, fac.volume(shape=(2, 8, 8)))
    for p in paths:
        ds = pydicom.dcmread(p)
        ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
        ds.BitsAllocated = ds.BitsStored = 8
        ds.HighBit, ds.PixelRepresentation = 7, 0
        ds.PixelData = bytes(8 * 8 * 3)
        ds.save_as(p)
    (stack,) = imaging.scan(tmp_path).stacks()
    assert not stack.loadable and "colour image (RGB)" in stack.problem
    with pytest.raises(imaging.UnsupportedDicomError):
        imaging.load(tmp_path)


def test_deflated_files_go_through_pydicom(tmp_path, ct):
    vol, paths = ct
    out = tmp_path / "deflated"
    out.mkdir()
    for p in paths:
        ds = pydicom.dcmread(p)
        ds.file_meta.TransferSyntaxUID = pydicom.uid.DeflatedExplicitVRLittleEndian
        ds.save_as(out / p.name)
    files = sorted(out.iterdir())
    from imaging.dicom.frames import read_file

    assert read_file(str(files[0])).parsed_by == "pydicom"
    assert_same_image(imaging.load(out), vol, atol_mm=1e-4)
