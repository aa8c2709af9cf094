"""Whole-shaft safety evaluation of a straight needle, entry to tip, with the needle's radius.

Every obstacle structure (by the legend's ``kind``) and every target structure gets an exact
Euclidean signed distance map (SimpleITK ``SignedMaurerDistanceMap`` with the voxel spacing) over
a crop of the label map around the needle's reach, with the zero level moved from the voxel
centres onto the surface between them (see ``_signed_distance``; negative inside).
The maps are sampled with trilinear interpolation at <= 0.5 mm steps along the needle's axis;
clearance from the needle's SURFACE is ``phi - radius``.

For planning, review and training; not a medical device.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from imaging.labelmap import Label, LabelMap
from imaging.volume import Volume
from planner import geometry, needles
from planner import margins as margins_mod
from planner.errors import PlanError
from planner.model import Needle, StructureMargin, Trajectory

__all__ = [
    "SafetyOptions",
    "ClearanceMaps",
    "StructureResult",
    "Crossing",
    "Finding",
    "SafetyReport",
    "SafetyEvaluator",
    "evaluate_trajectory",
    "needle_conflicts",
    "trilinear",
    "VERDICTS",
    "DEFAULT_OPTIONS",
    "worst",
]

VERDICTS = ("ok", "warning", "violation")


def worst(verdicts: Iterable[str]) -> str:
    return max(verdicts, key=VERDICTS.index, default="ok")


@dataclass(frozen=True)
class SafetyOptions:
    """Knobs of the check (all editable)."""

    step_mm: float = 0.5  # sampling step along the needle (<= 0.5 mm)
    hub_allowance_mm: float = geometry.HUB_ALLOWANCE_MM
    target_region_mm: float = 2.0  # the target structure and this far around it is its region
    warning_band_mm: float = margins_mod.WARNING_BAND_MM
    skin_tolerance_mm: float = 3.0  # an entry further than this from the skin is reported
    # crop padding around the needle's reach: covers the largest margin (cord 5 mm + 8.8 mm of
    # bevel deflection at 80 mm + 1 mm warning band + radius); larger distances are lower bounds
    pad_mm: float = 16.0
    min_needle_gap_mm: float = 5.0  # two needles closer than this (surface to surface) conflict
    centre_search_mm: float = 10.0  # the target centre: the target's deepest point this near the tip


DEFAULT_OPTIONS = SafetyOptions()
FAR_MM = 20.0  # distance maps are exact up to here; beyond, this value is a lower bound


# -- interpolation ---------------------------------------------------------------------------
def trilinear(stack: np.ndarray, ijk: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """Trilinear interpolation of ``stack`` (nz, ny, nx, S) at continuous indices ``ijk`` (N, 3)
    in (i, j, k) order; all S channels in one gather. Indices are clamped to the grid."""
    nz, ny, nx, s = stack.shape
    n = ijk.shape[0]
    if s == 0:
        return np.zeros((n, 0), dtype=np.float32)
    flat = stack.reshape(-1, s)
    out = np.empty((n, s), dtype=np.float32)
    dx = 1 if nx > 1 else 0
    dy = nx if ny > 1 else 0
    dz = nx * ny if nz > 1 else 0
    for a in range(0, n, chunk):
        p = ijk[a : a + chunk]
        x = np.clip(p[:, 0], 0, nx - 1)
        y = np.clip(p[:, 1], 0, ny - 1)
        z = np.clip(p[:, 2], 0, nz - 1)
        i0 = np.minimum(x.astype(np.int64), max(nx - 2, 0))
        j0 = np.minimum(y.astype(np.int64), max(ny - 2, 0))
        k0 = np.minimum(z.astype(np.int64), max(nz - 2, 0))
        fx = (x - i0).astype(np.float32)
        fy = (y - j0).astype(np.float32)
        fz = (z - k0).astype(np.float32)
        gx, gy, gz = 1 - fx, 1 - fy, 1 - fz
        base = (k0 * ny + j0) * nx + i0
        acc = np.zeros((len(p), s), dtype=np.float32)
        for off, w in (
            (0, gx * gy * gz),
            (dx, fx * gy * gz),
            (dy, gx * fy * gz),
            (dy + dx, fx * fy * gz),
            (dz, gx * gy * fz),
            (dz + dx, fx * gy * fz),
            (dz + dy, gx * fy * fz),
            (dz + dy + dx, fx * fy * fz),
        ):
            corner = np.take(flat, base + off if off else base, axis=0)
            corner *= w[:, None]
            acc += corner
        out[a : a + chunk] = acc
    return out


# -- distance maps ---------------------------------------------------------------------------
def _maurer_sub(m: np.ndarray, crop: Volume, box: tuple[slice, slice, slice]) -> np.ndarray:
    """Exact distance (mm) to the nearest True voxel of ``m``, a sub-box of ``crop``."""
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(m.view(np.uint8))
    img.SetSpacing(tuple(float(v) for v in crop.spacing))
    d = sitk.SignedMaurerDistanceMap(img, insideIsPositive=False, squaredDistance=False, useImageSpacing=True, backgroundValue=0)
    return sitk.GetArrayViewFromImage(d).astype(np.float32)


def _signed_distance(mask: np.ndarray, crop: Volume) -> np.ndarray:
    """Signed distance (mm, negative inside) to the surface of a voxel mask.

    ``A`` = distance to the nearest structure voxel centre (outside), ``B`` = distance to the
    nearest background voxel centre (inside), both exact (SimpleITK SignedMaurerDistanceMap with
    the spacing). The surface lies between the two layers of centres: half the thickness of a
    digital plane with the local normal n, ``c = 0.5 * max_i(|n_i| h_i)`` (h_i: spacing), is taken
    off: ``phi = A - c`` outside, ``-(B - c)`` inside. On analytic shapes the error is within
    about half a voxel (0.1 mm on a 0.2 mm grid): the label map's own digitisation limit."""
    import SimpleITK as sitk

    def maurer(m: np.ndarray) -> np.ndarray:
        img = sitk.GetImageFromArray(m.view(np.uint8))
        img.SetSpacing(tuple(float(v) for v in crop.spacing))
        img.SetOrigin(tuple(float(v) for v in crop.origin))
        img.SetDirection(tuple(float(v) for v in crop.direction.ravel()))
        d = sitk.SignedMaurerDistanceMap(img, insideIsPositive=False, squaredDistance=False, useImageSpacing=True, backgroundValue=0)
        return sitk.GetArrayViewFromImage(d).astype(np.float32)

    h = np.asarray(crop.spacing, dtype=np.float32)[::-1]  # z, y, x
    psi = maurer(mask)
    if mask.all():
        return psi - float(h.max())
    if mask.any():
        # distance to the background is needed only inside the structure: its bounding box
        # padded by two voxels (whose outer layers are background) holds every nearest one
        nz = [np.flatnonzero(np.any(mask, axis=ax)) for ax in ((1, 2), (0, 2), (0, 1))]
        box = tuple(slice(max(int(a[0]) - 2, 0), min(int(a[-1]) + 3, n)) for a, n in zip(nz, mask.shape, strict=True))
        sub = mask[box]
        inside = np.empty_like(psi)
        inside[...] = 0.0
        inside[box] = _maurer_sub(~sub, crop, box)
        psi = np.where(mask, -inside, psi)
    shape = psi.shape
    c = None
    if min(shape) >= 2:
        grads = np.gradient(psi)  # per index step (z, y, x)
        num = np.zeros(shape, dtype=np.float32)
        den = np.zeros(shape, dtype=np.float32)
        for g, hi in zip(grads, h, strict=True):
            np.maximum(num, np.abs(g), out=num)
            den += (g / hi) ** 2
        del grads
        np.sqrt(den, out=den)
        c = np.divide(0.5 * num, den, out=np.full(shape, 0.5 * float(h.min()), dtype=np.float32), where=den > 1e-6)
        np.clip(c, 0.0, 0.5 * float(h.max()), out=c)
    else:
        c = np.float32(0.5 * float(h.min()))
    return np.where(mask, psi + c, psi - c).astype(np.float32)


