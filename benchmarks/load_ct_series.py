"""Load a generated 512 x 512 x 300 int16 CT series: ours vs SimpleITK vs `cat` (the I/O floor).

    python benchmarks/load_ct_series.py [--quick] [--slices N]

Writes the series to a temporary folder (deleted afterwards), then, with a warm file cache,
alternates ``imaging.load(folder)`` (scan + load, exact geometry, HU), SimpleITK's
``ImageSeriesReader`` (GetGDCMSeriesFileNames + Execute) and ``cat FILES > /dev/null``; reports
medians. Peak memory of our load is measured in a fresh process (peak RSS above the RSS before
loading, as a multiple of the volume's bytes). Last line: the JSON result.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import imaging  # noqa: E402
from imaging.dicom.write import write_series  # noqa: E402
from imaging.volume import SeriesInfo, Volume, affine_from_geometry  # noqa: E402


def make_series(folder: Path, nz: int) -> list[Path]:
    rng = np.random.default_rng(0)
    z, y, x = np.ogrid[:nz, :512, :512]
    body = ((y - 256) ** 2 / 200**2 + (x - 256) ** 2 / 160**2) < 1
    arr = np.where(body, 40, -1000) + rng.integers(-30, 30, (nz, 512, 512))
    arr[:, 240:272, 240:272] = 1200  # "spine"
    vol = Volume(arr.astype(np.int16), affine_from_geometry((-180, -180, -400), (0.7, 0.7, 1.0), np.eye(3)), SeriesInfo(modality="CT"))
    return write_series(vol, folder, seed="bench", series_description="benchmark CT")


def time_ours(folder: Path) -> float:
    t = time.perf_counter()
    imaging.load(folder)
    return time.perf_counter() - t


def time_sitk(folder: Path) -> float:
    import SimpleITK as sitk

    t = time.perf_counter()
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    reader.Execute()
    return time.perf_counter() - t


def time_cat(files: list[Path]) -> float:
    t = time.perf_counter()
    subprocess.run(["cat", *map(str, files)], stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t


_MEMORY_PROBE = r"""
import sys, numpy
sys.path.insert(0, sys.argv[2])
import imaging
def rss(field):
    for line in open('/proc/self/status'):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
imaging.load(sys.argv[1])  # warm imports and code paths
import gc; gc.collect()
base = rss('VmRSS:')
open('/proc/self/clear_refs', 'w').write('5')  # reset the peak (VmHWM) to the current RSS
vol = imaging.load(sys.argv[1])
print(rss('VmHWM:') - base, vol.array.nbytes)
"""


def peak_memory_ratio(folder: Path) -> float | None:
    try:
        out = subprocess.run(
            [sys.executable, "-c", _MEMORY_PROBE, str(folder), str(Path(__file__).resolve().parents[1])],
            capture_output=True, text=True, check=True, timeout=120,
        ).stdout.split()
        return int(out[0]) / int(out[1])
    except (subprocess.SubprocessError, OSError, ValueError, IndexError):
        return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (under 30 s)")
    ap.add_argument("--slices", type=int, default=300)
    args = ap.parse_args()
    reps = 3 if args.quick else 9
    tmp = Path(tempfile.mkdtemp(prefix="bench_ct_"))
    try:
        files = make_series(tmp / "ct", args.slices)
        folder = tmp / "ct"
        nbytes = 512 * 512 * args.slices * 2
        # warm-up (file cache, imports) and a correctness check against SimpleITK
        import SimpleITK as sitk

        ours = imaging.load(folder)
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
        ref = Volume.from_sitk(reader.Execute())
        assert np.array_equal(ours.array, ref.array.astype(ours.array.dtype)), "voxels differ from SimpleITK"
        assert np.allclose(ours.corner_centres(), ref.corner_centres(), atol=1e-3), "geometry differs"
        time_cat(files)
        t_ours, t_sitk, t_cat = [], [], []
        for _ in range(reps):
            t_ours.append(time_ours(folder))
            t_sitk.append(time_sitk(folder))
            t_cat.append(time_cat(files))
        m_ours, m_sitk, m_cat = (statistics.median(t) for t in (t_ours, t_sitk, t_cat))
        mem = peak_memory_ratio(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    mb = nbytes / 1e6
    print(f"series: 512 x 512 x {args.slices} int16 ({mb:.0f} MB), {len(files)} files; {reps} runs, medians; cpus {os.cpu_count()}")
    print(f"ours (imaging.load: scan + load)     {m_ours:.3f} s  ({mb / m_ours:.0f} MB/s)")
    print(f"SimpleITK ImageSeriesReader          {m_sitk:.3f} s  ({mb / m_sitk:.0f} MB/s)")
    print(f"cat FILES > /dev/null (I/O floor)    {m_cat:.3f} s  ({mb / m_cat:.0f} MB/s)")
    print(f"ours / floor = {m_ours / m_cat:.2f} (goal <= 3); SimpleITK / ours = {m_sitk / m_ours:.2f} (goal >= 3)")
    print(f"peak memory above baseline = {mem:.2f} x the volume's bytes (goal <= 1.3)" if mem else "peak memory: not measured")
    result = {
        "benchmark": "load_ct_series",
        "value": round(m_ours, 4),
        "unit": "s",
        "baseline": "SimpleITK ImageSeriesReader",
        "baseline_value": round(m_sitk, 4),
        "ratio": round(m_sitk / m_ours, 2),
        "goal": "ratio >= 3; ours <= 3 x cat; peak memory <= 1.3 x volume bytes",
        "floor_cat_s": round(m_cat, 4),
        "ours_over_floor": round(m_ours / m_cat, 2),
        "peak_memory_ratio": None if mem is None else round(mem, 3),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
