"""Segment a study: body and skin, bones, and the task's target and structures at risk.

Writes the label map (--out, e.g. labels.nrrd) and beside it, with the same stem, the legend
(labels.json: value, name, kind, colour) and the landmarks (labels.landmarks.json). Prints the
lumbar level table and interlaminar windows, or the joint target, in LPS mm.

--task auto picks the task from the study's body part and anatomy. --structures-from copies the
structures at risk (arteries, veins, nerves, cord) from a ground-truth label map on the same grid;
for a bundled sample study its labels.nrrd is used automatically. --vessel-seed X,Y,Z (LPS mm,
repeatable) grows a vessel from that point (contrast CT or MR) and adds it as a structure at risk.
For planning, review and training; not a medical device.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import imaging
from imaging.errors import ImagingError, NoImagesError

HELP = "segment a study (lumbar levels, thecal sac, joints, skin, bone) into a label map"
SUFFIXES = (".nrrd", ".nii.gz", ".nii", ".mha", ".nhdr", ".mhd")


def add_arguments(p: argparse.ArgumentParser) -> None:
    from imaging.segmentation import TASKS

    p.add_argument("folder", type=Path, help="folder holding the DICOM study")
    p.add_argument("--out", type=Path, required=True, help="label map to write (.nrrd, .nii.gz or .mha)")
    p.add_argument("--task", choices=TASKS, default="auto", help="what to segment (default: auto, from the study)")
    p.add_argument("--structures-from", type=Path, metavar="GT", help="ground-truth label map (same grid) to copy structures at risk from")
    p.add_argument(
        "--vessel-seed",
        action="append",
        default=[],
        metavar="X,Y,Z",
        help="grow a vessel from this LPS point in mm (repeatable; contrast CT or MR)",
    )
    p.add_argument("--vessel-kind", choices=("artery", "vein"), default="artery", help="kind of the grown vessels (default: artery)")
    p.add_argument("--series", metavar="UID", help="SeriesInstanceUID when the folder holds several series (see `scan`)")
    p.add_argument("--stack", metavar="N", type=int, help="stack number within the series (see `scan`)")
    p.add_argument("--quiet", action="store_true", help="no progress messages")


def _parse_point(text: str) -> np.ndarray:
    parts = text.replace(";", ",").split(",")
    try:
        values = [float(v) for v in parts]
    except ValueError:
        values = []
    if len(values) != 3:
        raise ImagingError(f"--vessel-seed {text!r} is not a point; write X,Y,Z in LPS millimetres, e.g. 12.5,-80,310.")
    return np.asarray(values)


def _progress(quiet: bool):
    if quiet:
        return None
    last = {"message": None}

    def progress(fraction: float, message: str) -> None:
        if message and message != last["message"]:
            last["message"] = message
            print(f"[{fraction * 100:3.0f}%] {message}", file=sys.stderr, flush=True)

    return progress


def _fmt(p) -> str:
    return "(" + ", ".join(f"{float(v):7.1f}" for v in p) + ")"


def format_landmarks(landmarks) -> str:
    """The level table and windows (or the target) as text, LPS mm."""
    if landmarks is None:
        return "No landmarks."
    lines = []
    if landmarks.levels:
        lines.append("Levels (vertebral body centres, LPS mm):")
        for lv in landmarks.levels:
            lines.append(f"  {lv['name']:>4}  {_fmt(lv['centre'])}")
    if landmarks.windows:
        lines.append("Interlaminar windows (LPS mm):")
        lines.append("  interspace  centre                         width  height  below conus  midline direction")
        for w in landmarks.windows:
            lines.append(
                f"  {w['interspace']:<10}  {_fmt(w['centre'])}  {w['width_mm']:5.1f}  {w['height_mm']:6.1f}  "
                f"{'yes' if w['below_conus'] else 'NO ':<11}  {_fmt(w['midline_direction'])}"
            )
        conus = (landmarks.extra or {}).get("conus_assumed_at")
        if conus:
            lines.append(f"  (the conus is not visible on CT; assumed to end at {conus})")
    side = (landmarks.extra or {}).get("side")
    if side:
        source = (landmarks.extra or {}).get("side_from")
        lines.append(f"Side: {side}" + (f" (from the {source})" if source else ""))
    for warning in (landmarks.extra or {}).get("warnings", []):
        lines.append(f"WARNING: {warning}")
    if landmarks.target:
        lines.append(f"Target: {landmarks.target.get('name', 'target')} at {_fmt(landmarks.target['lps'])} mm (LPS)")
    return "\n".join(lines) if lines else "No landmarks."


def _stack_for_task(result, args: argparse.Namespace):
    """The stack to segment: the one named (--series/--stack), the folder's only one, or, in a
    study of several series, the one series the task can use: on a knee MR the fluid-sensitive
    (fat-suppressed) series, where joint fluid is bright. Otherwise the user is asked to choose."""
    from imaging.errors import NotAVolumeError
    from imaging.segmentation.knee_mr import weighting_from_text
    from planner.commands.convert import choose_stack

    where = str(args.folder)
    if args.series is not None or args.stack is not None:
        return choose_stack(result, args.series, args.stack, where)
    stacks = [s for s in result.stacks() if s.loadable]
    series = {s.series_uid for s in stacks}
    if len(series) > 1 and args.task in ("auto", "knee"):
        fluid = [s for s in stacks if s.info.modality == "MR" and weighting_from_text(s.info.series_description) == "fluid"]
        if len({s.series_uid for s in fluid}) == 1 and len(fluid) == 1:
            chosen = fluid[0]
            print(
                f"Segmenting series {chosen.info.series_number or ''} '{chosen.info.series_description}': the "
                "fluid-sensitive series of this MR study, where joint fluid is bright (choose another with --series UID).",
                file=sys.stderr,
            )
            return chosen
    try:
        return choose_stack(result, None, None, where)
    except NotAVolumeError as exc:
        if len(series) <= 1:
            raise
        listing = "; ".join(
            f"--series {s.series_uid}  ({s.info.modality} '{s.info.series_description}', {s.image_count} images)" for s in stacks
        )
        raise NotAVolumeError(f"{where} holds {len(series)} image series; choose the one to segment: {listing}.") from exc


def run(args: argparse.Namespace) -> int:
    from imaging.labelmap import LabelMap, Landmarks, Legend, read_labelmap, write_labelmap
    from imaging.segmentation import segment

    name = args.out.name.lower()
    if not name.endswith(SUFFIXES):
        raise ImagingError(f"Cannot tell the format of {args.out}; use one of: {', '.join(SUFFIXES)}.")
    seeds = [_parse_point(s) for s in args.vessel_seed]
    if not args.folder.is_dir():
        raise NoImagesError(f"{args.folder} is not a folder. Choose the folder that holds the DICOM study.")
    result = imaging.scan(args.folder)
    stack = _stack_for_task(result, args)
    volume = imaging.load(stack)
    for w in volume.warnings:
        print(f"warning: {w}", file=sys.stderr)
    gt = read_labelmap(args.structures_from, reference=volume) if args.structures_from else None
    labelmap = segment(volume, args.task, structures_from=gt, progress=_progress(args.quiet))
    if seeds:
        from imaging.segmentation import grow_vessel

        arr = labelmap.volume.array
        legend = labelmap.legend
        soft = [lab.value for lab in legend if lab.kind in ("other", "skin", "fat", "muscle")] + [0]
        out = arr.astype(np.uint16 if legend.next_value() + len(seeds) > 255 else arr.dtype, copy=True)
        for k, seed in enumerate(seeds, start=1):
            mask = grow_vessel(volume, seed)
            name_v = f"vessel {k}"
            while legend.get(name_v) is not None:
                name_v += "'"
            legend = legend.with_label(name_v, args.vessel_kind)
            out[mask & np.isin(out, soft)] = legend.by_name(name_v).value
        labelmap = LabelMap(volume.with_array(out), Legend(legend.labels), labelmap.landmarks)
    if labelmap.landmarks is None:
        labelmap = LabelMap(labelmap.volume, labelmap.legend, Landmarks(task=args.task))
    path = write_labelmap(args.out, labelmap)
    from imaging.labelmap import landmarks_path, legend_path

    present = labelmap.present()
    print(f"Wrote {path} ({len(present)} structures), {legend_path(path).name}, {landmarks_path(path).name}")
    print("Structures: " + ", ".join(f"{lab.name} [{lab.kind}]" for lab in present))
    print(format_landmarks(labelmap.landmarks))
    print("For planning, review and training; not a medical device.")
    return 0
