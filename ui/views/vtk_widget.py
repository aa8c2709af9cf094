"""A Qt widget holding one VTK render window, with the clean-up rules headless runs need."""

from __future__ import annotations

import numpy as np
import vtkmodules.vtkInteractionStyle  # noqa: F401  (registers interactor styles)
import vtkmodules.vtkRenderingFreeType  # noqa: F401  (text rendering)
import vtkmodules.vtkRenderingOpenGL2  # noqa: F401  (the OpenGL back end)
import vtkmodules.vtkRenderingVolumeOpenGL2  # noqa: F401
from PySide6.QtCore import Qt, QTimer, Signal
from vtkmodules.qt.QVTKRenderWindowInteractor import QVTKRenderWindowInteractor
from vtkmodules.util.numpy_support import vtk_to_numpy
from vtkmodules.vtkRenderingCore import vtkRenderer, vtkWindowToImageFilter


class VtkWidget(QVTKRenderWindowInteractor):
    """One renderer in one render window inside a Qt widget.

    Keys never reach VTK's interactor (its defaults quit, go wireframe or stereo on single
    letters); they go to the window's shortcuts instead. A double-click emits
    :attr:`doubleClicked` (the main window maximises the view)."""

    doubleClicked = Signal()

    def __init__(self, parent=None, background=(0.0, 0.0, 0.0)) -> None:
        super().__init__(parent)
        self.renderer = vtkRenderer()
        self.renderer.SetBackground(*background)
        rw = self.GetRenderWindow()
        rw.SetMultiSamples(0)  # the main per-frame cost in software rendering
        rw.AddRenderer(self.renderer)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._render_pending = False
        self._dirty = False

    def render(self) -> None:
        """Draw now (or once shown, for a hidden view)."""
        if getattr(self, "_released", False):
            return
        if not self.isVisible():
            self._dirty = True
            return
        self._dirty = False
        self.GetRenderWindow().Render()

    def request_render(self) -> None:
        """Draw once control returns to the event loop (many changes, one frame)."""
        self._dirty = True
        if not self._render_pending:
            self._render_pending = True
            QTimer.singleShot(0, self._deferred_render)

    def _deferred_render(self) -> None:
        self._render_pending = False
        if self._dirty:
            self.render()

    def showEvent(self, ev) -> None:  # noqa: N802 (Qt naming)
        super().showEvent(ev)
        if self._dirty:
            self.request_render()

    def resizeEvent(self, ev) -> None:  # noqa: N802
        # QVTKRenderWindowInteractor calls vtkRenderWindow.SetSize unbound (non-virtually), so an
        # OSMesa window would keep its old pixel buffer and render past its end (heap corruption
        # once a view grows). The virtual call first lets it reallocate.
        scale = self._getPixelRatio()
        self.GetRenderWindow().SetSize(int(round(scale * self.width())), int(round(scale * self.height())))
        super().resizeEvent(ev)

    def capture(self) -> np.ndarray:
        """The rendered pixels as an (h, w, 3) uint8 array, top row first."""
        self._dirty = False
        self.GetRenderWindow().Render()
        f = vtkWindowToImageFilter()
        f.SetInput(self.GetRenderWindow())
        f.SetInputBufferTypeToRGB()
        f.ReadFrontBufferOff()
        f.Update()
        img = f.GetOutput()
        w, h, _ = img.GetDimensions()
        arr = vtk_to_numpy(img.GetPointData().GetScalars()).reshape(h, w, -1)[:, :, :3]
        return np.ascontiguousarray(arr[::-1])

    def keyPressEvent(self, ev) -> None:  # noqa: N802
        ev.ignore()

    def keyReleaseEvent(self, ev) -> None:  # noqa: N802
        ev.ignore()

    def mouseDoubleClickEvent(self, ev) -> None:  # noqa: N802
        ev.accept()
        self.doubleClicked.emit()

    def release(self) -> None:
        """Free the render window; call after the widget is hidden or closed."""
        if getattr(self, "_released", False):
            return
        rw = self.GetRenderWindow()
        self.Finalize()  # releases the graphics resources of every prop while the context lives
        self.renderer.RemoveAllViewProps()
        rw.RemoveRenderer(self.renderer)
        self._released = True
