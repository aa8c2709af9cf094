"""Read a folder of single-frame DICOM images into a :class:`~imaging.volume.Volume`.

This is the basic reader: well-formed, single-frame, single-series folders with regular slice
spacing. Irregular input is refused with a message that says what is wrong.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from imaging.errors import DicomError, NoImagesError, NotAVolumeError
from imaging.progress import Cancel, Progress, check_cancel, report
from imaging.volume import SeriesInfo, Volume

__all__ = ["load_folder", "load_files", "series_info"]

# Relative tolerance on slice spacing before a series is called irregular.
SPACING_TOLERANCE = 0.01


def _candidate_files(folder: Path) -> list[Path]:
    files = []
    for root, _dirs, names in os.walk(folder):
        for name in names:
            if name.upper() == "DICOMDIR":
                continue
            files.append(Path(root) / name)
    return sorted(files)


def _read_header(path: Path) -> pydicom.Dataset | None:
    try:
        return pydicom.dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, OSError, ValueError, EOFError):
        return None


def series_info(ds: pydicom.Dataset) -> SeriesInfo:
    """The study/series identifiers of one DICOM dataset."""
    number = ds.get("SeriesNumber")
    return SeriesInfo(
        modality=str(ds.get("Modality", "")),
        patient_name=str(ds.get("PatientName", "")),
        patient_id=str(ds.get("PatientID", "")),
        study_uid=str(ds.get("StudyInstanceUID", "")),
        series_uid=str(ds.get("SeriesInstanceUID", "")),
        frame_of_reference_uid=str(ds.get("FrameOfReferenceUID", "")),
        study_date=str(ds.get("StudyDate", "")),
        study_description=str(ds.get("StudyDescription", "")),
        series_description=str(ds.get("SeriesDescription", "")),
        series_number=int(number) if number not in (None, "") else None,
        body_part=str(ds.get("BodyPartExamined", "")),
    )


def load_folder(folder: str | os.PathLike[str], progress: Progress | None = None, cancel: Cancel | None = None) -> Volume:
    """Load the single image series in ``folder`` (searched recursively)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NoImagesError(f"{folder} is not a folder. Choose the folder that holds the DICOM files.")
    headers: list[tuple[Path, pydicom.Dataset]] = []
    files = _candidate_files(folder)
    for n, path in enumerate(files):
        check_cancel(cancel)
        ds = _read_header(path)
        if ds is not None and "ImagePositionPatient" in ds:
            headers.append((path, ds))
        report(progress, 0.3 * (n + 1) / max(1, len(files)), "Reading headers")
    if not headers:
        raise NoImagesError(f"No DICOM images were found in {folder} ({len(files)} files looked at).")
    series = {str(ds.get("SeriesInstanceUID", "")) for _, ds in headers}
    if len(series) > 1:
        raise NotAVolumeError(
            f"{folder} holds {len(series)} image series; open the folder of one series, "
            "or use the study browser to choose."
        )
    return load_files([p for p, _ in headers], progress=progress, cancel=cancel, _start=0.3)


