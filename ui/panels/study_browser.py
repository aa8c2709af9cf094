"""The study/series browser: what a scanned folder holds, and which stack to load.

Shows patients > studies > series > stacks with the scan's columns (modality, images, voxels,
spacing, orientation, date) and, for anything that will not load, the reason. It only displays
an :class:`imaging.dicom.index.ScanResult`; choosing a stack emits :attr:`StudyBrowser.stackChosen`
and the main window loads it.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from imaging.dicom.index import ScanResult, Series, Stack

COLUMNS = ("Patient / study / series", "Modality", "Images", "Voxels (x, y, z)", "Spacing (mm)", "Orientation", "Date", "Status")
STACK_ROLE = Qt.ItemDataRole.UserRole + 1
_RED = QBrush(QColor("#b00020"))
_AMBER = QBrush(QColor("#9a5b00"))
_GREY = QBrush(QColor("#777777"))


def _date(d: str) -> str:
    return f"{d[:4]}-{d[4:6]}-{d[6:8]}" if len(d) == 8 and d.isdigit() else d


def _stack_columns(stack: Stack) -> list[str]:
    if stack.loadable:
        nz, ny, nx = stack.shape  # type: ignore[misc]
        voxels = f"{nx} x {ny} x {nz}"
        spacing = " x ".join(f"{v:.3g}" for v in stack.spacing)  # type: ignore[union-attr]
        status = "ready" if not stack.warnings else "ready (resampled: " + "; ".join(w.split(":")[0] for w in stack.warnings) + ")"
    else:
        voxels = f"{stack.columns} x {stack.rows} x {stack.image_count}"
        spacing = ""
        status = f"cannot load: {stack.problem}"
    return [str(stack.image_count), voxels, spacing, stack.orientation, status]


class StudyBrowser(QDialog):
    """A non-modal dialog listing a scan; double-click or Load opens the chosen stack."""

    stackChosen = Signal(object)  # the Stack to load

    def __init__(self, result: ScanResult, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result = result
        self.setWindowTitle(f"DICOM folder - {result.folder}")
        self.resize(1100, 560)
        layout = QVBoxLayout(self)
        stacks = list(result.stacks())
        loadable = sum(s.loadable for s in stacks)
        summary = (
            f"<b>{result.folder}</b><br>{result.files_seen} files, {result.dicom_files} DICOM, "
            f"{len(stacks)} image stacks ({loadable} loadable), {len(result.skipped)} not used"
        )
        if result.notes:
            summary += "<br>" + "<br>".join(result.notes)
        self.summary = QLabel(summary)
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.summary)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        layout.addWidget(self.tree, 1)
        buttons = QDialogButtonBox()
        self.load_button = buttons.addButton("Load", QDialogButtonBox.ButtonRole.AcceptRole)
        self.close_button = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.load_button.setEnabled(False)
        self.load_button.clicked.connect(self.load_selected)
        self.close_button.clicked.connect(self.reject)
        layout.addWidget(buttons)
        self._fill()
        self.tree.currentItemChanged.connect(self._on_current)
        self.tree.itemDoubleClicked.connect(lambda item, _col: self.load_selected())
        header = self.tree.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        first = next((it for it in self.stack_items() if it.data(0, STACK_ROLE).loadable), None)
        if first is not None:
            self.tree.setCurrentItem(first)

    # -- filling -----------------------------------------------------------------------------
    def _fill(self) -> None:
        for patient in self.result.patients:
            p_item = QTreeWidgetItem([f"{patient.name or '(no name)'}  [{patient.id or 'no ID'}]"])
            self.tree.addTopLevelItem(p_item)
            for study in patient.studies:
                s_item = QTreeWidgetItem([study.description or "(no study description)", "", "", "", "", "", _date(study.date), ""])
                s_item.setToolTip(0, f"Study {study.uid}")
                p_item.addChild(s_item)
                for series in study.series:
                    self._add_series(s_item, series)
                s_item.setExpanded(True)
            p_item.setExpanded(True)
        if self.result.skipped:
            skipped = QTreeWidgetItem([f"Files not used ({len(self.result.skipped)})"])
            skipped.setForeground(0, _GREY)
            self.tree.addTopLevelItem(skipped)
            for s in self.result.skipped:
                item = QTreeWidgetItem([s.path, "", "", "", "", "", "", s.reason])
                item.setToolTip(7, s.reason)
                item.setForeground(7, _GREY)
                skipped.addChild(item)

    def _add_series(self, parent: QTreeWidgetItem, series: Series) -> None:
        number = f"Series {series.number}" if series.number is not None else "Series"
        title = f"{number}: {series.description}" if series.description else number
        if series.body_part:
            title += f" ({series.body_part})"
        if not series.is_image:
            item = QTreeWidgetItem([title, series.modality, str(len(series.files)), "", "", "", "", f"{series.kind_label}: not an image"])
            for col in range(len(COLUMNS)):
                item.setForeground(col, _GREY)
            parent.addChild(item)
            return
        if len(series.stacks) == 1:
            stack = series.stacks[0]
            item = QTreeWidgetItem([title, series.modality, *_stack_columns(stack)[:4], "", _stack_columns(stack)[4]])
            self._mark_stack(item, stack)
            parent.addChild(item)
            return
        item = QTreeWidgetItem([title, series.modality, str(series.image_count), "", "", "", "", f"split into {len(series.stacks)} stacks"])
        parent.addChild(item)
        for stack in series.stacks:
            cols = _stack_columns(stack)
            child = QTreeWidgetItem([f"Stack {stack.number}: {stack.reason or 'images'}", series.modality, *cols[:4], "", cols[4]])
            self._mark_stack(child, stack)
            item.addChild(child)
        item.setExpanded(True)

    def _mark_stack(self, item: QTreeWidgetItem, stack: Stack) -> None:
        item.setData(0, STACK_ROLE, stack)
        status = COLUMNS.index("Status")
        tip = stack.problem or "\n".join(stack.warnings) or "Ready to load"
        for col in range(len(COLUMNS)):
            item.setToolTip(col, tip)
        if not stack.loadable:
            item.setForeground(status, _RED)
        elif stack.warnings:
            item.setForeground(status, _AMBER)

    # -- choosing ----------------------------------------------------------------------------
    def stack_items(self) -> list[QTreeWidgetItem]:
        """Every row that stands for a stack, in tree order."""
        out = []

        def walk(item: QTreeWidgetItem) -> None:
            if item.data(0, STACK_ROLE) is not None:
                out.append(item)
            for i in range(item.childCount()):
                walk(item.child(i))

        for i in range(self.tree.topLevelItemCount()):
            walk(self.tree.topLevelItem(i))
        return out

    def selected_stack(self) -> Stack | None:
        item = self.tree.currentItem()
        return None if item is None else item.data(0, STACK_ROLE)

    def _on_current(self, current: QTreeWidgetItem | None, _previous=None) -> None:
        stack = None if current is None else current.data(0, STACK_ROLE)
        self.load_button.setEnabled(stack is not None and stack.loadable)

    def select(self, stack: Stack) -> None:
        for item in self.stack_items():
            if item.data(0, STACK_ROLE) is stack:
                self.tree.setCurrentItem(item)
                return

    def load_selected(self) -> None:
        stack = self.selected_stack()
        if stack is None or not stack.loadable:
            return
        self.stackChosen.emit(stack)
        self.accept()
