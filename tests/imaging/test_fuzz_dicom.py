"""Seeded mutation fuzzing: truncated and corrupted real and generated files.

Over 2,000 mutated files (small ones, so it stays fast) go through the scanner and every stack it
offers through the loader. Only the project's typed errors may come out; the scanner records
every unusable file with a reason (never an "internal error"); nothing hangs (each batch runs
under an alarm)."""

from __future__ import annotations

import signal
import struct
from contextlib import contextmanager

import numpy as np
import pytest
from pydicom.uid import JPEGLSLossless, RLELossless

import imaging
from imaging.dicom.load import load_files
from imaging.errors import ImagingError
from tests.conftest import SHARED_DATA
from tests.imaging import dicom_factory as fac

BATCHES = 21
PER_BATCH = 100  # 2,100 mutated files
SECONDS_PER_BATCH = 120


@contextmanager
def alarm(seconds):
    def fail(signum, frame):
        raise TimeoutError(f"a fuzz batch took more than {seconds} s (hang?)")

    old = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    """Small valid files in many encodings: the material the mutations start from."""
    tmp = tmp_path_factory.mktemp("seeds")
    out = []
    paths = fac.series(tmp / "ct", fac.volume(shape=(3, 16, 16), direction=fac.OBLIQUE))
    out += paths
    out += fac.series(tmp / "mr", fac.volume(shape=(2, 12, 12), modality="MR"), seed="mr")
    for name, fn in [("impl", (fac.to_implicit,)), ("be", (fac.to_big_endian,)), ("raw", (fac.raw_implicit_dataset,)),
                     ("rle", (fac.compress, RLELossless)), ("jls", (fac.compress, JPEGLSLossless))]:
        p = tmp / f"{name}.dcm"
        fn[0](paths[0], p, *fn[1:])
        out.append(p)
    jpeg = tmp / "jpeg.dcm"
    fac.to_jpeg_baseline(paths[1], jpeg)
    out.append(jpeg)
    suite = SHARED_DATA / "dicom2nifti_tests"
    for rel in ["hitachi/anatomical/001/001.dcm", "generic/anatomical/002_non_isotropic/001.dcm",
                "hyperfine/anatomical/001/001.dcm"]:  # the last: an Enhanced MR multi-frame file
        if (suite / rel).exists():
            out.append(suite / rel)
    return [p.read_bytes() for p in out]


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    b = bytearray(data)
    kind = rng.integers(0, 7)
    header_end = min(len(b), 1200)
    if kind == 0:  # truncate anywhere
        return bytes(b[: int(rng.integers(0, len(b)))])
    if kind == 1:  # flip a few bytes in the header
        for _ in range(int(rng.integers(1, 8))):
            b[int(rng.integers(0, header_end))] = int(rng.integers(0, 256))
        return bytes(b)
    if kind == 2:  # write an absurd 16- or 32-bit length somewhere in the header
        at = int(rng.integers(128, max(129, header_end - 4)))
        value = int(rng.choice([0, 1, 0xFFFF, 0xFFFFFFFF, 0x7FFFFFFF, 0xFFFFFFF0, int(rng.integers(0, 1 << 32))]))
        b[at : at + 4] = struct.pack("<I", value)
        return bytes(b)
    if kind == 3:  # corrupt bytes anywhere (pixel data included)
        for _ in range(int(rng.integers(1, 32))):
            b[int(rng.integers(0, len(b)))] = int(rng.integers(0, 256))
        return bytes(b)
    if kind == 4:  # insert or delete a chunk
        at = int(rng.integers(0, len(b)))
        if rng.random() < 0.5:
            return bytes(b[:at] + rng.bytes(int(rng.integers(1, 64))) + b[at:])
        return bytes(b[:at] + b[at + int(rng.integers(1, 64)) :])
    if kind == 5:  # truncate and corrupt
        b = b[: int(rng.integers(132, len(b)))]
        for _ in range(3):
            b[int(rng.integers(0, len(b)))] = int(rng.integers(0, 256))
        return bytes(b)
    # swap the value of a 2-byte field (Rows, Columns, BitsAllocated...) for a random one
    at = int(rng.integers(132, max(133, header_end - 2)))
    b[at : at + 2] = struct.pack("<H", int(rng.integers(0, 65536)))
    return bytes(b)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_mutated_files_only_raise_typed_errors(tmp_path, seeds):
    rng = np.random.default_rng(20260101)
    total = loaded = refused = skipped = 0
    for batch in range(BATCHES):
        folder = tmp_path / f"b{batch}"
        folder.mkdir()
        for n in range(PER_BATCH):
            src = seeds[int(rng.integers(0, len(seeds)))]
            (folder / f"f{n:03d}.dcm").write_bytes(mutate(src, rng))
            total += 1
        with alarm(SECONDS_PER_BATCH):
            result = imaging.scan(folder)
            internal = [s for s in result.skipped if "internal error" in s.reason]
            assert not internal, internal[:3]
            skipped += len(result.skipped)
            for stack in result.stacks():
                try:
                    imaging.load(stack, max_bytes=64 * 1024 * 1024)
                    loaded += 1
                except ImagingError:
                    refused += 1
            # and each file on its own, so that every corrupted file reaches the pixel decoders
            for path in sorted(folder.iterdir()):
                try:
                    load_files([path], max_bytes=64 * 1024 * 1024)
                    loaded += 1
                except ImagingError:
                    refused += 1
        # also the folder as a whole (several series): a typed error or a volume
        with alarm(SECONDS_PER_BATCH):
            try:
                imaging.load(folder, max_bytes=64 * 1024 * 1024)
            except ImagingError:
                pass
    print(f"fuzz: {total} files, {skipped} skipped by the scan, {loaded} stacks loaded, {refused} refused")
    assert total >= 2000
    assert loaded > 0 and refused > 0 and skipped > 0
