"""Automatic entry search: every skin entry within the needle's reach of a target, judged at once.

Candidates are the vertices of the skin surface (``imaging.mesh.surface_mesh`` of the body: every
labelled voxel, holes filled) within reach. For all candidates together the sample points of
every path (<= 0.5 mm apart, entry to target) go through ONE batched trilinear interpolation of
the stacked distance maps (:func:`planner.safety.trilinear`), then per-structure clearances,
margins (growing with depth for vessels, nerves and cord), bone crossings and air gaps are
reduced per candidate with ``np.minimum.reduceat``. Candidates are ranked by a risk score; the
best N (kept apart by ``min_separation_mm``) are re-checked with the full single-trajectory check
and returned with reasons. Deterministic: ties are broken by vertex order.

For planning, review and training; not a medical device.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from imaging.labelmap import LabelMap
from imaging.mesh import Mesh, surface_mesh
from planner import margins as margins_mod
from planner import needles
from planner.errors import PlanError
from planner.model import Needle, StructureMargin, Trajectory
from planner.safety import (
    DEFAULT_OPTIONS,
    ClearanceMaps,
    SafetyOptions,
    SafetyReport,
    choose_target,
    evaluate_trajectory,
    trilinear,
)

__all__ = [
    "SearchConstraints",
    "Candidate",
    "SearchResult",
    "RISK_WEIGHTS",
    "skin_candidates",
    "evaluate_candidates",
    "search_entries",
    "segment_distances",
]

# How much each kind weighs in the risk score (clearance beyond the margin decays over 5 mm).
RISK_WEIGHTS: dict[str, float] = {
    "cord": 3.0,
    "artery": 2.0,
    "nerve": 2.0,
    "vein": 1.5,
    "bone": 0.5,
    "disc": 0.5,
    "cartilage": 0.5,
    "tendon": 0.5,
}
RISK_DECAY_MM = 5.0
COARSE_STEP_MM = 2.0  # first pass: proves unsafe candidates unsafe at a quarter of the cost


@dataclass(frozen=True)
class SearchConstraints:
    """What an acceptable entry is. Angles in degrees; ranges are (low, high) or None."""

    needle: Needle = field(default_factory=Needle)
    min_depth_mm: float = 5.0
    max_depth_mm: float | None = None  # default: needle length minus the hub allowance
    max_skin_angle_deg: float = 60.0
    craniocaudal_deg: tuple[float, float] | None = None
    mediolateral_deg: tuple[float, float] | None = None
    approach: tuple[float, float, float] | None = None  # preferred direction from target to entry
    max_approach_deg: float = 180.0
    n_best: int = 5
    min_separation_mm: float = 5.0
    avoid: tuple[Trajectory, ...] = ()  # needles already planned (kept min_needle_gap_mm apart)
    target_structure: str = ""


@dataclass(frozen=True)
class Candidate:
    entry: tuple[float, float, float]
    normal: tuple[float, float, float]
    risk: float
    length_mm: float
    skin_angle_deg: float
    reasons: tuple[str, ...]
    report: SafetyReport

    def trajectory(self, name: str, target: Sequence[float], needle: Needle, target_structure: str = "") -> Trajectory:
        return Trajectory(name, self.entry, tuple(float(v) for v in target), needle, "; ".join(self.reasons), target_structure)  # type: ignore[arg-type]


@dataclass(frozen=True, eq=False)
class SearchResult:
    target: tuple[float, float, float]
    mesh: Mesh  # the skin candidates' surface (vertices are the candidates)
    risk: np.ndarray  # per vertex: NaN outside reach/constraints, 1.0 unsafe, [0, 0.95] safe (lower is better)
    feasible: np.ndarray  # per vertex
    best: tuple[Candidate, ...]
    n_candidates: int  # within reach and constraints (evaluated)
    rejected: dict[str, int]  # why candidates were unsafe (a candidate may count under several)
    map_seconds: float
    search_seconds: float


def segment_distances(p0: np.ndarray, p1: np.ndarray, q0: np.ndarray, q1: np.ndarray) -> np.ndarray:
    """Vectorised shortest distance between segments p0[i]-p1[i] and q0-q1 (one segment)."""
    u = p1 - p0
    v = np.asarray(q1, float) - np.asarray(q0, float)
    w = p0 - np.asarray(q0, float)
    a = np.einsum("ij,ij->i", u, u)
    b = u @ v
    c = float(v @ v)
    d = np.einsum("ij,ij->i", u, w)
    e = w @ v
    den = a * c - b * b
    s = np.where(den > 1e-9, np.clip((b * e - c * d) / np.where(den > 1e-9, den, 1.0), 0, 1), 0.0)
    t = (b * s + e) / c if c > 1e-12 else np.zeros_like(s)
    lo, hi = t < 0, t > 1
    safe_a = np.where(a > 1e-12, a, 1.0)
    s = np.where(lo, np.clip(-d / safe_a, 0, 1), np.where(hi, np.clip((b - d) / safe_a, 0, 1), s))
    t = np.clip(t, 0, 1)
    diff = p0 + s[:, None] * u - (np.asarray(q0, float)[None] + t[:, None] * v[None])
    return np.linalg.norm(diff, axis=1)


def skin_candidates(maps: ClearanceMaps, target: Sequence[float], reach_mm: float, *, spacing_mm: float = 1.5) -> Mesh:
    """Skin vertices (with outward normals) within ``reach_mm`` of ``target``, from the body mask
    of the maps' crop; vertices on the crop's or the volume's cut faces are dropped."""
    sp = float(np.min(maps.crop.spacing))
    step = max(1, int(round(spacing_mm / sp)))
    mesh = surface_mesh(maps.body, maps.crop, step=step)
    if mesh.is_empty():
        return mesh
    idx = maps.to_index(mesh.vertices)
    size = np.asarray(maps.crop.size_ijk, dtype=float) - 1
    cut = np.any((idx < 1.0) | (idx > size - 1.0), axis=1)
    dist = np.linalg.norm(mesh.vertices - np.asarray(target, float)[None], axis=1)
    keep = ~cut & (dist <= reach_mm)
    order = np.flatnonzero(keep)
    remap = np.full(len(keep), -1, dtype=np.int64)
    remap[order] = np.arange(len(order))
    faces = remap[mesh.faces]
    faces = faces[np.all(faces >= 0, axis=1)]
    return Mesh(mesh.vertices[order], faces, mesh.normals[order])


