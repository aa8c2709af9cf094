"""The main window: menus and shortcuts (from :mod:`ui.shortcuts`), the four linked views in a
2 x 2 grid with one-click maximise, the measurement list and the status bar."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFileDialog,
    QGridLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

import imaging
from imaging.dicom.write import DISCLAIMER
from imaging.errors import LabelMapError
from imaging.labelmap import LabelMap, read_labelmap, write_labelmap
from imaging.mesh import Mesh
from imaging.planes import AXIAL, CORONAL, SAGITTAL
from imaging.samples import list_samples, samples_dir
from imaging.volume import Volume
from imaging.windowing import MR_AUTO, presets_for
from ui.label_surfaces import label_meshes
from ui.panels.measurements import MeasurementsPanel
from ui.panels.structures import StructuresPanel, warnings_of
from ui.panels.study_browser import StudyBrowser
from ui.screenshot import save_png
from ui.settings import app_settings
from ui.shortcuts import ACTIONS, MOUSE, ActionSpec
from ui.viewer_state import ViewerState
from ui.views.scene_3d import Scene3DPanel
from ui.views.slice_view import SliceView
from ui.workers import Task

APP_NAME = "Injection Planner"
LAYOUTS = ("grid", "axial", "coronal", "sagittal", "3d")
WL_ACTIONS = {"wl_bone": "bone", "wl_soft_tissue": "soft tissue", "wl_spine": "spine", "wl_lung": "lung", "wl_auto": MR_AUTO}


def key_text(keys: tuple[str, ...]) -> str:
    """Keys as the user's platform writes them, e.g. ``"Ctrl+Shift+S"``."""
    return ", ".join(QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText) for k in keys)


def _segmentation_tasks() -> tuple[str, ...]:
    try:
        from imaging.segmentation import TASKS
    except ImportError:
        return ("auto",)
    return tuple(TASKS)


