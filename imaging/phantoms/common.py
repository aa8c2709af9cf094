"""Pieces every phantom uses: a limb/trunk outline whose cross-section changes along ``s``, the
skin and subcutaneous fat layers under it, and the layer structures built from it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from imaging.phantoms.sdf import FAR, Box, Cached, Func, Lumpy, Shape, Union

__all__ = ["Outline", "body_layers", "smooth_profile"]

SKIN_MM = 2.0

# Sources cited by more than one phantom (its README lists them)
GRAYS_ANATOMY = "Standring S (ed.). Gray's Anatomy, 42nd edition. Elsevier 2020."
SHEPHERD_1999 = (
    "Shepherd DE, Seedhom BB. Thickness of human articular cartilage in joints of the lower limb. "
    "Ann Rheum Dis 1999;58:27-34."
)
CARTWRIGHT_2008 = (
    "Cartwright MS, Passmore LV, Yoon JS, et al. Cross-sectional area reference values for nerve "
    "ultrasonography. Muscle Nerve 2008;37:566-571."
)


def smooth_profile(knots: Sequence[Sequence[float]], lo: float, hi: float, sigma_mm: float = 12.0) -> tuple[np.ndarray, np.ndarray]:
    """Tabulate knot rows ``(s, v1, v2, ...)`` every 1 mm from ``lo`` to ``hi`` (linear, then a
    Gaussian smoothing of ``sigma_mm``): returns ``(s, values[n, k])``."""
    k = np.asarray(knots, float)
    k = k[np.argsort(k[:, 0])]
    s = np.arange(np.floor(lo) - 3 * sigma_mm, np.ceil(hi) + 3 * sigma_mm + 1.0)
    vals = np.stack([np.interp(s, k[:, 0], k[:, c]) for c in range(1, k.shape[1])], axis=1)
    vals = ndimage.gaussian_filter1d(vals, sigma_mm, axis=0, mode="nearest")
    return s, vals


class Outline(Shape):
    """A body segment whose cross-section at height ``s`` is an ellipse (centre ``cl, ca``, semi-
    axes ``rl, ra``) from knots ``(s, cl, ca, rl, ra, fat_mm)``, smoothly interpolated; ``extra``
    shapes are blended onto it (a patella, a shoulder cap)."""

    def __init__(self, knots: Sequence[Sequence[float]], lo: Sequence[float], hi: Sequence[float], extra: Sequence[Shape] = (), k: float = 12.0):
        self.table_s, self.table = smooth_profile(knots, lo[2], hi[2])
        self.lo, self.hi = np.asarray(lo, float), np.asarray(hi, float)
        self.extra = extra
        self.k = k

    def params(self, s: np.ndarray) -> list[np.ndarray]:
        return [np.interp(s, self.table_s, self.table[:, c]).astype(np.float32) for c in range(self.table.shape[1])]

    def ellipse(self, box: Box) -> tuple[np.ndarray, np.ndarray]:
        s = box.vecs[2]
        cl, ca, rl, ra, _fat = self.params(s)
        shp = [1, 1, 1]
        shp[box.axes[2]] = s.size

        def col(v: np.ndarray) -> np.ndarray:
            return v.reshape(shp)

        dl = (box.l - col(cl)) / col(rl)
        da = (box.a - col(ca)) / col(ra)
        k0 = np.sqrt(dl * dl + da * da)
        k1 = np.sqrt((dl / col(rl)) ** 2 + (da / col(ra)) ** 2)
        d = k0 * (k0 - 1) / np.maximum(k1, np.float32(1e-6))
        # anterior-ness of the direction from the centre (for thinner fat in front of joints)
        front = np.maximum(da / np.maximum(k0, np.float32(1e-6)), 0)
        return d, front

    def __call__(self, box: Box) -> np.ndarray:
        d, _ = self.ellipse(box)
        from imaging.phantoms.sdf import smin

        for e in self.extra:
            d = smin(d, np.broadcast_to(e(box), box.shape), self.k)
        return d

    def fat_mm(self, box: Box) -> np.ndarray:
        s = box.vecs[2]
        fat = self.params(s)[4]
        shp = [1, 1, 1]
        shp[box.axes[2]] = s.size
        _, front = self.ellipse(box)
        return fat.reshape(shp) * (1 - np.float32(0.45) * front)


def body_layers(outline: Outline, seed: int = 1) -> tuple[Shape, Shape, Shape, Shape]:
    """(body, skin, subcutaneous fat, deep compartment) shapes from an outline; the skin surface
    undulates by up to 2 mm and the fat/muscle boundary by up to 3 mm."""
    body = Cached(Lumpy(outline, 2.0, 45.0, seed))
    fascia = Lumpy(Func(lambda b: np.zeros(b.shape, np.float32), outline.lo, outline.hi), 3.0, 28.0, seed + 1)

    def skin(box: Box) -> np.ndarray:
        d = body(box)
        return np.maximum(d, -SKIN_MM - d)

    def fat_total(box: Box) -> np.ndarray:
        return np.maximum(outline.fat_mm(box) + fascia(box), np.float32(1.5)) + np.float32(SKIN_MM)

    def fat(box: Box) -> np.ndarray:
        d = body(box)
        return np.maximum(-fat_total(box) - d, d + np.float32(SKIN_MM))

    def deep(box: Box) -> np.ndarray:
        return body(box) + fat_total(box)

    lo, hi = outline.lo, outline.hi
    return body, Func(skin, lo, hi), Func(fat, lo, hi), Func(deep, lo, hi)


def clip_s(shape: Shape, s_lo: float | None = None, s_hi: float | None = None) -> Shape:
    """``shape`` limited to ``s_lo <= s <= s_hi``."""

    def fn(box: Box) -> np.ndarray:
        d = shape(box)
        if s_lo is not None:
            d = np.maximum(d, np.float32(s_lo) - box.s)
        if s_hi is not None:
            d = np.maximum(d, box.s - np.float32(s_hi))
        return d

    lo, hi = shape.lo.copy(), shape.hi.copy()
    if s_lo is not None:
        lo[2] = max(lo[2], s_lo - 1)
    if s_hi is not None:
        hi[2] = min(hi[2], s_hi + 1)
    return Func(fn, lo, hi)


def nothing() -> Shape:
    return Func(lambda box: np.full(box.shape, FAR, np.float32), (0, 0, 0), (0, 0, 0))



def snap(points, bones: list[Shape], distance: float) -> list[tuple[float, float, float]]:
    """Move each point along the bone surface normal until it lies ``distance`` mm from the
    nearest bone (vessels and nerves that run on the periosteum)."""

    def sdf(p):
        return min(float(b.contains(np.asarray([p]))[0]) for b in bones)

    out = []
    for p in points:
        p = np.asarray(p, float)
        for _ in range(40):
            d = sdf(p)
            if abs(d - distance) < 0.05:
                break
            g = np.array([(sdf(p + e) - sdf(p - e)) for e in np.eye(3) * 0.25]) / 0.5
            n = np.linalg.norm(g)
            if n < 1e-6:
                break
            p = p + (distance - d) * g / n
        out.append(tuple(round(float(v), 3) for v in p))
    return out


def snap_curve(points, bones: list[Shape], distance: float, step: float = 2.5, exact: bool = False) -> list[tuple[float, float, float]]:
    """The smooth curve through ``points`` (snapped to ``distance`` from the bone), sampled every
    ``step`` mm, with every sample pushed out to at least ``distance`` from the bone (a curve
    between two points on a concave bone surface would otherwise cut through it)."""
    from imaging.phantoms.sdf import catmull_rom

    ctrl = snap(points, bones, distance)
    dense = catmull_rom(ctrl, step)
    if exact:  # every sample at exactly ``distance`` (a vessel at a fixed depth under the skin)
        return snap(dense, bones, distance)
    for _ in range(2):
        d = np.min([b.contains(dense) for b in bones], axis=0)
        close = d < distance + 0.3
        if not close.any():
            break
        pushed = snap(dense[close], bones, distance + 0.6)
        dense[close] = np.asarray(pushed)
    return [tuple(round(float(v), 3) for v in p) for p in dense]


def alongside(path, bones: list[Shape], offset: float, distance: float) -> list[tuple[float, float, float]]:
    """A curve ``offset`` mm beside ``path`` on the same bone surface (vessels that run with a
    nerve), at least ``distance`` from the bone."""
    p = np.asarray(path, float)
    tangent = np.gradient(p, axis=0)
    tangent /= np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-9)

    def sdf(q):
        return np.min([b.contains(q) for b in bones], axis=0)

    grad = np.stack([(sdf(p + e) - sdf(p - e)) / 0.5 for e in np.eye(3) * 0.25], axis=1)
    grad /= np.maximum(np.linalg.norm(grad, axis=1, keepdims=True), 1e-9)
    side = np.cross(tangent, grad)
    side /= np.maximum(np.linalg.norm(side, axis=1, keepdims=True), 1e-9)
    out = p + offset * side
    close = sdf(out) < distance
    if close.any():
        out[close] = np.asarray(snap(out[close], bones, distance))
    return [tuple(round(float(v), 3) for v in q) for q in out]


__all__ += ["clip_s", "nothing", "Union", "snap", "snap_curve", "alongside"]
