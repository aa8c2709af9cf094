"""Make a plan: a target and an entry for a route and site on a study, saved as .plan.json.

The target comes from --target X,Y,Z (LPS mm) or from the label map (the segmentation's target
landmark or the deepest point of the target structure). The entry comes from --entry X,Y,Z, from
--entry auto (the automatic entry search: the lowest-risk skin entry within the needle's reach),
or by default from the approach template (CLINICAL.md: lumbar midline/paramedian interlaminar --
without --approach, midline and paramedian when the midline is blocked --, knee
superolateral/anterolateral, posterior shoulder, anterior hip). Any point inside the study
is recorded as given: judging it is the job of `injection-planner check`. Points outside the
study are refused. For planning, review and training; not a medical device.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np

from imaging.labelmap import read_labelmap
from imaging.volume import Volume
from planner.errors import PlanError
from planner.margins import margins_for
from planner.model import Needle, Plan, Site, Trajectory, now_iso

HELP = "plan a needle trajectory (template, given points or automatic entry search) and save it"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("folder", type=Path, help="the study: a DICOM folder (or a .nrrd/.nii.gz volume)")
    p.add_argument("--labels", type=Path, required=True, help="label map of the study (with its legend .json beside it)")
    p.add_argument("--series", metavar="UID", help="series to plan on when the folder holds several (default: the one on the label map's grid)")
    p.add_argument("--route", choices=("intrathecal", "intra-articular", "intravenous"), help="delivery route (default from --level/--site)")
    p.add_argument("--level", help="lumbar interspace for intrathecal plans, e.g. L4-L5 (default L4-L5)")
    p.add_argument("--site", choices=("knee", "shoulder", "hip"), help="joint for intra-articular plans")
    p.add_argument("--side", choices=("left", "right"), help="side of the joint (default: from the label map, else from the target: x > 0 is the patient's left)")
    p.add_argument("--approach", help="template: superolateral|anterolateral (knee), posterior (shoulder), anterior (hip), midline|paramedian (lumbar)")
    p.add_argument("--target", help="target (needle tip) X,Y,Z in LPS mm (default: from the label map)")
    p.add_argument("--entry", help="entry X,Y,Z in LPS mm, or 'auto' for the automatic entry search (default: the approach template)")
    p.add_argument("--needle", help="GAUGE:LENGTH_MM:TIP, e.g. 22G:89:whitacre (default by site)")
    p.add_argument("--name", help="trajectory name")
    p.add_argument("--author", default="", help="who made the plan (recorded in the audit log)")
    p.add_argument("--out", type=Path, required=True, help="output .plan.json")


def parse_point(text: str, what: str) -> np.ndarray:
    try:
        vals = [float(v) for v in text.replace(";", ",").split(",")]
    except ValueError as exc:
        raise PlanError(f"The {what} {text!r} is not X,Y,Z in millimetres (for example 12.5,-40,103).") from exc
    if len(vals) != 3 or not np.all(np.isfinite(vals)):
        raise PlanError(f"The {what} {text!r} must be three numbers X,Y,Z (LPS mm).")
    return np.array(vals)


def require_inside(vol: Volume, point: np.ndarray, what: str) -> None:
    if not bool(vol.contains_lps(point, margin_voxels=0.5)):
        lo, hi = vol.world_bounds()
        box = " to ".join("(" + ", ".join(f"{v:.1f}" for v in b) + ")" for b in (lo, hi))
        raise PlanError(
            f"The {what} ({', '.join(f'{v:.1f}' for v in point)}) lies outside the study, which spans {box} LPS mm. "
            "Give a point inside the images."
        )


def _load_volume(path: Path, labels: Path, series: str | None) -> tuple[Volume, str]:
    """The study's volume. A folder holding several image stacks (e.g. T1 and T2 MR) needs
    --series, or else the stack on the label map's grid is taken. Returns (volume, note)."""
    import imaging
    from imaging.dicom.load import load_stack

    if path.is_file():
        import SimpleITK as sitk

        return Volume.from_sitk(sitk.ReadImage(str(path))), ""
    if not path.is_dir():
        raise PlanError(f"{path} is neither a DICOM folder nor a volume file.")
    result = imaging.scan(path)
    stacks = [s for s in result.stacks() if s.loadable and (series is None or s.series_uid == series)]
    if series is not None and not stacks:
        raise PlanError(f"No loadable series {series} in {path}.")
    if len(stacks) == 1:
        return load_stack(stacks[0]), ""
    if not stacks:
        return imaging.load(path), ""  # raises the loader's own clear message
    grid = read_labelmap(labels).volume
    match = [
        s for s in stacks
        if s.geometry is not None and tuple(s.geometry.shape) == grid.shape and np.allclose(s.geometry.affine, grid.affine, atol=1e-3)
    ]
    if not match:
        listing = "; ".join(f"{s.series_uid} ({s.title})" for s in stacks)
        raise PlanError(f"{path} holds {len(stacks)} image stacks and none lies on the label map's grid; choose one with --series UID: {listing}.")
    chosen = match[0]
    return load_stack(chosen), f"series {chosen.series_uid} ({chosen.title}): the stack on the label map's grid"