class ShortcutsDialog(QDialog):
    """Help > Shortcuts: every key of :data:`ui.shortcuts.ACTIONS` and every mouse gesture."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard and mouse shortcuts")
        self.setObjectName("shortcuts_dialog")
        rows = [(key_text(s.keys), s.text.replace("&", ""), "focused view" if s.scope == "view" else s.menu.replace("/", " > "))
                for s in ACTIONS if s.keys]
        rows += [(gesture, what, "mouse") for gesture, what in MOUSE]
        self.table = QTableWidget(len(rows), 3, self)
        self.table.setHorizontalHeaderLabels(["Keys / mouse", "Does", "Where"])
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, parent=self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(760, 560)

    def rows(self) -> list[tuple[str, str, str]]:
        return [tuple(self.table.item(r, c).text() for c in range(3)) for r in range(self.table.rowCount())]


class MainWindow(QMainWindow):
    """Axial, coronal, sagittal and 3D views of one study, linked through one cursor."""

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle(APP_NAME)
        self.resize(1280, 900)
        self.settings = app_settings()
        self.state = ViewerState(self)
        self.task: Task | None = None
        self.last_error: str | None = None
        self._error_box: QMessageBox | None = None
        self.study_browser: StudyBrowser | None = None
        self.shortcuts_dialog: ShortcutsDialog | None = None
        self.setAcceptDrops(True)  # drop a DICOM folder to browse it

        grid = QWidget(self)
        layout = QGridLayout(grid)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        self.axial = SliceView(self.state, AXIAL, grid)
        self.coronal = SliceView(self.state, CORONAL, grid)
        self.sagittal = SliceView(self.state, SAGITTAL, grid)
        self.scene_panel = Scene3DPanel(self.state, grid)
        self.scene = self.scene_panel.scene
        self.scene.attach_slices([self.axial, self.coronal, self.sagittal])
        layout.addWidget(self.axial, 0, 0)
        layout.addWidget(self.coronal, 0, 1)
        layout.addWidget(self.sagittal, 1, 0)
        layout.addWidget(self.scene_panel, 1, 1)
        self.setCentralWidget(grid)
        self.cells: dict[str, QWidget] = {"axial": self.axial, "coronal": self.coronal, "sagittal": self.sagittal, "3d": self.scene_panel}
        self.view_by_name = {"axial": self.axial, "coronal": self.coronal, "sagittal": self.sagittal, "3d": self.scene}
        for name, cell in self.cells.items():
            cell.doubleClicked.connect(lambda n=name: self.toggle_maximise(n))
        self.layout_name = "grid"
        self.active_view_name = "axial"

        self.measurements_panel = MeasurementsPanel(self.state, self)
        dock = QDockWidget("Measurements", self)
        dock.setObjectName("measurements_dock")
        dock.setWidget(self.measurements_panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.measurements_dock = dock
        self.structures_panel = StructuresPanel(self.state, _segmentation_tasks(), self)
        self.structures_panel.segmentRequested.connect(self.segment)
        sdock = QDockWidget("Structures", self)
        sdock.setObjectName("structures_dock")
        sdock.setWidget(self.structures_panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, sdock)
        self.tabifyDockWidget(dock, sdock)
        self.structures_dock = sdock
        self.labelmap_path: Path | None = None

        self.actions_by_id: dict[str, QAction] = {}
        self.view_actions: dict[tuple[str, str], QAction] = {}
        self._build_actions()
        self._build_toolbar()
        self._build_status_bar()
        self.state.cursorChanged.connect(self._show_cursor)
        self.state.windowLevelChanged.connect(self._show_window_level)
        self.state.toolChanged.connect(self._on_tool)
        self.state.displayChanged.connect(self._on_display)
        self.state.volumeChanged.connect(self._on_volume)
        self.state.labelDisplayChanged.connect(
            lambda: self.actions_by_id["toggle_labels"].setChecked(self.state.show_labels)
        )
        app = QApplication.instance()
        if app is not None:
            app.focusChanged.connect(self._on_focus)
        self._restore_settings()

    # -- actions from the one table ------------------------------------------------------------
    def _menu(self, path: str) -> QMenu:
        parts = path.split("/")
        key = ""
        menu = None
        for part in parts:
            key = f"{key}/{part}" if key else part
            if key not in self._menus:
                self._menus[key] = (menu.addMenu(part) if menu is not None else self.menuBar().addMenu(f"&{part}"))
            menu = self._menus[key]
        return menu

    def _handler(self, spec: ActionSpec):
        i = spec.id
        if i in WL_ACTIONS:
            return lambda: self.apply_preset(WL_ACTIONS[i])
        if i.startswith("layout_") and i != "layout_toggle":
            return lambda: self.set_layout(i.removeprefix("layout_"))
        if i.startswith("tool_"):
            return lambda: self.set_tool(i.removeprefix("tool_"))
        if i.startswith("export_"):
            return lambda: self.export_png(i.removeprefix("export_"))
        return {
            "open_folder": self.choose_folder,
            "quit": self.close,
            "toggle_planes": lambda: self.state.set_show_planes_3d(self.actions_by_id["toggle_planes"].isChecked()),
            "toggle_crosshairs": lambda: self.state.set_show_crosshairs(self.actions_by_id["toggle_crosshairs"].isChecked()),
            "toggle_labels": lambda: self.state.set_show_labels(self.actions_by_id["toggle_labels"].isChecked()),
            "segment": lambda: self.segment(self.structures_panel.task()),
            "load_labels": lambda: self.load_labelmap(),
            "save_labels": lambda: self.save_labelmap(),
            "layout_toggle": lambda: self.toggle_maximise(self.active_view_name),
            "remove_measurement": self.measurements_panel.remove_selected,
            "clear_measurements": self.state.clear_measurements,
            "shortcuts": self.show_shortcuts,
            "about": self.show_about,
        }[i]

    def _build_actions(self) -> None:
        self._menus: dict[str, QMenu] = {}
        tools = QActionGroup(self)
        for spec in ACTIONS:
            if spec.scope == "view":
                self._build_view_action(spec)
                continue
            act = QAction(spec.text, self)
            act.setObjectName(f"action_{spec.id}")
            act.setShortcuts([QKeySequence(k) for k in spec.keys])
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            if spec.tip:
                act.setStatusTip(spec.tip)
                act.setToolTip(f"{spec.text.replace('&', '')} ({spec.tip})")
            act.setCheckable(spec.checkable)
            if spec.id.startswith("tool_"):
                tools.addAction(act)
            act.triggered.connect(self._handler(spec))
            self.addAction(act)  # shortcuts work even with the menu bar hidden
            if spec.menu:
                self._menu(spec.menu).addAction(act)
            self.actions_by_id[spec.id] = act
            if spec.id == "open_folder":
                self._build_samples_menu()
        self.actions_by_id["tool_cursor"].setChecked(True)
        self.actions_by_id["toggle_planes"].setChecked(self.state.show_planes_3d)
        self.actions_by_id["toggle_crosshairs"].setChecked(self.state.show_crosshairs)
        self.actions_by_id["toggle_labels"].setChecked(self.state.show_labels)
        self._menu("File").insertSeparator(self.actions_by_id["quit"])

    def _build_view_action(self, spec: ActionSpec) -> None:
        for name, view in self.view_by_name.items():
            act = QAction(spec.text, view)
            act.setObjectName(f"action_{spec.id}_{name}")
            act.setShortcuts([QKeySequence(k) for k in spec.keys])
            act.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            if spec.id == "next_slice":
                act.triggered.connect(lambda _=False, v=view: v.step_slices(1))
            elif spec.id == "previous_slice":
                act.triggered.connect(lambda _=False, v=view: v.step_slices(-1))
            elif spec.id == "reset_view":
                act.triggered.connect(lambda _=False, v=view: v.reset_view())
            view.addAction(act)
            self.view_actions[(spec.id, name)] = act

    def _build_samples_menu(self) -> None:
        self.samples_menu = self._menu("File/Open sample study")
        for sample in list_samples():
            # A study of several series (knee MR: T1 and T2 fat-sat) gets one entry per series:
            # a folder of several series is not one volume.
            entries = [(sample.path, sample.name, "")] if not sample.series else [
                (path, f"{sample.name}_{name}", f" [{name}]") for name, path in zip(sample.series, sample.series_paths, strict=True)
            ]
            for path, object_name, suffix in entries:
                title = sample.title + suffix
                text = f"{title} \N{EN DASH} {sample.description}" if sample.description else title
                act = QAction(text, self)
                act.setStatusTip(sample.description)
                act.setToolTip(sample.description)
                act.setData(str(path))
                act.setObjectName(f"sample_{object_name}")
                act.triggered.connect(lambda _=False, p=path: self.open_folder(p))
                self.samples_menu.addAction(act)
        self.samples_menu.setToolTipsVisible(True)
        if not self.samples_menu.actions():
            self.samples_menu.setEnabled(False)

    def _build_toolbar(self) -> None:
        bar = self.addToolBar("Tools")
        bar.setObjectName("tools_toolbar")
        for i in ("tool_cursor", "tool_window_level", "tool_distance", "tool_angle"):
            bar.addAction(self.actions_by_id[i])
        bar.addSeparator()
        bar.addWidget(QLabel(" Window: "))
        self.preset_combo = QComboBox(self)
        self.preset_combo.setObjectName("preset_combo")
        self.preset_combo.setMinimumWidth(170)
        self.preset_combo.textActivated.connect(self.apply_preset)
        bar.addWidget(self.preset_combo)
        bar.addSeparator()
        bar.addAction(self.actions_by_id["layout_toggle"])
        bar.addAction(self.actions_by_id["toggle_planes"])

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.cursor_label = QLabel("")
        self.cursor_label.setObjectName("cursor_readout")
        bar.addWidget(self.cursor_label, 1)
        self.wl_label = QLabel("")
        self.wl_label.setObjectName("window_level_readout")
        bar.addPermanentWidget(self.wl_label)
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

    # -- layout ----------------------------------------------------------------------------------
    def set_layout(self, name: str) -> None:
        """``"grid"`` (2 x 2) or one view large: ``"axial"``, ``"coronal"``, ``"sagittal"``, ``"3d"``."""
        if name not in LAYOUTS:
            raise ValueError(f"unknown layout {name!r}")
        for key, cell in self.cells.items():
            cell.setVisible(name == "grid" or key == name)
        self.layout_name = name
        if name != "grid":
            self.active_view_name = name
            self.view_by_name[name].setFocus()

    def toggle_maximise(self, name: str) -> None:
        """One view large, or back to the 2 x 2 grid (double-click, Ctrl+M)."""
        self.set_layout(name if self.layout_name == "grid" else "grid")

    def _on_focus(self, _old, new) -> None:
        for name, view in self.view_by_name.items():
            if new is view:
                self.active_view_name = name

    def active_view(self):
        return self.view_by_name[self.active_view_name]

    # -- tools and window ---------------------------------------------------------------------
    def set_tool(self, tool: str) -> None:
        self.state.set_tool(tool)
        if tool == "cursor":
            for view in (self.axial, self.coronal, self.sagittal):
                view.cancel_pending()

    def _on_tool(self, tool: str) -> None:
        self.actions_by_id[f"tool_{tool}"].setChecked(True)

    def _on_display(self) -> None:
        self.actions_by_id["toggle_planes"].setChecked(self.state.show_planes_3d)
        self.actions_by_id["toggle_crosshairs"].setChecked(self.state.show_crosshairs)

    def apply_preset(self, name: str) -> None:
        if self.state.apply_preset(name):
            self.settings.setValue("view/presets", json.dumps(self.state.preferred_presets))

    def _show_window_level(self) -> None:
        name = self.state.window_name
        self.wl_label.setText(f"{self.state.window_level.label()}" + (f" ({name})" if name else ""))
        self.preset_combo.blockSignals(True)
        idx = self.preset_combo.findText(name) if name else -1
        if idx < 0:
            if self.preset_combo.findText("custom") < 0:
                self.preset_combo.addItem("custom")
            idx = self.preset_combo.findText("custom")
        self.preset_combo.setCurrentIndex(idx)
        self.preset_combo.blockSignals(False)

    def _on_volume(self) -> None:
        vol = self.state.volume
        presets = presets_for(vol)
        self.preset_combo.blockSignals(True)
        self.preset_combo.clear()
        self.preset_combo.addItems(list(presets))
        self.preset_combo.blockSignals(False)
        for act_id, name in WL_ACTIONS.items():
            self.actions_by_id[act_id].setEnabled(name in presets)
        self._show_window_level()

    # -- loading -----------------------------------------------------------------------------
    def choose_folder(self) -> None:
        start = str(self.settings.value("files/last_folder", "") or "")
        folder = QFileDialog.getExistingDirectory(self, "Open DICOM folder", start)
        if folder:
            self.browse_folder(Path(folder))

    def browse_folder(self, folder: Path) -> Task:
        """Scan ``folder`` on a worker thread, then show the study browser to choose a stack."""
        self.settings.setValue("files/last_folder", str(folder))
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

    # -- segmentation and label maps ----------------------------------------------------------
    def _run(self, fn, on_success, what: str) -> Task:
        """Run ``fn(progress, cancel)`` on a worker thread with the progress bar and Cancel."""
        if self.task is not None and self.task.is_running():
            self.task.cancel()
            self.task.wait()
        task = Task(fn, self)
        task.progressed.connect(self._on_progress)
        task.succeeded.connect(on_success)
        task.failed.connect(lambda exc: self.show_error(f"Could not {what}", exc))
        task.done.connect(self._on_task_done)
        self.task = task
        self.progress.setValue(0)
        self.progress.show()
        self.cancel_button.show()
        self.statusBar().showMessage(f"{what.capitalize()} ...")
        task.start()
        return task

    def segment(self, task_name: str = "auto") -> Task | None:
        """Segment the study for ``task_name`` on a worker thread; labels and surfaces appear
        when it is done (Ctrl+G)."""
        vol = self.state.volume
        if vol is None:
            self.show_error("Nothing to segment", "Open a study first.")
            return None
        from imaging.segmentation import segment

        def work(progress, cancel):
            lm = segment(vol, task_name, progress=lambda f, m="": progress(0.8 * f, m), cancel=cancel)
            return lm, label_meshes(lm, progress=lambda f, m="": progress(0.8 + 0.2 * f, m), cancel=cancel)

        return self._run(work, self._show_labels, f"segment ({task_name})")

    def _show_labels(self, result: tuple[LabelMap, dict[int, Mesh]]) -> None:
        lm, meshes = result
        try:
            self.state.set_labelmap(lm)
        except LabelMapError as exc:  # the study changed while it ran
            self.show_error("Could not show the label map", exc)
            return
        self.scene.set_label_surfaces(meshes)
        self.state.set_show_labels(True)
        self.structures_dock.raise_()
        self.statusBar().showMessage(f"{len(lm.legend)} structures", 5000)
        warnings = warnings_of(lm)
        if warnings:
            self.show_error("Check before planning", "\n\n".join(warnings), warning=True)

    def load_labelmap(self, path: str | Path | None = None) -> Task | None:
        """Read a label map of this study (refused if it lies on another grid)."""
        vol = self.state.volume
        if vol is None:
            self.show_error("No study", "Open the study before its label map.")
            return None
        if path is None:
            start = str(self.settings.value("files/last_labels_folder", "") or "")
            chosen, _ = QFileDialog.getOpenFileName(self, "Load label map", start, "Label maps (*.nrrd *.nii.gz *.nii *.mha)")
            if not chosen:
                return None
            path = chosen
        path = Path(path)
        self.settings.setValue("files/last_labels_folder", str(path.parent))

        def work(progress, cancel):
            lm = read_labelmap(path, reference=vol)
            return lm, label_meshes(lm, progress=progress, cancel=cancel)

        def done(result):
            self.labelmap_path = path
            self._show_labels(result)

        return self._run(work, done, f"load the label map {path.name}")

    def save_labelmap(self, path: str | Path | None = None) -> Path | None:
        """Write the label map (and its legend and landmarks) atomically; never into a bundled
        sample's folder, whose ground truth must stay as shipped."""
        lm = self.state.labelmap
        if lm is None:
            self.show_error("Nothing to save", "There is no label map: segment the study or load one first.")
            return None
        if path is None:
            start = Path(str(self.settings.value("files/last_labels_folder", "") or Path.home()))
            chosen, _ = QFileDialog.getSaveFileName(self, "Save label map", str(start / "labels.nrrd"), "Label maps (*.nrrd *.nii.gz)")
            if not chosen:
                return None
            path = chosen
        path = Path(path)
        if not (path.name.endswith(".nrrd") or path.name.endswith(".nii.gz")):
            path = path.with_name(path.name + ".nrrd")
        samples = samples_dir().resolve()
        target = path.resolve()
        if target == samples or samples in target.parents:
            self.show_error(
                "Label map not saved",
                f"{path} is inside the bundled sample studies ({samples}); a sample's ground truth is never "
                "overwritten. Choose a folder outside sample_dicom.",
            )
            return None
        try:
            out = write_labelmap(path, lm)
        except (OSError, LabelMapError) as exc:
            self.show_error("Label map not saved", str(exc))
            return None
        self.settings.setValue("files/last_labels_folder", str(out.parent))
        self.statusBar().showMessage(f"Saved {out}", 5000)
        return out

    # -- export ------------------------------------------------------------------------------
    def export_png(self, target: str, path: str | Path | None = None) -> Path | None:
        """Save ``"window"``, ``"active"`` or one view (``"axial"``, ``"coronal"``, ``"sagittal"``,
        ``"3d"``) as PNG; asks for the file name unless ``path`` is given."""
        if target == "active":
            target = self.active_view_name
        widget = self if target == "window" else self.view_by_name[target]
        if path is None:
            start = Path(str(self.settings.value("files/last_export_folder", "") or Path.home()))
            chosen, _ = QFileDialog.getSaveFileName(self, "Export PNG", str(start / f"{target}.png"), "PNG images (*.png)")
            if not chosen:
                return None
            path = chosen if chosen.lower().endswith(".png") else chosen + ".png"
        try:
            out = save_png(widget, path)
        except OSError as exc:
            self.show_error("Could not export the picture", str(exc))
            return None
        self.settings.setValue("files/last_export_folder", str(Path(out).parent))
        self.statusBar().showMessage(f"Saved {out}", 5000)
        return out

    # -- help ----------------------------------------------------------------------------------
    def show_shortcuts(self) -> ShortcutsDialog:
        if self.shortcuts_dialog is None:
            self.shortcuts_dialog = ShortcutsDialog(self)
        self.shortcuts_dialog.show()
        self.shortcuts_dialog.raise_()
        return self.shortcuts_dialog

    def show_about(self) -> None:
        QMessageBox.about(self, f"About {APP_NAME}", f"{APP_NAME}\n\n{DISCLAIMER}")

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
        return [self.axial, self.coronal, self.sagittal, self.scene]

    # -- settings --------------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        s = self.settings
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        state = s.value("window/state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)
        try:
            presets = json.loads(str(s.value("view/presets", "{}") or "{}"))
            if isinstance(presets, dict):
                self.state.preferred_presets = {str(k): str(v) for k, v in presets.items()}
        except ValueError:
            pass
        layout = str(s.value("view/layout", "grid") or "grid")
        self.set_layout(layout if layout in LAYOUTS else "grid")
        self.state.set_show_planes_3d(str(s.value("view/planes_3d", "true")).lower() == "true")

    def save_settings(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.setValue("view/layout", self.layout_name)
        s.setValue("view/presets", json.dumps(self.state.preferred_presets))
        s.setValue("view/planes_3d", "true" if self.state.show_planes_3d else "false")
        s.sync()

    def closeEvent(self, ev) -> None:  # noqa: N802
        if self.task is not None and self.task.is_running():
            self.task.cancel()
            self.task.wait()
        self.save_settings()
        super().closeEvent(ev)

    def release_views(self) -> None:
        """Free every VTK render window; call once the window is closed."""
        app = QApplication.instance()
        if app is not None:
            try:
                app.focusChanged.disconnect(self._on_focus)
            except (RuntimeError, TypeError):
                pass
        for v in self.views():
            v.release()
