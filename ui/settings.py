"""The user's remembered settings (window geometry, last folder, layout, presets) in QSettings.

Always an INI file in the user's configuration folder; tests point ``QSettings.setPath`` at a
temporary folder so they never touch the user's settings."""

from __future__ import annotations

from PySide6.QtCore import QSettings

ORGANISATION = "Injection Planner"
APPLICATION = "Injection Planner"


def app_settings() -> QSettings:
    """The settings store (INI format, user scope)."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANISATION, APPLICATION)
