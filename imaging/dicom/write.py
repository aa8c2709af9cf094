"""Write a :class:`~imaging.volume.Volume` as a DICOM series (one file per slice).

The files are CT or MR Image Storage, explicit VR little endian, with exact LPS geometry
(ImageOrientationPatient / ImagePositionPatient per slice) and real-world values encoded through
RescaleSlope / RescaleIntercept. UIDs are derived deterministically from a seed so that the
same input always gives byte-identical files.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    MRImageStorage,
)

from imaging.errors import GeometryError, ImagingError
from imaging.progress import Cancel, Progress, check_cancel, report
from imaging.volume import Volume

__all__ = ["write_series", "deterministic_uid", "SeriesUids", "DISCLAIMER"]

DISCLAIMER = "For planning, review and training; not a medical device."

_SOP_CLASS = {"CT": CTImageStorage, "MR": MRImageStorage}


def deterministic_uid(*parts: str) -> str:
    """A valid DICOM UID (2.25.<n>, n a 128-bit number, as for UUID-derived UIDs) derived from
    ``parts``: same parts, same UID."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return f"2.25.{int.from_bytes(digest[:16], 'big')}"


@dataclass(frozen=True)
class SeriesUids:
    """The UIDs a written series uses; derived from one seed unless given."""

    study: str
    series: str
    frame_of_reference: str

    @classmethod
    def from_seed(cls, seed: str) -> SeriesUids:
        return cls(
            study=deterministic_uid(seed, "study"),
            series=deterministic_uid(seed, "series"),
            frame_of_reference=deterministic_uid(seed, "frame-of-reference"),
        )


def _encode(array: np.ndarray, modality: str) -> tuple[np.ndarray, float, float, int]:
    """Choose stored 16-bit pixels and a rescale so that ``stored * slope + intercept`` is the
    real-world value. Returns (stored, slope, intercept, pixel_representation)."""
    a = np.asarray(array)
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    integral = np.issubdtype(a.dtype, np.integer) or bool(np.all(np.mod(a, 1) == 0))
    if modality == "CT":
        # Conventional CT encoding: signed stored values, intercept -1024.
        intercept = -1024.0
        if integral and lo - intercept >= -32768 and hi - intercept <= 32767:
            return (a - intercept).astype(np.int16), 1.0, intercept, 1
        slope = max((hi - lo) / 65000.0, 1e-6)
        intercept = lo + 32768 * slope
        stored = np.clip(np.rint((a - intercept) / slope), -32768, 32767).astype(np.int16)
        return stored, slope, intercept, 1
    if integral and lo >= 0 and hi <= 65535:
        return a.astype(np.uint16), 1.0, 0.0, 0
    slope = max((hi - lo) / 65000.0, 1e-6)
    stored = np.clip(np.rint((a - lo) / slope), 0, 65535).astype(np.uint16)
    return stored, slope, lo, 0


def _ds_number(value: float) -> str:
    """Format a float as a DICOM DS string (at most 16 characters)."""
    for digits in range(10, 0, -1):
        s = f"{value:.{digits}g}"
        if len(s) <= 16:
            return s
    raise ValueError(value)


