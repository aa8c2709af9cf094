"""Every keyboard shortcut and mouse gesture of the viewer, in one table.

The main window builds its actions from :data:`ACTIONS` and the Help > Shortcuts dialog is
generated from the same table, so the two cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ActionSpec:
    """One command: ``id`` names the handler, ``keys`` are QKeySequence strings (or a
    ``QKeySequence.StandardKey`` name such as ``"Open"``), ``menu`` where it appears
    (``"File/Open sample study"`` for a submenu; ``""`` for keys only) and ``scope``:
    ``"window"`` anywhere in the window, ``"view"`` in the slice or 3D view that has focus."""

    id: str
    text: str
    keys: tuple[str, ...] = ()
    menu: str = ""
    scope: str = "window"
    tip: str = ""
    checkable: bool = False


ACTIONS: tuple[ActionSpec, ...] = (
    # File
    ActionSpec("open_folder", "&Open DICOM folder...", ("Ctrl+O",), "File", tip="Scan a folder and choose a series"),
    ActionSpec("load_labels", "&Load label map...", ("Ctrl+Shift+O",), "File", tip="A label map of this study (NAME.nrrd with NAME.json)"),
    ActionSpec("save_labels", "Sa&ve label map...", (), "File", tip="Writes NAME.nrrd, NAME.json and NAME.landmarks.json"),
    ActionSpec("export_window", "Export &window as PNG...", ("Ctrl+Shift+S",), "File/Export PNG", tip="The whole window, all views"),
    ActionSpec("export_active", "Export &active view as PNG...", ("Ctrl+Alt+S",), "File/Export PNG", tip="The view that has focus"),
    ActionSpec("export_axial", "Axial view...", (), "File/Export PNG"),
    ActionSpec("export_coronal", "Coronal view...", (), "File/Export PNG"),
    ActionSpec("export_sagittal", "Sagittal view...", (), "File/Export PNG"),
    ActionSpec("export_3d", "3D view...", (), "File/Export PNG"),
    ActionSpec("quit", "&Quit", ("Ctrl+Q",), "File"),
    # Slice navigation (in the view that has focus)
    ActionSpec("next_slice", "Next slice (toward the viewer's back)", ("Up", "PgUp"), "", "view"),
    ActionSpec("previous_slice", "Previous slice", ("Down", "PgDown"), "", "view"),
    ActionSpec("reset_view", "Reset zoom and pan (3D: reset camera)", ("R",), "", "view"),
    # Window/level
    ActionSpec("wl_bone", "Window: bone (W 2000 L 500)", ("F5",), "View/Window level", tip="CT"),
    ActionSpec("wl_soft_tissue", "Window: soft tissue (W 400 L 40)", ("F6",), "View/Window level", tip="CT"),
    ActionSpec("wl_spine", "Window: spine (W 1500 L 300)", ("F7",), "View/Window level", tip="CT"),
    ActionSpec("wl_lung", "Window: lung (W 1500 L -600)", ("F8",), "View/Window level", tip="CT"),
    ActionSpec("wl_auto", "Window: automatic (1-99.5 percentiles)", ("F9",), "View/Window level", tip="MR and CT"),
    ActionSpec("toggle_planes", "Show slice &planes in 3D", ("P",), "View", checkable=True),
    ActionSpec("toggle_crosshairs", "Show &crosshairs", ("C",), "View", checkable=True),
    # Segment
    ActionSpec("segment", "&Segment the study", ("Ctrl+G",), "Segment", tip="The task chosen in the Structures panel; on a worker thread"),
    ActionSpec("toggle_labels", "Show &labels", ("L",), "Segment", checkable=True),
    # Layout
    ActionSpec("layout_grid", "&2 x 2 (axial, coronal, sagittal, 3D)", ("Ctrl+0",), "Layout"),
    ActionSpec("layout_axial", "&Axial only", ("Ctrl+1",), "Layout"),
    ActionSpec("layout_coronal", "&Coronal only", ("Ctrl+2",), "Layout"),
    ActionSpec("layout_sagittal", "&Sagittal only", ("Ctrl+3",), "Layout"),
    ActionSpec("layout_3d", "&3D only", ("Ctrl+4",), "Layout"),
    ActionSpec("layout_toggle", "&Maximise / restore the active view", ("Ctrl+M",), "Layout", tip="or double-click a view"),
    # Tools
    ActionSpec("tool_cursor", "&Cursor (click moves the crosshairs)", ("Esc",), "Tools", checkable=True),
    ActionSpec("tool_window_level", "&Window/level drag", ("W",), "Tools", checkable=True),
    ActionSpec("tool_distance", "&Distance ruler", ("M",), "Tools", checkable=True),
    ActionSpec("tool_angle", "&Angle", ("A",), "Tools", checkable=True),
    ActionSpec("remove_measurement", "&Remove selected measurement", ("Del",), "Tools"),
    ActionSpec("clear_measurements", "Remove all &measurements", ("Ctrl+Shift+Del",), "Tools"),
    # Help
    ActionSpec("shortcuts", "&Keyboard and mouse shortcuts", ("F1",), "Help"),
    ActionSpec("about", "&About", (), "Help"),
)

# Mouse gestures (not actions, but listed in the same dialog).
MOUSE: tuple[tuple[str, str], ...] = (
    ("Slice view: left click / drag", "Move the cursor; the other views follow (Cursor tool)"),
    ("Slice view: wheel", "One slice (one voxel step along the view's normal)"),
    ("Slice view: Ctrl+wheel or right drag", "Zoom"),
    ("Slice view: middle drag or Shift+left drag", "Pan"),
    ("Slice view: Ctrl+left drag, or left drag with the W/L tool", "Window/level: right/left widens/narrows, up/down raises/lowers the level"),
    ("Slice view: Distance tool", "Click two points (or drag) to measure in mm"),
    ("Slice view: Angle tool", "Click three points, the vertex second"),
    ("Any view: double-click", "Maximise the view / back to 2 x 2"),
    ("3D view: left drag / middle drag / right drag or wheel", "Rotate / pan / zoom"),
)


def by_id(action_id: str) -> ActionSpec:
    for spec in ACTIONS:
        if spec.id == action_id:
            return spec
    raise KeyError(action_id)
