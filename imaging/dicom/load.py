"""Load a stack (or a folder holding exactly one) into a :class:`~imaging.volume.Volume`.

The stack's geometry was worked out by the scan from headers only; loading reads the pixels in
slice order (see :mod:`imaging.dicom.pixels`) and, for sheared or unevenly spaced slices,
resamples them (see :mod:`imaging.dicom.resample`). Anything that cannot become an honest volume
raises a typed :class:`~imaging.errors.ImagingError` whose message names the files.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from imaging.dicom.frames import laterality_code
from imaging.dicom.index import ScanResult, Stack
from imaging.dicom.limits import check_allocation
from imaging.dicom.pixels import output_dtype, read_frames
from imaging.dicom.resample import resample_stack
from imaging.dicom.scan import describe_folder_contents, scan, scan_paths
from imaging.errors import NoImagesError, NotAVolumeError
from imaging.progress import Cancel, Progress, check_cancel, report
from imaging.volume import SeriesInfo, Volume

__all__ = ["load_stack", "load_folder", "load_files", "series_info", "single_stack"]


def series_info(ds) -> SeriesInfo:
    """The study/series identifiers of one pydicom dataset."""
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
        laterality=laterality_code(ds.get("Laterality"), ds.get("ImageLaterality")),
    )


def load_stack(
    stack: Stack,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    *,
    max_bytes: int | None = None,
    _start: float = 0.0,
) -> Volume:
    """Load one stack from a scan into a volume with exact LPS geometry."""
    if stack.error is not None:
        raise stack.error
    geometry = stack.geometry
    if geometry is None:  # pragma: no cover - a scan always sets one or the other
        raise NotAVolumeError(f"{stack.title} has no geometry.")
    frames = [stack.frames[i] for i in geometry.order]
    nz, ny, nx = geometry.shape
    dtype, _ = output_dtype(frames)
    check_allocation(nz * ny * nx * dtype.itemsize, f"{stack.title} ({nx} x {ny} x {nz} voxels)", max_bytes)
    mid = _start + (1 - _start) * (0.6 if geometry.resampled else 0.98)
    array = read_frames(frames, progress=progress, cancel=cancel, start=_start, end=mid, max_bytes=max_bytes)
    if geometry.resampled:
        check_cancel(cancel)
        array = resample_stack(array, geometry, progress=progress, cancel=cancel, start=mid, end=0.99)
    report(progress, 1.0, "Loaded")
    return Volume(array, geometry.affine, stack.info, tuple(geometry.warnings))


def single_stack(result: ScanResult, where: str) -> Stack:
    """The one image stack of a scan, or a typed error that says what the folder holds instead."""
    stacks = list(result.stacks())
    if not stacks:
        detail = describe_folder_contents(result)
        reasons = sorted({s.reason for s in result.skipped})[:3]
        hint = f" Reasons: {'; '.join(reasons)}." if reasons else ""
        raise NoImagesError(f"No DICOM images were found in {where} ({detail}).{hint}")
    if len(stacks) == 1:
        return stacks[0]
    series_uids = {s.series_uid for s in stacks}
    listing = "; ".join(s.title for s in stacks[:6]) + ("; ..." if len(stacks) > 6 else "")
    if len(series_uids) > 1:
        raise NotAVolumeError(
            f"{where} holds {len(series_uids)} image series ({listing}). Open the folder in the study "
            "browser and choose one, or use `injection-planner convert --series UID [--stack N]`."
        )
    reasons = ", ".join(sorted({s.reason for s in stacks if s.reason}))
    raise NotAVolumeError(
        f"{where} holds one series whose images form {len(stacks)} separate stacks ({reasons}): {listing}. "
        "They are not one volume; choose one stack in the study browser or with `--stack N`."
    )


def load_folder(
    folder: str | os.PathLike[str],
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    *,
    max_bytes: int | None = None,
) -> Volume:
    """Scan ``folder`` and load its image stack; the folder must hold exactly one."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NoImagesError(f"{folder} is not a folder. Choose the folder that holds the DICOM files.")
    result = scan(folder, progress=_scaled(progress, 0.0, 0.15), cancel=cancel)
    stack = single_stack(result, str(folder))
    return load_stack(stack, progress, cancel, max_bytes=max_bytes, _start=0.15)


def load_files(
    paths: Iterable[str | os.PathLike[str]],
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    *,
    max_bytes: int | None = None,
) -> Volume:
    """Load DICOM files that form one stack (given explicitly, in any order)."""
    paths = list(paths)
    if not paths:
        raise NoImagesError("No files were given.")
    result = scan_paths(paths)
    stack = single_stack(result, f"the {len(paths)} files given")
    return load_stack(stack, progress, cancel, max_bytes=max_bytes)


def _scaled(progress: Progress | None, a: float, b: float) -> Progress | None:
    if progress is None:
        return None
    return lambda f, m="": progress(a + (b - a) * f, m)
