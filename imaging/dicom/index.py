"""The result of a folder scan: patients > studies > series > stacks, plus the files skipped.

Everything here comes from headers only. A :class:`Stack` is the unit that loads into one
:class:`~imaging.volume.Volume`; one that cannot be loaded says why in ``problem``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from imaging.dicom.frames import Frame, describe_non_image
from imaging.dicom.geometry import StackGeometry
from imaging.errors import ImagingError
from imaging.volume import SeriesInfo

__all__ = ["Stack", "Series", "Study", "Patient", "ScanResult", "SkippedFile"]


@dataclass(frozen=True)
class SkippedFile:
    """A file the scan did not use, and why (not DICOM, unreadable, broken, unsafe...)."""

    path: str
    reason: str


@dataclass(eq=False)
class Stack:
    """Images of one series that form (or would form) one volume."""

    series_uid: str
    number: int  # 1-based position within its series
    frames: tuple[Frame, ...]
    info: SeriesInfo
    reason: str = ""  # what sets it apart from the other stacks of its series
    geometry: StackGeometry | None = None
    error: ImagingError | None = None  # why it cannot be loaded (None when loadable)

    @property
    def key(self) -> str:
        """A string that names this stack uniquely within a scan: ``<series UID>#<number>``."""
        return f"{self.series_uid}#{self.number}"

    @property
    def loadable(self) -> bool:
        return self.error is None and self.geometry is not None

    @property
    def problem(self) -> str:
        return "" if self.error is None else str(self.error)

    @property
    def image_count(self) -> int:
        return len(self.frames)

    @property
    def rows(self) -> int:
        return self.frames[0].rows

    @property
    def columns(self) -> int:
        return self.frames[0].columns

    @property
    def shape(self) -> tuple[int, int, int] | None:
        """(nz, ny, nx) of the volume it loads into."""
        return None if self.geometry is None else self.geometry.shape

    @property
    def spacing(self) -> tuple[float, float, float] | None:
        """Voxel size (i, j, k) in mm of the volume it loads into."""
        return None if self.geometry is None else self.geometry.spacing

    @property
    def affine(self) -> np.ndarray | None:
        return None if self.geometry is None else self.geometry.affine

    @property
    def orientation(self) -> str:
        from imaging.dicom.geometry import orientation_label

        return orientation_label(self.frames[0].orientation)

    @property
    def warnings(self) -> tuple[str, ...]:
        return () if self.geometry is None else self.geometry.warnings

    @property
    def title(self) -> str:
        """A one-line description for lists and messages."""
        s = self.info
        number = f"series {s.series_number}" if s.series_number is not None else "series"
        desc = f" '{s.series_description}'" if s.series_description else ""
        part = f" stack {self.number}" if self.number > 1 or self.reason else ""
        why = f" [{self.reason}]" if self.reason else ""
        return f"{number}{desc}{part}{why}: {s.modality or '?'} {self.orientation}, {self.image_count} images"

    def to_dict(self) -> dict:
        d: dict = {
            "stack": self.number,
            "key": self.key,
            "reason": self.reason,
            "images": self.image_count,
            "orientation": self.orientation,
            "rows": self.rows,
            "columns": self.columns,
            "loadable": self.loadable,
        }
        if self.geometry is not None:
            nz, ny, nx = self.geometry.shape
            d["shape_zyx"] = [nz, ny, nx]
            d["spacing_ijk_mm"] = [round(s, 6) for s in self.geometry.spacing]
            d["affine_lps"] = [[round(float(x), 6) for x in row] for row in self.geometry.affine]
            d["resampled"] = self.geometry.resampled
            d["warnings"] = list(self.geometry.warnings)
        if self.error is not None:
            d["problem"] = str(self.error)
            d["problem_type"] = type(self.error).__name__
        return d


@dataclass(eq=False)
class Series:
    """One SeriesInstanceUID: its image stacks, or the kind of non-image object it holds."""

    uid: str
    number: int | None
    description: str
    modality: str
    body_part: str
    stacks: list[Stack] = field(default_factory=list)
    non_image_kind: str = ""  # "SR", "PR", "RTSTRUCT", ... when the series holds no images
    files: list[str] = field(default_factory=list)
    duplicates_ignored: int = 0

    @property
    def is_image(self) -> bool:
        return not self.non_image_kind

    @property
    def image_count(self) -> int:
        return sum(s.image_count for s in self.stacks)

    @property
    def kind_label(self) -> str:
        return "images" if self.is_image else describe_non_image(self.non_image_kind)

    def to_dict(self) -> dict:
        return {
            "series_uid": self.uid,
            "series_number": self.number,
            "description": self.description,
            "modality": self.modality,
            "body_part": self.body_part,
            "kind": self.kind_label,
            "files": len(self.files),
            "images": self.image_count,
            "duplicates_ignored": self.duplicates_ignored,
            "stacks": [s.to_dict() for s in self.stacks],
        }


@dataclass(eq=False)
class Study:
    uid: str
    date: str
    time: str
    description: str
    series: list[Series] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "study_uid": self.uid,
            "date": self.date,
            "description": self.description,
            "series": [s.to_dict() for s in self.series],
        }


@dataclass(eq=False)
class Patient:
    name: str
    id: str
    studies: list[Study] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"patient_name": self.name, "patient_id": self.id, "studies": [s.to_dict() for s in self.studies]}


@dataclass(eq=False)
class ScanResult:
    """What a folder holds: the patient tree, the files skipped and notes about the scan."""

    folder: str
    patients: list[Patient] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    files_seen: int = 0
    dicom_files: int = 0
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def series(self) -> Iterator[Series]:
        for p in self.patients:
            for st in p.studies:
                yield from st.series

    def stacks(self) -> Iterator[Stack]:
        for s in self.series():
            yield from s.stacks

    def loadable_stacks(self) -> list[Stack]:
        return [s for s in self.stacks() if s.loadable]

    def find_stack(self, key: str) -> Stack | None:
        return next((s for s in self.stacks() if s.key == key), None)

    def to_dict(self) -> dict:
        return {
            "folder": self.folder,
            "files_seen": self.files_seen,
            "dicom_files": self.dicom_files,
            "seconds": round(self.seconds, 3),
            "notes": list(self.notes),
            "patients": [p.to_dict() for p in self.patients],
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
        }
