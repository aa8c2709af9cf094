"""Guard against Qt binding releases that corrupt Python's reference counts.

PySide6 6.12.0 under Python 3.11 decrements the reference count of None on every call of a void
method (and of True/False on every signal emit); a GUI session or test run aborts with
"none_dealloc" after a few thousand calls. constraints.txt pins a release without the bug.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel


class _Emitter(QObject):
    fired = Signal(float, bool)


def test_void_calls_and_emits_keep_reference_counts(qapp):
    label = QLabel()
    emitter = _Emitter()
    none0 = sys.getrefcount(None)
    bools0 = sys.getrefcount(True) + sys.getrefcount(False)
    for _ in range(2000):
        qapp.processEvents()
        label.setText("x")
        emitter.fired.emit(1.0, True)
    assert sys.getrefcount(None) - none0 > -100
    assert sys.getrefcount(True) + sys.getrefcount(False) - bools0 > -100
