"""GUI fixtures: a main window that is always closed and whose VTK windows are always freed."""

from __future__ import annotations

import gc

import pytest

pytest.importorskip("PySide6", reason="the GUI tests need PySide6")
pytest.importorskip("vtkmodules", reason="the GUI tests need VTK")


def _live_vtk_widgets() -> list:
    from ui.views.vtk_widget import VtkWidget

    gc.collect()
    alive = []
    for obj in gc.get_objects():
        try:
            if isinstance(obj, VtkWidget) and not getattr(obj, "_released", False):
                alive.append(obj)
        except ReferenceError:
            continue
    return alive


@pytest.fixture
def main_window(qtbot):
    """The main window, shown, with nothing loaded; closed and released after the test."""
    from ui.main_window import MainWindow

    window = MainWindow()
    window.resize(1200, 860)
    window.show()
    qtbot.waitExposed(window)
    yield window
    task = window.task
    if task is not None and task.is_running():
        task.cancel()
        qtbot.waitUntil(lambda: task.finished, timeout=30000)
    window.close()
    window.release_views()
    del window
    leaked = _live_vtk_widgets()
    assert not leaked, f"VTK views leaked after the test: {leaked}"


def load_and_wait(qtbot, window, folder, timeout_ms: int = 60000):
    """Open ``folder`` in ``window`` and wait for the load to finish; return the volume."""
    task = window.open_folder(folder)
    qtbot.waitUntil(lambda: task.finished, timeout=timeout_ms)
    assert window.last_error is None, window.last_error
    return window.state.volume
