"""Build ``sample_dicom/lumbar_ct`` from the real lumbar/pelvis CT in ``../shared/data/lumbar_ct``.

The source is a NIfTI file (RAS+); ITK reads it into LPS. Axes are flipped (never resampled) so
the series has the usual axial orientation (rows toward patient left, columns toward posterior),
and every voxel keeps its exact position.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from imaging.dicom.write import DISCLAIMER, write_series
from imaging.volume import SeriesInfo, Volume

NAME = "lumbar_ct"
SEED = "injection-planner sample lumbar_ct v1"
TITLE = "Lumbar spine CT (real)"
DESCRIPTION = "Real CT, T11 to sacrum and hips, 3 mm voxels: lumbar intrathecal planning"


def default_source() -> Path:
    return Path(__file__).resolve().parents[3] / "shared" / "data" / "lumbar_ct" / "example_ct.nii.gz"


def source_volume(source: Path) -> Volume:
    """The NIfTI as a volume in standard axial orientation (int16 HU)."""
    img = sitk.ReadImage(str(source))
    vol = Volume.from_sitk(img, SeriesInfo(modality="CT"))
    vol = vol.oriented_like_dicom_axial()
    return vol.with_array(np.clip(vol.array, -1024 - 2000, 32767 - 1024).astype(np.int16))


def build(out_dir: Path, source: Path | None = None) -> list[Path]:
    """Write the DICOM series, README.md and sample.json to ``out_dir`` (replacing it)."""
    source = source or default_source()
    if not source.is_file():
        raise FileNotFoundError(f"The lumbar CT source is missing: {source}")
    vol = source_volume(source)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    paths = write_series(
        vol,
        out_dir,
        seed=SEED,
        study_description="Lumbar spine sample (derived)",
        series_description="DERIVED from TotalSegmentator example_ct.nii.gz (3 mm)",
        patient_name="Sample^Lumbar",
        patient_id="SAMPLE-LUMBAR",
        extra={
            "BodyPartExamined": "LSPINE",
            "WindowCenter": "400",
            "WindowWidth": "1800",
            "DerivationDescription": "Converted from NIfTI (TotalSegmentator test data, Apache-2.0); "
            "axes flipped to axial orientation, no resampling",
        },
    )
    licence = (source.parent / "LICENSE-Apache-2.0.txt").read_text(encoding="utf-8")
    (out_dir / "README.md").write_text(_readme(vol, licence), encoding="utf-8")
    (out_dir / "sample.json").write_text(
        json.dumps({"title": TITLE, "description": DESCRIPTION, "modality": "CT"}, indent=2) + "\n",
        encoding="utf-8",
    )
    return paths


def _readme(vol: Volume, licence: str) -> str:
    nx, ny, nz = vol.size_ijk
    o = vol.origin
    return f"""# Lumbar spine CT (real, derived)

{DISCLAIMER}

## What it shows
A real abdominal/pelvic CT covering T11 down through the sacrum and both hip joints: all five
lumbar vertebrae, the sacrum, the spinal canal, aorta and IVC, kidneys and bowel. Voxels are 3 mm
isotropic ({nx} x {ny} columns x rows, {nz} axial slices), values in Hounsfield units. It is the
sample for lumbar intrathecal planning (interspaces L3-L4 and L4-L5).

## Provenance
- Source: `example_ct.nii.gz` from the public TotalSegmentator repository (wasserth/TotalSegmentator),
  `tests/reference_files/`, snapshot commit 0e65a448d557382b1e925276212b3bec7f5aff83; copied into
  the project's shared data as `shared/data/lumbar_ct/example_ct.nii.gz`.
- This DICOM series is a derived work made by `imaging/samples/lumbar_ct.py` (`make samples`):
  the NIfTI (RAS+) is read by SimpleITK (LPS), its i and j axes are flipped so that rows run toward
  the patient's left and columns toward posterior, and every slice is written as CT Image Storage
  (explicit VR little endian, stored = HU + 1024, RescaleIntercept -1024). No resampling: every voxel
  centre lies exactly where the NIfTI puts it (LPS = diag(-1, -1, 1) x RAS), checked by
  `tests/imaging/test_lumbar_sample.py`. First voxel centre (LPS mm): ({o[0]:.3f}, {o[1]:.3f}, {o[2]:.3f}).
- UIDs are derived deterministically from a fixed seed; the series has no patient identifiers
  (PatientName `Sample^Lumbar`, PatientID `SAMPLE-LUMBAR`); SeriesDescription says it is derived.

## Licence
The source data is distributed under the Apache License 2.0; this derived series is too.
Attribution: TotalSegmentator (Wasserthal et al.), https://github.com/wasserth/TotalSegmentator.

```text
{licence.rstrip()}
```
"""
