"""List what a folder holds: patients > studies > series > stacks, from DICOM headers only.

Every stack is listed with its image count, orientation, size, voxel spacing and whether it will
load (and if not, why). Files that are not usable DICOM are counted and listed with the reason.
With --json the same tree is printed as JSON, with each stack's shape, spacing and 4x4 LPS affine.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import imaging
from imaging.dicom.index import ScanResult
from imaging.dicom.limits import set_max_volume_bytes

HELP = "list the studies, series and loadable stacks in a folder (headers only)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("folder", type=Path, help="folder to scan (recursively; a DICOMDIR is honoured)")
    p.add_argument("--json", action="store_true", help="print the tree as JSON (with per-stack shape, spacing, LPS affine)")
    p.add_argument("--max-memory-mb", type=float, metavar="MB", help="memory ceiling used to judge whether a stack is too large to load")
    p.add_argument("--all-skipped", action="store_true", help="list every skipped file (default: the first 20)")


def format_tree(result: ScanResult, all_skipped: bool = False) -> str:
    lines = [f"{result.folder}: {result.files_seen} files, {result.dicom_files} DICOM, scanned in {result.seconds:.2f} s"]
    lines += [f"  note: {n}" for n in result.notes]
    for p in result.patients:
        lines.append(f"Patient {p.name or '(no name)'} [{p.id or 'no ID'}]")
        for st in p.studies:
            lines.append(f"  Study {st.date or '(no date)'} {st.description or '(no description)'}  {st.uid}")
            for se in st.series:
                num = se.number if se.number is not None else "-"
                head = f"    Series {num} {se.modality} '{se.description}' {se.body_part}".rstrip()
                if not se.is_image:
                    lines.append(f"{head}: {se.kind_label}, {len(se.files)} files (not an image; not loadable)")
                    continue
                lines.append(f"{head}: {se.image_count} images  {se.uid}")
                for s in se.stacks:
                    why = f" [{s.reason}]" if s.reason else ""
                    if s.loadable:
                        nz, ny, nx = s.shape
                        sp = " x ".join(f"{v:.3g}" for v in s.spacing)
                        status = f"{nx} x {ny} x {nz} voxels, {sp} mm"
                        if s.warnings:
                            status += f"; resampled: {' '.join(s.warnings)}"
                    else:
                        status = f"NOT LOADABLE: {s.problem}"
                    lines.append(f"      stack {s.number}{why}: {s.image_count} images, {s.orientation}, {status}")
    if result.skipped:
        lines.append(f"Skipped {len(result.skipped)} files:")
        shown = result.skipped if all_skipped else result.skipped[:20]
        lines += [f"  {s.path}: {s.reason}" for s in shown]
        if len(shown) < len(result.skipped):
            lines.append(f"  ... and {len(result.skipped) - len(shown)} more (--all-skipped lists them)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.max_memory_mb is not None:
        set_max_volume_bytes(int(args.max_memory_mb * 1024 * 1024))
    result = imaging.scan(args.folder)
    if args.json:
        print(json.dumps(result.to_dict(), indent=1))
    else:
        print(format_tree(result, args.all_skipped))
    return 0