class ClearanceMaps:
    """Signed distance maps of the obstacle and target structures over a crop of a label map.

    ``labels`` are the channels of ``stack`` (nz, ny, nx, S); ``body`` is the body mask of the
    crop (every labelled voxel, holes filled); ``crop`` is the cropped label volume."""

    def __init__(self, labelmap: LabelMap, lo: np.ndarray, hi: np.ndarray, *, structures: Sequence[str] | None = None) -> None:
        from scipy import ndimage

        t0 = time.perf_counter()
        self.labelmap = labelmap
        vol = labelmap.volume
        self.lo = np.asarray(lo, dtype=np.int64)
        self.hi = np.asarray(hi, dtype=np.int64)  # inclusive (i, j, k)
        arr = vol.array[self.lo[2] : self.hi[2] + 1, self.lo[1] : self.hi[1] + 1, self.lo[0] : self.hi[0] + 1]
        aff = vol.affine.copy()
        aff[:3, 3] = vol.index_to_lps(self.lo.astype(float))
        self.crop = Volume(arr, aff, vol.info)
        present = set(np.flatnonzero(np.bincount(arr.ravel().astype(np.int64))).tolist()) - {0}
        wanted = [
            lab
            for lab in labelmap.legend
            if lab.value in present
            and (lab.kind == "target" or lab.kind not in margins_mod.NEVER_OBSTACLE_KINDS)
            and (structures is None or lab.name in structures)
        ]
        self.labels: tuple[Label, ...] = tuple(wanted)
        self.index = {lab.name: i for i, lab in enumerate(self.labels)}
        # Each map is exact within FAR_MM of its structure (computed over the structure's box
        # grown by FAR_MM, which holds every point that close); farther points hold FAR_MM, a
        # lower bound. FAR_MM exceeds every margin (cord 5 mm + 8.8 mm of bevel drift at 80 mm +
        # the 1 mm warning band + the radius), so no verdict depends on the cap.
        self.far_mm = FAR_MM
        stack = np.full(arr.shape + (len(self.labels),), FAR_MM, dtype=np.float32)
        grow = np.ceil(FAR_MM / np.asarray(self.crop.spacing)[::-1]).astype(int)  # z, y, x voxels
        for c, lab in enumerate(self.labels):
            mask = arr == lab.value
            nzs = [np.flatnonzero(np.any(mask, axis=ax)) for ax in ((1, 2), (0, 2), (0, 1))]
            box = tuple(
                slice(max(int(a[0]) - int(g), 0), min(int(a[-1]) + int(g) + 1, n))
                for a, g, n in zip(nzs, grow, mask.shape, strict=True)
            )
            sub_aff = self.crop.affine.copy()
            sub_aff[:3, 3] = self.crop.index_to_lps(np.array([box[2].start, box[1].start, box[0].start], dtype=float))
            sub = Volume(mask[box], sub_aff)
            stack[box + (c,)] = np.minimum(_signed_distance(mask[box], sub), FAR_MM)
        self.stack = stack
        self.map_seconds = time.perf_counter() - t0
        self.body = ndimage.binary_fill_holes(arr != 0)
        self._deepest: dict[str, np.ndarray] = {}
        self.seconds = time.perf_counter() - t0

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def around(
        cls,
        labelmap: LabelMap,
        centre: Sequence[float],
        radius_mm: float,
        *,
        points: Iterable[Sequence[float]] = (),
        pad_mm: float = SafetyOptions.pad_mm,
        structures: Sequence[str] | None = None,
    ) -> ClearanceMaps:
        """Maps over the box holding a sphere of ``radius_mm`` + ``pad_mm`` around ``centre`` and
        ``points`` + ``pad_mm`` (clipped to the volume)."""
        vol = labelmap.volume
        sp = vol.spacing
        size = np.asarray(vol.size_ijk)
        c = vol.lps_to_index(np.asarray(centre, dtype=float))
        r = (float(radius_mm) + pad_mm) / sp
        lo, hi = c - r, c + r
        pts = np.asarray(list(points), dtype=float).reshape(-1, 3)
        if len(pts):
            idx = vol.lps_to_index(pts)
            lo = np.minimum(lo, idx.min(axis=0) - pad_mm / sp)
            hi = np.maximum(hi, idx.max(axis=0) + pad_mm / sp)
        lo = np.clip(np.floor(lo), 0, size - 1).astype(np.int64)
        hi = np.clip(np.ceil(hi), 0, size - 1).astype(np.int64)
        hi = np.maximum(hi, np.minimum(lo + 1, size - 1))
        return cls(labelmap, lo, hi, structures=structures)

    # -- queries ------------------------------------------------------------------------------
    def to_index(self, lps: np.ndarray) -> np.ndarray:
        return self.crop.lps_to_index(np.asarray(lps, dtype=float))

    def covers(self, lps: np.ndarray | Sequence[float], margin_mm: float = 0.0) -> bool:
        idx = self.to_index(np.asarray(lps, dtype=float).reshape(-1, 3))
        m = margin_mm / self.crop.spacing
        size = np.asarray(self.crop.size_ijk) - 1
        at_vol_lo = self.lo == 0
        at_vol_hi = self.hi == np.asarray(self.labelmap.volume.size_ijk) - 1
        lo_ok = np.all((idx >= m - 0.5) | at_vol_lo, axis=1)
        hi_ok = np.all((idx <= size - m + 0.5) | at_vol_hi, axis=1)
        return bool(np.all(lo_ok & hi_ok))

    def sample(self, lps: np.ndarray) -> np.ndarray:
        """Signed distance (mm) of every channel at each LPS point: (N, S)."""
        return trilinear(self.stack, self.to_index(np.asarray(lps, dtype=float).reshape(-1, 3)))

    def body_at(self, lps: np.ndarray) -> np.ndarray:
        """Inside the (hole-filled) body at each point (nearest voxel; False outside the crop)."""
        return self.body_at_index(self.to_index(np.asarray(lps, dtype=float).reshape(-1, 3)))

    def body_at_index(self, ijk: np.ndarray) -> np.ndarray:
        """:meth:`body_at` for continuous crop indices (i, j, k)."""
        idx = np.rint(ijk).astype(np.int64)
        nx, ny, nz = self.crop.size_ijk
        ok = (idx[:, 0] >= 0) & (idx[:, 0] < nx) & (idx[:, 1] >= 0) & (idx[:, 1] < ny) & (idx[:, 2] >= 0) & (idx[:, 2] < nz)
        out = np.zeros(len(idx), dtype=bool)
        s = idx[ok]
        out[ok] = self.body[s[:, 2], s[:, 1], s[:, 0]]
        return out

    def deepest_point(self, name: str) -> np.ndarray:
        """The point of structure ``name`` deepest inside it (within the crop), LPS."""
        if name not in self._deepest:
            ch = self.stack[..., self.index[name]]
            k, j, i = np.unravel_index(int(np.argmin(ch)), ch.shape)
            self._deepest[name] = self.crop.index_to_lps(np.array([i, j, k], dtype=float))
        return self._deepest[name]

    def deepest_near(self, name: str, point: Sequence[float], radius_mm: float) -> np.ndarray:
        """The point of structure ``name`` deepest inside it within ``radius_mm`` of ``point``
        (1 mm grid; the centre of a long structure such as the thecal sac near the tip)."""
        g = np.arange(-radius_mm, radius_mm + 0.5, 1.0)
        off = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
        off = off[np.linalg.norm(off, axis=1) <= radius_mm]
        pts = np.asarray(point, dtype=float)[None] + off
        pts = pts[self.crop.contains_lps(pts, margin_voxels=0.0)]
        if not len(pts):
            return self.deepest_point(name)
        phi = self.sample(pts)[:, self.index[name]]
        return pts[int(np.argmin(phi))]

    def targets(self) -> tuple[Label, ...]:
        return tuple(lab for lab in self.labels if lab.kind == "target")