def write_series(
    volume: Volume,
    folder: str | os.PathLike[str],
    *,
    seed: str,
    series_description: str,
    study_description: str = "",
    uids: SeriesUids | None = None,
    series_number: int = 1,
    patient_name: str = "Anonymous",
    patient_id: str = "ANON",
    content_date: str = "20260101",
    extra: Mapping[str, object] | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> list[Path]:
    """Write ``volume`` to ``folder`` as one DICOM file per slice; return the paths in slice order.

    ``volume.info.modality`` chooses CT or MR Image Storage. ``extra`` adds or overrides data
    elements by keyword (e.g. ``{"KVP": 120, "ConvolutionKernel": "B30f"}``).
    """
    modality = (volume.info.modality or "CT").upper()
    if modality not in _SOP_CLASS:
        raise ImagingError(f"Cannot write modality {modality!r}; only CT and MR are supported.")
    d = volume.direction
    row_dir, col_dir = d[:, 0], d[:, 1]
    if abs(float(np.dot(row_dir, col_dir))) > 1e-6:
        raise GeometryError("Rows and columns of the volume are not perpendicular; DICOM cannot express that.")
    uids = uids or SeriesUids.from_seed(seed)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    stored, slope, intercept, pixel_rep = _encode(volume.array, modality)
    nz, ny, nx = volume.shape
    sp = volume.spacing
    normal = np.cross(row_dir, col_dir)
    slice_step = float(sp[2])
    iop = [_ds_number(float(v)) for v in (*row_dir, *col_dir)]
    paths: list[Path] = []
    for k in range(nz):
        check_cancel(cancel)
        ipp = volume.index_to_lps((0.0, 0.0, float(k)))
        sop_uid = deterministic_uid(seed, uids.series, "instance", str(k))
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = _SOP_CLASS[modality]
        meta.MediaStorageSOPInstanceUID = sop_uid
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        meta.ImplementationVersionName = "INJPLAN_0_1"
        ds = Dataset()
        ds.file_meta = meta
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.ImageType = ["DERIVED", "SECONDARY", "AXIAL"] if modality == "CT" else ["DERIVED", "SECONDARY"]
        ds.SOPClassUID = _SOP_CLASS[modality]
        ds.SOPInstanceUID = sop_uid
        ds.StudyDate = ds.SeriesDate = ds.ContentDate = content_date
        ds.StudyTime = ds.SeriesTime = ds.ContentTime = "120000"
        ds.AccessionNumber = ""
        ds.Modality = modality
        ds.Manufacturer = "Injection Planner"
        ds.InstitutionName = ""
        ds.ReferringPhysicianName = ""
        ds.StudyDescription = study_description
        ds.SeriesDescription = series_description
        ds.ManufacturerModelName = "sample generator"
        ds.PatientName = patient_name
        ds.PatientID = patient_id
        ds.PatientBirthDate = ""
        ds.PatientSex = ""
        ds.PatientIdentityRemoved = "YES"
        ds.DeidentificationMethod = "No identifiers were ever present (derived or synthetic data)"
        ds.BodyPartExamined = ""
        ds.SliceThickness = _ds_number(slice_step)
        ds.StudyInstanceUID = uids.study
        ds.SeriesInstanceUID = uids.series
        ds.StudyID = "1"
        ds.SeriesNumber = series_number
        ds.AcquisitionNumber = 1
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [_ds_number(float(v)) for v in ipp]
        ds.ImageOrientationPatient = iop
        ds.FrameOfReferenceUID = uids.frame_of_reference
        ds.PositionReferenceIndicator = ""
        ds.SliceLocation = _ds_number(float(np.dot(ipp, normal)))
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows = ny
        ds.Columns = nx
        ds.PixelSpacing = [_ds_number(float(sp[1])), _ds_number(float(sp[0]))]  # row spacing, column spacing
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = pixel_rep
        ds.RescaleIntercept = _ds_number(intercept)
        ds.RescaleSlope = _ds_number(slope)
        if modality == "CT":
            ds.RescaleType = "HU"
            ds.KVP = "120"
        else:
            ds.ScanningSequence = "SE"
            ds.SequenceVariant = "NONE"
            ds.ScanOptions = ""
            ds.MRAcquisitionType = "3D"
        ds.ImageComments = DISCLAIMER
        for keyword, value in (extra or {}).items():
            setattr(ds, keyword, value)
        ds.PixelData = np.ascontiguousarray(stored[k]).astype(stored.dtype.newbyteorder("<")).tobytes()
        path = out / f"IM{k + 1:05d}.dcm"
        tmp = path.with_name(path.name + ".tmp")
        pydicom.dcmwrite(tmp, ds, enforce_file_format=True)
        os.replace(tmp, path)
        paths.append(path)
        report(progress, (k + 1) / nz, f"Wrote slice {k + 1} of {nz}")
    return paths

