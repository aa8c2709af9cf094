"""Check a plan against a label map: the safety table of every trajectory.

For each structure at risk: the minimum clearance from the needle's surface along the whole shaft
(entry to tip), the depth where it occurs, the margin that applied there and why, and the verdict
(ok / warning within 1 mm of the margin / violation). Also: bone crossed (which, at what depth),
the tip inside the target or not, the sideways miss from the target centre, overshoot, needle
length, and conflicts between needles. Exit code 0: all ok; 1: warnings; 2: violations.
For planning, review and training; not a medical device.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np

from imaging.labelmap import read_labelmap
from planner.errors import PlanError

HELP = "check a plan's trajectories against a label map (exit 0 ok, 1 warnings, 2 violations)"
EXIT = {"ok": 0, "warning": 1, "violation": 2}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("plan", type=Path, help="the .plan.json to check")
    p.add_argument("--labels", type=Path, required=True, help="label map of the study (legend .json beside it)")
    p.add_argument("--json", action="store_true", help="print the reports as JSON instead of the table")


def _p(v) -> str:
    return "(" + ", ".join(f"{x:.1f}" for x in v) + ")"


def format_report(rep, maps_note: str = "") -> str:
    lines = [
        f'Trajectory "{rep.trajectory}": {rep.needle.describe()}',
        f"  insertion {rep.insertion_depth_mm:.1f} mm skin to tip (entry to tip {rep.length_mm:.1f} mm); {rep.angles.describe()}; "
        f"CT gantry: {rep.angles.in_plane_deg:.0f} deg in plane, {rep.angles.out_of_plane_deg:.0f} deg out of plane",
        f"  {'structure':<28} {'kind':<10} {'clearance':>9} {'at depth':>9} {'margin':>7}  {'verdict':<9} why",
    ]
    far = [s for s in rep.structures if s.at_least and s.verdict == "ok"]
    for s in sorted((s for s in rep.structures if s not in far), key=lambda s: (-["ok", "warning", "violation"].index(s.verdict), s.clearance_mm - s.margin_mm)):
        extra = ""
        if abs(s.decisive_depth_mm - s.depth_mm) > 1.0 and s.verdict != "ok":
            extra = f"; decided at {s.decisive_depth_mm:.1f} mm: {s.decisive_clearance_mm:.1f} mm vs {s.decisive_margin_mm:.1f} mm"
        clear = f">{s.clearance_mm:.0f}mm" if s.at_least else f"{s.clearance_mm:.1f}mm"
        depth = "-" if s.at_least else f"{s.depth_mm:.1f}mm"
        lines.append(
            f"  {s.name[:28]:<28} {s.kind:<10} {clear:>9} {depth:>9} {s.margin_mm:>5.1f}mm  {s.verdict.upper():<9} {s.margin_note}{extra}"
        )
    if far:
        lines.append(f"  more than {far[0].clearance_mm:.0f} mm from the needle's surface all along (OK): " + ", ".join(s.name for s in far))
    bones = [c for c in rep.crossings if c.kind in ("bone", "disc")]
    if bones:
        for c in bones:
            where = " (inside the target region)" if c.in_target_region else ""
            lines.append(f"  {c.kind.capitalize()} crossed: {c.name} from {c.depth_in_mm:.1f} to {c.depth_out_mm:.1f} mm depth{where}")
    else:
        lines.append("  Bone crossed: none")
    others = [c for c in rep.crossings if c.kind not in ("bone", "disc")]
    for c in others:
        lines.append(f"  The needle's axis passes through {c.name} ({c.kind}) from {c.depth_in_mm:.1f} to {c.depth_out_mm:.1f} mm depth")
    if rep.target_name:
        state = f"inside {rep.target_name} ({rep.tip_depth_in_target_mm:.1f} mm from its wall)" if rep.tip_in_target else f"OUTSIDE {rep.target_name} ({-rep.tip_depth_in_target_mm:.1f} mm from it)"
        lines.append(
            f"  Tip: {state}; {rep.miss_sideways_mm:.1f} mm beside the target centre {_p(rep.target_centre)}, "
            f"{rep.overshoot_mm:+.1f} mm along the needle past it; {rep.tip_to_far_wall_mm:.1f} mm to the far wall"
        )
    for f in rep.findings:
        lines.append(f"  {f.verdict.upper()}: {f.text}")
    lines.append(f"  Verdict: {rep.verdict.upper()}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from planner.io.plan_json import load_plan
    from planner.safety import SafetyEvaluator, worst

    plan = load_plan(args.plan)
    labelmap = read_labelmap(args.labels)
    vol = labelmap.volume
    if not plan.trajectories:
        print(f"{args.plan}: no trajectory to check ({plan.route}).")
        return 0
    for t in plan.trajectories:
        for pt, what in ((t.entry, "entry"), (t.target, "target")):
            if not bool(vol.contains_lps(np.asarray(pt), margin_voxels=0.5)):
                lo, hi = vol.world_bounds()
                raise PlanError(
                    f'The {what} {_p(pt)} of trajectory "{t.name}" lies outside the label map ({_p(lo)} to {_p(hi)} LPS mm); '
                    "is this the label map of the plan's study?"
                )
    evaluator = SafetyEvaluator(labelmap, plan.margins)
    reports, conflicts = evaluator.evaluate_all(list(plan.trajectories))
    verdict = worst([r.verdict for r in reports] + (["warning"] if conflicts else []))
    if args.json:
        out = {
            "plan": str(args.plan),
            "verdict": verdict,
            "trajectories": [dict(dataclasses.asdict(r), verdict=r.verdict) for r in reports],
            "conflicts": [{"a": a, "b": b, "gap_mm": g} for a, b, g in conflicts],
            "disclaimer": "For planning, review and training; not a medical device.",
        }
        print(json.dumps(out, indent=1, default=float))
        return EXIT[verdict]
    print(f"Safety check of {args.plan} against {args.labels} ({plan.route}, {plan.site.describe()})")
    print("For planning, review and training; not a medical device.")
    for r in reports:
        print(format_report(r))
    for a, b, g in conflicts:
        print(f"WARNING: needles {a!r} and {b!r} come within {g:.1f} mm of each other (surface to surface).")
    print(f"Overall: {verdict.upper()} (exit {EXIT[verdict]})")
    return EXIT[verdict]
