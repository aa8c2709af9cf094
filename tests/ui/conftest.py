"""GUI fixtures: settings in a temporary folder, a main window that is always closed and whose
VTK windows are always freed, and a leak check after every GUI test (as pyvistaqt's check_gc)."""

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


def _vtk_object_ids() -> set[int]:
    from vtkmodules.vtkCommonCore import vtkObjectBase

    return {id(o) for o in gc.get_objects() if isinstance(o, vtkObjectBase)}


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path_factory):
    """QSettings (INI, user scope) point at a fresh temporary folder: tests never read or write
    the user's settings."""
    from PySide6.QtCore import QSettings

    folder = tmp_path_factory.mktemp("settings")
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(folder))
    return folder


_VTK_BEFORE = pytest.StashKey[set]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    """Note the VTK objects alive before the test's fixtures are set up (see check_gc)."""
    gc.collect()
    item.stash[_VTK_BEFORE] = _vtk_object_ids()
    return (yield)


_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed:
        item.stash[_FAILED] = True  # its traceback holds the window: no leak check then
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """check_gc, as pyvistaqt's: once every fixture is torn down, fail a test that left VTK
    views unreleased or VTK objects alive."""
    result = yield
    before = item.stash.get(_VTK_BEFORE, None)
    if before is None or item.stash.get(_FAILED, False):
        return result
    # pytest keeps the fixture values (the window) in item.funcargs until after this hook;
    # teardown is over, so let them go now and see what they leave behind
    if isinstance(getattr(item, "funcargs", None), dict):
        item.funcargs.clear()
    leaked_views = _live_vtk_widgets()
    assert not leaked_views, f"VTK views leaked after the test: {leaked_views}"
    from vtkmodules.vtkCommonCore import vtkObjectBase

    gc.collect()
    after = [o for o in gc.get_objects() if isinstance(o, vtkObjectBase) and id(o) not in before]
    assert not after, "VTK objects not garbage-collected:\n" + "\n".join(sorted({type(o).__name__ for o in after}))
    return result


@pytest.fixture
def main_window(qtbot):
    """The main window, shown, with nothing loaded; closed and released after the test."""
    from ui.main_window import MainWindow

    window = MainWindow()
    window.resize(1200, 860)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()  # shortcuts need the active window (an X server has no WM here)
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    yield window
    task = window.task
    if task is not None and task.is_running():
        task.cancel()
        qtbot.waitUntil(lambda: task.finished, timeout=30000)
    window.close()
    window.release_views()
    dispose(window)


def dispose(widget) -> None:
    """Delete a top-level widget's C++ object now: its signal connections (lambdas holding the
    window) go with it, so Python can collect the wrapper."""
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication

    widget.deleteLater()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def load_and_wait(qtbot, window, folder, timeout_ms: int = 60000):
    """Open ``folder`` in ``window`` and wait for the load to finish; return the volume."""
    task = window.open_folder(folder)
    qtbot.waitUntil(lambda: task.finished, timeout=timeout_ms)
    assert window.last_error is None, window.last_error
    return window.state.volume
