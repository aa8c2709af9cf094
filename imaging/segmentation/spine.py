"""Lumbar spine on CT: vertebrae L1-L5 and the sacrum (T12 when in view), the spinal canal and
thecal sac, the intervertebral discs, and the interlaminar window of every interspace.

Method (classical, on a ~2 mm grid; "count up from the sacrum"):

1. **Spinal canal**: bone (>= 130 HU) is closed along the head-foot axis (15 mm) and in-plane
   (one voxel) so the bony ring around the canal is whole; in every axial slice the holes of that
   ring with fluid/fat density (< 60 HU) and a canal's area (30-700 mm^2) are candidates. The
   longest chain of candidates that moves little from slice to slice is the canal; it is followed
   further up and down with looser rules and interpolated across the discs.
2. **Vertebral column**: in front of the canal, the vertebral body (or disc) is the run of tissue
   >= 60 HU; its middle, smoothed along the spine, is the body centreline.
3. **Discs**: the mean density in 9 mm disks perpendicular to that centreline, along it, is the
   *body profile*; endplates are its peaks, discs the dips between them.
4. **Sacrum**: the slices where the bone around the column, closed over 4 mm gaps, spans more than
   140 mm from side to side (sacrum joined to both ilia at the sacro-iliac joints) over at least
   12 mm. L5-S1 is the disc with the smallest gap to the top of the sacrum; the levels are counted
   upwards from it (L5, L4, ... L1, T12). As a check, the vertebrae that bone far from the
   spine (ribs) joins on both sides are reported (``extra["rib_bearing"]``; it should be T12),
   with a warning when that is L1 or L2, and when a T12 in view has no ribs (six lumbar-type
   vertebrae, or a T12 without ribs). A sacralised L5 is not recognised; check the level table
   against the images.

Landmarks: ``levels`` ``[{"name", "centre", "label"}]`` head to foot (``label``: the legend name
of that vertebra, "sacrum" for S1), ``windows`` as described in :class:`imaging.labelmap.Landmarks`
(plus ``depth_mm``, how far the gap was followed behind the laminae), ``target`` the thecal sac
at L3-L4, ``extra``: method, discs (centre, normal), rib-bearing vertebrae, warnings.
5. **Vertebrae**: the bone of the spine is split by a watershed on the distance to the bone
   surface from the vertebral body cores between the discs (posterior elements follow their
   pedicles), with the bone far from the spine (ilia, femurs, ribs, pubis) as "other bone".
6. **Thecal sac** (kind target): the canal's voxels of CSF density (>= -30 HU, not epidural fat),
   down to about S2; always at least the canal's centre in every slice. The rest of the canal is
   "spinal canal" (kind canal). Above the L1-L2 disc the middle of the sac (4 mm radius) is
   labelled "spinal cord (assumed)" (kind cord): CT does not show the cord, and the conus is
   assumed to end at L1-L2, so the planner keeps its cord margin there. **Discs** (kind disc) are 7 mm slabs across the body centreline.
7. **Interlaminar windows**: in the mid-sagittal plane of each interspace, the gap between the
   lowest bone of the upper vertebra and the highest bone of the lower one, just behind the canal
   (the ligamentum flavum): its centre, height (along the spine) and width (side to side, between
   the laminae/facets), and the midline: a point in the window and a direction in the sagittal
   plane through the gap between the spinous processes (posterior to anterior). The conus is
   assumed to end at L1-L2 (CT does not show it): windows below L1-L2 are ``below_conus``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from imaging.errors import ImagingError
from imaging.labelmap import Label, LabelMap, Landmarks, Legend
from imaging.progress import Cancel, Progress
from imaging.segmentation.body import SKIN, SOFT_TISSUE, body_masks, skin_layer
from imaging.segmentation.bone import labels_to_fine
from imaging.segmentation.common import CoarseGrid, Steps, fill_holes_slices, is_ct, spacing_zyx
from imaging.volume import Volume

__all__ = ["segment_lumbar", "LumbarError", "LEVEL_NAMES", "CONUS_INTERSPACE"]

HARD_HU = 130.0
MARROW_HU = 60.0
FLUID_MAX_HU = 60.0
CSF_MIN_HU = -30.0
SACRUM_WIDTH_MM = 140.0
CONUS_INTERSPACE = "L1-L2"
# Vertebra names from the sacrum upwards.
LEVEL_NAMES = ("S1", "L5", "L4", "L3", "L2", "L1", "T12", "T11", "T10")
SACRUM_LABEL = "sacrum"
CORD_LABEL = "spinal cord (assumed)"


class LumbarError(ImagingError):
    """The lumbar segmentation could not find the spine's landmarks on this study."""


@dataclass
class _Column:
    """Canal and body centreline on the coarse grid (index space, one entry per slice)."""

    z0: int
    z1: int  # inclusive range of slices with a canal
    canal_xy: np.ndarray  # (n, 2) x, y canal centre per slice z0..z1
    canal_found: np.ndarray  # (n,) bool: a hole was found in that slice
    body_y: np.ndarray  # (n,) y of the vertebral body centre
    body_half_mm: np.ndarray  # (n,) half of the body's AP depth


