"""The main window: menus, the four linked views and the status bar."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QWidget,
)

import imaging
from imaging.dicom.write import DISCLAIMER
from imaging.planes import AXIAL, CORONAL, SAGITTAL
from imaging.samples import list_samples
from imaging.volume import Volume
from ui.panels.study_browser import StudyBrowser
from ui.viewer_state import ViewerState
from ui.views.scene_3d import Scene3D
from ui.views.slice_view import SliceView
from ui.workers import Task

APP_NAME = "Injection Planner"


class MainWindow(QMainWindow):
    """Axial, sagittal, coronal and 3D views of one study, linked through one cursor."""

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle(APP_NAME)
        self.resize(1280, 900)
        self.state = ViewerState(self)
        self.task: Task | None = None
        self.last_error: str | None = None
        self._error_box: QMessageBox | None = None
        self.study_browser: StudyBrowser | None = None
        self.setAcceptDrops(True)  # drop a DICOM folder to browse it

        grid = QWidget(self)
        layout = QGridLayout(grid)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        self.axial = SliceView(self.state, AXIAL, grid)
        self.sagittal = SliceView(self.state, SAGITTAL, grid)
        self.coronal = SliceView(self.state, CORONAL, grid)
        self.scene = Scene3D(self.state, grid)
        layout.addWidget(self.axial, 0, 0)
        layout.addWidget(self.sagittal, 0, 1)
        layout.addWidget(self.coronal, 1, 0)
        layout.addWidget(self.scene, 1, 1)
        self.setCentralWidget(grid)
        self._build_menus()
        self._build_status_bar()
        self.state.cursorChanged.connect(self._show_cursor)

    # -- building ----------------------------------------------------------------------------
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_action = QAction("&Open DICOM folder...", self)
        self.open_action.setShortcut(QKeySequence.StandardKey.Open)
        self.open_action.triggered.connect(self.choose_folder)
        file_menu.addAction(self.open_action)
        self.samples_menu = file_menu.addMenu("Open &sample study")
        for sample in list_samples():
            act = QAction(f"{sample.title}", self)
            act.setStatusTip(sample.description)
            act.setToolTip(sample.description)
            act.setData(str(sample.path))
            act.triggered.connect(lambda _=False, p=sample.path: self.open_folder(p))
            self.samples_menu.addAction(act)
        self.samples_menu.setToolTipsVisible(True)
        if not self.samples_menu.actions():
            self.samples_menu.setEnabled(False)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.cursor_label = QLabel("")
        bar.addWidget(self.cursor_label, 1)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self.cancel_task)
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.cancel_button)
        disclaimer = QLabel(DISCLAIMER)
        disclaimer.setStyleSheet("color: #b36b00;")
        bar.addPermanentWidget(disclaimer)

    # -- loading -----------------------------------------------------------------------------
    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open DICOM folder")
        if folder:
            self.browse_folder(Path(folder))

    def browse_folder(self, folder: Path) -> Task:
        """Scan ``folder`` on a worker thread, then show the study browser to choose a stack."""
        if self.task is not None and self.task.is_running():
            self.task.cancel()
            self.task.wait()
        task = Task(lambda progress, cancel: imaging.scan(folder, progress=progress, cancel=cancel), self)
        task.progressed.connect(self._on_progress)
        task.succeeded.connect(self.show_study_browser)
        task.failed.connect(lambda exc, f=folder: self.show_error(f"Could not scan {f}", exc))
        task.done.connect(self._on_task_done)
        self.task = task
        self.progress.setValue(0)
        self.progress.show()
        self.cancel_button.show()
        self.statusBar().showMessage(f"Scanning {folder} ...")
        task.start()
        return task

    def show_study_browser(self, result) -> StudyBrowser:
        """List a scan's patients, studies, series and stacks; the chosen stack is loaded."""
        if self.study_browser is not None:
            self.study_browser.close()
        self.study_browser = StudyBrowser(result, self)
        self.study_browser.stackChosen.connect(self.open_folder)
        self.study_browser.show()
        return self.study_browser

    def dragEnterEvent(self, ev) -> None:  # noqa: N802
        if any(u.isLocalFile() for u in ev.mimeData().urls()):
            ev.acceptProposedAction()

    def dropEvent(self, ev) -> None:  # noqa: N802
        paths = [Path(u.toLocalFile()) for u in ev.mimeData().urls() if u.isLocalFile()]
        if paths:
            ev.acceptProposedAction()
            self.browse_folder(paths[0] if paths[0].is_dir() else paths[0].parent)

    def open_folder(self, folder: Path | imaging.dicom.Stack) -> Task:
        """Load the series in ``folder`` (or a stack chosen in the study browser) on a worker
        thread; the views update when it is done."""
        if self.task is not None and self.task.is_running():
            self.task.cancel()
            self.task.wait()
        task = Task(lambda progress, cancel: imaging.load(folder, progress=progress, cancel=cancel), self)
        task.progressed.connect(self._on_progress)
        task.succeeded.connect(self.set_volume)
        label = getattr(folder, "title", folder)
        task.failed.connect(lambda exc, f=label: self.show_error(f"Could not open {f}", exc))
        task.done.connect(self._on_task_done)
        self.task = task
        self.progress.setValue(0)
        self.progress.show()
        self.cancel_button.show()
        self.statusBar().showMessage(f"Loading {label} ...")
        task.start()
        return task

    def cancel_task(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        if message:
            self.progress.setFormat(f"{message} %p%")

    def _on_task_done(self) -> None:
        self.progress.hide()
        self.cancel_button.hide()

    def set_volume(self, volume: Volume) -> None:
        """Show ``volume`` in every view."""
        self.state.set_volume(volume)
        info = volume.info
        title = info.series_description or info.study_description or "study"
        self.setWindowTitle(f"{APP_NAME} - {title}")
        self.statusBar().showMessage(f"Loaded {title}", 5000)
        for message in volume.warnings:
            self.show_error("Warning", message, warning=True)

    def show_error(self, title: str, error: Exception | str, *, warning: bool = False) -> None:
        """Tell the user what went wrong without blocking the app."""
        text = str(error)
        if isinstance(error, imaging.CancelledError):
            self.statusBar().showMessage("Cancelled.", 5000)
            return
        if not isinstance(error, (imaging.ImagingError, str)):
            text = f"Unexpected error ({type(error).__name__}): {error}"
        self.last_error = text
        box = QMessageBox(QMessageBox.Icon.Warning if warning else QMessageBox.Icon.Critical, title, text, parent=self)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.open()
        self._error_box = box

    # -- readout -----------------------------------------------------------------------------
    def _show_cursor(self) -> None:
        vol = self.state.volume
        if vol is None:
            return
        p = self.state.cursor
        ijk = vol.lps_to_index(p)
        value = float(vol.value_at(p))
        unit = " HU" if vol.modality == "CT" else ""
        self.cursor_label.setText(
            f"LPS ({p[0]:.1f}, {p[1]:.1f}, {p[2]:.1f}) mm   voxel ({ijk[0]:.0f}, {ijk[1]:.0f}, {ijk[2]:.0f})"
            f"   value {value:.0f}{unit}" if np.isfinite(value) else ""
        )

    def views(self) -> list:
        return [self.axial, self.sagittal, self.coronal, self.scene]

    def closeEvent(self, ev) -> None:  # noqa: N802
        if self.task is not None and self.task.is_running():
            self.task.cancel()
            self.task.wait()
        super().closeEvent(ev)

    def release_views(self) -> None:
        """Free every VTK render window; call once the window is closed."""
        for v in self.views():
            v.release()
