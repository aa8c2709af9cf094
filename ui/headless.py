"""Choosing how Qt and VTK draw: on a real display, or off-screen with no display at all.

Must run before PySide6 or VTK is imported (see ../shared/design/HEADLESS.md).
"""

from __future__ import annotations

import os

NO_DISPLAY_HELP = (
    "No display found (DISPLAY and WAYLAND_DISPLAY are unset).\n"
    "  To see the window on this machine, run it under a virtual screen:\n"
    "      xvfb-run -a injection-planner\n"
    "  or render it to a picture without any display:\n"
    "      injection-planner --screenshot window.png"
)


def has_display() -> bool:
    """True when a real (or virtual) display is available to Qt."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def use_offscreen() -> None:
    """Draw Qt off-screen and VTK through OSMesa (no X server needed)."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    os.environ["VTK_DEFAULT_OPENGL_WINDOW"] = "vtkOSOpenGLRenderWindow"


def configure(*, offscreen_if_no_display: bool) -> bool:
    """Set up the drawing environment; returns False when no way to draw exists."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform == "offscreen":
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkOSOpenGLRenderWindow")
        return True
    if platform or has_display():
        return True
    if offscreen_if_no_display:
        use_offscreen()
        return True
    return False
