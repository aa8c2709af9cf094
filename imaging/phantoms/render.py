"""Label maps to images: CT in Hounsfield units, MR T1-weighted and fat-suppressed T2-weighted.

Each tissue has a mean value and a texture amplitude per contrast. Bones get a cortex (thickness
from the bone's :class:`~imaging.phantoms.scene.BoneSpec`, measured with an exact Euclidean
distance transform from the bone surface) and cancellous bone with trabecular texture or fatty
marrow. Partial volume and the scanner's point spread are a Gaussian blur; CT noise is correlated
Gaussian noise, MR noise is Rician (magnitude of complex Gaussian noise) on a smooth coil shading.
Everything is seeded: the same inputs give the same bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from imaging.phantoms.scene import Grid, Structure, legend_of

__all__ = ["TISSUES", "render_ct", "render_mr", "rng_for"]

# tissue: (CT HU, CT texture SD, T1 signal, T2 fat-sat signal, MR texture SD as a fraction)
TISSUES: dict[str, tuple[float, float, float, float, float]] = {
    "skin": (45, 8, 430, 270, 0.06),
    "fat": (-105, 9, 1000, 95, 0.05),
    "muscle": (52, 6, 380, 230, 0.05),
    "soft": (-30, 22, 740, 190, 0.12),  # periarticular fat with fibrous strands (retinacula, capsule)
    "tendon": (95, 5, 45, 40, 0.10),
    "ligament": (85, 6, 60, 55, 0.10),
    "cartilage": (105, 5, 470, 430, 0.04),
    "meniscus": (85, 5, 40, 40, 0.10),
    "labrum": (85, 5, 50, 50, 0.10),
    "fluid": (8, 3, 170, 1400, 0.03),
    "artery": (190, 8, 60, 60, 0.10),  # iodinated contrast on CT; flow void on MR
    "vein": (165, 8, 140, 520, 0.10),  # slower flow: brighter on fat-suppressed T2
    "nerve": (28, 6, 420, 430, 0.05),
    "lung": (-850, 25, 25, 25, 0.2),
    "viscera": (32, 12, 420, 480, 0.08),
    "bladder": (8, 3, 170, 1400, 0.03),
    "bone": (0, 0, 0, 0, 0.0),  # drawn from BoneSpec
}

CORTEX_HU = 1650.0
TRABECULAR_HU = 260.0
FATTY_MARROW_HU = -45.0


def rng_for(*parts: str) -> np.random.Generator:
    """A random generator seeded from ``parts`` (same parts, same numbers)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return np.random.Generator(np.random.PCG64(int.from_bytes(digest[:16], "little")))


def _array_spacing(grid: Grid) -> tuple[float, float, float]:
    sp = grid.spacing
    return float(sp[2]), float(sp[1]), float(sp[0])


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma_vox: Sequence[float]) -> np.ndarray:
    """Unit-variance Gaussian noise, smoothed by ``sigma_vox`` (float32)."""
    n = rng.standard_normal(shape, dtype=np.float32)
    n = ndimage.gaussian_filter(n, sigma=sigma_vox, mode="reflect", truncate=3.0)
    sd = float(n.std(dtype=np.float64))
    n *= np.float32(1.0 / max(sd, 1e-6))
    return n


def _bone_fields(
    labels: np.ndarray, grid: Grid, structures: Sequence[Structure], values: dict[str, int]
) -> list[tuple[tuple[slice, slice, slice], np.ndarray, np.ndarray, np.ndarray]]:
    """For each bone: (slices, mask, cortical weight 0-1, fatty marrow fraction 0-1)."""
    out = []
    spacing = _array_spacing(grid)
    done = set()
    for st in structures:
        if st.bone is None or st.name in done:
            continue
        done.add(st.name)
        box = grid.box(st.shape.lo, st.shape.hi)
        if box is None:
            continue
        mask = labels[box.slices] == values[st.name]
        if not mask.any():
            continue
        depth = ndimage.distance_transform_edt(mask, sampling=spacing).astype(np.float32)
        cortex = np.broadcast_to(st.bone.cortex_mm(box), box.shape).astype(np.float32)
        fat = np.broadcast_to(st.bone.marrow_fat(box), box.shape).astype(np.float32)
        w = np.clip((cortex - depth) / np.float32(0.7) + np.float32(0.5), 0, 1)
        out.append((box.slices, mask, w, fat))
    return out


