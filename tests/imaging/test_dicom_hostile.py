"""Hostile input: absurd sizes are refused before any large allocation, the memory ceiling can
be raised by the user, malformed structures end in typed errors or skipped files."""

from __future__ import annotations

import struct
import tracemalloc

import pydicom
import pytest
from pydicom.uid import RLELossless

import imaging
from imaging.dicom import limits
from imaging.errors import NoImagesError, VolumeTooLargeError
from tests.imaging import dicom_factory as fac

MB = 1024 * 1024


@pytest.fixture(autouse=True)
def default_ceiling():
    limits.set_max_volume_bytes(None)
    yield
    limits.set_max_volume_bytes(None)


def peak_mb(fn):
    tracemalloc.start()
    try:
        fn()
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak / MB


def declare(path, rows=65535, cols=65535, frames=10000):
    ds = pydicom.dcmread(path)
    ds.Rows, ds.Columns = rows, cols
    ds.NumberOfFrames = frames
    ds.save_as(path)


def test_absurd_native_size_is_refused_before_allocation(tmp_path):
    (path,) = fac.series(tmp_path, fac.volume(shape=(1, 8, 8)))
    declare(path)
    def attempt():
        result = imaging.scan(tmp_path)
        (skipped,) = result.skipped
        assert "65535 x 65535 pixels x 10000 frames" in skipped.reason and "refused" in skipped.reason
        with pytest.raises(NoImagesError):
            imaging.load(tmp_path)
    assert peak_mb(attempt) < 20


def test_absurd_compressed_size_is_refused_before_allocation(tmp_path):
    (path,) = fac.series(tmp_path / "src", fac.volume(shape=(1, 8, 8)))
    out = tmp_path / "rle"
    out.mkdir()
    fac.compress(path, out / "x.dcm", RLELossless)
    declare(out / "x.dcm", frames=1)  # 65535 x 65535 x 2 bytes = 8 GiB: above a 1 GiB ceiling
    limits.set_max_volume_bytes(1024 * MB)
    result = imaging.scan(out)
    (skipped,) = result.skipped
    assert "memory limit" in skipped.reason and "--max-memory-mb" in skipped.reason


def test_more_pixel_bytes_declared_than_the_file_holds(tmp_path):
    paths = fac.series(tmp_path, fac.volume(shape=(2, 8, 8)))
    ds = pydicom.dcmread(paths[0])
    ds.Rows = 4096  # 4096 x 8 pixels but the file holds 8 x 8
    ds.save_as(paths[0])
    raw = bytearray(paths[1].read_bytes())
    # the pixel data element's 4-byte length: claim 2 GB
    at = raw.rfind(b"\xe0\x7f\x10\x00OB") if b"\xe0\x7f\x10\x00OB" in raw else raw.rfind(b"\xe0\x7f\x10\x00OW")
    raw[at + 8 : at + 12] = struct.pack("<I", 0x7FFFFFF0)
    paths[1].write_bytes(bytes(raw))
    result = imaging.scan(tmp_path)
    reasons = sorted(s.reason for s in result.skipped)
    assert len(reasons) == 2
    assert any("holds only" in r for r in reasons)
    assert any("claims" in r for r in reasons)


def test_memory_ceiling_refuses_and_can_be_raised(tmp_path, monkeypatch):
    fac.series(tmp_path, fac.volume(shape=(4, 64, 64)))  # 32 KiB of int16
    with pytest.raises(VolumeTooLargeError, match="--max-memory-mb"):
        imaging.load(tmp_path, max_bytes=16 * 1024)
    assert imaging.load(tmp_path, max_bytes=64 * 1024).shape == (4, 64, 64)
    monkeypatch.setenv(limits.ENV_VAR, "0.01")  # 10 KiB
    (stack,) = imaging.scan(tmp_path).stacks()
    assert not stack.loadable and isinstance(stack.error, VolumeTooLargeError)
    with pytest.raises(VolumeTooLargeError):
        imaging.load(stack)
    monkeypatch.setenv(limits.ENV_VAR, "1")
    (stack,) = imaging.scan(tmp_path).stacks()
    assert stack.loadable


def test_huge_element_length_and_deep_nesting_end_in_skipped_files(tmp_path):
    paths = fac.series(tmp_path, fac.volume(shape=(3, 8, 8)))
    raw = bytearray(paths[0].read_bytes())
    at = raw.find(b"\x10\x00\x10\x00PN")  # PatientName: 2-byte length
    raw[at + 6 : at + 8] = b"\xff\xff"
    paths[0].write_bytes(bytes(raw))
    # sequences nested 200 deep, all of undefined length
    ds = pydicom.dcmread(paths[1])
    inner = pydicom.Dataset()
    inner.CodeMeaning = "x"
    for _ in range(200):
        outer = pydicom.Dataset()
        outer.PurposeOfReferenceCodeSequence = pydicom.Sequence([inner])
        inner = outer
    ds.ReferencedImageSequence = pydicom.Sequence([inner])
    ds.save_as(paths[1])
    result = imaging.scan(tmp_path)
    assert {s.path for s in result.skipped} <= {str(paths[0]), str(paths[1])}
    assert all("internal error" not in s.reason for s in result.skipped)


def test_nothing_from_a_file_is_used_as_a_path(tmp_path):
    """Only DICOMDIR references are paths, and those are checked (see test_dicom_scan); file
    names in other elements are never opened."""
    paths = fac.series(tmp_path / "s", fac.volume(shape=(2, 8, 8)))
    fac.rewrite(paths[0], SeriesDescription="../../etc/passwd", PatientName="/etc/shadow")
    opened = []
    import builtins

    real_open = builtins.open

    def spy(file, *a, **kw):
        opened.append(str(file))
        return real_open(file, *a, **kw)

    builtins.open = spy
    try:
        imaging.load(imaging.scan(tmp_path).loadable_stacks()[0])
    finally:
        builtins.open = real_open
    assert all(str(tmp_path) in p for p in opened), opened
