"""A Qt widget holding one VTK render window, with the clean-up rules headless runs need."""

from __future__ import annotations

import numpy as np
import vtkmodules.vtkInteractionStyle  # noqa: F401  (registers interactor styles)
import vtkmodules.vtkRenderingFreeType  # noqa: F401  (text rendering)
import vtkmodules.vtkRenderingOpenGL2  # noqa: F401  (the OpenGL back end)
import vtkmodules.vtkRenderingVolumeOpenGL2  # noqa: F401
from vtkmodules.qt.QVTKRenderWindowInteractor import QVTKRenderWindowInteractor
from vtkmodules.util.numpy_support import vtk_to_numpy
from vtkmodules.vtkRenderingCore import vtkRenderer, vtkWindowToImageFilter


class VtkWidget(QVTKRenderWindowInteractor):
    """One renderer in one render window inside a Qt widget."""

    def __init__(self, parent=None, background=(0.0, 0.0, 0.0)) -> None:
        super().__init__(parent)
        self.renderer = vtkRenderer()
        self.renderer.SetBackground(*background)
        self.GetRenderWindow().AddRenderer(self.renderer)

    def render(self) -> None:
        """Draw now."""
        self.GetRenderWindow().Render()

    def capture(self) -> np.ndarray:
        """The rendered pixels as an (h, w, 3) uint8 array, top row first."""
        self.render()
        f = vtkWindowToImageFilter()
        f.SetInput(self.GetRenderWindow())
        f.SetInputBufferTypeToRGB()
        f.ReadFrontBufferOff()
        f.Update()
        img = f.GetOutput()
        w, h, _ = img.GetDimensions()
        arr = vtk_to_numpy(img.GetPointData().GetScalars()).reshape(h, w, -1)[:, :, :3]
        return np.ascontiguousarray(arr[::-1])

    def release(self) -> None:
        """Free the render window; call after the widget is hidden or closed."""
        if getattr(self, "_released", False):
            return
        rw = self.GetRenderWindow()
        rw.RemoveRenderer(self.renderer)
        self.Finalize()
        self._released = True
