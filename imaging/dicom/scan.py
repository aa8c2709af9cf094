"""Scan a folder (a CD export, a PACS dump, a USB stick) for DICOM studies, from headers only.

* walks the folder recursively, following symbolic links to folders at most once each (a link
  loop is noticed, not followed forever) and opening only regular files (never a FIFO or device);
* honours a DICOMDIR: its entries are read first, references that escape the folder are refused;
* reads each file's header with the fast parser (pydicom as fallback), never its pixels;
* lists every file it cannot use with the reason; one broken file never stops a scan;
* groups images into patients > studies > series > stacks and works out each stack's geometry,
  so the caller knows before loading what will load, what will be resampled and what will not.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterable

from imaging.dicom.dicomdir import is_dicomdir_name, read_dicomdir
from imaging.dicom.frames import ImageFile, read_file
from imaging.dicom.geometry import analyse
from imaging.dicom.header import NATIVE_SYNTAXES, HeaderError, NotDicomError
from imaging.dicom.index import Patient, ScanResult, Series, SkippedFile, Stack, Study
from imaging.dicom.limits import check_allocation, format_bytes
from imaging.dicom.stacks import dedupe, split_series
from imaging.errors import ImagingError, NoImagesError, UnsupportedDicomError
from imaging.progress import Cancel, Progress, check_cancel, report
from imaging.volume import SeriesInfo

__all__ = ["scan", "scan_files", "scan_paths", "list_files", "build_tree", "make_stacks", "MAX_DEPTH"]

MAX_DEPTH = 64
"""Folders nested deeper than this are not entered (they are listed as skipped)."""


def list_files(root: str, skipped: list[SkippedFile], cancel: Cancel | None = None) -> list[tuple[str, int]]:
    """Every regular file under ``root`` as ``(path, size)``, in a stable order. Symbolic links
    to folders are followed once per real folder; loops and special files are skipped."""
    out: list[tuple[str, int]] = []
    visited: set[tuple[int, int]] = set()
    try:
        st = os.stat(root)
    except OSError as exc:
        raise NoImagesError(f"{root} cannot be opened: {exc.strerror or exc}.") from exc
    visited.add((st.st_dev, st.st_ino))
    pending: list[tuple[str, int]] = [(root, 0)]
    seen_files: set[tuple[int, int]] = set()
    while pending:
        check_cancel(cancel)
        folder, depth = pending.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            skipped.append(SkippedFile(folder, f"folder cannot be read: {exc.strerror or exc}"))
            continue
        subfolders = []
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=True)
            except OSError:
                skipped.append(SkippedFile(entry.path, "broken symbolic link or unreadable entry"))
                continue
            if stat.S_ISDIR(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if key in visited:
                    if entry.is_symlink():
                        skipped.append(SkippedFile(entry.path, "symbolic link to a folder already scanned (link loop); not followed again"))
                    continue
                if depth + 1 > MAX_DEPTH:
                    skipped.append(SkippedFile(entry.path, f"folder nested more than {MAX_DEPTH} levels deep; not entered"))
                    continue
                visited.add(key)
                subfolders.append(entry.path)
            elif stat.S_ISREG(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if key in seen_files:
                    skipped.append(SkippedFile(entry.path, "the same file was already found through another link"))
                    continue
                seen_files.add(key)
                out.append((entry.path, st.st_size))
            else:
                skipped.append(SkippedFile(entry.path, "not a regular file (device, pipe or socket); not opened"))
        pending.extend((p, depth + 1) for p in reversed(subfolders))
    return out


def scan(
    folder: str | os.PathLike[str],
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> ScanResult:
    """Scan ``folder`` recursively and return patients > studies > series > stacks."""
    start = time.perf_counter()
    root = os.path.realpath(os.fspath(folder))
    if not os.path.isdir(root):
        raise NoImagesError(f"{folder} is not a folder. Choose the folder that holds the DICOM files.")
    result = ScanResult(folder=os.fspath(folder))
    report(progress, 0.0, "Listing files")
    files = list_files(root, result.skipped, cancel)
    # DICOMDIR: its references come first (checked), the remaining files after them
    ordered: list[tuple[str, int]] = []
    dicomdirs = [(p, s) for p, s in files if is_dicomdir_name(p)]
    referenced: set[str] = set()
    for path, _size in dicomdirs:
        try:
            entries = read_dicomdir(path, root)
        except Exception as exc:  # a broken DICOMDIR is reported; the folder walk still finds the files
            result.skipped.append(SkippedFile(path, f"DICOMDIR cannot be read ({exc}); the folder was scanned instead"))
            continue
        result.notes.append(
            f"DICOMDIR {os.path.relpath(path, root)}: {len(entries.files)} files referenced"
            + (f", {len(entries.refused)} references refused" if entries.refused else "")
            + (f", {len(entries.missing)} referenced files missing" if entries.missing else "")
        )
        for ref, reason in entries.refused:
            result.skipped.append(SkippedFile(ref, f"DICOMDIR entry: {reason}"))
        for ref in entries.missing:
            result.skipped.append(SkippedFile(ref, "DICOMDIR entry: referenced file does not exist"))
        sizes = dict(files)
        for real in entries.files:
            if real not in referenced and real in sizes:
                referenced.add(real)
                ordered.append((real, sizes[real]))
    ordered.extend((p, s) for p, s in files if p not in referenced and not is_dicomdir_name(p))
    result.files_seen = len(files)
    images = scan_files(ordered, result, progress, cancel)
    result.patients = build_tree(images, result)
    result.seconds = time.perf_counter() - start
    report(progress, 1.0, f"Scanned {len(files)} files")
    return result


def scan_files(
    files: Iterable[tuple[str, int]],
    result: ScanResult,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> list[ImageFile]:
    """Read the headers of ``files``; record those that cannot be used in ``result.skipped``."""
    files = list(files)
    total = max(1, len(files))
    out: list[ImageFile] = []
    step = max(1, total // 200)
    for n, (path, size) in enumerate(files):
        if n % step == 0:
            check_cancel(cancel)
            report(progress, 0.05 + 0.85 * n / total, f"Reading headers ({n} of {total})")
        try:
            f = read_file(path, size)
        except NotDicomError as exc:
            result.skipped.append(SkippedFile(path, str(exc)))
            continue
        except HeaderError as exc:
            result.skipped.append(SkippedFile(path, f"DICOM file with a broken header: {exc}"))
            continue
        except MemoryError:
            result.skipped.append(SkippedFile(path, "header too large to read"))
            continue
        except Exception as exc:  # never let one file stop a scan; the reason is recorded
            result.skipped.append(SkippedFile(path, f"internal error reading the header: {type(exc).__name__}: {exc}"))
            continue
        result.dicom_files += 1
        problem = _file_problem(f)
        if problem:
            result.skipped.append(SkippedFile(path, problem))
            continue
        out.append(f)
    return out


def _file_problem(f: ImageFile) -> str:
    """Why an image file's pixel data cannot be used, judged from the header alone."""
    if f.non_image_kind:
        return ""
    if not f.frames:
        return "image without frames"
    fr = f.frames[0]
    if fr.rows <= 0 or fr.columns <= 0:
        return f"declares an image of {fr.rows} x {fr.columns} pixels"
    if fr.bits_allocated not in (1, 8, 16, 32, 64) or fr.bits_stored > fr.bits_allocated or fr.bits_stored <= 0:
        return f"declares {fr.bits_stored} bits stored in {fr.bits_allocated} allocated; not a valid pixel format"
    declared = fr.frame_bytes * f.number_of_frames if fr.bits_allocated >= 8 else (fr.rows * fr.columns * f.number_of_frames + 7) // 8
    if f.pixel_length <= -2:
        claimed = -2 - f.pixel_length
        return (
            f"its pixel data element claims {format_bytes(claimed)} but the file holds only "
            f"{format_bytes(f.size - f.pixel_offset)} after the header (truncated or corrupt)"
        )
    if f.transfer_syntax in NATIVE_SYNTAXES and f.pixel_length >= 0 and f.pixel_length < declared:
        return (
            f"declares {fr.rows} x {fr.columns} pixels x {f.number_of_frames} frames "
            f"({format_bytes(declared)}) but holds only {format_bytes(f.pixel_length)} of pixel data"
        )
    return ""


