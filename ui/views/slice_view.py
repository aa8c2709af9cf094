"""A 2D slice view: the volume resliced in patient space through the shared cursor.

The view only gathers input and draws: plane geometry comes from :mod:`imaging.planes`, the
window from :mod:`imaging.windowing`, measurements from :mod:`imaging.measure`.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QMouseEvent, QWheelEvent
from vtkmodules.util.numpy_support import numpy_to_vtk
from vtkmodules.vtkCommonCore import vtkLookupTable, vtkPoints
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkImageData, vtkPolyData
from vtkmodules.vtkCommonMath import vtkMatrix4x4
from vtkmodules.vtkImagingColor import vtkImageMapToWindowLevelColors
from vtkmodules.vtkImagingCore import (
    vtkImageBlend,
    vtkImageExtractComponents,
    vtkImageMapToColors,
    vtkImageReslice,
)
from vtkmodules.vtkRenderingCore import (
    vtkActor,
    vtkActor2D,
    vtkCoordinate,
    vtkImageActor,
    vtkPolyDataMapper,
    vtkPolyDataMapper2D,
    vtkTextActor,
)

from imaging.measure import Measurement, nice_length_mm
from imaging.planes import (
    SlicePlane,
    in_plane,
    plane_origin,
    position_label,
    reslice_axes,
    reslice_grid,
    slice_position,
)
from imaging.volume import Volume
from imaging.windowing import drag_window
from ui.viewer_state import ViewerState
from ui.views.vtk_widget import VtkWidget

CROSSHAIR_COLOUR = (0.2, 0.9, 0.3)
MEASURE_COLOUR = (1.0, 0.85, 0.1)
PENDING_COLOUR = (0.3, 0.8, 1.0)
TEXT_COLOUR = (0.92, 0.92, 0.92)
LETTER_COLOUR = (1.0, 0.85, 0.2)
ZOOM_STEP = 1.15  # per wheel notch
CLICK_SLOP_PX = 3


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


def _text_actor(size: int, colour, *, h: str = "left", v: str = "bottom", bold: bool = False) -> vtkTextActor:
    t = vtkTextActor()
    t.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
    p = t.GetTextProperty()
    p.SetFontSize(size)
    p.SetColor(*colour)
    p.SetBold(bold)
    p.SetShadow(True)
    {"left": p.SetJustificationToLeft, "right": p.SetJustificationToRight, "centre": p.SetJustificationToCentered}[h]()
    {"top": p.SetVerticalJustificationToTop, "bottom": p.SetVerticalJustificationToBottom, "centre": p.SetVerticalJustificationToCentered}[v]()
    return t


def _lines_actor(colour, width: float = 1.5, opacity: float = 1.0) -> tuple[vtkActor, vtkPolyData]:
    poly = vtkPolyData()
    poly.SetPoints(vtkPoints())
    poly.SetLines(vtkCellArray())
    mapper = vtkPolyDataMapper()
    mapper.SetInputData(poly)
    actor = vtkActor()
    actor.SetMapper(mapper)
    prop = actor.GetProperty()
    prop.SetColor(*colour)
    prop.SetLineWidth(width)
    prop.SetOpacity(opacity)
    prop.LightingOff()
    return actor, poly


def _set_lines(poly: vtkPolyData, segments: list[tuple[tuple[float, float], tuple[float, float]]], z: float) -> None:
    pts = vtkPoints()
    cells = vtkCellArray()
    for a, b in segments:
        i = pts.InsertNextPoint(a[0], a[1], z)
        j = pts.InsertNextPoint(b[0], b[1], z)
        cells.InsertNextCell(2, [i, j])
    poly.SetPoints(pts)
    poly.SetLines(cells)
    poly.Modified()


class SliceView(VtkWidget):
    """One standard plane through ``state.cursor``.

    Mouse: left click/drag moves the cursor (or measures / sets the window, by tool), wheel
    steps one voxel along the normal, Ctrl+wheel or right drag zooms, middle or Shift+left drag
    pans, Ctrl+left drag sets the window. Keys come as actions (see :mod:`ui.shortcuts`)."""

    rendered = Signal()

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
        # label overlay: the label volume resliced on the same grid (nearest), coloured by a
        # lookup table whose alpha is the opacity of visible labels (0 for hidden ones)
        self._label_image: vtkImageData | None = None
        self._label_keep: np.ndarray | None = None
        self._label_reslice = vtkImageReslice()
        self._label_reslice.SetOutputDimensionality(2)
        self._label_reslice.SetInterpolationModeToNearestNeighbor()
        self._label_lut = vtkLookupTable()
        self._label_colours = vtkImageMapToColors()
        self._label_colours.SetLookupTable(self._label_lut)
        self._label_colours.SetOutputFormatToRGBA()
        self._label_colours.SetInputConnection(self._label_reslice.GetOutputPort())
        # blended into the grey image on the CPU: one opaque texture (a translucent overlay
        # actor would cost a whole extra render pass in software rendering)
        # vtkImageMapToWindowLevelColors ignores an RGB output format without a lookup table:
        # the grey image is widened to three equal channels here, or the blend refuses it.
        self._grey_rgb = vtkImageExtractComponents()
        self._grey_rgb.SetInputConnection(self._wl.GetOutputPort())
        self._grey_rgb.SetComponents(0, 0, 0)
        self._blend = vtkImageBlend()
        self._blend.AddInputConnection(self._grey_rgb.GetOutputPort())
        self._blend.AddInputConnection(self._label_colours.GetOutputPort())
        self._blend.SetOpacity(1, 1.0)  # the overlay's own alpha (the opacity) decides
        self._labels_drawn = False
        self.output_listeners: list = []  # called with this view when output_port() changes
        self._landmark_texts: list[tuple[vtkTextActor, np.ndarray, float]] = []
        self._target_actor, self._target_poly = _lines_actor((0.25, 1.0, 0.4), 2.0)
        self._target_lps: np.ndarray | None = None
        self._cross_actor, self._cross_poly = _lines_actor(CROSSHAIR_COLOUR, 1.0)  # opaque: a translucent prop costs a
        # whole extra render pass in software rendering (5 ms a frame)
        self._measure_actor, self._measure_poly = _lines_actor(MEASURE_COLOUR, 2.0)
        self._pending_actor, self._pending_poly = _lines_actor(PENDING_COLOUR, 1.5)
        self._measure_labels: list[vtkTextActor] = []
        # scale bar in display pixels
        self._bar_poly = vtkPolyData()
        self._bar_poly.SetPoints(vtkPoints())
        self._bar_poly.SetLines(vtkCellArray())
        bar_mapper = vtkPolyDataMapper2D()
        bar_mapper.SetInputData(self._bar_poly)
        coord = vtkCoordinate()
        coord.SetCoordinateSystemToDisplay()
        bar_mapper.SetTransformCoordinate(coord)
        self._bar_actor = vtkActor2D()
        self._bar_actor.SetMapper(bar_mapper)
        self._bar_actor.GetProperty().SetColor(*TEXT_COLOUR)
        self._bar_actor.GetProperty().SetLineWidth(2)
        self._bar_text = _text_actor(12, TEXT_COLOUR, h="centre", v="bottom")
        self._bar_text.GetPositionCoordinate().SetCoordinateSystemToDisplay()
        self.scale_bar_mm = 0.0
        # orientation letters on the four edges
        self._letters = {
            "left": _text_actor(16, LETTER_COLOUR, h="left", v="centre", bold=True),
            "right": _text_actor(16, LETTER_COLOUR, h="right", v="centre", bold=True),
            "top": _text_actor(16, LETTER_COLOUR, h="centre", v="top", bold=True),
            "bottom": _text_actor(16, LETTER_COLOUR, h="centre", v="bottom", bold=True),
        }
        for edge, pos in {"left": (0.008, 0.5), "right": (0.992, 0.5), "top": (0.5, 0.992), "bottom": (0.5, 0.008)}.items():
            self._letters[edge].GetPositionCoordinate().SetValue(*pos)
        # corner overlays: patient/study/series (top left), plane and slice (top right),
        # window/level and zoom (bottom left)
        self._info_text = _text_actor(12, TEXT_COLOUR, h="left", v="top")
        self._info_text.GetPositionCoordinate().SetValue(0.01, 0.985)
        self._slice_text = _text_actor(13, TEXT_COLOUR, h="right", v="top")
        self._slice_text.GetPositionCoordinate().SetValue(0.99, 0.985)
        self._wl_text = _text_actor(12, TEXT_COLOUR, h="left", v="bottom")
        self._wl_text.GetPositionCoordinate().SetValue(0.01, 0.015)
        self._texts: dict[int, str] = {}
        self._centre = np.zeros(3)
        self._origin: np.ndarray | None = None
        self._extent = (0.0, 1.0, 0.0, 1.0)
        self._zoom = 1.0
        self._pan = np.zeros(2)
        self._drag: dict | None = None
        self._pending: list[np.ndarray] = []
        self._hover: np.ndarray | None = None
        self.renderer.GetActiveCamera().ParallelProjectionOn()
        state.volumeChanged.connect(self._on_volume)
        state.cursorChanged.connect(self._on_cursor)
        state.windowLevelChanged.connect(self._on_window_level)
        state.measurementsChanged.connect(self._on_measurements)
        state.toolChanged.connect(self._on_tool)
        state.displayChanged.connect(self._on_display)
        state.labelsChanged.connect(self._on_labels)
        state.labelDisplayChanged.connect(self._on_label_display)
        if state.volume is not None:
            self._on_volume()

    # -- small helpers ------------------------------------------------------------------------
    def _set_text(self, actor: vtkTextActor, text: str) -> None:
        """Change a text only when it differs (re-rasterising text is the costly part)."""
        if self._texts.get(id(actor)) != text:
            self._texts[id(actor)] = text
            actor.SetInput(text)

    def output_port(self):
        """The slice image as drawn, labels included (for the 3D view's plane actors)."""
        return self._blend.GetOutputPort() if self._labels_drawn else self._wl.GetOutputPort()

    def image_to_lps_matrix(self) -> np.ndarray:
        """4x4 matrix placing the slice image (in-plane mm) in LPS: for the 3D view."""
        return self.plane.frame(self._plane_origin())

    @property
    def zoom(self) -> float:
        return self._zoom

    def _plane_origin(self) -> np.ndarray:
        """The volume centre moved along the normal onto the cursor's slice."""
        return plane_origin(self.plane, self._centre, self.state.cursor)

    def slice_number(self) -> tuple[int, int]:
        """``(number, count)`` of the shown slice (see :func:`imaging.planes.slice_position`)."""
        return slice_position(self.state.volume, self.plane, self.state.cursor)

    # -- model -> view ------------------------------------------------------------------------
    def _on_volume(self) -> None:
        vol = self.state.volume
        if vol is None:
            return
        self._image, self._keep = volume_to_vtk_index_image(vol)
        self._reslice.SetInputData(self._image)
        self._reslice.SetBackgroundLevel(float(vol.array.min()))
        self._centre = vol.centre_lps()
        grid = reslice_grid(vol, self.plane, self._centre)
        self._extent = grid.extent
        self._reslice.SetOutputSpacing(grid.pixel_mm, grid.pixel_mm, 1.0)
        self._reslice.SetOutputOrigin(grid.u0, grid.v0, 0.0)
        self._reslice.SetOutputExtent(0, grid.nu - 1, 0, grid.nv - 1, 0, 0)
        self._label_reslice.SetOutputSpacing(grid.pixel_mm, grid.pixel_mm, 1.0)
        self._label_reslice.SetOutputOrigin(grid.u0, grid.v0, 0.0)
        self._label_reslice.SetOutputExtent(0, grid.nu - 1, 0, grid.nv - 1, 0, 0)
        self._origin = None
        self._pending = []
        r = self.renderer
        r.RemoveAllViewProps()
        for a in (self._actor, self._target_actor, self._cross_actor, self._measure_actor, self._pending_actor):
            r.AddActor(a)
        self._landmark_texts = []
        for edge, text in self.plane.edge_labels().items():
            self._letters[edge].SetInput(text)
            r.AddViewProp(self._letters[edge])
        for t in (self._info_text, self._slice_text, self._wl_text, self._bar_text, self._bar_actor):
            r.AddViewProp(t)
        self._measure_labels = []
        info = vol.info
        lines = [
            " ".join(x for x in (info.patient_name.replace("^", " "), f"({info.patient_id})" if info.patient_id else "") if x),
            " ".join(x for x in (_date(info.study_date), info.study_description) if x),
            " ".join(x for x in (f"{info.modality}" if info.modality else "", f"#{info.series_number}" if info.series_number is not None else "", info.series_description) if x),
        ]
        self._set_text(self._info_text, "\n".join(line for line in lines if line))
        self._on_window_level(render=False)
        self._on_cursor(render=False)
        self.reset_view(render=False)
        self.request_render()

    def _on_cursor(self, render: bool = True) -> None:
        if self.state.volume is None:
            return
        origin = self._plane_origin()
        if self._origin is None or not np.array_equal(origin, self._origin):
            self._origin = origin
            axes = _matrix(reslice_axes(self.state.volume, self.plane, origin))
            self._reslice.SetResliceAxes(axes)
            if self._label_image is not None:
                self._label_reslice.SetResliceAxes(axes)
            self._update_measurements()
            self._update_landmarks()
            number, count = self.slice_number()
            self._set_text(
                self._slice_text,
                f"{self.plane.name.capitalize()}  {position_label(self.plane, self.state.cursor)}\nIm {number}/{count}",
            )
        self._update_crosshair()
        if render:
            self.request_render()

    def _update_crosshair(self) -> None:
        cu, cv, _ = in_plane(self.plane, self._plane_origin(), self.state.cursor)
        umin, umax, vmin, vmax = self._extent
        _set_lines(self._cross_poly, [((umin, cv), (umax, cv)), ((cu, vmin), (cu, vmax))], 0.5)
        self._cross_actor.SetVisibility(self.state.show_crosshairs)

    def _on_window_level(self, render: bool = True) -> None:
        self._wl.SetWindow(self.state.window)
        self._wl.SetLevel(self.state.level)
        self._update_wl_text()
        if render:
            self.request_render()

    def _update_wl_text(self) -> None:
        name = f" ({self.state.window_name})" if self.state.window_name else ""
        self._set_text(self._wl_text, f"{self.state.window_level.label()}{name}\nZoom {self._zoom:.2f}x")

    def _on_display(self) -> None:
        self._cross_actor.SetVisibility(self.state.show_crosshairs)
        self.request_render()

    def _on_tool(self, tool: str) -> None:
        self._pending = []
        self._update_pending()
        cursors = {"cursor": Qt.CursorShape.CrossCursor, "window_level": Qt.CursorShape.SizeAllCursor}
        self.setCursor(cursors.get(tool, Qt.CursorShape.PointingHandCursor))
        self.request_render()

    def visible_measurements(self) -> list[int]:
        """Indices of the measurements drawn in this view: made in this plane, on this slice."""
        if self.state.volume is None:
            return []
        origin = self._plane_origin()
        half = 0.5 * self.state.volume.step_along(self.plane.normal)
        out = []
        for i, m in enumerate(self.state.measurements):
            if m.plane == self.plane.name and np.all(np.abs(in_plane(self.plane, origin, np.array(m.points))[:, 2]) < half):
                out.append(i)
        return out

    def _on_measurements(self) -> None:
        self._update_measurements()
        self.request_render()

    def _update_measurements(self) -> None:
        if self.state.volume is None:
            return
        origin = self._plane_origin()
        segments = []
        for label in self._measure_labels:
            self.renderer.RemoveViewProp(label)
        self._measure_labels = []
        for i in self.visible_measurements():
            m = self.state.measurements[i]
            uv = [tuple(p[:2]) for p in in_plane(self.plane, origin, np.array(m.points))]
            segments += list(zip(uv[:-1], uv[1:], strict=True))
            t = vtkTextActor()
            t.SetInput(m.label())
            t.GetTextProperty().SetFontSize(14)
            t.GetTextProperty().SetColor(*MEASURE_COLOUR)
            t.GetTextProperty().SetShadow(True)
            t.GetPositionCoordinate().SetCoordinateSystemToWorld()
            anchor = uv[-1] if m.kind == "distance" else uv[1]
            t.GetPositionCoordinate().SetValue(anchor[0] + 2.0, anchor[1] + 2.0, 0.7)
            self.renderer.AddViewProp(t)
            self._measure_labels.append(t)
        _set_lines(self._measure_poly, segments, 0.7)

    def _update_pending(self) -> None:
        if self.state.volume is None or not self._pending:
            _set_lines(self._pending_poly, [], 0.8)
            return
        origin = self._plane_origin()
        pts = list(self._pending) + ([self._hover] if self._hover is not None else [])
        uv = [tuple(p[:2]) for p in in_plane(self.plane, origin, np.array(pts))]
        segs = list(zip(uv[:-1], uv[1:], strict=True)) or [(uv[0], uv[0])]
        _set_lines(self._pending_poly, segs, 0.8)

    # -- labels --------------------------------------------------------------------------------
    def _on_labels(self) -> None:
        lm = self.state.labelmap
        for actor, _p, _r in self._landmark_texts:
            self.renderer.RemoveViewProp(actor)
        self._landmark_texts = []
        self._target_lps = None
        if lm is None or self.state.volume is None:
            self._label_image = self._label_keep = None
            self._draw_labels(False)
            _set_lines(self._target_poly, [], 0.9)
            self.request_render()
            return
        self._label_image, self._label_keep = volume_to_vtk_index_image(lm.volume)
        self._label_reslice.SetInputData(self._label_image)
        self._label_reslice.SetBackgroundLevel(0.0)
        self._label_reslice.SetResliceAxes(_matrix(reslice_axes(self.state.volume, self.plane, self._plane_origin())))
        marks = lm.landmarks
        if marks is not None:
            for level in marks.levels:
                if "centre" in level and level.get("name"):
                    self._add_landmark_text(str(level["name"]), np.asarray(level["centre"], float), 25.0, MEASURE_COLOUR)
            if marks.target and marks.target.get("lps") is not None:
                self._target_lps = np.asarray(marks.target["lps"], float)
                name = str(marks.target.get("name", "target"))
                self._add_landmark_text(f"target: {name}", self._target_lps, 10.0, (0.25, 1.0, 0.4), offset=(4.0, 4.0))
        self._on_label_display()

    def _add_landmark_text(self, text: str, lps: np.ndarray, reach_mm: float, colour, offset=(0.0, 0.0)) -> None:
        t = vtkTextActor()
        t.SetInput(text)
        p = t.GetTextProperty()
        p.SetFontSize(13)
        p.SetBold(True)
        p.SetShadow(True)
        p.SetColor(*colour)
        p.SetJustificationToCentered() if offset == (0.0, 0.0) else p.SetJustificationToLeft()
        p.SetVerticalJustificationToCentered()
        t.GetPositionCoordinate().SetCoordinateSystemToWorld()
        t.offset = offset  # type: ignore[attr-defined]
        self.renderer.AddViewProp(t)
        self._landmark_texts.append((t, lps, reach_mm))
        self._update_landmarks()

    def _update_landmarks(self) -> None:
        """Level names at the level centres, the target cross: shown near their slice."""
        show = self.state.show_labels and self.state.labelmap is not None
        origin = self._plane_origin()
        for actor, lps, reach in self._landmark_texts:
            u, v, w = in_plane(self.plane, origin, lps)
            du, dv = getattr(actor, "offset", (0.0, 0.0))
            actor.GetPositionCoordinate().SetValue(u + du, v + dv, 0.9)
            actor.SetVisibility(bool(show and abs(w) <= reach))
        segs = []
        if show and self._target_lps is not None:
            u, v, w = in_plane(self.plane, origin, self._target_lps)
            if abs(w) <= 10.0:
                arm = 3.0
                segs = [((u - arm, v), (u + arm, v)), ((u, v - arm), (u, v + arm))]
        _set_lines(self._target_poly, segs, 0.9)

    def labels_drawn(self) -> bool:
        """True while the label overlay is blended into the slice image."""
        return self._labels_drawn

    def _draw_labels(self, on: bool) -> None:
        if on == self._labels_drawn:
            return
        self._labels_drawn = on
        if on:
            self._actor.GetMapper().SetInputConnection(self._blend.GetOutputPort())
        else:
            self._actor.GetMapper().SetInputConnection(self._wl.GetOutputPort())
        # whoever draws this image elsewhere (the 3D planes) must switch with it, or it pulls
        # the blend while the grey image is single-channel (vtkImageBlend refuses and logs)
        for listener in self.output_listeners:
            listener(self)

    def _on_label_display(self) -> None:
        lm = self.state.labelmap
        if lm is None:
            return
        top = max([lab.value for lab in lm.legend] + [1])
        lut = self._label_lut
        lut.SetNumberOfTableValues(top + 1)
        lut.SetTableRange(0, top)
        lut.SetTableValue(0, 0.0, 0.0, 0.0, 0.0)
        for v in range(1, top + 1):
            lut.SetTableValue(v, 0.0, 0.0, 0.0, 0.0)
        alpha = self.state.label_opacity
        for lab in lm.legend:
            if self.state.label_visible.get(lab.value, False):
                r, g, b = (c / 255.0 for c in lab.color)
                lut.SetTableValue(lab.value, r, g, b, alpha)
        lut.Modified()
        self._draw_labels(self.state.show_labels and alpha > 0)
        self._update_landmarks()
        self.request_render()

    # -- camera --------------------------------------------------------------------------------
    def _fit_scale(self) -> float:
        umin, umax, vmin, vmax = self._extent
        w, h = max(self.width(), 1), max(self.height(), 1)
        return max((vmax - vmin) / 2, (umax - umin) / 2 * h / w) * 1.02

    def _apply_camera(self) -> None:
        umin, umax, vmin, vmax = self._extent
        cx, cy = (umin + umax) / 2 + self._pan[0], (vmin + vmax) / 2 + self._pan[1]
        cam = self.renderer.GetActiveCamera()
        cam.SetFocalPoint(cx, cy, 0.0)
        cam.SetPosition(cx, cy, 1000.0)
        cam.SetViewUp(0.0, 1.0, 0.0)
        cam.SetParallelScale(self._fit_scale() / self._zoom)
        self.renderer.ResetCameraClippingRange()
        self._update_scale_bar()
        self._update_wl_text()

    def reset_view(self, render: bool = True) -> None:
        """Whole slice in view, no zoom, no pan (key R)."""
        self._zoom = 1.0
        self._pan = np.zeros(2)
        self._apply_camera()
        if render:
            self.render()

    reset_camera = reset_view

    def mm_per_pixel(self) -> float:
        """In-plane mm per widget pixel at the current zoom."""
        return 2.0 * self.renderer.GetActiveCamera().GetParallelScale() / max(self.height(), 1)

    def set_zoom(self, zoom: float, about_xy: tuple[float, float] | None = None) -> None:
        """Zoom (1 = whole slice), keeping the point under ``about_xy`` (widget pixels) fixed."""
        zoom = float(np.clip(zoom, 0.25, 40.0))
        if about_xy is not None:
            before = self._display_to_uv(*about_xy)
            self._zoom = zoom
            self._apply_camera()
            after = self._display_to_uv(*about_xy)
            self._pan += before - after
        self._zoom = zoom
        self._apply_camera()

    def pan_by_pixels(self, dx: float, dy: float) -> None:
        """Move the image with the mouse by ``(dx, dy)`` widget pixels (y down)."""
        mm = self.mm_per_pixel()
        self._pan -= np.array([dx * mm, -dy * mm])
        self._apply_camera()

    def _update_scale_bar(self) -> None:
        mm_px = self.mm_per_pixel()
        ratio = self.devicePixelRatioF()
        w = self.width()
        if mm_px <= 0 or w < 40:
            return
        length = nice_length_mm(0.2 * w * mm_px)
        px = length / mm_px * ratio
        right = (w - 14) * ratio
        y = 18 * ratio
        tick = 5 * ratio
        pts = vtkPoints()
        for x0, y0 in ((right - px, y), (right, y), (right - px, y - tick), (right - px, y + tick), (right, y - tick), (right, y + tick)):
            pts.InsertNextPoint(x0, y0, 0.0)
        cells = vtkCellArray()
        for a, b in ((0, 1), (2, 3), (4, 5)):
            cells.InsertNextCell(2, [a, b])
        self._bar_poly.SetPoints(pts)
        self._bar_poly.SetLines(cells)
        self._bar_poly.Modified()
        self.scale_bar_mm = length
        self.scale_bar_px = px / ratio
        self._bar_text.GetPositionCoordinate().SetValue(right - px / 2, y + tick + 1)
        self._set_text(self._bar_text, f"{length:g} mm" if length < 10 else f"{length / 10:g} cm")

    def resizeEvent(self, ev) -> None:  # noqa: N802 (Qt naming)
        super().resizeEvent(ev)
        if self.state.volume is not None:
            self._apply_camera()

    # -- coordinates ---------------------------------------------------------------------------
    def _display_to_uv(self, x: float, y: float) -> np.ndarray:
        ratio = self.devicePixelRatioF()
        h = self.GetRenderWindow().GetSize()[1]
        self.renderer.SetDisplayPoint(x * ratio, h - 1 - y * ratio, 0.0)
        self.renderer.DisplayToWorld()
        wx, wy, _wz, w = self.renderer.GetWorldPoint()
        return np.array([wx / (w or 1.0), wy / (w or 1.0)])

    def display_to_lps(self, x: float, y: float) -> np.ndarray:
        """LPS position under widget pixel (x, y) (Qt coordinates, y down)."""
        u, v = self._display_to_uv(x, y)
        return self.plane.to_lps(self._plane_origin(), u, v)

    def lps_to_display(self, lps: np.ndarray) -> tuple[float, float]:
        """Widget pixel (x, y) (Qt coordinates, y down) where an in-plane LPS point is drawn."""
        u, v, _ = in_plane(self.plane, self._plane_origin(), lps)
        self.renderer.SetWorldPoint(u, v, 0.0, 1.0)
        self.renderer.WorldToDisplay()
        dx, dy, _ = self.renderer.GetDisplayPoint()
        ratio = self.devicePixelRatioF()
        h = self.GetRenderWindow().GetSize()[1]
        return dx / ratio, (h - 1 - dy) / ratio

    # -- view -> model -------------------------------------------------------------------------
    def step_slices(self, steps: int) -> None:
        """Move ``steps`` voxel steps into the screen (negative: toward the viewer); draw now."""
        self.state.step(-self.plane.normal, steps)
        self.render()

    def _drag_mode(self, button, modifiers) -> str:
        ctrl = bool(modifiers & Qt.KeyboardModifier.ControlModifier)
        shift = bool(modifiers & Qt.KeyboardModifier.ShiftModifier)
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and shift):
            return "pan"
        if button == Qt.MouseButton.RightButton:
            return "zoom"
        if button != Qt.MouseButton.LeftButton:
            return ""
        if ctrl or self.state.tool == "window_level":
            return "window_level"
        return self.state.tool  # cursor, distance, angle

    def mousePressEvent(self, ev: QMouseEvent) -> None:  # noqa: N802
        if self.state.volume is None:
            ev.ignore()
            return
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        pos = ev.position()
        mode = self._drag_mode(ev.button(), ev.modifiers())
        self._drag = {
            "mode": mode, "start": QPointF(pos), "last": QPointF(pos), "moved": False,
            "wl": self.state.window_level, "zoom": self._zoom,
        }
        if mode == "cursor":
            self.state.set_cursor(self.display_to_lps(pos.x(), pos.y()), snap=True)
            self.render()
        elif mode in ("distance", "angle"):
            self._pending.append(self.display_to_lps(pos.x(), pos.y()))
            self._finish_measurement_if_complete()
        ev.accept()

    def mouseMoveEvent(self, ev: QMouseEvent) -> None:  # noqa: N802
        if self.state.volume is None:
            return
        pos = ev.position()
        drag = self._drag
        if drag is None:
            if self._pending:
                self._hover = self.display_to_lps(pos.x(), pos.y())
                self._update_pending()
                self.request_render()
            return
        dx, dy = pos.x() - drag["start"].x(), pos.y() - drag["start"].y()
        if abs(dx) > CLICK_SLOP_PX or abs(dy) > CLICK_SLOP_PX:
            drag["moved"] = True
        mode = drag["mode"]
        if mode == "cursor":
            self.state.set_cursor(self.display_to_lps(pos.x(), pos.y()), snap=True)
        elif mode == "window_level":
            wl = drag_window(drag["wl"], dx, dy, self.state.value_range)
            self.state.set_window_level(wl.width, wl.level)
        elif mode == "pan":
            self.pan_by_pixels(pos.x() - drag["last"].x(), pos.y() - drag["last"].y())
        elif mode == "zoom":
            self.set_zoom(drag["zoom"] * ZOOM_STEP ** (-dy / 20.0))
        elif mode in ("distance", "angle") and self._pending:
            self._hover = self.display_to_lps(pos.x(), pos.y())
            self._update_pending()
        drag["last"] = QPointF(pos)
        self.render()

    def mouseReleaseEvent(self, ev: QMouseEvent) -> None:  # noqa: N802
        drag, self._drag = self._drag, None
        if drag is None or self.state.volume is None:
            return
        if drag["mode"] in ("distance", "angle") and drag["moved"] and self._pending:
            # a drag draws one segment: the release point is the next point
            pos = ev.position()
            self._pending.append(self.display_to_lps(pos.x(), pos.y()))
            self._finish_measurement_if_complete()
        ev.accept()

    def mouseDoubleClickEvent(self, ev) -> None:  # noqa: N802
        if self.state.tool in ("distance", "angle"):
            self.mousePressEvent(ev)  # a quick second click of a measurement
            return
        super().mouseDoubleClickEvent(ev)

    def _finish_measurement_if_complete(self) -> None:
        need = 2 if self.state.tool == "distance" else 3
        if len(self._pending) >= need:
            points = [tuple(p) for p in self._pending[:need]]
            self._pending = []
            self._hover = None
            self._update_pending()
            try:
                m = Measurement(self.state.tool, points, plane=self.plane.name)
                _ = m.value
            except ValueError:
                self.request_render()
                return  # an angle with a zero-length arm: start again
            self.state.add_measurement(m)
        else:
            self._update_pending()
        self.render()

    def cancel_pending(self) -> None:
        """Drop a measurement in progress (Esc)."""
        self._pending = []
        self._hover = None
        self._update_pending()
        self.request_render()

    def wheelEvent(self, ev: QWheelEvent) -> None:  # noqa: N802
        if self.state.volume is None:
            return
        notches = ev.angleDelta().y() / 120.0
        if ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            pos = ev.position()
            self.set_zoom(self._zoom * ZOOM_STEP**notches, (pos.x(), pos.y()))
            self.render()
        else:
            steps = int(round(notches))
            if steps:
                # wheel forward moves into the screen (away from the viewer)
                self.step_slices(steps)
        ev.accept()


def _date(dicom_date: str) -> str:
    d = dicom_date.strip()
    return f"{d[:4]}-{d[4:6]}-{d[6:8]}" if len(d) == 8 and d.isdigit() else d
