"""Starting the desktop application."""

from __future__ import annotations

import sys
from pathlib import Path

from ui import headless


def run(folder: Path | None, screenshot: Path | None = None, size: tuple[int, int] = (1280, 900)) -> int:
    """Open the main window on ``folder``; with ``screenshot``, save a PNG once loaded and exit."""
    if not headless.configure(offscreen_if_no_display=screenshot is not None):
        print(headless.NO_DISPLAY_HELP, file=sys.stderr)
        return 2
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from ui.main_window import MainWindow
    from ui.screenshot import save_png

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Injection Planner")
    app.setOrganizationName("Injection Planner")
    window = MainWindow()
    window.resize(*size)
    window.show()
    status = {"code": 0}

    def finish_screenshot() -> None:
        if window.last_error:
            print(window.last_error, file=sys.stderr)
            status["code"] = 1
        app.processEvents()
        for view in window.views():
            view.render()
        path = save_png(window, screenshot)
        print(f"Screenshot written to {path}")
        window.close()
        app.quit()

    if folder is not None:
        task = window.open_folder(folder)
        if screenshot is not None:
            task.done.connect(lambda: QTimer.singleShot(200, finish_screenshot))
    elif screenshot is not None:
        QTimer.singleShot(200, finish_screenshot)
    code = app.exec()
    window.release_views()
    return status["code"] or code
