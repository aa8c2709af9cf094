"""A 2D slice view: the volume resliced in patient space through the shared cursor."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from vtkmodules.util.numpy_support import numpy_to_vtk
from vtkmodules.vtkCommonCore import vtkPoints
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkImageData, vtkPolyData
from vtkmodules.vtkCommonMath import vtkMatrix4x4
from vtkmodules.vtkImagingColor import vtkImageMapToWindowLevelColors
from vtkmodules.vtkImagingCore import vtkImageReslice
from vtkmodules.vtkRenderingAnnotation import vtkCornerAnnotation
from vtkmodules.vtkRenderingCore import vtkActor, vtkImageActor, vtkPolyDataMapper, vtkTextActor

from imaging.planes import SlicePlane, plane_extent, position_label
from imaging.volume import Volume
from ui.viewer_state import ViewerState
from ui.views.vtk_widget import VtkWidget

CROSSHAIR_COLOUR = (0.2, 0.9, 0.3)


def volume_to_vtk_index_image(volume: Volume) -> tuple[vtkImageData, np.ndarray]:
    """The voxel array as vtkImageData in index space (origin 0, spacing 1).

    Patient geometry is applied by the reslice matrix, not by VTK, so that every orientation is
    handled by the same tested affine. Returns the image and the array it shares memory with.
    """
    flat = np.ascontiguousarray(volume.array).ravel()
    img = vtkImageData()
    nx, ny, nz = volume.size_ijk
    img.SetDimensions(nx, ny, nz)
    img.GetPointData().SetScalars(numpy_to_vtk(flat, deep=False))
    return img, flat


def _matrix(m: np.ndarray) -> vtkMatrix4x4:
    vm = vtkMatrix4x4()
    for r in range(4):
        for c in range(4):
            vm.SetElement(r, c, float(m[r, c]))
    return vm


class SliceView(VtkWidget):
    """Shows one standard plane through ``state.cursor``; wheel steps slices, click moves the cursor."""

    def __init__(self, state: ViewerState, plane: SlicePlane, parent=None) -> None:
        super().__init__(parent)
        self.state = state
        self.plane = plane
        self.setObjectName(f"{plane.name}_view")
        self._image: vtkImageData | None = None
        self._keep: np.ndarray | None = None
        self._reslice = vtkImageReslice()
        self._reslice.SetOutputDimensionality(2)
        self._reslice.SetInterpolationModeToLinear()
        self._wl = vtkImageMapToWindowLevelColors()
        self._wl.SetOutputFormatToLuminance()
        self._wl.SetInputConnection(self._reslice.GetOutputPort())
        self._actor = vtkImageActor()
        self._actor.GetMapper().SetInputConnection(self._wl.GetOutputPort())
        self._actor.InterpolateOff()
        self._cross_points = vtkPoints()
        self._cross_points.SetNumberOfPoints(4)
        lines = vtkCellArray()
        lines.InsertNextCell(2, [0, 1])
        lines.InsertNextCell(2, [2, 3])
        self._cross_poly = vtkPolyData()
        self._cross_poly.SetPoints(self._cross_points)
        self._cross_poly.SetLines(lines)
        mapper = vtkPolyDataMapper()
        mapper.SetInputData(self._cross_poly)
        self._cross_actor = vtkActor()
        self._cross_actor.SetMapper(mapper)
        self._cross_actor.GetProperty().SetColor(*CROSSHAIR_COLOUR)
        self._cross_actor.GetProperty().SetOpacity(0.8)
        self._letters = {}
        for edge, pos in {"left": (0.01, 0.5), "right": (0.97, 0.5), "top": (0.5, 0.95), "bottom": (0.5, 0.02)}.items():
            t = vtkTextActor()
            t.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
            t.GetPositionCoordinate().SetValue(*pos)
            t.GetTextProperty().SetFontSize(16)
            t.GetTextProperty().SetColor(1.0, 0.85, 0.2)
            t.GetTextProperty().BoldOn()
            if edge in ("top", "bottom"):
                t.GetTextProperty().SetJustificationToCentered()
            self._letters[edge] = t
        self._corner = vtkCornerAnnotation()
        self._corner.SetMaximumFontSize(14)
        self._corner.GetTextProperty().SetColor(0.9, 0.9, 0.9)
        self._centre = np.zeros(3)
        self._extent = (0.0, 1.0, 0.0, 1.0)
        self.renderer.GetActiveCamera().ParallelProjectionOn()
        state.volumeChanged.connect(self._on_volume)
        state.cursorChanged.connect(self._on_cursor)
        state.windowLevelChanged.connect(self._on_window_level)
        if state.volume is not None:
            self._on_volume()

    # -- model -> view ------------------------------------------------------------------------
    def _on_volume(self) -> None:
        vol = self.state.volume
        if vol is None:
            return
        self._image, self._keep = volume_to_vtk_index_image(vol)
        self._reslice.SetInputData(self._image)
        self._reslice.SetBackgroundLevel(float(vol.array.min()))
        self._centre = vol.centre_lps()
        self._extent = plane_extent(vol, self.plane, self._centre)
        pixel = float(vol.spacing.min())
        umin, umax, vmin, vmax = self._extent
        nu = max(1, int(np.ceil((umax - umin) / pixel)))
        nv = max(1, int(np.ceil((vmax - vmin) / pixel)))
        self._reslice.SetOutputSpacing(pixel, pixel, 1.0)
        self._reslice.SetOutputOrigin(umin + pixel / 2, vmin + pixel / 2, 0.0)
        self._reslice.SetOutputExtent(0, nu - 1, 0, nv - 1, 0, 0)
        r = self.renderer
        r.RemoveAllViewProps()
        r.AddActor(self._actor)
        r.AddActor(self._cross_actor)
        for edge, text in self.plane.edge_labels().items():
            self._letters[edge].SetInput(text)
            r.AddViewProp(self._letters[edge])
        r.AddViewProp(self._corner)
        self._on_window_level(render=False)
        self._on_cursor(render=False)
        self.reset_camera()

    def _plane_origin(self) -> np.ndarray:
        """The volume centre moved along the normal onto the cursor's slice."""
        n = self.plane.normal
        return self._centre + float(np.dot(self.state.cursor - self._centre, n)) * n

    def _on_cursor(self, render: bool = True) -> None:
        if self.state.volume is None:
            return
        origin = self._plane_origin()
        axes = np.linalg.inv(self.state.volume.affine) @ self.plane.frame(origin)
        self._reslice.SetResliceAxes(_matrix(axes))
        rel = self.state.cursor - origin
        cu, cv = float(rel @ np.asarray(self.plane.right)), float(rel @ np.asarray(self.plane.up))
        umin, umax, vmin, vmax = self._extent
        for i, p in enumerate([(umin, cv), (umax, cv), (cu, vmin), (cu, vmax)]):
            self._cross_points.SetPoint(i, p[0], p[1], 0.5)
        self._cross_points.Modified()
        self._corner.SetText(2, f"{self.plane.name.capitalize()}  {position_label(self.plane, self.state.cursor)}")
        if render:
            self.render()

    def _on_window_level(self, render: bool = True) -> None:
        self._wl.SetWindow(self.state.window)
        self._wl.SetLevel(self.state.level)
        self._corner.SetText(0, f"W {self.state.window:.0f}  L {self.state.level:.0f}")
        if render:
            self.render()

    def reset_camera(self) -> None:
        umin, umax, vmin, vmax = self._extent
        cam = self.renderer.GetActiveCamera()
        cx, cy = (umin + umax) / 2, (vmin + vmax) / 2
        cam.SetFocalPoint(cx, cy, 0.0)
        cam.SetPosition(cx, cy, 1000.0)
        cam.SetViewUp(0.0, 1.0, 0.0)
        w, h = max(self.width(), 1), max(self.height(), 1)
        half_h, half_w = (vmax - vmin) / 2, (umax - umin) / 2
        cam.SetParallelScale(max(half_h, half_w * h / w) * 1.02)
        self.renderer.ResetCameraClippingRange()

    def resizeEvent(self, ev) -> None:  # noqa: N802 (Qt naming)
        super().resizeEvent(ev)
        if self.state.volume is not None:
            self.reset_camera()

    # -- view -> model ------------------------------------------------------------------------
    def display_to_lps(self, x: float, y: float) -> np.ndarray:
        """LPS position under widget pixel (x, y) (Qt coordinates, y down)."""
        ratio = self.devicePixelRatioF()
        h = self.GetRenderWindow().GetSize()[1]
        self.renderer.SetDisplayPoint(x * ratio, h - 1 - y * ratio, 0.0)
        self.renderer.DisplayToWorld()
        wx, wy, _wz, w = self.renderer.GetWorldPoint()
        u, v = wx / (w or 1.0), wy / (w or 1.0)
        return self.plane.to_lps(self._plane_origin(), u, v)

    def lps_to_display(self, lps: np.ndarray) -> tuple[float, float]:
        """Widget pixel (x, y) (Qt coordinates, y down) where an in-plane LPS point is drawn."""
        rel = np.asarray(lps, float) - self._plane_origin()
        u, v = float(rel @ np.asarray(self.plane.right)), float(rel @ np.asarray(self.plane.up))
        self.renderer.SetWorldPoint(u, v, 0.0, 1.0)
        self.renderer.WorldToDisplay()
        dx, dy, _ = self.renderer.GetDisplayPoint()
        ratio = self.devicePixelRatioF()
        h = self.GetRenderWindow().GetSize()[1]
        return dx / ratio, (h - 1 - dy) / ratio

    def mousePressEvent(self, ev: QMouseEvent) -> None:  # noqa: N802
        if ev.button() == Qt.MouseButton.LeftButton and self.state.volume is not None:
            pos = ev.position()
            self.state.set_cursor(self.display_to_lps(pos.x(), pos.y()))
            ev.accept()
            return
        super().mousePressEvent(ev)

    def mouseMoveEvent(self, ev: QMouseEvent) -> None:  # noqa: N802
        if ev.buttons() & Qt.MouseButton.LeftButton and self.state.volume is not None:
            pos = ev.position()
            self.state.set_cursor(self.display_to_lps(pos.x(), pos.y()))
            ev.accept()
            return
        super().mouseMoveEvent(ev)

    def wheelEvent(self, ev: QWheelEvent) -> None:  # noqa: N802
        steps = int(round(ev.angleDelta().y() / 120))
        # Wheel forward moves into the screen (away from the viewer).
        self.state.step(-self.plane.normal, steps)
        ev.accept()
