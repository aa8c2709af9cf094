"""What every view shows: the volume, the shared 3D cursor, the window/level, the active tool and
the measurements. Views observe its signals and write back through its setters."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from imaging.errors import LabelMapError
from imaging.labelmap import LabelMap
from imaging.measure import Measurement
from imaging.volume import Volume
from imaging.windowing import WindowLevel, default_window, percentile_window, presets_for

TOOLS = ("cursor", "window_level", "distance", "angle")
HIDDEN_KINDS = ("other", "fat", "muscle")  # labels hidden until ticked: they would cover the rest


def default_window_level(volume: Volume) -> tuple[float, float]:
    """The first window/level of a study (see :func:`imaging.windowing.default_window`)."""
    wl = default_window(volume)[1]
    return wl.width, wl.level


class ViewerState(QObject):
    """Shared viewing state."""

    volumeChanged = Signal()
    cursorChanged = Signal()
    windowLevelChanged = Signal()
    toolChanged = Signal(str)
    measurementsChanged = Signal()
    displayChanged = Signal()  # crosshairs / planes-in-3D toggles
    labelsChanged = Signal()  # a label map was set or cleared
    labelDisplayChanged = Signal()  # label visibility, opacity, on/off

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.volume: Volume | None = None
        self.cursor = np.zeros(3)
        self.window = 400.0
        self.level = 40.0
        self.window_name = ""  # the preset shown, "" once dragged
        self.tool = "cursor"
        self.measurements: list[Measurement] = []
        self.show_crosshairs = True
        self.show_planes_3d = True
        self.preferred_presets: dict[str, str] = {}  # modality -> preset name (remembered)
        self.value_range = 1000.0  # the span of image values (scales window/level drags)
        self.labelmap: LabelMap | None = None
        self.label_visible: dict[int, bool] = {}
        self.label_opacity = 0.5
        self.show_labels = True

    # -- volume and cursor ------------------------------------------------------------------
    def set_volume(self, volume: Volume) -> None:
        self.volume = volume
        self.measurements = []
        self.labelmap = None
        self.label_visible = {}
        self.value_range = percentile_window(volume.array, 0.0, 100.0).width
        name, wl = default_window(volume)
        preferred = self.preferred_presets.get(volume.modality)
        presets = presets_for(volume)
        if preferred in presets:
            name, wl = preferred, presets[preferred]
        self.window, self.level, self.window_name = wl.width, wl.level, name
        # start on the voxel nearest the centre, so every view shows whole voxels
        self.cursor = volume.index_to_lps(np.floor((np.asarray(volume.size_ijk, float) - 1) / 2))
        self.volumeChanged.emit()
        self.windowLevelChanged.emit()
        self.cursorChanged.emit()
        self.measurementsChanged.emit()
        self.labelsChanged.emit()

    def set_cursor(self, lps: np.ndarray, *, snap: bool = False) -> None:
        """Move the cursor, keeping it inside the volume; with ``snap`` onto the nearest voxel
        centre (a click: the other views then show whole slices, not a blend of two)."""
        if self.volume is None:
            return
        idx = self.volume.lps_to_index(lps)
        if snap:
            idx = np.rint(idx)
        hi = np.asarray(self.volume.size_ijk, float) - 1
        clamped = self.volume.index_to_lps(np.clip(idx, 0, hi))
        if not np.allclose(clamped, self.cursor, rtol=0, atol=1e-9):
            self.cursor = clamped
            self.cursorChanged.emit()

    def step(self, normal: np.ndarray, steps: int) -> None:
        """Move the cursor ``steps`` voxel steps along ``normal``."""
        if self.volume is None or steps == 0:
            return
        n = np.asarray(normal, float) / np.linalg.norm(normal)
        self.set_cursor(self.cursor + n * steps * self.volume.step_along(n))

    # -- window/level -----------------------------------------------------------------------
    @property
    def window_level(self) -> WindowLevel:
        return WindowLevel(self.window, self.level)

    def set_window_level(self, window: float, level: float, name: str = "") -> None:
        wl = WindowLevel(window, level)
        if (wl.width, wl.level, name) != (self.window, self.level, self.window_name):
            self.window, self.level, self.window_name = wl.width, wl.level, name
            self.windowLevelChanged.emit()

    def apply_preset(self, name: str) -> bool:
        """Show the named window of this study's presets; False if it has no such preset."""
        if self.volume is None:
            return False
        presets = presets_for(self.volume)
        if name not in presets:
            return False
        self.preferred_presets[self.volume.modality] = name
        self.set_window_level(presets[name].width, presets[name].level, name)
        return True

    # -- tools and measurements -------------------------------------------------------------
    def set_tool(self, tool: str) -> None:
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}")
        if tool != self.tool:
            self.tool = tool
            self.toolChanged.emit(tool)

    def add_measurement(self, measurement: Measurement) -> None:
        self.measurements.append(measurement)
        self.measurementsChanged.emit()

    def remove_measurement(self, index: int) -> None:
        if 0 <= index < len(self.measurements):
            del self.measurements[index]
            self.measurementsChanged.emit()

    def clear_measurements(self) -> None:
        if self.measurements:
            self.measurements = []
            self.measurementsChanged.emit()

    # -- display toggles --------------------------------------------------------------------
    def set_show_crosshairs(self, on: bool) -> None:
        if bool(on) != self.show_crosshairs:
            self.show_crosshairs = bool(on)
            self.displayChanged.emit()

    def set_show_planes_3d(self, on: bool) -> None:
        if bool(on) != self.show_planes_3d:
            self.show_planes_3d = bool(on)
            self.displayChanged.emit()

    # -- labels -----------------------------------------------------------------------------
    def set_labelmap(self, labelmap: LabelMap | None) -> None:
        """Show a label map of this study (refused with :class:`LabelMapError` when it lies on
        another grid). The rest of the body (kind ``other``), fat and muscle start hidden."""
        if labelmap is not None:
            if self.volume is None:
                raise LabelMapError("Open a study before loading its label map.")
            if not labelmap.volume.same_grid(self.volume, tol_mm=0.01):
                raise LabelMapError(
                    f"The label map is on a {labelmap.volume.shape} grid that does not match this study's "
                    f"{self.volume.shape} grid; it belongs to another study or series."
                )
            self.label_visible = {lab.value: lab.kind not in HIDDEN_KINDS for lab in labelmap.legend}
        else:
            self.label_visible = {}
        self.labelmap = labelmap
        self.labelsChanged.emit()

    def set_label_visible(self, value: int, visible: bool) -> None:
        if self.label_visible.get(value) != bool(visible):
            self.label_visible[value] = bool(visible)
            self.labelDisplayChanged.emit()

    def set_label_opacity(self, opacity: float) -> None:
        opacity = float(np.clip(opacity, 0.0, 1.0))
        if opacity != self.label_opacity:
            self.label_opacity = opacity
            self.labelDisplayChanged.emit()

    def set_show_labels(self, on: bool) -> None:
        if bool(on) != self.show_labels:
            self.show_labels = bool(on)
            self.labelDisplayChanged.emit()
