"""Window/level: how image values map to screen grey, CT presets and automatic MR windows.

A window ``(width, level)`` shows values from ``level - width/2`` (black) to ``level + width/2``
(white), linearly in between, as every DICOM viewer does (and as VTK's
``vtkImageMapToWindowLevelColors`` computes it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from imaging.volume import Volume

__all__ = [
    "WindowLevel",
    "CT_PRESETS",
    "presets_for",
    "percentile_window",
    "default_window",
    "drag_window",
    "to_grey",
    "surface_threshold",
]

MIN_WIDTH = 1.0


@dataclass(frozen=True)
class WindowLevel:
    """A display window: ``width`` and centre ``level`` in image units (HU for CT)."""

    width: float
    level: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "width", max(MIN_WIDTH, float(self.width)))
        object.__setattr__(self, "level", float(self.level))

    @property
    def low(self) -> float:
        """The value shown black."""
        return self.level - self.width / 2

    @property
    def high(self) -> float:
        """The value shown white."""
        return self.level + self.width / 2

    def label(self) -> str:
        """As viewers print it: ``"W 400  L 40"``."""
        return f"W {self.width:.0f}  L {self.level:.0f}"


# Standard CT windows (HU). "spine" shows vertebral bone and the paraspinal soft tissue together.
CT_PRESETS: dict[str, WindowLevel] = {
    "bone": WindowLevel(2000.0, 500.0),
    "soft tissue": WindowLevel(400.0, 40.0),
    "spine": WindowLevel(1500.0, 300.0),
    "lung": WindowLevel(1500.0, -600.0),
}

MR_AUTO = "auto (percentiles)"


def _sample(array: np.ndarray, max_values: int = 2_000_000) -> np.ndarray:
    """A regular subsample of at most about ``max_values`` values (whole slices, evenly spaced)."""
    a = np.asarray(array)
    step = max(1, int(np.ceil(a.size / max_values)))
    if step == 1:
        return a.ravel()
    nz = a.shape[0]
    slice_step = max(1, min(nz, step))
    return a[::slice_step].ravel()


def percentile_window(array: np.ndarray, low_pct: float = 1.0, high_pct: float = 99.5) -> WindowLevel:
    """A window from the ``low_pct``..``high_pct`` percentiles of the image.

    Background is left out when it is a large block of one value (the minimum, as the air
    around an MR head is): the window then spans the tissue, not the air."""
    values = _sample(array)
    if values.size == 0:
        return WindowLevel(1.0, 0.0)
    vmin = values.min()
    fg = values[values > vmin]
    if fg.size >= 0.05 * values.size and (values == vmin).mean() > 0.10:
        values = fg
    lo, hi = np.percentile(values.astype(np.float64), [low_pct, high_pct])
    return WindowLevel(max(float(hi - lo), MIN_WIDTH), float(hi + lo) / 2)


def presets_for(volume: Volume) -> dict[str, WindowLevel]:
    """The named windows offered for this study: the CT presets and an automatic window from
    percentiles; for other modalities the automatic window and a wider one for dark tissue."""
    auto = {MR_AUTO: percentile_window(volume.array)}
    if volume.modality == "CT":
        return dict(CT_PRESETS) | auto
    return auto | {"auto wide": percentile_window(volume.array, 0.5, 99.9)}


_JOINT_WORDS = ("KNEE", "SHOULDER", "HIP", "ANKLE", "ELBOW", "WRIST", "JOINT", "EXTREMITY")


def default_window(volume: Volume) -> tuple[str, WindowLevel]:
    """The first window a study is shown with: on CT, soft tissue for a joint (the body part or
    descriptions name one: the joint fluid, the target, then shows against muscle and fat) and
    spine otherwise (vertebral bone and paraspinal tissue together); percentiles on MR."""
    presets = presets_for(volume)
    if volume.modality != "CT":
        return MR_AUTO, presets[MR_AUTO]
    info = volume.info
    words = set(re.findall(r"[A-Z]+", " ".join([info.body_part, info.study_description, info.series_description]).upper()))
    name = "soft tissue" if words & set(_JOINT_WORDS) else "spine"
    return name, presets[name]


def drag_window(start: WindowLevel, dx_px: float, dy_px: float, value_range: float) -> WindowLevel:
    """The window after dragging the mouse ``(dx, dy)`` screen pixels from where it started.

    Right widens the window, left narrows it; up raises the level (darker image), down lowers
    it (the convention of 3D Slicer and Horos). One pixel moves by 1/500 of the image's value
    range (at least 1 unit) so a drag across a view sweeps a useful part of it."""
    per_px = max(float(value_range) / 500.0, 1.0)
    width = start.width * float(np.exp(dx_px / 200.0)) if dx_px else start.width
    return WindowLevel(width, start.level - dy_px * per_px)


def to_grey(values: np.ndarray, window: WindowLevel) -> np.ndarray:
    """Screen grey 0..255 (float) of image values under ``window``."""
    v = np.asarray(values, dtype=np.float64)
    return np.clip((v - window.low) / window.width * 255.0, 0.0, 255.0)


BONE_HU = 160.0


def surface_threshold(volume: Volume) -> float:
    """The first threshold of the 3D surface: bone (160 HU) for CT; for other modalities half
    the 60th percentile, a level between the dark background and tissue (the body outline)."""
    if volume.modality == "CT":
        return BONE_HU
    return float(np.percentile(_sample(volume.array, 1_000_000), 60) * 0.5)