# -- results ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class StructureResult:
    """One structure along the needle: minimum clearance from the surface and the verdict."""

    name: str
    kind: str
    clearance_mm: float  # minimum over the shaft, needle surface to structure (negative: inside)
    depth_mm: float  # depth below the entry where it occurs
    margin_mm: float  # margin required there
    margin_note: str  # why that margin
    verdict: str
    decisive_depth_mm: float  # where the verdict was decided (worst clearance minus margin)
    decisive_clearance_mm: float
    decisive_margin_mm: float
    rule: str = "margin"  # "margin" or "not entered" (joint walls inside the target region)
    at_least: bool = False  # the structure is farther than the maps' exact range: clearance is a lower bound


@dataclass(frozen=True)
class Crossing:
    """The needle's axis passes through structure ``name`` from ``depth_in_mm`` to ``depth_out_mm``."""

    name: str
    kind: str
    depth_in_mm: float
    depth_out_mm: float
    in_target_region: bool


@dataclass(frozen=True)
class Finding:
    verdict: str
    text: str


@dataclass(frozen=True)
class SafetyReport:
    trajectory: str
    needle: Needle
    length_mm: float  # entry to tip
    insertion_depth_mm: float  # skin to tip
    skin_offset_mm: float  # entry to skin along the needle (0 when the entry is on the skin)
    angles: geometry.NeedleAngles
    structures: tuple[StructureResult, ...]
    crossings: tuple[Crossing, ...]
    target_name: str
    tip_in_target: bool
    tip_depth_in_target_mm: float  # how far inside the target the tip is (signed distance, + inside)
    target_centre: tuple[float, float, float] | None
    miss_sideways_mm: float | None  # perpendicular distance of the target centre from the needle line
    overshoot_mm: float | None  # tip beyond the target centre along the needle (negative: short of it)
    tip_to_far_wall_mm: float | None  # how much further the tip could go before it leaves the target
    findings: tuple[Finding, ...] = field(default_factory=tuple)

    @property
    def verdict(self) -> str:
        return worst([s.verdict for s in self.structures] + [f.verdict for f in self.findings])

    @property
    def bone_crossed(self) -> tuple[Crossing, ...]:
        return tuple(c for c in self.crossings if c.kind == "bone")

    def structure(self, name: str) -> StructureResult:
        for s in self.structures:
            if s.name == name:
                return s
        raise KeyError(name)


