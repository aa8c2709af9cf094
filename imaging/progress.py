"""Progress reporting and cancellation for long core operations (no Qt: plain callables)."""

from __future__ import annotations

from collections.abc import Callable

from imaging.errors import CancelledError

Progress = Callable[[float, str], None]
"""Called with a fraction in [0, 1] and a short message."""

Cancel = Callable[[], bool]
"""Returns True when the user asked to stop."""


def report(progress: Progress | None, fraction: float, message: str = "") -> None:
    """Call ``progress`` if given, clamping the fraction into [0, 1]."""
    if progress is not None:
        progress(min(1.0, max(0.0, float(fraction))), message)


def check_cancel(cancel: Cancel | None) -> None:
    """Raise :class:`CancelledError` if ``cancel`` says the user asked to stop."""
    if cancel is not None and cancel():
        raise CancelledError("Cancelled by the user.")
