"""Imaging layer: volumes, DICOM in/out, segmentation. Imports neither Qt nor VTK."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from imaging.errors import (
    CancelledError,
    DicomError,
    GeometryError,
    ImagingError,
    IrregularSpacingError,
    NoImagesError,
    NotAVolumeError,
    UnsafePathError,
    UnsupportedDicomError,
    VolumeTooLargeError,
)
from imaging.progress import Cancel, Progress
from imaging.volume import SeriesInfo, Volume

if TYPE_CHECKING:
    from imaging.dicom.index import ScanResult, Stack

__all__ = [
    "Volume",
    "SeriesInfo",
    "scan",
    "load",
    "ImagingError",
    "GeometryError",
    "DicomError",
    "NoImagesError",
    "NotAVolumeError",
    "IrregularSpacingError",
    "UnsupportedDicomError",
    "VolumeTooLargeError",
    "UnsafePathError",
    "CancelledError",
]


def scan(folder: str | os.PathLike[str], progress: Progress | None = None, cancel: Cancel | None = None) -> ScanResult:
    """Find every DICOM study in ``folder`` (recursively, DICOMDIR honoured), from headers only:
    patients > studies > series > stacks, plus the files skipped and why."""
    from imaging.dicom.scan import scan as _scan

    return _scan(folder, progress=progress, cancel=cancel)


def load(
    stack_or_folder: Stack | str | os.PathLike[str],
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    *,
    max_bytes: int | None = None,
) -> Volume:
    """Load a stack from :func:`scan` (or a folder holding exactly one) as a :class:`Volume`
    with exact LPS geometry. ``max_bytes`` overrides the memory ceiling for this call."""
    from imaging.dicom.index import Stack
    from imaging.dicom.load import load_folder, load_stack

    if isinstance(stack_or_folder, Stack):
        return load_stack(stack_or_folder, progress, cancel, max_bytes=max_bytes)
    return load_folder(stack_or_folder, progress=progress, cancel=cancel, max_bytes=max_bytes)
