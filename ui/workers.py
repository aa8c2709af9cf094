"""Running long core work on a worker thread, with progress and cancel.

:class:`Task` lives in the GUI thread and re-emits what its worker reports, so anything
connected to a Task's signals (lambdas included) runs in the GUI thread.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot


class _Worker(QObject):
    progressed = Signal(float, str)
    succeeded = Signal(object)
    failed = Signal(object)
    done = Signal()

    def __init__(self, fn: Callable[..., object], cancel: threading.Event) -> None:
        super().__init__()
        self._fn = fn
        self._cancel = cancel

    @Slot()
    def run(self) -> None:
        try:
            result = self._fn(progress=lambda f, m="": self.progressed.emit(float(f), str(m)), cancel=self._cancel.is_set)
        except Exception as exc:  # reported to the UI, never swallowed
            exc.__traceback_text__ = traceback.format_exc()  # type: ignore[attr-defined]
            self.failed.emit(exc)
        else:
            self.succeeded.emit(result)
        finally:
            self.done.emit()


class Task(QObject):
    """Runs ``fn(progress=..., cancel=...)`` on its own thread; results come back as signals."""

    progressed = Signal(float, str)
    succeeded = Signal(object)
    failed = Signal(object)  # the exception
    done = Signal()

    def __init__(self, fn: Callable[..., object], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cancel = threading.Event()
        self._started = False
        self._finished = False
        self._thread = QThread(self)
        self._worker = _Worker(fn, self._cancel)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.progressed.connect(self._on_progress)
        self._worker.succeeded.connect(self._on_success)
        self._worker.failed.connect(self._on_failure)
        self._worker.done.connect(self._on_done)

    def start(self) -> None:
        self._started = True
        self._thread.start()

    def cancel(self) -> None:
        """Ask the work to stop at its next check."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def finished(self) -> bool:
        """True once the result (or error) has been delivered in the GUI thread."""
        return self._finished

    def wait(self, ms: int = 60000) -> bool:
        return self._thread.wait(ms)

    def is_running(self) -> bool:
        return self._started and not self._finished

    @Slot(float, str)
    def _on_progress(self, fraction: float, message: str) -> None:
        self.progressed.emit(fraction, message)

    @Slot(object)
    def _on_success(self, result: object) -> None:
        self.succeeded.emit(result)

    @Slot(object)
    def _on_failure(self, exc: object) -> None:
        self.failed.emit(exc)

    @Slot()
    def _on_done(self) -> None:
        self._thread.quit()
        self._thread.wait()
        self._finished = True
        self.done.emit()
