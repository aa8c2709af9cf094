"""Pictures of the phantom samples for people to look at: windowed axial, coronal and sagittal
slices through a point, written as PNG (Pillow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from imaging.volume import Volume

WINDOWS = {"bone": (500.0, 2000.0), "soft": (40.0, 400.0)}


def _to_u8(img: np.ndarray, centre: float, width: float) -> np.ndarray:
    lo = centre - width / 2
    return (np.clip((img - lo) / width, 0, 1) * 255).astype(np.uint8)


def lps_slices(vol: Volume, point_lps) -> dict[str, np.ndarray]:
    """Axial, coronal and sagittal planes through ``point_lps`` resampled to 0.5 mm display
    pixels (nearest voxel), in radiological display convention (patient right on the left of the
    screen, anterior up, superior up)."""
    lo, hi = vol.world_bounds()
    step = 0.5
    xs = np.arange(lo[0], hi[0], step)
    ys = np.arange(lo[1], hi[1], step)
    zs = np.arange(lo[2], hi[2], step)[::-1]
    p = np.asarray(point_lps, float)
    planes = {
        "axial": np.stack(np.meshgrid(xs, ys, [p[2]], indexing="xy"), -1)[:, :, 0, :],  # rows y (A->P), cols x (R->L)
        "coronal": np.stack(np.meshgrid(xs, [p[1]], zs, indexing="ij"), -1)[:, 0, :, :].transpose(1, 0, 2),
        "sagittal": np.stack(np.meshgrid([p[0]], ys, zs, indexing="ij"), -1)[0].transpose(1, 0, 2),
    }
    out = {}
    for name, pts in planes.items():
        idx = np.rint(vol.lps_to_index(pts)).astype(int)
        size = np.array(vol.size_ijk)
        ok = np.all((idx >= 0) & (idx < size), axis=-1)
        img = np.full(pts.shape[:2], float(vol.array.min()), dtype=float)
        ii = idx[ok]
        img[ok] = vol.array[ii[:, 2], ii[:, 1], ii[:, 0]]
        out[name] = img
    return out


def save_views(vol: Volume, point_lps, path_stem: Path, windows: dict[str, tuple[float, float]]) -> list[Path]:
    from PIL import Image

    path_stem.parent.mkdir(parents=True, exist_ok=True)
    planes = lps_slices(vol, point_lps)
    written = []
    for wname, (c, w) in windows.items():
        tiles = [_to_u8(planes[k], c, w) for k in ("axial", "coronal", "sagittal")]
        h = max(t.shape[0] for t in tiles)
        tiles = [np.pad(t, ((0, h - t.shape[0]), (0, 4)), constant_values=0) for t in tiles]
        img = np.concatenate(tiles, axis=1)
        p = path_stem.with_name(f"{path_stem.name}_{wname}.png")
        Image.fromarray(img).save(p)
        written.append(p)
    return written


def save_labels(labels: Volume, point_lps, path_stem: Path) -> Path:
    from PIL import Image

    planes = lps_slices(labels, point_lps)
    rng = np.random.default_rng(3)
    lut = rng.integers(40, 255, size=(256, 3)).astype(np.uint8)
    lut[0] = 0
    tiles = [lut[planes[k].astype(int)] for k in ("axial", "coronal", "sagittal")]
    h = max(t.shape[0] for t in tiles)
    tiles = [np.pad(t, ((0, h - t.shape[0]), (0, 4), (0, 0))) for t in tiles]
    p = path_stem.with_name(f"{path_stem.name}_labels.png")
    Image.fromarray(np.concatenate(tiles, axis=1)).save(p)
    return p
