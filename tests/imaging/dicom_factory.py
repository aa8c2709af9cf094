"""Small DICOM files made on the fly for the ingest tests (no shared data needed)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import ExplicitVRBigEndian, ImplicitVRLittleEndian

from imaging.dicom.write import write_series
from imaging.volume import SeriesInfo, Volume, affine_from_geometry

OBLIQUE = np.array(  # columns: unit i, j, k directions (a rotation about a tilted axis)
    [[0.9396926, -0.2418448, 0.2418448], [0.3420201, 0.6644630, -0.6644630], [0.0, 0.7071068, 0.7071068]]
)


def volume(shape=(5, 12, 10), modality="CT", direction=None, spacing=(0.8, 0.6, 2.5), origin=(-50.25, 20.5, 100.0), seed=0):
    rng = np.random.default_rng(seed)
    if modality == "CT":
        arr = rng.integers(-1024, 3000, shape).astype(np.int16)
    else:
        arr = rng.integers(0, 1200, shape).astype(np.int16)
    direction = np.eye(3) if direction is None else direction
    return Volume(arr, affine_from_geometry(origin, spacing, direction), SeriesInfo(modality=modality))


def series(folder: Path, vol: Volume | None = None, **kw) -> list[Path]:
    """Write a volume as a DICOM series (explicit VR little endian); return the file paths."""
    vol = vol if vol is not None else volume()
    kw.setdefault("seed", str(folder))
    kw.setdefault("series_description", "test series")
    return write_series(vol, folder, **kw)


def rewrite(path: Path, **changes) -> None:
    """Change elements of a file in place (keyword=value; value None deletes)."""
    ds = pydicom.dcmread(path)
    for k, v in changes.items():
        if v is None:
            if k in ds:
                delattr(ds, k)
        else:
            setattr(ds, k, v)
    ds.save_as(path)


def to_big_endian(path: Path, out: Path) -> None:
    """Re-encode a native little-endian file as explicit VR big endian."""
    src = pydicom.dcmread(path)
    ds = Dataset()
    for elem in src:
        if elem.keyword != "PixelData":
            ds.add(elem)
    bits = int(src.BitsAllocated)
    dtype = {8: "u1", 16: "i2" if src.PixelRepresentation else "u2", 32: "i4" if src.PixelRepresentation else "u4"}[bits]
    arr = np.frombuffer(src.PixelData, dtype="<" + dtype)
    ds.PixelData = arr.astype(">" + dtype).tobytes()
    ds.file_meta = FileMetaDataset(src.file_meta)
    ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
    ds["PixelData"].VR = "OW"
    ds.preamble = b"\x00" * 128
    pydicom.dcmwrite(out, ds, implicit_vr=False, little_endian=False, enforce_file_format=True)


def to_implicit(path: Path, out: Path) -> None:
    ds = pydicom.dcmread(path)
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds.save_as(out, implicit_vr=True)


def compress(path: Path, out: Path, syntax) -> None:
    ds = pydicom.dcmread(path)
    ds.compress(syntax)
    ds.save_as(out)


def to_jpeg_baseline(path: Path, out: Path) -> np.ndarray:
    """Re-encode as JPEG baseline (8-bit lossy, 1.2.840.10008.1.2.4.50) with Pillow; return the
    8-bit pixels that were encoded."""
    from PIL import Image

    ds = pydicom.dcmread(path)
    arr = ds.pixel_array.astype(float)
    pix8 = np.clip((arr - arr.min()) / max(1.0, arr.max() - arr.min()) * 255, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pix8, mode="L").save(buf, format="JPEG", quality=95)
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.RescaleSlope, ds.RescaleIntercept = 1, 0
    ds.PixelData = encapsulate([buf.getvalue()])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = pydicom.uid.JPEGBaseline8Bit
    ds.save_as(out)
    return pix8


def raw_implicit_dataset(path: Path, out: Path) -> None:
    ds = pydicom.dcmread(path)
    ds.file_meta = FileMetaDataset()
    buf = io.BytesIO()
    fp = pydicom.filebase.DicomFileLike(buf)
    fp.is_little_endian, fp.is_implicit_VR = True, True
    pydicom.filewriter.write_dataset(fp, ds)
    out.write_bytes(buf.getvalue())