def _info(f: ImageFile) -> SeriesInfo:
    return SeriesInfo(
        modality=f.modality,
        patient_name=f.patient_name,
        patient_id=f.patient_id,
        study_uid=f.study_uid,
        series_uid=f.series_uid,
        frame_of_reference_uid=f.frame_of_reference_uid,
        study_date=f.study_date,
        study_description=f.study_description,
        series_description=f.series_description,
        series_number=f.series_number,
        body_part=f.body_part,
        laterality=f.laterality,
    )


def _output_bytes_per_voxel(stack_frames) -> int:
    integral = all(fr.slope == 1.0 and float(fr.intercept).is_integer() for fr in stack_frames)
    if not integral:
        return 4
    return 2 if max(fr.bits_stored for fr in stack_frames) <= 16 else 4


def make_stacks(series_uid: str, frames, info: SeriesInfo) -> list[Stack]:
    """Split a series' frames into stacks and work out each one's geometry (or its problem)."""
    stacks = []
    for number, (fr, reason) in enumerate(split_series(frames), start=1):
        stack = Stack(series_uid=series_uid, number=number, frames=tuple(fr), info=info, reason=reason)
        try:
            first = fr[0]
            if first.samples != 1 or not first.photometric.startswith("MONOCHROME"):
                raise UnsupportedDicomError(
                    f"{first.label} is a colour image ({first.photometric}); only greyscale CT/MR/PET "
                    "images can be used for planning."
                )
            stack.geometry = analyse(fr)
            nz, ny, nx = stack.geometry.shape
            need = nz * ny * nx * _output_bytes_per_voxel(fr)
            if stack.geometry.resampled:
                need += len(fr) * first.rows * first.columns * 4
            check_allocation(need, f"Series {info.series_number} ({nx} x {ny} x {nz} voxels)")
        except ImagingError as exc:
            stack.error = exc
        stacks.append(stack)
    return stacks