# -- evaluation ------------------------------------------------------------------------------
def _refine_min(f: np.ndarray, k: int) -> tuple[float, float]:
    """Parabolic refinement of a sampled minimum at index ``k``: (value, fractional offset)."""
    if 0 < k < len(f) - 1:
        a, b, c = float(f[k - 1]), float(f[k]), float(f[k + 1])
        den = a - 2 * b + c
        if den > 1e-9:
            off = 0.5 * (a - c) / den
            if -1.0 < off < 1.0:
                return b - 0.25 * (a - c) * off, off
    return float(f[k]), 0.0


def _intervals(inside: np.ndarray, phi: np.ndarray, t: np.ndarray) -> list[tuple[float, float, int, int]]:
    """Depth intervals where ``inside`` holds, ends interpolated on ``phi``'s zero crossing."""
    out = []
    n = len(inside)
    k = 0
    while k < n:
        if not inside[k]:
            k += 1
            continue
        a = k
        while k < n and inside[k]:
            k += 1
        b = k - 1

        def cross(i0: int, i1: int) -> float:
            p0, p1 = float(phi[i0]), float(phi[i1])
            w = p0 / (p0 - p1) if p0 != p1 else 0.5
            return float(t[i0] + w * (t[i1] - t[i0]))

        d_in = cross(a - 1, a) if a > 0 else float(t[a])
        d_out = cross(b, b + 1) if b < n - 1 else float(t[b])
        out.append((d_in, d_out, a, b))
    return out


