"""DICOM input and output: scan folders, load stacks, write series."""

from imaging.dicom.index import Patient, ScanResult, Series, SkippedFile, Stack, Study
from imaging.dicom.limits import max_volume_bytes, set_max_volume_bytes
from imaging.dicom.load import load_files, load_folder, load_stack
from imaging.dicom.scan import scan
from imaging.dicom.write import SeriesUids, deterministic_uid, write_series

__all__ = [
    "scan",
    "load_stack",
    "load_files",
    "load_folder",
    "write_series",
    "SeriesUids",
    "deterministic_uid",
    "ScanResult",
    "Patient",
    "Study",
    "Series",
    "Stack",
    "SkippedFile",
    "max_volume_bytes",
    "set_max_volume_bytes",
]