def build_tree(images: list[ImageFile], result: ScanResult | None = None) -> list[Patient]:
    """Group image (and non-image) files into patients > studies > series > stacks."""
    patients: dict[tuple[str, str], Patient] = {}
    studies: dict[str, Study] = {}
    series_frames: dict[str, list] = {}
    series: dict[str, Series] = {}
    first_file: dict[str, ImageFile] = {}
    for f in images:
        pkey = (f.patient_id, f.patient_name)
        patient = patients.get(pkey)
        if patient is None:
            patient = patients[pkey] = Patient(name=f.patient_name, id=f.patient_id)
        study_key = f.study_uid or f"(no study UID) {pkey}"
        study = studies.get(study_key)
        if study is None:
            study = studies[study_key] = Study(uid=f.study_uid, date=f.study_date, time=f.study_time, description=f.study_description)
            patient.studies.append(study)
        series_key = f.series_uid or f"(no series UID) {os.path.dirname(f.path)}"
        s = series.get(series_key)
        if s is None:
            s = series[series_key] = Series(
                uid=f.series_uid,
                number=f.series_number,
                description=f.series_description,
                modality=f.modality,
                body_part=f.body_part,
                non_image_kind=f.non_image_kind,
            )
            study.series.append(s)
            series_frames[series_key] = []
            first_file[series_key] = f
        s.files.append(f.path)
        if f.non_image_kind:
            continue
        s.non_image_kind = ""
        series_frames[series_key].extend(f.frames)
    for key, s in series.items():
        frames = series_frames[key]
        if not frames:
            continue
        kept, dropped = dedupe(frames)
        s.duplicates_ignored = len(dropped)
        if dropped and result is not None:
            result.notes.append(
                f"Series {s.number} '{s.description}': {len(dropped)} repeated copies of the same images ignored "
                f"(e.g. {os.path.basename(dropped[0].file.path)})"
            )
        s.stacks = make_stacks(s.uid, kept, _info(first_file[key]))
    for p in patients.values():
        p.studies.sort(key=lambda st: (st.date, st.time, st.uid))
        for st in p.studies:
            st.series.sort(key=lambda se: (not se.is_image, se.number if se.number is not None else 1 << 30, se.uid))
    return sorted(patients.values(), key=lambda p: (p.name, p.id))


def scan_paths(paths: Iterable[str | os.PathLike[str]]) -> ScanResult:
    """Scan an explicit list of files (no folder walk)."""
    result = ScanResult(folder="")
    files = []
    for p in paths:
        p = os.fspath(p)
        try:
            files.append((p, os.path.getsize(p)))
        except OSError as exc:
            result.skipped.append(SkippedFile(p, f"cannot be read: {exc.strerror or exc}"))
    result.files_seen = len(files)
    images = scan_files(files, result)
    result.patients = build_tree(images, result)
    return result


def describe_folder_contents(result: ScanResult) -> str:
    """A short account of what a scan found, for error messages."""
    parts = [f"{result.files_seen} files looked at", f"{result.dicom_files} DICOM"]
    non_images = [s for s in result.series() if not s.is_image]
    if non_images:
        parts.append(f"{len(non_images)} non-image series ({', '.join(sorted({s.kind_label for s in non_images}))})")
    if result.skipped:
        parts.append(f"{len(result.skipped)} skipped")
    return ", ".join(parts)