def _base(labels: np.ndarray, structures: Sequence[Structure], column: int) -> tuple[np.ndarray, np.ndarray]:
    legend, values = legend_of(structures)
    mean = np.zeros(256, dtype=np.float32)
    sd = np.zeros(256, dtype=np.float32)
    for st in structures:
        v = values[st.name]
        t = TISSUES[st.tissue]
        mean[v] = t[column]
        sd[v] = t[1] if column == 0 else t[4] * t[column]
    return mean, sd


def render_ct(
    labels: np.ndarray,
    grid: Grid,
    structures: Sequence[Structure],
    seed: str,
    *,
    noise_hu: float = 13.0,
    blur_mm: tuple[float, float] = (0.45, 0.6),
) -> np.ndarray:
    """CT image (int16 HU) of the label map: tissue HU + texture, cortex and trabecular bone,
    partial-volume blur (``blur_mm`` in-plane, through-plane sigma) and correlated noise."""
    _, values = legend_of(structures)
    mean, sd = _base(labels, structures, 0)
    mean[0] = -1000.0
    rng = rng_for(seed, "ct")
    spacing = _array_spacing(grid)
    texture = _smooth_noise(rng, labels.shape, [1.0 / s for s in spacing])
    hu = mean[labels] + sd[labels] * texture
    trabecular = _smooth_noise(rng, labels.shape, [0.6 / s for s in spacing])
    for sl, mask, w, fat in _bone_fields(labels, grid, structures, values):
        inner = TRABECULAR_HU * (1 - fat) + FATTY_MARROW_HU * fat + (75 * (1 - fat) + 10) * trabecular[sl]
        value = w * CORTEX_HU + (1 - w) * inner
        region = hu[sl]
        region[mask] = value[mask]
    # partial volume + point spread: in-plane and through-plane sigma (slice axis is array axis 0)
    normal_axis = 0
    sig = []
    for ax in range(3):
        mm = blur_mm[1] if ax == normal_axis else blur_mm[0]
        sig.append(mm / spacing[ax])
    hu = ndimage.gaussian_filter(hu, sigma=sig, mode="nearest", truncate=3.0)
    noise = _smooth_noise(rng, labels.shape, [0.0, 0.65, 0.65])
    hu += np.float32(noise_hu) * noise
    return np.clip(np.rint(hu), -1024, 3071).astype(np.int16)


def render_mr(
    labels: np.ndarray,
    grid: Grid,
    structures: Sequence[Structure],
    seed: str,
    contrast: str,
    *,
    noise_fraction: float = 0.018,
    blur_mm: tuple[float, float] = (0.4, 0.8),
    coil_centre_local: Sequence[float] = (0.0, 0.0, 0.0),
    coil_radius_mm: float = 110.0,
) -> np.ndarray:
    """MR magnitude image (uint16) of the label map; ``contrast`` is ``"t1"`` or ``"t2fs"``."""
    column = {"t1": 2, "t2fs": 3}[contrast]
    _, values = legend_of(structures)
    mean, sd = _base(labels, structures, column)
    rng = rng_for(seed, "mr", contrast)
    spacing = _array_spacing(grid)
    texture = _smooth_noise(rng, labels.shape, [1.0 / s for s in spacing])
    img = mean[labels] + sd[labels] * texture
    trabecular = _smooth_noise(rng, labels.shape, [0.45 / s for s in spacing])
    for sl, mask, w, fat in _bone_fields(labels, grid, structures, values):
        if contrast == "t1":
            inner = 820 + 130 * fat + 60 * trabecular[sl]
        else:
            inner = 115 - 35 * fat + 15 * trabecular[sl]
        value = w * 25 + (1 - w) * inner
        region = img[sl]
        region[mask] = value[mask]
    normal_axis = 0
    sig = [(blur_mm[1] if ax == normal_axis else blur_mm[0]) / spacing[ax] for ax in range(3)]
    img = ndimage.gaussian_filter(img, sigma=sig, mode="nearest", truncate=3.0)
    # receive-coil shading: brighter near the coil centre, smooth
    box = grid.box()
    assert box is not None
    c = [np.float32(v) for v in coil_centre_local]
    r2 = (box.l - c[0]) ** 2 + (box.a - c[1]) ** 2 + (box.s - c[2]) ** 2
    shading = np.float32(1.15) / (1 + r2 / np.float32(coil_radius_mm**2))
    img = img * shading
    sigma = np.float32(noise_fraction * 1000.0)
    n1 = rng.standard_normal(labels.shape, dtype=np.float32) * sigma
    n2 = rng.standard_normal(labels.shape, dtype=np.float32) * sigma
    img = np.sqrt((img + n1) ** 2 + n2 * n2)
    return np.clip(np.rint(img), 0, 4095).astype(np.uint16)
