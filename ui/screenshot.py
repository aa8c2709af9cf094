"""Pictures of the window: Qt widgets and every VTK view composed into one image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QWidget

from ui.views.vtk_widget import VtkWidget


def vtk_image(view: VtkWidget) -> QImage:
    """One VTK view's pixels as a QImage."""
    arr = view.capture()
    h, w, _ = arr.shape
    return QImage(arr.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def qimage_to_array(image: QImage) -> np.ndarray:
    """An (h, w, 3) uint8 copy of a QImage's pixels."""
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    h, w, stride = rgb.height(), rgb.width(), rgb.bytesPerLine()
    buf = np.frombuffer(rgb.constBits(), dtype=np.uint8, count=h * stride).reshape(h, stride)
    return buf[:, : w * 3].reshape(h, w, 3).copy()


def grab(widget: QWidget) -> QImage:
    """The widget as the user sees it, VTK views included (``QWidget.grab`` leaves them black)."""
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    painter = QPainter(image)
    try:
        views = [widget] if isinstance(widget, VtkWidget) else widget.findChildren(VtkWidget)
        for view in views:
            if not view.isVisible():
                continue
            top_left = view.mapTo(widget, QPoint(0, 0)) if view is not widget else QPoint(0, 0)
            painter.drawImage(QRect(top_left, view.size()), vtk_image(view))
    finally:
        painter.end()
    return image


def save_png(widget: QWidget, path: str | Path) -> Path:
    """Write :func:`grab` of ``widget`` to a PNG file and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not grab(widget).save(str(path), "PNG"):
        raise OSError(f"Could not write the screenshot to {path}.")
    return path
