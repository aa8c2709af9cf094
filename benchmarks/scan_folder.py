"""Scan a folder of 3,000 DICOM files with realistic headers: ours vs a plain pydicom loop.

    python benchmarks/scan_folder.py [--quick] [--files N]

The files copy every header element of a real CT image from the peer suite
(../shared/data/dicom2nifti_tests/failing/gantrytilting/001, Siemens SOMATOM) plus the private
elements found in the suite's GE and Siemens images (the CT files themselves carry none), spread
over 6 series of 2 studies. ``imaging.scan(folder)`` (walk, headers, patients > studies > series >
stacks, geometry of every stack) is compared with a loop of ``pydicom.dcmread(path,
stop_before_pixels=True)`` over the same files (reading only, no grouping). Warm file cache,
alternating runs, medians. Last line: the JSON result.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom
from pydicom.uid import generate_uid

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import imaging  # noqa: E402

SUITE = Path(__file__).resolve().parents[2] / "shared" / "data" / "dicom2nifti_tests"
CT_TEMPLATE = SUITE / "failing" / "gantrytilting" / "001" / "IM-0001-0001.dcm"
PRIVATE_SOURCES = [
    SUITE / "ge" / "anatomical" / "001" / "IM-0001-0112-0001.dcm",
    SUITE / "siemens" / "anatomical" / "001" / "IM-0001-0112-0001.dcm",
]


def template() -> pydicom.Dataset:
    if not CT_TEMPLATE.exists():
        raise SystemExit(f"peer suite not found: {CT_TEMPLATE}")
    ds = pydicom.dcmread(CT_TEMPLATE)
    for src in PRIVATE_SOURCES:
        if src.exists():
            for elem in pydicom.dcmread(src, stop_before_pixels=True):
                if elem.tag.is_private:
                    ds.add(copy.deepcopy(elem))
    return ds


def make_folder(folder: Path, n_files: int, size: int) -> int:
    base = template()
    base.Rows = base.Columns = size
    base.PixelData = (np.arange(size * size, dtype=np.uint16) % 4096).tobytes()
    base.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    studies = [generate_uid(prefix=None) for _ in range(2)]
    n_series = 6
    per_series = n_files // n_series
    count = 0
    for s in range(n_series):
        series_uid = generate_uid(prefix=None)
        sub = folder / f"study{s % 2}" / f"series{s}"
        sub.mkdir(parents=True)
        for k in range(per_series):
            ds = copy.copy(base)
            ds.file_meta = copy.copy(base.file_meta)
            ds.StudyInstanceUID = studies[s % 2]
            ds.SeriesInstanceUID = series_uid
            ds.SeriesNumber = s + 1
            ds.InstanceNumber = k + 1
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = f"{series_uid}.{k + 1}"
            ds.ImagePositionPatient = [-106.79, -256.62, -61.95 + 1.25 * k]
            ds.save_as(sub / f"IM{k:05d}", enforce_file_format=True)
            count += 1
    return count


def time_ours(folder: Path) -> tuple[float, int]:
    t = time.perf_counter()
    result = imaging.scan(folder)
    return time.perf_counter() - t, result.dicom_files


def time_pydicom(files: list[str]) -> float:
    t = time.perf_counter()
    for f in files:
        pydicom.dcmread(f, stop_before_pixels=True)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small images and fewer runs (under 30 s)")
    ap.add_argument("--files", type=int, default=3000)
    args = ap.parse_args()
    reps = 2 if args.quick else 7
    size = 64 if args.quick else 512
    tmp = Path(tempfile.mkdtemp(prefix="bench_scan_"))
    try:
        n = make_folder(tmp / "media", args.files, size)
        files = sorted(str(Path(r) / f) for r, _, fs in os.walk(tmp / "media") for f in fs)
        elements = len(pydicom.dcmread(files[0], stop_before_pixels=True))
        # warm-up and a check that the scan found everything
        _, found = time_ours(tmp / "media")
        assert found == n, (found, n)
        result = imaging.scan(tmp / "media")
        assert len(result.loadable_stacks()) == 6
        time_pydicom(files)
        t_ours, t_py = [], []
        for _ in range(reps):
            t_ours.append(time_ours(tmp / "media")[0])
            t_py.append(time_pydicom(files))
        m_ours, m_py = statistics.median(t_ours), statistics.median(t_py)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    fps_ours, fps_py = n / m_ours, n / m_py
    print(f"{n} files ({size} x {size} pixels, {elements} top-level header elements incl. private), "
          f"6 series in 2 studies; {reps} runs, medians; cpus {os.cpu_count()}")
    print(f"ours (imaging.scan: walk + headers + tree + geometry)  {m_ours:.3f} s  {fps_ours:,.0f} files/s")
    print(f"pydicom dcmread(stop_before_pixels=True) loop          {m_py:.3f} s  {fps_py:,.0f} files/s")
    print(f"ratio {fps_ours / fps_py:.2f} (goal >= 2)")
    print(json.dumps({
        "benchmark": "scan_folder",
        "value": round(fps_ours),
        "unit": "files/s",
        "baseline": "pydicom dcmread(stop_before_pixels=True) loop",
        "baseline_value": round(fps_py),
        "ratio": round(fps_ours / fps_py, 2),
        "goal": "ratio >= 2",
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