def segment_lumbar(volume: Volume, *, progress: Progress | None = None, cancel: Cancel | None = None) -> LabelMap:
    """Segment the lumbar spine of a CT (see the module docstring for the method)."""
    if not is_ct(volume):
        raise LumbarError("The lumbar segmentation needs a CT (Hounsfield units); this study is not a CT.")
    steps = Steps(progress, cancel)
    vol, flips = _canonical(volume)
    steps(0.0, "Body outline")
    grid = CoarseGrid.for_volume(vol, 2.0)
    c = grid.down_mean(vol.array)
    body, body_c = body_masks(vol, coarse=c, progress=steps.sub(0.0, 0.25), cancel=cancel)
    cvol = grid.coarse_volume(vol, c)
    sp = spacing_zyx(cvol)
    hard = (c >= HARD_HU) & body_c
    steps(0.3, "Tracing the spinal canal")
    canal_c, col = _trace_canal(c, hard, body_c, sp)
    steps(0.45, "Vertebral bodies and discs")
    line = _centreline(col, cvol)
    profile = _body_profile(c, cvol, line)
    sac_top_z = _sacrum_top(hard, col, sp)
    discs = _find_discs(line, profile, sac_top_z, cvol)
    steps(0.55, "Labelling vertebrae")
    marrow = fill_holes_slices(hard, axis=0, cancel=cancel) & (c >= MARROW_HU)
    levels = _levels(line, discs)
    bodies = _vertebral_bodies(c, cvol, line, levels, col, sp)
    spine_bone = hard | marrow | (bodies > 0)
    labels_c, names = _label_vertebrae(spine_bone, bodies, canal_c, c, cvol, line, levels, col, sp)
    rib_bearing = _rib_bearing(labels_c, names, col, sp)
    steps(0.7, "Thecal sac and discs")
    sac_c = _thecal_sac(canal_c, c, col, line, discs, levels)
    cord_c = _assumed_cord(sac_c[0], col, line, discs, sp)
    sac_c = (sac_c[0] & ~cord_c, sac_c[1])
    disc_c = _disc_slabs(line, discs, col, cvol, labels_c, sp)
    windows = _windows(hard, levels, discs, line, col, cvol, sp, canal_c, labels_c, names)
    steps(0.8, "Mapping to the study's grid")
    out, legend = _assemble(vol, grid, body, labels_c, names, canal_c, sac_c, disc_c, discs, c, cord_c)
    for axis in flips:
        out = np.flip(out, axis=2 - axis)
    out = np.ascontiguousarray(out)
    level_table = [
        {"name": lv["name"], "centre": _r(lv["centre"]), "label": lv["label"]} for lv in reversed(levels)
    ]
    sac_centre = _sac_target(sac_c, cvol, windows)
    landmarks = Landmarks(
        task="lumbar",
        target={"name": "thecal sac", "lps": _r(sac_centre)} if sac_centre is not None else None,
        levels=tuple(level_table),
        windows=tuple(windows),
        extra={
            "method": "canal traced slice by slice; discs = dips of the body profile along it; "
            "L5-S1 = disc nearest the top of the sacrum; levels counted upwards",
            "conus_assumed_at": CONUS_INTERSPACE,
            "cord": f"'{CORD_LABEL}': not seen on CT; the middle of the thecal sac (4 mm radius) "
            f"down to the {CONUS_INTERSPACE} disc",
            "discs": [{"name": d["name"], "centre": _r(d["centre"]), "normal": _r(d["normal"], 4)} for d in discs],
            "rib_bearing": rib_bearing,
            "warnings": _level_warnings(rib_bearing, [lv["name"] for lv in levels], _whole_in_view(volume, levels)),
        },
    )
    steps(1.0, "Lumbar spine done")
    return LabelMap(volume.with_array(out), legend, landmarks)


# -- orientation ---------------------------------------------------------------------------


def _canonical(volume: Volume) -> tuple[Volume, list[int]]:
    """Flip axes so that i -> left, j -> posterior, k -> superior; refuse non-axial stacks."""
    d = volume.direction
    if int(np.argmax(np.abs(d[2, :]))) != 2 or abs(d[2, 2]) < 0.7:
        raise LumbarError(
            "The lumbar segmentation needs axial slices (the head-foot axis across the slices); "
            "this series is sagittal, coronal or strongly oblique. Use an axial CT series."
        )
    flips = [axis for axis in range(3) if d[int(np.argmax(np.abs(d[:, axis]))), axis] < 0]
    vol = volume
    for axis in flips:
        vol = vol.flip(axis)
    return vol, flips


def _r(p, nd: int = 2) -> list[float]:
    return [round(float(v), nd) for v in np.asarray(p, dtype=float).ravel()]


# -- 1. spinal canal --------------------------------------------------------------------------


