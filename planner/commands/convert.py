"""Convert a DICOM stack to NRRD or NIfTI with its exact geometry (written by SimpleITK).

FOLDER may hold exactly one image stack; otherwise choose one with --series (a SeriesInstanceUID
from `injection-planner scan`) and, when that series was split into several stacks, --stack N.
Warnings (e.g. a resampled gantry tilt) are printed; errors exit non-zero.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import imaging
from imaging.dicom.limits import set_max_volume_bytes
from imaging.dicom.load import load_stack, single_stack
from imaging.errors import ImagingError, NoImagesError, NotAVolumeError

HELP = "write a DICOM series as .nrrd or .nii.gz with its geometry"
SUFFIXES = (".nrrd", ".nii", ".nii.gz", ".nhdr", ".mha", ".mhd")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("folder", type=Path, help="folder holding the DICOM files")
    p.add_argument("out", type=Path, help="output file: .nrrd, .nii.gz, .nii or .mha")
    p.add_argument("--series", metavar="UID", help="SeriesInstanceUID of the series to convert (see `scan`)")
    p.add_argument("--stack", metavar="N", type=int, help="stack number within the series (see `scan`)")
    p.add_argument("--max-memory-mb", type=float, metavar="MB", help="raise (or lower) the memory ceiling for the volume")


def choose_stack(result, series: str | None, stack: int | None, where: str):
    if series is None and stack is None:
        return single_stack(result, where)
    candidates = [s for s in result.stacks() if series is None or s.series_uid == series]
    if not candidates:
        known = ", ".join(sorted({s.series_uid for s in result.stacks()})) or "none"
        raise NoImagesError(f"No image series {series} in {where}. Series found: {known}.")
    if stack is None:
        if len(candidates) > 1:
            listing = "; ".join(f"--stack {s.number}: {s.title}" for s in candidates)
            raise NotAVolumeError(f"Series {series} holds {len(candidates)} stacks; choose one: {listing}.")
        return candidates[0]
    match = [s for s in candidates if s.number == stack]
    if len(match) != 1:
        numbers = ", ".join(str(s.number) for s in candidates)
        raise NotAVolumeError(f"No single stack {stack} in {'series ' + series if series else where}; stacks: {numbers}.")
    return match[0]


def run(args: argparse.Namespace) -> int:
    import SimpleITK as sitk

    name = args.out.name.lower()
    if not name.endswith(SUFFIXES):
        raise ImagingError(f"Cannot tell the format of {args.out}; use one of: {', '.join(SUFFIXES)}.")
    if args.max_memory_mb is not None:
        set_max_volume_bytes(int(args.max_memory_mb * 1024 * 1024))
    if not args.folder.is_dir():
        raise NoImagesError(f"{args.folder} is not a folder. Choose the folder that holds the DICOM files.")
    result = imaging.scan(args.folder)
    stack = choose_stack(result, args.series, args.stack, str(args.folder))
    vol = load_stack(stack)
    for w in vol.warnings:
        print(f"warning: {w}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(".tmp-" + args.out.name)
    sitk.WriteImage(vol.to_sitk(), str(tmp), useCompression=True)
    tmp.replace(args.out)
    nx, ny, nz = vol.size_ijk
    print(f"Wrote {args.out}: {nx} x {ny} x {nz} voxels, spacing {tuple(round(float(s), 4) for s in vol.spacing)} mm")
    return 0
