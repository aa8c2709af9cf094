"""Typed errors of the imaging layer. Every message tells a clinician what is wrong and what to do."""

from __future__ import annotations

__all__ = [
    "ImagingError",
    "GeometryError",
    "DicomError",
    "NoImagesError",
    "NotAVolumeError",
    "UnsupportedDicomError",
    "CancelledError",
    "IrregularSpacingError",
    "VolumeTooLargeError",
    "UnsafePathError",
    "LabelMapError",
]


class ImagingError(Exception):
    """Base class of every error the imaging layer raises on purpose."""


class GeometryError(ImagingError):
    """A volume's geometry is inconsistent (wrong shape, singular affine, mismatched grids)."""


class DicomError(ImagingError):
    """A DICOM file or series cannot be read as an image volume."""


class NoImagesError(DicomError):
    """A folder holds no loadable DICOM images."""


class NotAVolumeError(DicomError):
    """The images do not form one regular 3D volume (duplicates, mixed orientation, sizes)."""


class UnsupportedDicomError(DicomError):
    """The data is valid DICOM but of a kind this tool cannot load."""


class CancelledError(ImagingError):
    """The user cancelled a long operation."""


class IrregularSpacingError(NotAVolumeError):
    """Slices are too far apart somewhere to fill the gap honestly by interpolation."""


class VolumeTooLargeError(DicomError):
    """Loading would allocate more memory than the user's ceiling allows (or the header lies)."""


class UnsafePathError(DicomError):
    """A path taken from a DICOM file (e.g. a DICOMDIR entry) points outside the chosen folder."""


class LabelMapError(ImagingError):
    """A label map, its legend or its landmarks file is missing, malformed or for another study."""