def _geometry(datasets: list[pydicom.Dataset], paths: list[Path]) -> tuple[np.ndarray, list[int]]:
    """Return the index->LPS affine and the slice order (indices into ``datasets``)."""
    iop = np.array([float(v) for v in datasets[0].ImageOrientationPatient])
    row_dir, col_dir = iop[:3], iop[3:]
    for ds, p in zip(datasets, paths, strict=True):
        other = np.array([float(v) for v in ds.ImageOrientationPatient])
        if not np.allclose(other, iop, atol=1e-4):
            raise NotAVolumeError(
                f"{p.name} has a different orientation from {paths[0].name}; the series mixes planes "
                "(e.g. a localizer) and is not one volume."
            )
    normal = np.cross(row_dir, col_dir)
    positions = np.array([[float(v) for v in ds.ImagePositionPatient] for ds in datasets])
    dist = positions @ normal
    order = list(np.argsort(dist, kind="stable"))
    ps = [float(v) for v in datasets[0].PixelSpacing]  # row spacing (between rows), column spacing
    affine = np.eye(4)
    affine[:3, 0] = row_dir * ps[1]
    affine[:3, 1] = col_dir * ps[0]
    affine[:3, 3] = positions[order[0]]
    if len(order) == 1:
        thickness = float(datasets[0].get("SpacingBetweenSlices") or datasets[0].get("SliceThickness") or 1.0)
        affine[:3, 2] = normal * thickness
        return affine, order
    steps = np.diff(dist[order])
    if np.any(steps < 1e-3):
        i = int(np.argmin(steps))
        raise NotAVolumeError(
            f"{paths[order[i]].name} and {paths[order[i + 1]].name} lie at the same position; "
            "the series holds repeated slices and is not one volume."
        )
    mean = float(np.mean(steps))
    if np.max(np.abs(steps - mean)) > SPACING_TOLERANCE * mean + 1e-3:
        i = int(np.argmax(np.abs(steps - mean)))
        raise NotAVolumeError(
            f"Slice spacing is irregular: {steps[i]:.2f} mm between {paths[order[i]].name} and "
            f"{paths[order[i + 1]].name} (typical {np.median(steps):.2f} mm)."
        )
    affine[:3, 2] = (positions[order[-1]] - positions[order[0]]) / (len(order) - 1)
    return affine, order


def load_files(
    paths: Iterable[str | os.PathLike[str]],
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    _start: float = 0.0,
) -> Volume:
    """Load single-frame DICOM files of one series into a volume."""
    paths = [Path(p) for p in paths]
    datasets = []
    for n, p in enumerate(paths):
        check_cancel(cancel)
        try:
            datasets.append(pydicom.dcmread(p))
        except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
            raise DicomError(f"{p} cannot be read as DICOM: {exc}") from exc
        report(progress, _start + (1 - _start) * 0.8 * (n + 1) / len(paths), "Reading images")
    if not datasets:
        raise NoImagesError("No files were given.")
    affine, order = _geometry(datasets, paths)
    shape = (int(datasets[0].Rows), int(datasets[0].Columns))
    slices = []
    slopes, intercepts = [], []
    for i in order:
        ds = datasets[i]
        if (int(ds.Rows), int(ds.Columns)) != shape:
            raise NotAVolumeError(f"{paths[i].name} is {ds.Rows}x{ds.Columns}, others are {shape[0]}x{shape[1]}.")
        try:
            pixels = ds.pixel_array
        except Exception as exc:  # pydicom raises many kinds for undecodable pixel data
            raise DicomError(f"The pixel data of {paths[i].name} cannot be decoded: {exc}") from exc
        if pixels.ndim != 2:
            raise DicomError(f"{paths[i].name} is not a single-frame greyscale image (pixel shape {pixels.shape}).")
        slices.append(pixels)
        slopes.append(float(ds.get("RescaleSlope", 1) or 1))
        intercepts.append(float(ds.get("RescaleIntercept", 0) or 0))
    raw = np.stack(slices)
    slope_arr = np.asarray(slopes)[:, None, None]
    inter_arr = np.asarray(intercepts)[:, None, None]
    if np.all(slope_arr == 1) and np.all(np.mod(inter_arr, 1) == 0):
        lo = float(raw.min()) + float(inter_arr.min())
        hi = float(raw.max()) + float(inter_arr.max())
        dtype = np.int16 if lo >= -32768 and hi <= 32767 else np.int32
        array = raw.astype(dtype) + inter_arr.astype(dtype)
    else:
        array = (raw.astype(np.float32) * slope_arr + inter_arr).astype(np.float32)
    report(progress, 1.0, "Loaded")
    return Volume(array, affine, series_info(datasets[order[0]]))
