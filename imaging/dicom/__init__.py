"""DICOM input and output."""

from imaging.dicom.load import load_files, load_folder
from imaging.dicom.write import SeriesUids, deterministic_uid, write_series

__all__ = ["load_files", "load_folder", "write_series", "SeriesUids", "deterministic_uid"]
