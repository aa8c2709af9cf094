"""The Structures panel: run a segmentation task, and the label map's legend (visibility
checkboxes, overlay opacity; double-click goes to a structure)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from imaging.measure import structure_centre_ijk
from ui.viewer_state import ViewerState

TASK_TITLES = {"auto": "automatic", "lumbar": "lumbar spine", "knee": "knee", "shoulder": "shoulder", "hip": "hip"}


def warnings_of(labelmap) -> list[str]:
    """The warnings a label map's landmarks carry (segmentation checks for the user)."""
    marks = labelmap.landmarks if labelmap is not None else None
    found = (marks.extra or {}).get("warnings", []) if marks is not None else []
    return [str(w) for w in found if str(w).strip()]


def _swatch(rgb) -> QIcon:
    pix = QPixmap(14, 14)
    pix.fill(QColor(*rgb))
    return QIcon(pix)


class StructuresPanel(QWidget):
    """Segment (task + button, Ctrl+G), labels on/off (L), opacity, and the legend."""

    segmentRequested = Signal(str)  # the task

    def __init__(self, state: ViewerState, tasks: tuple[str, ...], parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("structures_panel")
        self.state = state
        self.task_combo = QComboBox(self)
        for t in tasks:
            self.task_combo.addItem(TASK_TITLES.get(t, t), t)
        self.segment_button = QPushButton("Segment", self)
        self.segment_button.setToolTip("Find the anatomy and the target on a worker thread (Ctrl+G)")
        self.segment_button.clicked.connect(lambda: self.segmentRequested.emit(self.task()))
        row = QHBoxLayout()
        row.addWidget(QLabel("Task", self))
        row.addWidget(self.task_combo, 1)
        row.addWidget(self.segment_button)
        self.show_box = QCheckBox("Show labels (L)", self)
        self.show_box.setChecked(state.show_labels)
        self.show_box.toggled.connect(state.set_show_labels)
        self.opacity = QSlider(Qt.Orientation.Horizontal, self)
        self.opacity.setObjectName("label_opacity")
        self.opacity.setRange(0, 100)
        self.opacity.setValue(round(state.label_opacity * 100))
        self.opacity.setToolTip("Opacity of the labels over the slices")
        self.opacity.valueChanged.connect(lambda v: state.set_label_opacity(v / 100.0))
        opacity_row = QHBoxLayout()
        opacity_row.addWidget(self.show_box)
        opacity_row.addWidget(QLabel("Opacity", self))
        opacity_row.addWidget(self.opacity, 1)
        self.legend = QListWidget(self)
        self.legend.setObjectName("legend")
        self.legend.setToolTip("Tick to show; double-click to go to the structure")
        self.legend.itemChanged.connect(self._on_item_changed)
        self.legend.itemDoubleClicked.connect(self.go_to)
        self.summary = QLabel("No label map. Segment the study or File > Load label map.", self)
        self.summary.setWordWrap(True)
        self.warnings = QLabel("", self)
        self.warnings.setObjectName("segmentation_warnings")
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet("color: #b35900; font-weight: bold;")
        self.warnings.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(row)
        layout.addLayout(opacity_row)
        layout.addWidget(self.legend, 1)
        layout.addWidget(self.summary)
        layout.addWidget(self.warnings)
        state.labelsChanged.connect(self.refresh)
        state.labelDisplayChanged.connect(self._sync)
        self.refresh()

    def task(self) -> str:
        return str(self.task_combo.currentData())

    def refresh(self) -> None:
        self.legend.blockSignals(True)
        self.legend.clear()
        lm = self.state.labelmap
        if lm is not None:
            present = {lab.value for lab in lm.present()}
            for lab in lm.legend:
                item = QListWidgetItem(_swatch(lab.color), f"{lab.name}  ({lab.kind})" + ("" if lab.value in present else "  - empty"))
                item.setData(Qt.ItemDataRole.UserRole, lab.value)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked if self.state.label_visible.get(lab.value) else Qt.CheckState.Unchecked)
                self.legend.addItem(item)
            marks = lm.landmarks
            parts = [f"{len(lm.legend)} structures"]
            if marks is not None and marks.target:
                p = marks.target.get("lps")
                parts.append(f"target: {marks.target.get('name', '')}" + (f" at LPS ({p[0]:.1f}, {p[1]:.1f}, {p[2]:.1f})" if p else ""))
            if marks is not None and marks.levels:
                parts.append("levels: " + " ".join(str(lv.get("name", "")) for lv in marks.levels))
            extra = marks.extra if marks is not None else {}
            if extra.get("side"):
                parts.append(f"side: {extra['side']}" + (f" (from the {extra['side_from']})" if extra.get("side_from") else ""))
            self.summary.setText("; ".join(parts))
            self.show_warnings(warnings_of(lm))
        else:
            self.summary.setText("No label map. Segment the study or File > Load label map.")
            self.show_warnings([])
        self.legend.blockSignals(False)

    def show_warnings(self, warnings: list[str]) -> None:
        """What the segmentation asks the user to check (side, level count), in the panel."""
        self.warnings.setText("\n".join(f"Check: {w}" for w in warnings))
        self.warnings.setVisible(bool(warnings))

    def _sync(self) -> None:
        self.show_box.blockSignals(True)
        self.show_box.setChecked(self.state.show_labels)
        self.show_box.blockSignals(False)
        self.opacity.blockSignals(True)
        self.opacity.setValue(round(self.state.label_opacity * 100))
        self.opacity.blockSignals(False)
        self.legend.blockSignals(True)
        for row in range(self.legend.count()):
            item = self.legend.item(row)
            on = self.state.label_visible.get(int(item.data(Qt.ItemDataRole.UserRole)), False)
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
        self.legend.blockSignals(False)

    def item_for(self, name: str) -> QListWidgetItem | None:
        lm = self.state.labelmap
        if lm is None or lm.legend.get(name) is None:
            return None
        value = lm.legend.by_name(name).value
        for row in range(self.legend.count()):
            if int(self.legend.item(row).data(Qt.ItemDataRole.UserRole)) == value:
                return self.legend.item(row)
        return None

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        self.state.set_label_visible(int(item.data(Qt.ItemDataRole.UserRole)), item.checkState() == Qt.CheckState.Checked)

    def go_to(self, item: QListWidgetItem) -> None:
        """Move the cursor to the structure's centre (a voxel of the structure)."""
        lm = self.state.labelmap
        if lm is None:
            return
        ijk = structure_centre_ijk(lm.volume.array, int(item.data(Qt.ItemDataRole.UserRole)))
        if ijk is not None:
            self.state.set_cursor(lm.volume.index_to_lps(ijk.astype(float)), snap=True)
