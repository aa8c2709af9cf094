"""Convert a DICOM series to NRRD or NIfTI with its exact geometry (written by SimpleITK)."""

from __future__ import annotations

import argparse
from pathlib import Path

import imaging
from imaging.errors import ImagingError

HELP = "write a DICOM series as .nrrd or .nii.gz with its geometry"
SUFFIXES = (".nrrd", ".nii", ".nii.gz", ".nhdr", ".mha", ".mhd")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("folder", type=Path, help="folder holding the DICOM series")
    p.add_argument("out", type=Path, help="output file: .nrrd, .nii.gz, .nii or .mha")


def run(args: argparse.Namespace) -> int:
    import SimpleITK as sitk

    name = args.out.name.lower()
    if not name.endswith(SUFFIXES):
        raise ImagingError(f"Cannot tell the format of {args.out}; use one of: {', '.join(SUFFIXES)}.")
    vol = imaging.load(args.folder)
    for w in vol.warnings:
        print(f"warning: {w}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(".tmp-" + args.out.name)
    sitk.WriteImage(vol.to_sitk(), str(tmp), useCompression=True)
    tmp.replace(args.out)
    nx, ny, nz = vol.size_ijk
    print(f"Wrote {args.out}: {nx} x {ny} x {nz} voxels, spacing {tuple(round(float(s), 4) for s in vol.spacing)} mm")
    return 0
