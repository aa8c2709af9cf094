"""Label overlays as PNG pictures for looking at segmentation results (test output only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from imaging.labelmap import LabelMap
from imaging.volume import Volume

OUT = Path(__file__).resolve().parents[2] / "test-output" / "segmentation"


def _plane(arr: np.ndarray, plane: str, ijk: np.ndarray) -> np.ndarray:
    i, j, k = (int(round(v)) for v in ijk)
    if plane == "axial":
        return arr[k]
    if plane == "coronal":
        return arr[:, j, :][::-1]
    return arr[:, :, i][::-1]


def _aspect(volume: Volume, plane: str) -> tuple[float, float]:
    sx, sy, sz = (float(s) for s in volume.spacing)
    return {"axial": (sy, sx), "coronal": (sz, sx), "sagittal": (sz, sy)}[plane]


def save_overlay(
    name: str,
    volume: Volume,
    result: LabelMap,
    truth: LabelMap | None = None,
    point_lps=None,
    planes=("axial", "coronal", "sagittal"),
    *,
    window: tuple[float, float] | None = None,
    alpha: float = 0.45,
    mm_per_pixel: float = 0.5,
) -> Path:
    """Write ``OUT/name.png``: the slices through ``point_lps`` side by side, our labels in their
    legend colours (soft tissue left clear), the ground-truth target outlined in white and the
    point as a red cross. Returns the path."""
    from scipy import ndimage

    OUT.mkdir(parents=True, exist_ok=True)
    point = np.asarray(point_lps if point_lps is not None else volume.centre_lps(), dtype=float)
    ijk = np.clip(volume.lps_to_index(point), 0, np.asarray(volume.size_ijk) - 1)
    if window is None:
        if volume.modality.upper() == "CT":
            window = (-160.0, 240.0)
        else:
            lo, hi = np.percentile(volume.array[::2, ::2, ::2], [1, 99.5])
            window = (float(lo), float(hi))
    lut = np.zeros((int(result.volume.array.max()) + 1, 4), np.float32)
    for lab in result.legend:
        if lab.kind == "other":
            continue
        lut[lab.value, :3] = lab.color
        lut[lab.value, 3] = alpha
    tvals = [lab.value for lab in truth.legend.of_kind("target")] if truth is not None else []
    tiles = []
    for plane in planes:
        img = _plane(volume.array, plane, ijk).astype(np.float32)
        g = np.clip((img - window[0]) / (window[1] - window[0]), 0, 1) * 255
        rgb = np.repeat(g[..., None], 3, axis=-1)
        lab = _plane(result.volume.array, plane, ijk)
        col = lut[lab]
        rgb = rgb * (1 - col[..., 3:]) + col[..., :3] * col[..., 3:]
        if tvals:
            t = np.isin(_plane(truth.volume.array, plane, ijk), tvals)
            edge = t & ~ndimage.binary_erosion(t)
            rgb[edge] = (255, 255, 255)
        # the point
        i, j, k = (int(round(v)) for v in ijk)
        nz = volume.shape[0]
        r, c = {"axial": (j, i), "coronal": (nz - 1 - k, i), "sagittal": (nz - 1 - k, j)}[plane]
        for d in range(-4, 5):
            for rr, cc in ((r + d, c), (r, c + d)):
                if 0 <= rr < rgb.shape[0] and 0 <= cc < rgb.shape[1]:
                    rgb[rr, cc] = (255, 40, 40)
        ar, ac = _aspect(volume, plane)
        h = max(1, int(round(rgb.shape[0] * ar / mm_per_pixel)))
        w = max(1, int(round(rgb.shape[1] * ac / mm_per_pixel)))
        rows = np.minimum((np.arange(h) * rgb.shape[0] / h).astype(int), rgb.shape[0] - 1)
        cols = np.minimum((np.arange(w) * rgb.shape[1] / w).astype(int), rgb.shape[1] - 1)
        tiles.append(rgb.astype(np.uint8)[rows][:, cols])
    height = max(t.shape[0] for t in tiles)
    sheet = np.zeros((height, sum(t.shape[1] for t in tiles) + 4 * (len(tiles) - 1), 3), np.uint8)
    x = 0
    for t in tiles:
        sheet[: t.shape[0], x : x + t.shape[1]] = t
        x += t.shape[1] + 4
    path = OUT / f"{name}.png"
    write_png(path, sheet)
    return path


def write_png(path: Path, rgb: np.ndarray) -> None:
    """Save an (h, w, 3) uint8 picture as PNG (Pillow, as the other test pictures)."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), "RGB").save(path)