def evaluate_candidates(
    maps: ClearanceMaps,
    target: Sequence[float],
    entries: np.ndarray,
    normals: np.ndarray | None,
    constraints: SearchConstraints,
    margins: Mapping[str, StructureMargin] | None = None,
    options: SafetyOptions = DEFAULT_OPTIONS,
    *,
    exact: bool = False,
) -> dict[str, np.ndarray]:
    """Judge every entry at once (``exact``: every candidate at the fine step, no coarse pass). Returns arrays per candidate: ``considered`` (within reach and
    angle limits), ``feasible``, ``risk`` (raw), ``length``, ``skin_angle``, ``excess`` (C, S)
    clearance minus margin per obstacle channel, ``air`` (path leaves the body), and
    ``channels`` (names of the obstacle channels)."""
    if margins is None:
        margins = margins_mod.margins_for(maps.labelmap.legend)
    needle = constraints.needle
    tgt = np.asarray(target, dtype=float)
    entries = np.asarray(entries, dtype=float).reshape(-1, 3)
    n_all = len(entries)
    rel = entries - tgt[None]
    length = np.linalg.norm(rel, axis=1)
    u = rel / np.maximum(length, 1e-9)[:, None]  # target -> entry
    reach = constraints.max_depth_mm if constraints.max_depth_mm is not None else needle.length_mm - options.hub_allowance_mm
    ok = (length >= constraints.min_depth_mm) & (length <= reach)
    skin_angle = np.zeros(n_all)
    if normals is not None:
        nrm = np.asarray(normals, dtype=float).reshape(-1, 3)
        skin_angle = np.degrees(np.arccos(np.clip(np.einsum("ij,ij->i", u, nrm), -1, 1)))
        ok &= skin_angle <= constraints.max_skin_angle_deg
    insert = -u  # entry -> target
    if constraints.craniocaudal_deg is not None:
        cc = np.degrees(np.arcsin(np.clip(insert[:, 2], -1, 1)))
        ok &= (cc >= constraints.craniocaudal_deg[0]) & (cc <= constraints.craniocaudal_deg[1])
    if constraints.mediolateral_deg is not None:
        ml = np.degrees(np.arctan2(insert[:, 0], np.abs(insert[:, 1])))
        ok &= (ml >= constraints.mediolateral_deg[0]) & (ml <= constraints.mediolateral_deg[1])
    if constraints.approach is not None and constraints.max_approach_deg < 180:
        a = np.asarray(constraints.approach, float)
        a = a / np.linalg.norm(a)
        ok &= np.degrees(np.arccos(np.clip(u @ a, -1, 1))) <= constraints.max_approach_deg
    sel = np.flatnonzero(ok)
    obstacle = [lab for lab in maps.labels if lab.kind != "target" and lab.name in margins]
    names = [lab.name for lab in obstacle]
    out: dict[str, np.ndarray] = {
        "considered": ok,
        "feasible": np.zeros(n_all, dtype=bool),
        "risk": np.full(n_all, np.inf),
        "length": length,
        "skin_angle": skin_angle,
        "excess": np.full((n_all, len(obstacle)), np.inf, dtype=np.float32),
        "air": np.zeros(n_all, dtype=bool),
        "conflict": np.zeros(n_all, dtype=bool),
        "channels": np.array(names, dtype=object),
    }
    if len(sel) == 0:
        return out

    # sample points of every path, target outwards, <= step apart; the index <-> LPS map is
    # affine, so each path steps in index space (no per-point matrix product)
    lc = length[sel]
    ijk_t = maps.to_index(tgt[None])[0]
    du = (maps.to_index(tgt[None] + u[sel]) - ijk_t[None]).astype(np.float32)  # index step per mm
    tlab = choose_target(maps, Trajectory("candidate", tuple(tgt + 10 * u[sel[0]]), tuple(tgt), needle, "", constraints.target_structure))  # type: ignore[arg-type]
    tch = maps.index[tlab.name] if tlab is not None else -1
    ch = np.array([maps.index[n] for n in names], dtype=np.int64)
    base = np.array([margins[n].margin_mm for n in names], dtype=np.float32) + np.float32(needle.radius_mm)
    grow = np.array([margins[n].grows_with_depth for n in names], dtype=np.float32) * np.float32(needles.DEFLECTION_MM_PER_10MM[needle.tip] / 10.0)
    wall = np.array([lab.kind in margins_mod.WALL_KINDS for lab in obstacle], dtype=bool)
    any_wall = bool(wall.any()) and tch >= 0
    region = np.float32(options.target_region_mm)
    stack, body = maps.stack, maps.body
    bz, by, bx = body.shape
    body_flat = body.reshape(-1)
    ijk_t32 = ijk_t.astype(np.float32)

    def screen(idx_c: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
        """Min (clearance - margin) per obstacle channel and "leaves the body" for candidates
        ``idx_c`` (indices into ``sel``), sampled every <= ``step`` mm."""
        lc_c = lc[idx_c]
        du_c = du[idx_c]
        nc = np.maximum(2, np.ceil(lc_c / step).astype(np.int64) + 1)
        dt = (lc_c / (nc - 1)).astype(np.float32)
        ex = np.empty((len(idx_c), len(obstacle)), dtype=np.float32)
        air = np.zeros(len(idx_c), dtype=bool)
        # blocks of whole candidates, ~16k points each: every step stays in the CPU cache;
        # numpy releases the GIL, so the blocks run on all cores
        ends = np.cumsum(nc)
        starts = [0]
        while starts[-1] < len(idx_c):
            c0 = starts[-1]
            c1 = int(np.searchsorted(ends, (ends[c0 - 1] if c0 else 0) + 16384, side="right"))
            starts.append(max(c1, c0 + 1))

        def run_block(c0: int, c1: int) -> None:
            n_b = nc[c0:c1]
            offs = np.concatenate([[0], np.cumsum(n_b)[:-1]])
            owner = np.repeat(np.arange(c1 - c0), n_b)
            k = np.arange(int(n_b.sum()), dtype=np.float32) - offs[owner].astype(np.float32)
            t = k * dt[c0:c1][owner]  # distance from the target
            depth = lc_c[c0:c1][owner].astype(np.float32) - t  # depth below the entry
            ijk = ijk_t32[None] + t[:, None] * du_c[c0:c1][owner]
            vals = trilinear(stack, ijk, chunk=len(ijk))
            if len(obstacle):
                v = vals[:, ch]
                excess = v - base[None, :] - grow[None, :] * depth[:, None]
                if any_wall:
                    w = (vals[:, tch] <= region)[:, None] & wall[None, :]
                    np.copyto(excess, v, where=w)
                ex[c0:c1] = np.minimum.reduceat(excess, offs, axis=0)
            # air: after 1.5 mm below the entry the path must stay in the (hole-filled) body
            idx = np.rint(ijk).astype(np.int64)
            inside = (idx[:, 0] >= 0) & (idx[:, 0] < bx) & (idx[:, 1] >= 0) & (idx[:, 1] < by) & (idx[:, 2] >= 0) & (idx[:, 2] < bz)
            flat = (np.clip(idx[:, 2], 0, bz - 1) * by + np.clip(idx[:, 1], 0, by - 1)) * bx + np.clip(idx[:, 0], 0, bx - 1)
            out_body = ~(body_flat.take(flat) & inside) & (depth > 1.5) & (t > 0.01)
            air[c0:c1] = np.logical_or.reduceat(out_body, offs)

        pairs = list(zip(starts[:-1], starts[1:], strict=True))
        workers = min(len(pairs), os.cpu_count() or 1, 8)
        if workers > 1:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(lambda p: run_block(*p), pairs))
        else:
            for c0, c1 in pairs:
                run_block(c0, c1)
        return ex, air

    step = min(float(options.step_mm), 0.5)
    everyone = np.arange(len(sel))
    if exact or COARSE_STEP_MM <= step:
        ex, air = screen(everyone, step)
    else:
        # A coarse pass first: a sample point with clearance below its margin (or in air) is a
        # real point of the path, so it proves the candidate unsafe; only the others are sampled
        # at the fine step. For proven-unsafe candidates ``excess`` holds the coarse minima.
        ex, air = screen(everyone, COARSE_STEP_MM)
        rest = np.flatnonzero(~(np.any(ex < 0, axis=1) | air))
        if len(rest):
            ex_f, air_f = screen(rest, step)
            ex[rest] = ex_f
            air[rest] = air_f
    out["excess"][sel] = ex
    out["air"][sel] = air
    unsafe = np.any(ex < 0, axis=1) | air

    conflict = np.zeros(len(sel), dtype=bool)
    for other in constraints.avoid:
        gap = segment_distances(entries[sel], np.broadcast_to(tgt, (len(sel), 3)), np.asarray(other.entry), np.asarray(other.target))
        conflict |= gap - needle.radius_mm - other.needle.radius_mm < options.min_needle_gap_mm
    out["conflict"][sel] = conflict
    unsafe |= conflict

    # risk: weighted closeness to each structure beyond its margin, path length, skin angle
    weights = np.array([RISK_WEIGHTS.get(lab.kind, 0.5) for lab in obstacle], dtype=np.float64)
    closeness = np.exp(-np.clip(ex.astype(np.float64), 0, None) / RISK_DECAY_MM) @ weights if obstacle else np.zeros(len(sel))
    risk = closeness + 0.5 * lc / max(reach, 1.0) + 0.5 * (skin_angle[sel] / 90.0) ** 2
    out["feasible"][sel] = ~unsafe
    out["risk"][sel] = np.where(unsafe, np.inf, risk)
    return out


