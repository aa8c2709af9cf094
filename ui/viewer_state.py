"""What every view shows: the volume, the shared 3D cursor and the window/level."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from imaging.volume import Volume


def default_window_level(volume: Volume) -> tuple[float, float]:
    """A first window/level: a bone-and-soft-tissue window for CT, percentiles for MR."""
    if volume.modality == "CT":
        return 1500.0, 300.0
    a = volume.array[:: max(1, volume.shape[0] // 32)]
    lo, hi = np.percentile(a, [1.0, 99.5])
    return float(max(hi - lo, 1.0)), float((hi + lo) / 2)


class ViewerState(QObject):
    """Shared viewing state; views observe its signals and write back through its setters."""

    volumeChanged = Signal()
    cursorChanged = Signal()
    windowLevelChanged = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.volume: Volume | None = None
        self.cursor = np.zeros(3)
        self.window = 400.0
        self.level = 40.0

    def set_volume(self, volume: Volume) -> None:
        self.volume = volume
        self.window, self.level = default_window_level(volume)
        # start on the voxel nearest the centre, so every view shows whole voxels
        self.cursor = volume.index_to_lps(np.floor((np.asarray(volume.size_ijk, float) - 1) / 2))
        self.volumeChanged.emit()
        self.windowLevelChanged.emit()
        self.cursorChanged.emit()

    def set_cursor(self, lps: np.ndarray) -> None:
        """Move the cursor, keeping it inside the volume."""
        if self.volume is None:
            return
        idx = self.volume.lps_to_index(lps)
        hi = np.asarray(self.volume.size_ijk, float) - 1
        clamped = self.volume.index_to_lps(np.clip(idx, 0, hi))
        if not np.allclose(clamped, self.cursor):
            self.cursor = clamped
            self.cursorChanged.emit()

    def step(self, normal: np.ndarray, steps: int) -> None:
        """Move the cursor ``steps`` voxel steps along ``normal``."""
        if self.volume is None or steps == 0:
            return
        n = np.asarray(normal, float) / np.linalg.norm(normal)
        self.set_cursor(self.cursor + n * steps * self.volume.step_along(n))

    def set_window_level(self, window: float, level: float) -> None:
        window = max(1.0, float(window))
        if (window, level) != (self.window, self.level):
            self.window, self.level = window, float(level)
            self.windowLevelChanged.emit()