def choose_target(maps: ClearanceMaps, trajectory: Trajectory) -> Label | None:
    """The target structure of a trajectory: by name, else the target label holding the tip,
    else the target label nearest the tip."""
    targets = maps.targets()
    if not targets:
        return None
    if trajectory.target_structure:
        for lab in targets:
            if lab.name == trajectory.target_structure:
                return lab
        raise PlanError(
            f"Trajectory {trajectory.name!r} aims at {trajectory.target_structure!r}, which is not a target structure "
            f"within reach in this label map (targets: {', '.join(t.name for t in targets)})."
        )
    vals = maps.sample(np.asarray(trajectory.target, dtype=float)[None])[0]
    return min(targets, key=lambda lab: float(vals[maps.index[lab.name]]))


def evaluate_trajectory(
    maps: ClearanceMaps,
    trajectory: Trajectory,
    margins: Mapping[str, StructureMargin] | None = None,
    options: SafetyOptions = DEFAULT_OPTIONS,
    *,
    target_centre: Sequence[float] | None = None,
    skin_normal: Sequence[float] | None = None,
) -> SafetyReport:
    """Check one trajectory along its whole shaft (see the module docstring)."""
    if margins is None:
        margins = margins_mod.margins_for(maps.labelmap.legend)
    entry = np.asarray(trajectory.entry, dtype=float)
    tip = np.asarray(trajectory.target, dtype=float)
    length = float(np.linalg.norm(tip - entry))
    if length < 1e-6:
        raise PlanError(f"Trajectory {trajectory.name!r}: entry and target are the same point.")
    d = (tip - entry) / length
    step = min(float(options.step_mm), 0.5)
    n = max(2, int(math.ceil(length / step)) + 1)
    t = np.linspace(0.0, length, n)
    pts = entry[None] + t[:, None] * d[None]
    if not maps.covers(pts):
        raise PlanError(f"Trajectory {trajectory.name!r} leaves the region the distance maps were computed for.")
    vals = maps.sample(pts)
    radius = trajectory.needle.radius_mm
    tip_kind = trajectory.needle.tip
    findings: list[Finding] = []

    # target
    target = choose_target(maps, trajectory)
    if target is not None:
        phi_t = vals[:, maps.index[target.name]]
        in_region = phi_t <= options.target_region_mm
    else:
        phi_t = None
        in_region = np.zeros(n, dtype=bool)

    # skin: where the shaft enters the body
    body = maps.body_at(pts)
    first = int(np.argmax(body)) if body.any() else n
    skin_offset = float(t[first]) if first < n else length
    if first == 0:
        back = entry[None] - np.arange(1, int(options.skin_tolerance_mm / 0.5) + 1)[:, None] * 0.5 * d[None]
        if maps.covers(back) and maps.body_at(back).all():
            findings.append(Finding("warning", f"The entry lies more than {options.skin_tolerance_mm:g} mm under the skin; move it to the skin surface."))
    elif skin_offset > options.skin_tolerance_mm:
        findings.append(Finding("warning", f"The entry is {skin_offset:.1f} mm outside the skin; the needle meets the skin {skin_offset:.1f} mm along the path."))
    if first < n:
        outside = ~body & (t > skin_offset + 1.0) & (t < length - 0.01)
        if outside.any():
            k = int(np.argmax(outside))
            findings.append(Finding("violation", f"The path leaves the body at {t[k]:.1f} mm depth (air between body parts) and re-enters it; choose another entry."))
    insertion = length - skin_offset
    if not geometry.long_enough(trajectory.needle.length_mm, insertion, options.hub_allowance_mm):
        findings.append(
            Finding(
                "violation",
                f"The {trajectory.needle.describe()} needle is too short: insertion {insertion:.1f} mm + {options.hub_allowance_mm:g} mm at the hub "
                f"> {trajectory.needle.length_mm:g} mm. Use a longer needle.",
            )
        )

    # obstacles
    results: list[StructureResult] = []
    crossings: list[Crossing] = []
    depth_from_entry = t
    for lab in maps.labels:
        c = maps.index[lab.name]
        phi = vals[:, c].astype(np.float64)
        if lab.kind == "target":
            continue
        m = margins.get(lab.name)
        if m is None:
            continue
        clearance = phi - radius
        wall = (lab.kind in margins_mod.WALL_KINDS) & in_region
        required = np.full(n, m.margin_mm)
        if m.grows_with_depth:
            required = required + needles.DEFLECTION_MM_PER_10MM[tip_kind] * np.maximum(depth_from_entry - skin_offset, 0.0) / 10.0
        value = np.where(wall, phi, clearance)
        required = np.where(wall, 0.0, required)
        band = np.where(wall, 0.0, options.warning_band_mm)
        excess = value - required
        kd = int(np.argmin(excess))
        if np.any(excess < 0):
            verdict = "violation"
        elif np.any(excess < band):
            verdict = "warning"
        else:
            verdict = "ok"
        km = int(np.argmin(clearance))
        cmin, off = _refine_min(clearance, km)
        depth_min = float(np.clip(t[km] + off * (t[1] - t[0]), 0.0, length))
        grow_depth = max(depth_min - skin_offset, 0.0)
        margin_there = 0.0 if wall[km] else margins_mod.required_clearance_mm(m, grow_depth, tip_kind)
        note = "inside the target region: must not be entered" if wall[km] else margins_mod.explain_margin(m, grow_depth, tip_kind)
        results.append(
            StructureResult(
                lab.name,
                lab.kind,
                float(cmin),
                depth_min,
                float(margin_there),
                note,
                verdict,
                float(t[kd]),
                float(value[kd] if not wall[kd] else value[kd] - radius),
                float(required[kd]),
                "not entered" if wall[kd] else "margin",
                bool(cmin >= maps.far_mm - radius - 0.01),
            )
        )
        if lab.kind in ("bone", "disc", "cartilage", "tendon", "cord", "artery", "vein", "nerve"):
            for d_in, d_out, a, b in _intervals(phi < 0, phi, t):
                crossings.append(Crossing(lab.name, lab.kind, d_in, d_out, bool(in_region[a : b + 1].all())))

    # tip and target
    tip_in = False
    tip_depth_in = 0.0
    centre = miss = over = far = None
    tname = ""
    if target is None:
        findings.append(Finding("warning", "The label map has no target structure within reach; the tip's position was not judged."))
    else:
        tname = target.name
        tip_depth_in = float(-phi_t[-1])
        tip_in = tip_depth_in >= 0.0
        if target_centre is None:
            lm = maps.labelmap.landmarks
            if lm is not None and lm.target and lm.target.get("lps") is not None and lm.target.get("name", target.name) == target.name:
                if float(np.linalg.norm(np.asarray(lm.target["lps"], float) - tip)) <= options.centre_search_mm * 1.5:
                    target_centre = lm.target["lps"]
        centre = np.asarray(target_centre if target_centre is not None else maps.deepest_near(target.name, tip, options.centre_search_mm), dtype=float)
        rel = centre - entry
        along = float(rel @ d)
        miss = float(np.linalg.norm(rel - along * d))
        over = float(length - along)
        far = 0.0
        if tip_in:
            ahead = tip[None] + np.arange(1, 401)[:, None] * 0.25 * d[None]
            inside_ahead = maps.sample(ahead)[:, maps.index[target.name]] <= 0
            far = float(0.25 * (np.argmin(inside_ahead) if not inside_ahead.all() else len(inside_ahead)))
        if not tip_in:
            findings.append(Finding("violation", f"The tip is outside the target ({target.name}), {-tip_depth_in:.1f} mm from it."))
        elif far < options.warning_band_mm:
            findings.append(Finding("warning", f"The tip is {far:.1f} mm from the far wall of {target.name}: a small overshoot leaves the target."))
    normal = skin_normal
    angles = geometry.needle_angles(entry, tip, normal)
    return SafetyReport(
        trajectory.name,
        trajectory.needle,
        length,
        insertion,
        skin_offset,
        angles,
        tuple(results),
        tuple(crossings),
        tname,
        tip_in,
        tip_depth_in,
        None if centre is None else tuple(float(v) for v in centre),  # type: ignore[arg-type]
        miss,
        over,
        far,
        tuple(findings),
    )