def _reasons(report: SafetyReport, skin_angle: float) -> tuple[str, ...]:
    rs = [f"insertion {report.insertion_depth_mm:.0f} mm, {skin_angle:.0f} deg from the skin normal, {report.angles.describe().split(', ')[0]}"]
    close = sorted(report.structures, key=lambda s: s.decisive_clearance_mm - s.decisive_margin_mm)[:2]
    for s in close:
        if s.at_least:
            rs.append(f"every structure more than {s.clearance_mm:.0f} mm away" if s is close[0] else "")
            break
        rs.append(f"nearest {s.name} ({s.kind}) {s.clearance_mm:.1f} mm at {s.depth_mm:.0f} mm depth (margin {s.margin_mm:.1f} mm)")
    rs = [r for r in rs if r]
    if report.tip_in_target:
        rs.append(f"tip in {report.target_name}")
    return tuple(rs)


def search_entries(
    labelmap: LabelMap,
    target: Sequence[float],
    constraints: SearchConstraints | None = None,
    plan_margins: Sequence[StructureMargin] = (),
    options: SafetyOptions = DEFAULT_OPTIONS,
    *,
    maps: ClearanceMaps | None = None,
    progress: Callable[[float, str], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> SearchResult:
    """Rank every skin entry within reach of ``target`` (see the module docstring)."""
    constraints = constraints if constraints is not None else SearchConstraints()
    tgt = np.asarray(target, dtype=float)
    if not labelmap.volume.contains_lps(tgt):
        raise PlanError(f"The target {tuple(round(float(v), 1) for v in tgt)} lies outside the study.")
    reach = constraints.max_depth_mm if constraints.max_depth_mm is not None else constraints.needle.length_mm - options.hub_allowance_mm
    margins = margins_mod.margins_for(labelmap.legend, plan_margins)
    t0 = time.perf_counter()
    if maps is None or not maps.covers(tgt[None], margin_mm=reach):
        if progress:
            progress(0.05, "distance maps")
        maps = ClearanceMaps.around(labelmap, tgt, reach, pad_mm=options.pad_mm)
    map_s = time.perf_counter() - t0
    if cancel and cancel():
        raise PlanError("Entry search cancelled.")
    t1 = time.perf_counter()
    if progress:
        progress(0.5, "skin entries")
    mesh = skin_candidates(maps, tgt, reach)
    if mesh.n_vertices == 0:
        raise PlanError("No skin lies within the needle's reach of the target; choose a longer needle or another target.")
    if progress:
        progress(0.6, f"judging {mesh.n_vertices} entries")
    res = evaluate_candidates(maps, tgt, mesh.vertices, mesh.normals, constraints, margins, options)
    considered, feasible, raw = res["considered"], res["feasible"], res["risk"]
    risk = np.full(mesh.n_vertices, np.nan)
    risk[considered] = 1.0
    if feasible.any():
        r = raw[feasible]
        lo, hi = float(r.min()), float(r.max())
        risk[feasible] = 0.95 * (r - lo) / (hi - lo) if hi > lo else 0.0
    rejected = {
        "too close to a structure or crosses bone": int(np.sum(considered & np.any(res["excess"] < 0, axis=1))) if res["excess"].size else 0,
        "path leaves the body": int(np.sum(considered & res["air"])),
        "too close to another needle": int(np.sum(considered & res["conflict"])),
    }
    order = np.lexsort((np.arange(len(raw)), raw))
    ok_best: list[Candidate] = []
    warn_best: list[Candidate] = []
    chosen: list[np.ndarray] = []
    examined = 0
    for i in order:
        if len(ok_best) >= constraints.n_best or not np.isfinite(raw[i]) or examined >= 40 * constraints.n_best:
            break
        e = mesh.vertices[i]
        if any(np.linalg.norm(e - c) < constraints.min_separation_mm for c in chosen):
            continue
        examined += 1
        traj = Trajectory("candidate", tuple(e), tuple(tgt), constraints.needle, "", constraints.target_structure)  # type: ignore[arg-type]
        rep = evaluate_trajectory(maps, traj, margins, options, skin_normal=mesh.normals[i])
        if rep.verdict == "violation":
            continue  # the batched screen and the full check disagree at a margin's edge: skip it
        chosen.append(e)
        cand = Candidate(
            tuple(float(v) for v in e),  # type: ignore[arg-type]
            tuple(float(v) for v in mesh.normals[i]),  # type: ignore[arg-type]
            float(raw[i]),
            float(res["length"][i]),
            float(res["skin_angle"][i]),
            _reasons(rep, float(res["skin_angle"][i])),
            rep,
        )
        (ok_best if rep.verdict == "ok" else warn_best).append(cand)
    best = (ok_best + warn_best)[: constraints.n_best]
    search_s = time.perf_counter() - t1
    if progress:
        progress(1.0, "done")
    return SearchResult(
        tuple(float(v) for v in tgt),  # type: ignore[arg-type]
        mesh,
        risk,
        feasible,
        tuple(best),
        int(considered.sum()),
        rejected,
        map_s,
        search_s,
    )


def angle_between_deg(a: Sequence[float], b: Sequence[float]) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return math.degrees(math.acos(float(np.clip(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)), -1, 1))))