def _trace_canal(c: np.ndarray, hard: np.ndarray, body: np.ndarray, sp: np.ndarray):
    nz, ny, nx = c.shape
    nzl = max(1, int(round(15.0 / sp[0])))
    closed = ndimage.binary_closing(hard, structure=np.ones((2 * (nzl // 2) + 1, 1, 1), bool), border_value=0)
    closed |= hard
    cross = ndimage.generate_binary_structure(2, 1)[None]
    closed = ndimage.binary_closing(closed, structure=cross) | closed
    holes = fill_holes_slices(closed, axis=0) & ~closed & (c < FLUID_MAX_HU)
    px_mm2 = float(sp[1] * sp[2])
    # the body's centre line (x) and the middle of its AP extent, for plausibility
    zz, yy, xx = np.nonzero(body[:, :: max(1, ny // 64), :: max(1, nx // 64)])
    x_mid = float(np.median(xx)) * max(1, nx // 64) if xx.size else nx / 2
    cands: list[tuple[int, float, float, float, np.ndarray]] = []
    for z in range(nz):
        if not holes[z].any():
            continue
        lab, n = ndimage.label(holes[z])
        if n == 0:
            continue
        idx = np.arange(1, n + 1)
        area = ndimage.sum_labels(np.ones_like(lab), lab, idx) * px_mm2
        cy, cx = (np.asarray(v) for v in zip(*ndimage.center_of_mass(np.ones_like(lab), lab, idx), strict=True))
        for i in range(n):
            if 30.0 <= area[i] <= 700.0 and abs(cx[i] - x_mid) * sp[2] <= 60.0:
                cands.append((z, float(cx[i]), float(cy[i]), float(area[i]), lab == idx[i]))
    if not cands:
        raise LumbarError(
            "No spinal canal was found: no fluid-density channel enclosed by bone. Is this a CT of "
            "the lumbar spine (bone window, soft tissue kernel, covering the vertebrae)?"
        )
    # longest consistent chain (dynamic programming over slices)
    m = len(cands)
    score = np.ones(m)
    prev = np.full(m, -1)
    for j in range(m):
        zj, xj, yj = cands[j][:3]
        for i in range(j - 1, -1, -1):
            zi, xi, yi = cands[i][:3]
            if zi == zj:
                continue
            dz_mm = (zj - zi) * sp[0]
            if dz_mm > 26.0:
                break
            d_mm = np.hypot((xj - xi) * sp[2], (yj - yi) * sp[1])
            if d_mm <= 5.0 + 0.35 * dz_mm and score[i] + 1 > score[j]:
                score[j] = score[i] + 1
                prev[j] = i
    j = int(np.argmax(score))
    chain = []
    while j >= 0:
        chain.append(j)
        j = int(prev[j])
    chain = chain[::-1]
    extent_mm = (cands[chain[-1]][0] - cands[chain[0]][0] + 1) * sp[0]
    if extent_mm < 45.0:
        raise LumbarError(
            f"The spinal canal could be followed over only {extent_mm:.0f} mm; the lumbar "
            "task needs the lumbar spine and sacrum in view (at least ~15 cm head to foot)."
        )
    found: dict[int, tuple[float, float, np.ndarray]] = {}
    for k in chain:
        z, x0, y0, _, region = cands[k]
        found[z] = _refine(c[z], hard[z], x0, y0, region, sp)
    # follow it further with looser rules (smaller holes, e.g. the sacral canal)
    loose = holes
    for direction in (-1, 1):
        z = min(found) if direction < 0 else max(found)
        miss = 0
        while 0 <= z + direction < nz and miss * sp[0] <= 15.0:
            z += direction
            z_last = min(found) if direction < 0 else max(found)
            last = found[z_last]
            # predict with the canal's recent drift per slice (the sacrum leans backwards)
            ref = [zz_ for zz_ in found if 0 < (zz_ - z_last) * -direction <= max(2, int(round(9.0 / sp[0])))]
            if ref:
                z_ref = max(ref, key=lambda q: abs(q - z_last))
                vel = (np.array(last[:2]) - np.array(found[z_ref][:2])) / abs(z_last - z_ref)
            else:
                vel = np.zeros(2)
            vel = np.clip(vel, -12.0 / sp[1:][::-1] * sp[0] / 3.0, 12.0 / sp[1:][::-1] * sp[0] / 3.0)
            pred = np.array(last[:2]) + vel * abs(z - z_last)
            lab, n = ndimage.label(loose[z])
            best = None
            for i in range(1, n + 1):
                region = lab == i
                a_mm2 = region.sum() * px_mm2
                if a_mm2 < 9.0 or a_mm2 > 700.0:
                    continue
                yy, xx = np.nonzero(region)
                d_mm = np.hypot((xx.mean() - pred[0]) * sp[2], (yy.mean() - pred[1]) * sp[1])
                if d_mm <= 7.0 + 2.0 * miss * sp[0] / 3.0 and (best is None or d_mm < best[0]):
                    best = (d_mm, float(xx.mean()), float(yy.mean()), region)
            if best is None:
                best = _midline_gap(c[z], hard[z], pred, sp, reach_mm=12.0)
            if best is None:
                miss += 1
                continue
            miss = 0
            found[z] = _refine(c[z], hard[z], best[1], best[2], best[3], sp)
    z0, z1 = min(found), max(found)
    zs = np.array(sorted(found))
    xs = np.array([found[z][0] for z in zs])
    ys = np.array([found[z][1] for z in zs])
    all_z = np.arange(z0, z1 + 1)
    cx = ndimage.gaussian_filter1d(np.interp(all_z, zs, xs), 1.0)
    cy = ndimage.gaussian_filter1d(np.interp(all_z, zs, ys), 1.0)
    areas = np.array([found[z][2].sum() for z in zs]) * px_mm2
    r_med = float(np.sqrt(np.median(areas) / np.pi))
    canal = np.zeros(c.shape, bool)
    is_found = np.isin(all_z, zs)
    yy, xx = np.mgrid[0:ny, 0:nx]
    for n_, z in enumerate(all_z):
        disk = ((xx - cx[n_]) * sp[2]) ** 2 + ((yy - cy[n_]) * sp[1]) ** 2 <= r_med**2
        if z in found:
            canal[z] = found[z][2] | (disk & (c[z] < FLUID_MAX_HU) & ~hard[z])
        else:
            canal[z] = disk & (c[z] < FLUID_MAX_HU + 30) & ~hard[z]
        if not canal[z].any():
            canal[z, int(round(cy[n_])), int(round(cx[n_]))] = True
    # vertebral body in front of the canal: the run of tissue >= 60 HU along -y
    body_y = np.full(all_z.size, np.nan)
    half = np.full(all_z.size, np.nan)
    for n_, z in enumerate(all_z):
        xi = int(round(cx[n_]))
        col = c[z, :, max(0, xi - 1) : xi + 2].mean(axis=1)
        y = int(round(cy[n_]))
        steps_back = int(round(25.0 / sp[1]))
        start = None
        for k in range(1, steps_back + 1):
            if y - k < 0:
                break
            if col[y - k] >= MARROW_HU:
                start = y - k
                break
        if start is None:
            continue
        end = start
        limit = int(round(60.0 / sp[1]))
        while end - 1 >= 0 and start - end < limit and col[end - 1] >= MARROW_HU - 20:
            end -= 1
        if (start - end + 1) * sp[1] >= 15.0:
            body_y[n_] = (start + end) / 2.0
            half[n_] = (start - end + 1) * sp[1] / 2.0
    ok = np.isfinite(body_y)
    if ok.sum() < 5:
        raise LumbarError("The vertebral bodies in front of the canal could not be found.")
    body_y = np.interp(all_z, all_z[ok], body_y[ok])
    half = np.interp(all_z, all_z[ok], half[ok])
    body_y = ndimage.gaussian_filter1d(ndimage.median_filter(body_y, size=5, mode="nearest"), 2.0 * 3.0 / sp[0])
    half = ndimage.median_filter(half, size=7, mode="nearest")
    col = _Column(int(z0), int(z1), np.stack([cx, cy], 1), is_found, body_y, half)
    return canal, col


def _refine(cz, hz, x0: float, y0: float, region: np.ndarray, sp: np.ndarray):
    """Centre the canal in the midline gap between the body and the lamina when that gap holds
    the hole (small holes at the edge of the canal otherwise pull the centre forwards)."""
    gap = _midline_gap(cz, hz, np.array([x0, y0]), sp, reach_mm=0.0)
    if gap is None:
        return (x0, y0, region)
    return (x0, gap[2], region | gap[3])


def _midline_gap(cz: np.ndarray, hz: np.ndarray, pred: np.ndarray, sp: np.ndarray, *, reach_mm: float = 10.0):
    """The canal as the soft-tissue gap between bone in front and bone behind, in the midline
    column through the predicted centre (where the canal is open at the sides, e.g. the sacrum)."""
    ny, nx = cz.shape
    xi = int(round(pred[0]))
    if not 1 <= xi < nx - 1:
        return None
    col_hard = hz[:, xi - 1 : xi + 2].any(axis=1)
    best = None
    y = 0
    while y < ny:
        if col_hard[y]:
            y += 1
            continue
        start = y
        while y < ny and not col_hard[y]:
            y += 1
        end = y - 1  # free run start..end, bounded by bone when start > 0 and y < ny
        if start == 0 or y >= ny:
            continue
        length = (end - start + 1) * sp[1]
        centre = (start + end) / 2.0
        d_mm = abs(centre - pred[1]) * sp[1]
        if 3.0 <= length <= 25.0 and d_mm <= reach_mm + length / 2.0 and (best is None or d_mm < best[0]):
            best = (d_mm, centre, length)
    if best is None:
        return None
    yy, xx = np.mgrid[0:ny, 0:nx]
    r = best[2] / 2.0
    region = (((xx - xi) * sp[2]) ** 2 + ((yy - best[1]) * sp[1]) ** 2 <= r**2) & ~hz & (cz < FLUID_MAX_HU + 30)
    if not region.any():
        return None
    return (best[0], float(xi), float(best[1]), region)


# -- 2./3. centreline and body profile -----------------------------------------------------


@dataclass
class _Line:
    """The body centreline resampled by arc length (LPS mm)."""

    s: np.ndarray  # (m,) arc length mm, increasing head-wards
    p: np.ndarray  # (m, 3) LPS
    t: np.ndarray  # (m, 3) unit tangent (head-wards)
    z_index: np.ndarray  # (m,) coarse slice index (float) of each point
    canal_p: np.ndarray  # (m, 3) canal centre at the same slice (LPS)


def _centreline(col: _Column, cvol: Volume) -> _Line:
    zs = np.arange(col.z0, col.z1 + 1, dtype=float)
    ijk = np.stack([col.canal_xy[:, 0], col.body_y, zs], 1)
    pts = cvol.index_to_lps(ijk)
    canal = cvol.index_to_lps(np.stack([col.canal_xy[:, 0], col.canal_xy[:, 1], zs], 1))
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    s_raw = np.concatenate([[0.0], np.cumsum(seg)])
    step = 1.5
    s = np.arange(0.0, s_raw[-1] + 1e-6, step)
    p = np.stack([np.interp(s, s_raw, pts[:, k]) for k in range(3)], 1)
    cp = np.stack([np.interp(s, s_raw, canal[:, k]) for k in range(3)], 1)
    zi = np.interp(s, s_raw, zs)
    ps = ndimage.gaussian_filter1d(p, 4.0, axis=0, mode="nearest")
    t = np.gradient(ps, axis=0)
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    return _Line(s, p, t, zi, cp)


def _plane_basis(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors across the spine: e1 ~ patient left, e2 ~ posterior."""
    e1 = np.array([1.0, 0.0, 0.0]) - t * t[0]
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(t, e1)
    if e2[1] < 0:
        e2 = -e2
    return e1, e2


def _body_profile(c: np.ndarray, cvol: Volume, line: _Line, radius_mm: float = 9.0) -> np.ndarray:
    g = np.arange(-radius_mm, radius_mm + 1e-6, 1.5)
    uu, vv = np.meshgrid(g, g)
    keep = uu**2 + vv**2 <= radius_mm**2
    uu, vv = uu[keep], vv[keep]
    prof = np.zeros(line.s.size)
    pts_all = []
    for k in range(line.s.size):
        e1, e2 = _plane_basis(line.t[k])
        pts_all.append(line.p[k] + uu[:, None] * e1 + vv[:, None] * e2)
    pts = np.concatenate(pts_all)
    ijk = cvol.lps_to_index(pts)
    vals = ndimage.map_coordinates(c, ijk[:, ::-1].T, order=1, mode="nearest")
    vals = np.clip(vals, -100.0, 600.0).reshape(line.s.size, -1)
    prof = vals.mean(axis=1)
    return prof


# -- 4. sacrum ------------------------------------------------------------------------------


def _sacrum_top(hard: np.ndarray, col: _Column, sp: np.ndarray) -> float | None:
    """Slice index (coarse) of the top of the sacrum, or None when no sacrum is in view."""
    r = max(1, int(round(4.0 / min(sp[1], sp[2]))))
    st = np.zeros((2 * r + 1, 2 * r + 1), bool)
    st[r, :] = True
    st[:, r] = True
    z_first = max(0, col.z0 - int(round(60.0 / sp[0])))
    widths = np.zeros(col.z1 - z_first + 1)
    for n_, z in enumerate(range(z_first, col.z1 + 1)):
        k = int(np.clip(z - col.z0, 0, col.z1 - col.z0))  # below the traced canal: its lowest values
        sl = ndimage.binary_closing(hard[z], structure=st) | hard[z]
        lab, n = ndimage.label(sl)
        if n == 0:
            continue
        x = int(round(col.canal_xy[k, 0]))
        y0 = int(round(col.body_y[k] - 10.0 / sp[1]))
        y1 = int(round(col.canal_xy[k, 1] + 15.0 / sp[1]))
        dx = int(round(6.0 / sp[2]))
        box = lab[max(0, y0) : max(0, y1 + 1), max(0, x - dx) : x + dx + 1]
        hit = box[box > 0]
        if hit.size == 0:
            continue
        comp = lab == np.bincount(hit).argmax()
        xx = np.nonzero(comp.any(axis=0))[0]
        widths[n_] = (xx.max() - xx.min() + 1) * sp[2]
    wide = widths >= SACRUM_WIDTH_MM
    run_needed = max(1, int(np.ceil(12.0 / sp[0])))
    best = None
    run = 0
    for n_ in range(widths.size):
        run = run + 1 if wide[n_] else 0
        if run >= run_needed:
            best = n_
            # keep extending while wide
    if best is None:
        return None
    top = best
    while top + 1 < widths.size and wide[top + 1]:
        top += 1
    return float(z_first + top)


# -- discs and levels -----------------------------------------------------------------------


def _find_discs(line: _Line, profile: np.ndarray, sac_top_z: float | None, cvol: Volume) -> list[dict]:
    from scipy.signal import find_peaks

    step = float(line.s[1] - line.s[0]) if line.s.size > 1 else 1.5
    prof = ndimage.gaussian_filter1d(profile, 2.0 / step)
    minima, props = find_peaks(-prof, prominence=5.0, distance=max(1, int(10.0 / step)))
    if minima.size == 0:
        raise LumbarError("No intervertebral discs were found along the spine (no dips in the vertebral body density).")
    prom = props["prominences"]
    if sac_top_z is None:
        raise LumbarError(
            "The sacrum was not found (no bone joined to both ilia below the lumbar spine), so the "
            "lumbar levels cannot be counted. The study must include the sacrum."
        )
    s_sac = float(np.interp(sac_top_z, line.z_index, line.s))
    # Dips also occur in the middle of a vertebral body (its marrow is less dense than its
    # endplates) but they are shallower than a disc's. The discs are the chain of dips 24-50 mm
    # apart with the largest total depth (dynamic programming); mid-body dips, half a level off,
    # cannot join it.
    sm = line.s[minima]
    best = prom.astype(float).copy()
    prev = np.full(minima.size, -1)
    for j in range(minima.size):
        for i in range(j):
            if 24.0 <= sm[j] - sm[i] <= 50.0 and best[i] + prom[j] > best[j]:
                best[j] = best[i] + prom[j]
                prev[j] = i
    j = int(np.argmax(best))
    chain = []
    while j >= 0:
        chain.append(j)
        j = int(prev[j])
    chain = chain[::-1]
    # L5-S1: the disc of that chain with the smallest gap to the top of the sacrum
    near = [(abs(sm[k] - s_sac), k) for k in chain if sm[k] - s_sac <= 15.0]
    if not near:
        raise LumbarError("No disc was found just above the sacrum (the L5-S1 disc); the levels cannot be counted.")
    k0 = min(near)[1]
    chosen = [int(minima[k]) for k in chain[chain.index(k0) :]]
    names = ["L5-S1", "L4-L5", "L3-L4", "L2-L3", "L1-L2", "T12-L1", "T11-T12", "T10-T11", "T9-T10"]
    discs = []
    for k, m in enumerate(chosen[: len(names)]):
        discs.append(
            {
                "name": names[k],
                "index": m,
                "s": float(line.s[m]),
                "centre": line.p[m].copy(),
                "normal": line.t[m].copy(),
                "dip_hu": float(prom[list(minima).index(m)]),
            }
        )
    return discs


def _levels(line: _Line, discs: list[dict]) -> list[dict]:
    """Vertebrae between the discs, from S1 upwards, each with its range of arc length."""
    levels = []
    s_end = float(line.s[-1])
    bounds = [d["s"] for d in discs]
    # S1: below the L5-S1 disc (up to 30 mm of it)
    s_lo = max(float(line.s[0]), bounds[0] - 30.0)
    if bounds[0] - s_lo >= 10.0:
        levels.append({"name": "S1", "label": SACRUM_LABEL, "s_lo": s_lo, "s_hi": bounds[0]})
    for k in range(len(bounds)):
        lo = bounds[k]
        hi = bounds[k + 1] if k + 1 < len(bounds) else min(s_end, lo + 40.0)
        if hi - lo < 12.0:
            break
        name = LEVEL_NAMES[k + 1]
        levels.append({"name": name, "label": name, "s_lo": lo, "s_hi": hi, "complete": k + 1 < len(bounds)})
    for lv in levels:
        mid = (lv["s_lo"] + lv["s_hi"]) / 2.0
        if lv["name"] == "S1":
            mid = lv["s_hi"] - 12.0
        lv["s_mid"] = mid
        lv["centre"] = np.array([np.interp(mid, line.s, line.p[:, k]) for k in range(3)])
    names = [lv["name"] for lv in levels]
    if "L5" not in names or "S1" not in names:
        raise LumbarError("The sacrum and L5 could not both be identified; the levels cannot be counted.")
    return levels


# -- 5. vertebrae ---------------------------------------------------------------------------


def _point_s(line: _Line, pts_lps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Arc length of the nearest centreline point and the distance to it, for points (n, 3)."""
    from scipy.spatial import cKDTree

    tree = cKDTree(line.p)
    d, k = tree.query(pts_lps)
    # refine along the tangent
    off = np.einsum("ij,ij->i", pts_lps - line.p[k], line.t[k])
    s = line.s[k] + off
    radial = np.sqrt(np.maximum(0.0, d**2 - off**2))
    return s, radial


def _vertebral_bodies(c, cvol, line, levels, col, sp) -> np.ndarray:
    """Each vertebral body as a cylinder around the body centreline between its discs (tissue
    >= 60 HU in its outer rim): the marrow of an osteoporotic body is below the bone threshold.
    Returns an int array: level number (1 = first entry of ``levels``) or 0."""
    nz, ny, nx = c.shape
    lo = cvol.lps_to_index(line.p.min(axis=0))
    hi = cvol.lps_to_index(line.p.max(axis=0))
    lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
    pad = np.array([30.0 / sp[2], 30.0 / sp[1], 5.0 / sp[0]])
    i0, j0, k0 = np.maximum(0, np.floor(lo - pad).astype(int))
    i1, j1, k1 = np.minimum([nx, ny, nz], np.ceil(hi + pad).astype(int) + 1)
    zz, yy, xx = np.mgrid[k0:k1, j0:j1, i0:i1]
    pts = cvol.index_to_lps(np.stack([xx, yy, zz], -1).reshape(-1, 3).astype(float))
    s, radial = _point_s(line, pts)
    zi = np.clip(zz.ravel() - col.z0, 0, col.z1 - col.z0)
    half = col.body_half_mm[zi]
    dense = c[k0:k1, j0:j1, i0:i1].ravel() >= MARROW_HU
    out = np.zeros(c.shape, np.int32)
    box = np.zeros(s.size, np.int32)
    for v, lv in enumerate(levels, start=1):
        r_max = np.minimum(0.9 * half, 22.0)
        inside = (s > lv["s_lo"] + 2.0) & (s < lv["s_hi"] - 2.0) & (radial <= r_max)
        inside &= dense | (radial <= 0.75 * r_max)  # fatty marrow spots inside the body
        if lv["name"] == "S1":
            inside &= s > lv["s_hi"] - 30.0
        box[inside & (box == 0)] = v
    out[k0:k1, j0:j1, i0:i1] = box.reshape(zz.shape)
    return out


def _label_vertebrae(spine_bone, bodies, canal, c, cvol, line, levels, col, sp):
    from skimage.segmentation import watershed

    nz, ny, nx = c.shape
    # region of interest: around the spine
    pad_x = int(round(95.0 / sp[2]))
    xs = col.canal_xy[:, 0]
    x_lo = max(0, int(xs.min()) - pad_x)
    x_hi = min(nx, int(xs.max()) + pad_x + 1)
    z_lo = max(0, col.z0 - int(round(40.0 / sp[0])))
    z_hi = min(nz, col.z1 + int(round(20.0 / sp[0])) + 1)
    roi = (slice(z_lo, z_hi), slice(0, ny), slice(x_lo, x_hi))
    bone = spine_bone[roi]
    zz, yy, xx = np.nonzero(bone)
    ijk = np.stack([xx + x_lo, yy, zz + z_lo], 1).astype(float)
    pts = cvol.index_to_lps(ijk)
    s, radial = _point_s(line, pts)
    markers = np.zeros(bone.shape, np.int32)
    names = ["other bone"] + [lv["label"] for lv in levels]
    other = 1
    # the vertebral body cores
    body_roi = bodies[roi]
    markers[body_roi > 0] = body_roi[body_roi > 0] + 1
    # bone far from the spine: ilia, femurs, ribs, pubis
    zc = np.clip(zz + z_lo, col.z0, col.z1) - col.z0
    lateral = np.abs(xx + x_lo - col.canal_xy[zc, 0]) * sp[2]
    anterior = (col.body_y[zc] - yy) * sp[1]
    far = ((lateral > 65.0) | (anterior > 45.0)) & (markers[zz, yy, xx] == 0)
    markers[zz[far], yy[far], xx[far]] = other
    # geodesic Voronoi inside the bone from the bodies: posterior elements go to the vertebra
    # whose pedicle joins them (shorter path than across a facet joint to the next vertebra)
    lab = watershed(np.zeros(bone.shape, np.uint8), markers=markers, mask=bone, connectivity=1)
    lab[bone & (lab == 0)] = other
    out = np.zeros(c.shape, np.uint8)
    out[roi] = lab
    out[spine_bone & (out == 0)] = other
    # fatty spots enclosed by a vertebra (in coronal sections) belong to it; the canal stays open
    for v in range(2, len(names) + 1):
        sl = ndimage.find_objects((out == v).astype(np.uint8))
        if not sl or sl[0] is None:
            continue
        box = sl[0]
        m = out[box] == v
        filled = fill_holes_slices(m, axis=1) & (out[box] == 0) & ~canal[box]
        out[box][filled] = v
    return out, names


def _rib_bearing(labels_c, names, col, sp) -> list[str]:
    """The vertebrae that bone far from the spine (ribs) touches on both sides, behind the
    body: a check of the count, since the lowest rib-bearing vertebra is T12."""
    other = ndimage.binary_dilation(labels_c == 1)
    out = []
    for v, name in enumerate(names, start=1):
        if name not in ("T10", "T11", "T12", "L1", "L2"):
            continue
        zz, yy, xx = np.nonzero((labels_c == v) & other)
        if zz.size == 0:
            continue
        k = np.clip(zz - col.z0, 0, col.z1 - col.z0)
        dx = (xx - col.canal_xy[k, 0]) * sp[2]
        behind = yy >= col.body_y[k] - 5.0 / sp[1]
        if ((dx > 12.0) & behind).sum() >= 2 and ((dx < -12.0) & behind).sum() >= 2:
            out.append(name)
    return out


# The 12th rib's head joins T12 beside its pedicles, level with the upper half of the body: in
# view when the body's centre lies this far below the top of the scan.
RIB_VIEW_MM = 8.0


def _whole_in_view(volume: Volume, levels: list[dict]) -> list[str]:
    """The levels whose rib joints lie in the field of view (ribs there would show)."""
    top = float(volume.corner_centres()[:, 2].max())
    return [lv["name"] for lv in levels if top - float(lv["centre"][2]) >= RIB_VIEW_MM]


def _level_warnings(rib_bearing: list[str], names: list[str], whole: list[str] | None = None) -> list[str]:
    """Checks of the count from the sacrum: ribs should join T12 and nothing lower. Ribs on L1
    or L2 mean a transitional vertebra or a miscount; a T12 in view without ribs means six
    lumbar-type vertebrae (a lumbarised S1, or a T12 without ribs) or ribs too short to see."""
    warnings = []
    if "L1" in rib_bearing or "L2" in rib_bearing:
        warnings.append(
            "Bone joins the vertebra labelled L1 (or L2) on both sides like ribs: a transitional "
            "vertebra or a miscount. Check the level labels on the sagittal view."
        )
    elif "T12" in (whole or []) and not {"T10", "T11", "T12"} & set(rib_bearing):
        warnings.append(
            "No ribs were found joining the vertebra above L1 (labelled T12): six lumbar-type "
            "vertebrae (a lumbarised S1, or a T12 without ribs) or ribs too short to see. The levels "
            "are counted up from the sacrum; check the count on a view of the whole spine before "
            "choosing a level."
        )
    return warnings


# -- 6. thecal sac and discs -----------------------------------------------------------------


def _thecal_sac(canal, c, col, line, discs, levels):
    sac = canal & (c >= CSF_MIN_HU)
    # lower end: about S2 (the dural sac ends there): 30 mm below the L5-S1 disc along the spine
    s_end = discs[0]["s"] - 30.0
    z_end = float(np.interp(s_end, line.s, line.z_index))
    z_stop = int(np.floor(z_end))
    sac[: max(0, z_stop)] = False
    for n_, z in enumerate(range(col.z0, col.z1 + 1)):
        if z < z_stop:
            continue
        if not sac[z].any():
            cx, cy = col.canal_xy[n_]
            sac[z, int(round(cy)), int(round(cx))] = True
    canal_only = canal & ~sac
    return sac, canal_only


def _assumed_cord(sac, col, line, discs, sp) -> np.ndarray:
    """The spinal cord where CT cannot show it: the middle of the thecal sac (4 mm radius,
    tapering to 2 mm over the last 10 mm) from the top of the study down to the L1-L2 disc, where
    the conus is assumed to end. Empty when L1-L2 is not in view."""
    cord = np.zeros(sac.shape, bool)
    disc = next((d for d in discs if d["name"] == CONUS_INTERSPACE), None)
    if disc is None:
        return cord
    z_end = float(np.interp(disc["s"], line.s, line.z_index))
    ny, nx = sac.shape[1:]
    yy, xx = np.mgrid[0:ny, 0:nx]
    for n_, z in enumerate(range(col.z0, col.z1 + 1)):
        if z < z_end or not sac[z].any():
            continue
        above_mm = (z - z_end) * sp[0]
        r = 2.0 + 2.0 * min(1.0, above_mm / 10.0)
        cx, cy = col.canal_xy[n_]
        disk = ((xx - cx) * sp[2]) ** 2 + ((yy - cy) * sp[1]) ** 2 <= r**2
        disk[int(round(cy)), int(round(cx))] = True
        part = disk & sac[z]
        if part.any() and (sac[z] & ~part).any():
            cord[z] = part
    return cord


def _disc_slabs(line, discs, col, cvol, labels_c, sp):
    shape = labels_c.shape
    out = np.zeros(shape, np.uint8)
    for k, d in enumerate(discs, start=1):
        centre, normal = d["centre"], d["normal"]
        zc = int(round(np.interp(d["s"], line.s, line.z_index)))
        n_ = int(np.clip(zc - col.z0, 0, col.z1 - col.z0))
        radius = float(np.clip(col.body_half_mm[n_] * 0.95, 10.0, 25.0))
        rz = int(np.ceil((radius + 10.0) / sp[0]))
        z0, z1 = max(0, zc - rz), min(shape[0], zc + rz + 1)
        cij = cvol.lps_to_index(centre)
        ry = int(np.ceil((radius + 5) / sp[1]))
        rx = int(np.ceil((radius + 5) / sp[2]))
        y0, y1 = max(0, int(cij[1]) - ry), min(shape[1], int(cij[1]) + ry + 1)
        x0, x1 = max(0, int(cij[0]) - rx), min(shape[2], int(cij[0]) + rx + 1)
        zz, yy, xx = np.mgrid[z0:z1, y0:y1, x0:x1]
        pts = cvol.index_to_lps(np.stack([xx, yy, zz], -1).reshape(-1, 3).astype(float))
        rel = pts - centre
        along = rel @ normal
        radial = np.linalg.norm(rel - along[:, None] * normal, axis=1)
        sel = (np.abs(along) <= max(3.5, 0.51 * sp[0])) & (radial <= radius)
        sel = sel.reshape(zz.shape) & (labels_c[z0:z1, y0:y1, x0:x1] == 0)
        region = out[z0:z1, y0:y1, x0:x1]
        region[sel & (region == 0)] = k
    return out


# -- 7. interlaminar windows ------------------------------------------------------------------


def _windows(bone, levels, discs, line, col, cvol, sp, canal_c, labels=None, names=()) -> list[dict]:
    """Interlaminar windows of the interspaces whose two vertebrae were both identified."""
    label_values = {n: v for v, n in enumerate(names, start=1)}
    names = {lv["name"] for lv in levels}
    pairs = {"T12-L1": ("T12", "L1"), "L1-L2": ("L1", "L2"), "L2-L3": ("L2", "L3"), "L3-L4": ("L3", "L4"),
             "L4-L5": ("L4", "L5"), "L5-S1": ("L5", "S1")}
    order = list(pairs)
    windows = []
    for d in discs:
        name = d["name"]
        if name not in pairs or not set(pairs[name]) <= names:
            continue
        up, lo = (label_values.get("sacrum" if n == "S1" else n, -1) for n in pairs[name])
        w = _one_window(bone, d, line, col, cvol, sp, canal_c, labels, up, lo)
        if w is None:
            continue
        w = {"interspace": name} | w
        w["below_conus"] = order.index(name) > order.index(CONUS_INTERSPACE)
        windows.append(w)
    windows.sort(key=lambda w: order.index(w["interspace"]))
    return windows


def _one_window(bone, disc, line, col, cvol, sp, canal_c, labels=None, v_up=0, v_lo=0):
    """The interlaminar window of one interspace from the bone in the mid-sagittal plane."""
    nz, ny, nx = bone.shape
    zc = float(np.interp(disc["s"], line.s, line.z_index))
    n_ = int(np.clip(round(zc) - col.z0, 0, col.z1 - col.z0))
    x_mid = col.canal_xy[n_, 0]
    xi = int(round(x_mid))
    hw = max(1, int(round(2.5 / sp[2])))
    slab = bone[:, :, max(0, xi - hw) : min(nx, xi + hw + 1)].any(axis=2)  # (z, y)
    slab = ndimage.binary_fill_holes(slab)  # fatty marrow inside spinous processes is not a gap
    canal_y = col.canal_xy[n_, 1]
    zi_c = int(np.clip(round(zc), 0, nz - 1))
    canal_r = max(3.0, float(np.sqrt(max(1.0, canal_c[zi_c].sum()) * sp[1] * sp[2] / np.pi)))
    y_post = int(round(canal_y + 0.6 * canal_r / sp[1]))
    reach = int(round(25.0 / sp[0]))
    gaps = []  # (y, z of the bone below the gap, z of the bone above the gap)
    prev = None
    for dy in range(0, int(round(40.0 / sp[1])) + 1):
        y = y_post + dy
        if y >= ny:
            break
        column = slab[:, y]
        best = None
        z = max(0, int(zc) - reach)
        z_end = min(nz - 1, int(zc) + reach)
        while z <= z_end:
            if column[z]:
                z += 1
                continue
            a = z
            while z <= z_end and not column[z]:
                z += 1
            b = z - 1  # free run a..b
            if a == 0 or z > z_end or not column[a - 1] or not column[min(nz - 1, b + 1)]:
                continue
            if (b - a + 1) * sp[0] > 30.0:
                continue
            centre = (a + b) / 2.0
            ref = zc if prev is None else (prev[1] + prev[2]) / 2.0
            dist = abs(centre - ref) * sp[0]
            if prev is not None and (b < prev[1] - 1 or a > prev[2] + 1):
                dist += 100.0  # not overlapping the gap one step in front: another space
            if labels is not None:
                # prefer the gap with the upper vertebra's arch above it and the lower's below
                above = labels[min(nz - 1, b + 1), y, max(0, xi - hw) : xi + hw + 1]
                below = labels[a - 1, y, max(0, xi - hw) : xi + hw + 1]
                dist -= 15.0 * (float((above == v_up).any()) + float((below == v_lo).any()))
            if best is None or dist < best[0]:
                best = (dist, a - 1, b + 1)
        if best is None or best[0] > 20.0:
            if gaps:
                break
            continue
        prev = (y, best[1], best[2])
        gaps.append(prev)
    if not gaps:
        return None
    # the laminae: the first ~6 mm of depth behind the canal; partial volume narrows the gap at
    # some depths, so the window is the widest opening found there
    lamina = gaps[: max(2, int(round(6.0 / sp[1])))]
    heights = [(g[2] - g[1] - 1) * sp[0] for g in lamina]
    best_k = int(np.argmax(heights))
    y0, z_lo_bone, z_hi_bone = lamina[best_k]
    height_mm = float(heights[best_k])
    zw = (z_lo_bone + z_hi_bone) / 2.0
    # width: free run left and right of the midline (between the laminae and facets) at the
    # middle row of the gap, the median over the lamina depths
    limit = int(round(20.0 / sp[2]))
    runs = []
    for g in lamina:
        row = bone[int(round((g[1] + g[2]) / 2.0)), g[0], :]
        left = right = 0
        while left < limit and xi - left - 1 >= 0 and not row[xi - left - 1]:
            left += 1
        while right < limit and xi + right + 1 < nx and not row[xi + right + 1]:
            right += 1
        runs.append(((left + right + 1) * sp[2], left, right))
    runs.sort()
    width_mm, left, right = runs[len(runs) // 2]
    centre = cvol.index_to_lps(np.array([xi + (right - left) / 2.0, y0, zw]))
    mid_point = cvol.index_to_lps(np.array([x_mid, y0, zw]))
    # midline direction: through the gaps between the spinous processes, posterior -> anterior
    ys = np.array([g[0] for g in gaps], float)
    zm = np.array([(g[1] + g[2]) / 2.0 for g in gaps], float)
    if ys.size >= 3 and np.ptp(ys) * sp[1] >= 6.0:
        slope = float(np.clip(np.polyfit(ys * sp[1], zm * sp[0], 1)[0], -0.6, 0.6))  # dz/dy, mm/mm
    else:
        slope = 0.0
    step_idx = np.array([0.0, -1.0 / sp[1], -slope / sp[0]])  # 1 mm anterior, z follows the gaps
    d_lps = cvol.index_to_lps(step_idx) - cvol.index_to_lps(np.zeros(3))
    d_lps[0] = 0.0
    d_lps /= np.linalg.norm(d_lps)
    return {
        "centre": _r(centre),
        "width_mm": round(float(width_mm), 1),
        "height_mm": round(max(height_mm, 0.5 * sp[0]), 1),
        "midline_point": _r(mid_point),
        "midline_direction": _r(d_lps, 4),
        "depth_mm": round(float(ys.max() - ys.min()) * float(sp[1]), 1),
    }


# -- assembly -------------------------------------------------------------------------------


def _sac_target(sac_c, cvol: Volume, windows: list[dict]) -> np.ndarray | None:
    """Default target: the thecal sac at the L3-L4 window (else L4-L5, else its centroid)."""
    sac, _ = sac_c
    for name in ("L3-L4", "L4-L5", "L2-L3"):
        w = next((w for w in windows if w["interspace"] == name), None)
        if w is None:
            continue
        zi = int(round(cvol.lps_to_index(w["centre"])[2]))
        for dz in (0, 1, -1, 2, -2):
            if 0 <= zi + dz < sac.shape[0] and sac[zi + dz].any():
                yy, xx = np.nonzero(sac[zi + dz])
                return cvol.index_to_lps([xx.mean(), yy.mean(), zi + dz])
    if sac.any():
        zz, yy, xx = np.nonzero(sac)
        return cvol.index_to_lps([xx.mean(), yy.mean(), zz.mean()])
    return None


def _assemble(vol, grid, body, labels_c, names, canal_c, sac_c, disc_c, discs, c, cord_c):
    sac, canal_only = sac_c
    legend: list[Label] = [SOFT_TISSUE, SKIN]
    value = 3
    bone_values = {}
    for n, name in enumerate(names, start=1):
        if not (labels_c == n).any():
            continue
        color = (241, 214, 145) if name == "other bone" else _level_color(name)
        legend.append(Label(value, name, "bone", color))
        bone_values[n] = value
        value += 1
    canal_v, sac_v = value, value + 1
    legend.append(Label(canal_v, "spinal canal", "canal", (120, 120, 255)))
    legend.append(Label(sac_v, "thecal sac", "target", (60, 220, 90)))
    value += 2
    cord_v = 0
    if cord_c.any():
        cord_v = value
        legend.append(Label(cord_v, CORD_LABEL, "cord", (250, 150, 30)))
        value += 1
    disc_values = {}
    for k, d in enumerate(discs, start=1):
        if (disc_c == k).any():
            legend.append(Label(value, f"{d['name']} disc", "disc", (150, 110, 200)))
            disc_values[k] = value
            value += 1
    lut_bone = np.zeros(len(names) + 1, np.uint8)
    for n, v in bone_values.items():
        lut_bone[n] = v
    # coarse label volume of everything but bone, carried over by nearest block
    soft_c = np.zeros(labels_c.shape, np.uint8)
    for k, v in disc_values.items():
        soft_c[disc_c == k] = v
    soft_c[canal_only] = canal_v
    soft_c[sac] = sac_v
    if cord_v:
        soft_c[cord_c] = cord_v
    out = np.zeros(vol.shape, np.uint8)
    out[body] = SOFT_TISSUE.value
    out[skin_layer(body, vol)] = SKIN.value
    if grid.identity:
        fine_bone_lab = lut_bone[labels_c]
        fine_soft = soft_c
    else:
        # bone: the fine threshold, plus the whole of every vertebra's coarse region (its marrow
        # may be fatty); labels_c value 1 is "other bone"
        bone_fine = ((vol.array >= HARD_HU) & body) | grid.up(labels_c > 1)
        fine_bone_lab = lut_bone[labels_to_fine(grid, labels_c, bone_fine)]
        fine_soft = grid.up(soft_c)
    sel = fine_soft > 0
    out[sel] = fine_soft[sel]
    sel = fine_bone_lab > 0
    out[sel] = fine_bone_lab[sel]
    # the thecal sac wins over bone partial volume inside the canal only where it is fluid
    if grid.identity:
        out[sac] = sac_v
    return out, Legend(tuple(legend))


_LEVEL_COLORS = {
    "T10": (170, 130, 90),
    "T11": (190, 150, 100),
    "T12": (200, 170, 110),
    "L1": (230, 100, 100),
    "L2": (240, 170, 70),
    "L3": (230, 220, 90),
    "L4": (120, 210, 110),
    "L5": (90, 180, 230),
    "sacrum": (190, 120, 220),
}


def _level_color(name: str) -> tuple[int, int, int]:
    return _LEVEL_COLORS.get(name, (241, 214, 145))