def needle_conflicts(trajectories: Sequence[Trajectory], min_gap_mm: float = SafetyOptions.min_needle_gap_mm) -> list[tuple[str, str, float]]:
    """Pairs of needles whose surfaces come closer than ``min_gap_mm``: (name a, name b, gap mm)."""
    out = []
    for i, a in enumerate(trajectories):
        for b in trajectories[i + 1 :]:
            gap = geometry.segment_distance_mm(a.entry, a.target, b.entry, b.target) - a.needle.radius_mm - b.needle.radius_mm
            if gap < min_gap_mm:
                out.append((a.name, b.name, float(gap)))
    return out


class SafetyEvaluator:
    """Keeps distance maps between calls, so a dragged trajectory is re-checked in milliseconds;
    the maps are rebuilt only when a trajectory leaves the region they cover."""

    def __init__(
        self,
        labelmap: LabelMap,
        plan_margins: Iterable[StructureMargin] = (),
        options: SafetyOptions = DEFAULT_OPTIONS,
    ) -> None:
        self.labelmap = labelmap
        self.options = options
        self.margins = margins_mod.margins_for(labelmap.legend, plan_margins)
        self.maps: ClearanceMaps | None = None

    def maps_for(self, trajectories: Sequence[Trajectory]) -> ClearanceMaps:
        pts = np.array([p for t in trajectories for p in (t.entry, t.target)], dtype=float)
        if self.maps is None or not self.maps.covers(pts, margin_mm=5.0):
            first = trajectories[0]
            reach = max(max(t.needle.length_mm, t.length_mm) for t in trajectories)
            self.maps = ClearanceMaps.around(self.labelmap, first.target, reach, points=pts, pad_mm=self.options.pad_mm)
        return self.maps

    def evaluate(self, trajectory: Trajectory, **kw: object) -> SafetyReport:
        maps = self.maps_for([trajectory])
        return evaluate_trajectory(maps, trajectory, self.margins, self.options, **kw)  # type: ignore[arg-type]

    def evaluate_all(self, trajectories: Sequence[Trajectory]) -> tuple[list[SafetyReport], list[tuple[str, str, float]]]:
        if not trajectories:
            return [], []
        maps = self.maps_for(trajectories)
        reports = [evaluate_trajectory(maps, t, self.margins, self.options) for t in trajectories]
        return reports, needle_conflicts(trajectories, self.options.min_needle_gap_mm)
