"""The measurement list: every ruler and angle, removable; double-click goes to it."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ui.viewer_state import ViewerState


class MeasurementsPanel(QWidget):
    """Lists ``state.measurements``; Remove / Remove all; double-click moves the cursor there."""

    def __init__(self, state: ViewerState, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("measurements_panel")
        self.state = state
        self.list = QListWidget(self)
        self.list.setObjectName("measurement_list")
        self.list.setToolTip("Double-click to go to a measurement; Del removes the selected one")
        self.list.itemDoubleClicked.connect(self._go_to)
        self.remove_button = QPushButton("Remove", self)
        self.remove_button.clicked.connect(self.remove_selected)
        self.clear_button = QPushButton("Remove all", self)
        self.clear_button.clicked.connect(state.clear_measurements)
        buttons = QHBoxLayout()
        buttons.addWidget(self.remove_button)
        buttons.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        state.measurementsChanged.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        self.list.clear()
        for i, m in enumerate(self.state.measurements):
            item = QListWidgetItem(f"{i + 1}. {m.describe()}")
            item.setData(Qt.ItemDataRole.UserRole, i)
            self.list.addItem(item)
        has = bool(self.state.measurements)
        self.remove_button.setEnabled(has)
        self.clear_button.setEnabled(has)

    def remove_selected(self) -> None:
        row = self.list.currentRow()
        if row < 0 and self.list.count():
            row = self.list.count() - 1  # nothing selected: the newest
        self.state.remove_measurement(row)

    def _go_to(self, item: QListWidgetItem) -> None:
        m = self.state.measurements[int(item.data(Qt.ItemDataRole.UserRole))]
        self.state.set_cursor(np.mean(np.array(m.points), axis=0) if m.kind == "distance" else np.array(m.points[1]))