def run(args: argparse.Namespace) -> int:
    from planner.autoplan import SearchConstraints, search_entries
    from planner.io.plan_json import save_plan
    from planner.templates import (
        APPROACHES,
        DEFAULT_APPROACH,
        DEFAULT_NEEDLE,
        default_target,
        infer_side,
        template_trajectory,
    )

    route = args.route or ("intrathecal" if args.level else "intra-articular" if args.site else None)
    if route is None:
        raise PlanError("Say what to plan: --route intrathecal --level L4-L5, or --route intra-articular --site knee|shoulder|hip.")
    if route == "intra-articular" and not args.site:
        raise PlanError("An intra-articular plan needs --site knee, shoulder or hip.")
    region = "lumbar" if route == "intrathecal" else (args.site or "")
    vol, vol_note = _load_volume(args.folder, args.labels, args.series)
    if vol_note:
        print(f"Study: {vol_note}")
    labelmap = read_labelmap(args.labels, reference=vol)
    now = now_iso()
    plan = Plan(
        route=route,
        site=Site(region if route != "intravenous" else "", args.level or ("L4-L5" if region == "lumbar" else ""), args.side or ""),
        study_uid=vol.info.study_uid,
        series_uid=vol.info.series_uid,
        frame_of_reference_uid=vol.info.frame_of_reference_uid,
        author=args.author,
        created=now,
        modified=now,
    )
    plan = plan.note(args.author, "created", f"injection-planner plan {route} {plan.site.describe()} on {args.folder}")
    if route != "intravenous":
        # the structures of this label map with the margins that apply (editable in the plan)
        present = {lab.value for lab in labelmap.present()}
        used = margins_for([lab for lab in labelmap.legend if lab.value in present])
        plan = dataclasses.replace(plan, margins=tuple(used[n] for n in sorted(used)))
    if route == "intravenous":
        save_plan(args.out, plan)
        print(f"Wrote {args.out}: intravenous plan (checklist only, no trajectory). For planning, review and training; not a medical device.")
        return 0

    needle = Needle.parse(args.needle) if args.needle else DEFAULT_NEEDLE[region]
    target = parse_point(args.target, "target") if args.target else None
    entry = None
    if args.entry and args.entry.strip().lower() != "auto":
        entry = parse_point(args.entry, "entry")
    for pt, what in ((target, "target"), (entry, "entry")):
        if pt is not None:
            require_inside(vol, pt, what)
    if region != "lumbar" and not args.side:
        t0 = target if target is not None else default_target(labelmap, APPROACHES[(region, DEFAULT_APPROACH[region])].target_hints)[0]
        args.side = infer_side(labelmap, t0)
        plan = dataclasses.replace(plan, site=Site(region, "", args.side))
    approach = args.approach or DEFAULT_APPROACH[region]
    if (region, approach) not in APPROACHES:
        raise PlanError(f"No {approach!r} approach for the {region}; choose one of: {', '.join(a for r, a in APPROACHES if r == region)}.")
    if region == "lumbar":
        name = args.name or f"{args.level or 'L4-L5'} {approach}"
    else:
        name = args.name or f"{(args.side + ' ') if args.side else ''}{region} {approach}"
    how = ""
    if entry is not None:
        if target is None:
            target, _tname = default_target(labelmap, APPROACHES[(region, approach)].target_hints)
        traj = Trajectory(name, tuple(entry), tuple(target), needle, "entry and target as given")  # type: ignore[arg-type]
        how = "given points"
    elif args.entry and args.entry.strip().lower() == "auto":
        if target is None:
            if region == "lumbar":
                target = np.asarray(template_trajectory(labelmap, region, approach=approach, level=args.level or "", needle=needle).target)
            else:
                target, _tname = default_target(labelmap, APPROACHES[(region, approach)].target_hints)
        res = search_entries(labelmap, target, SearchConstraints(needle=needle, n_best=3))
        if not res.best:
            raise PlanError(
                f"The automatic search found no safe entry among {res.n_candidates} skin entries within reach "
                f"({', '.join(f'{k}: {v}' for k, v in res.rejected.items())}). Try a longer needle or another target."
            )
        best = res.best[0]
        traj = best.trajectory(args.name or f"{region} automatic", target, needle)
        how = f"automatic search: best of {res.n_candidates} entries ({res.search_seconds:.2f} s after {res.map_seconds:.2f} s of distance maps)"
    else:
        traj = template_trajectory(
            labelmap, region, approach=args.approach or "", side=args.side or "", level=args.level or "", needle=needle,
            target=None if target is None else tuple(target), name=name,
        )
        how = f"template {region} {approach}"
    for pt, what in ((np.asarray(traj.target), "target"), (np.asarray(traj.entry), "entry")):
        require_inside(vol, pt, what)
    plan = plan.with_trajectory(traj, args.author)
    save_plan(args.out, plan)
    d = traj.length_mm
    print(f"Wrote {args.out} ({how}). For planning, review and training; not a medical device.")
    print(f"  {traj.name}: entry ({', '.join(f'{v:.1f}' for v in traj.entry)}) -> target ({', '.join(f'{v:.1f}' for v in traj.target)}) LPS mm")
    print(f"  needle {traj.needle.describe()}, entry to tip {d:.1f} mm")
    if traj.notes:
        print(f"  notes: {traj.notes}")
    print(f"  Judge it with: injection-planner check {args.out} --labels {args.labels}")
    return 0
