"""Imaging layer: volumes, DICOM in/out, segmentation. Imports neither Qt nor VTK."""

from __future__ import annotations

import os

from imaging.errors import (
    CancelledError,
    DicomError,
    GeometryError,
    ImagingError,
    NoImagesError,
    NotAVolumeError,
)
from imaging.progress import Cancel, Progress
from imaging.volume import SeriesInfo, Volume

__all__ = [
    "Volume",
    "SeriesInfo",
    "load",
    "ImagingError",
    "GeometryError",
    "DicomError",
    "NoImagesError",
    "NotAVolumeError",
    "CancelledError",
]


def load(folder: str | os.PathLike[str], progress: Progress | None = None, cancel: Cancel | None = None) -> Volume:
    """Load the image series in ``folder`` as a :class:`Volume` with exact LPS geometry."""
    from imaging.dicom.load import load_folder

    return load_folder(folder, progress=progress, cancel=cancel)
