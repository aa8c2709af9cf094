"""The 3D view: a bone (CT) or body (MR) surface in patient LPS space, the three slice planes,
and a small bar of controls (standard views, reset, threshold, planes on/off)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from vtkmodules.vtkCommonDataModel import vtkPolyData
from vtkmodules.vtkCommonTransforms import vtkTransform
from vtkmodules.vtkFiltersCore import (
    vtkFlyingEdges3D,
    vtkPolyDataNormals,
    vtkWindowedSincPolyDataFilter,
)
from vtkmodules.vtkFiltersGeneral import vtkTransformFilter
from vtkmodules.vtkImagingCore import vtkImageShrink3D
from vtkmodules.vtkImagingGeneral import vtkImageGaussianSmooth
from vtkmodules.vtkInteractionStyle import vtkInteractorStyleTrackballCamera
from vtkmodules.vtkRenderingCore import vtkActor, vtkImageActor, vtkPolyDataMapper

from imaging.mesh import Mesh
from imaging.windowing import BONE_HU, surface_threshold
from ui.viewer_state import ViewerState
from ui.views.meshes import mesh_to_polydata
from ui.views.slice_view import SliceView, _matrix, volume_to_vtk_index_image
from ui.views.vtk_widget import VtkWidget

__all__ = ["Scene3D", "Scene3DPanel", "STANDARD_VIEWS", "BACKGROUND", "BONE_HU"]

BONE_COLOUR = (0.93, 0.89, 0.80)
BODY_COLOUR = (0.85, 0.70, 0.62)
BACKGROUND = (0.10, 0.12, 0.16)
MAX_SURFACE_VOXELS = 8_000_000  # larger volumes are subsampled for the surface

# Standard views: (direction from the focal point to the camera in LPS, view-up in LPS).
STANDARD_VIEWS = {
    "anterior": ((0.0, -1.0, 0.0), (0.0, 0.0, 1.0)),
    "posterior": ((0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
    "left": ((1.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
    "right": ((-1.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
    "superior": ((0.0, 0.0, 1.0), (0.0, -1.0, 0.0)),
    "inferior": ((0.0, 0.0, -1.0), (0.0, -1.0, 0.0)),
}


class Scene3D(VtkWidget):
    """Rotatable 3D scene; the camera starts in the anterior view (patient facing the viewer).

    Left drag rotates, middle drag (or Shift+left) pans, right drag or the wheel zooms."""

    def __init__(self, state: ViewerState, parent=None) -> None:
        super().__init__(parent, background=BACKGROUND)
        self.state = state
        self.setObjectName("scene_3d")
        self.SetInteractorStyle(vtkInteractorStyleTrackballCamera())
        self.surface_actor: vtkActor | None = None
        self.threshold = BONE_HU
        self.surface_cells = 0
        self._slices: list[SliceView] = []
        self._plane_actors: list[vtkImageActor] = []
        self.label_actors: dict[int, vtkActor] = {}
        state.volumeChanged.connect(self._on_volume)
        state.labelsChanged.connect(self._clear_label_surfaces)
        state.labelDisplayChanged.connect(self._on_label_display)
        state.cursorChanged.connect(self._on_cursor)
        state.displayChanged.connect(self._on_cursor)
        if state.volume is not None:
            self._on_volume()

    # -- the slice planes ---------------------------------------------------------------------
    def attach_slices(self, views: list[SliceView]) -> None:
        """Show these slice views' images as planes in the scene, where they lie in LPS."""
        self._slices = list(views)
        for view in self._slices:
            actor = vtkImageActor()
            actor.GetMapper().SetInputConnection(view.output_port())
            actor.InterpolateOff()
            self._plane_actors.append(actor)
            view.output_listeners.append(self._on_slice_output)
        self._on_cursor()

    def _on_slice_output(self, view: SliceView) -> None:
        actor = self._plane_actors[self._slices.index(view)]
        actor.GetMapper().SetInputConnection(view.output_port())

    def _on_cursor(self) -> None:
        if self.state.volume is None:
            return
        show = self.state.show_planes_3d
        for view, actor in zip(self._slices, self._plane_actors, strict=True):
            actor.SetUserMatrix(_matrix(view.image_to_lps_matrix()))
            actor.SetVisibility(show)
            if not self.renderer.HasViewProp(actor):
                self.renderer.AddViewProp(actor)
        self.request_render()

    # -- the surface ----------------------------------------------------------------------------
    def _on_volume(self) -> None:
        vol = self.state.volume
        if vol is None:
            return
        self.threshold = surface_threshold(vol)
        self._build_surface()
        self._on_cursor()
        self.set_standard_view("anterior")

    def set_threshold(self, value: float) -> None:
        """Rebuild the surface at ``value`` (HU for CT)."""
        if self.state.volume is None or float(value) == self.threshold:
            return
        self.threshold = float(value)
        self._build_surface()
        self.request_render()

    def _build_surface(self) -> None:
        vol = self.state.volume
        if self.surface_actor is not None:
            self.renderer.RemoveActor(self.surface_actor)
            self.surface_actor = None
        image, keep = volume_to_vtk_index_image(vol)
        source = image
        factor = int(np.ceil((vol.array.size / MAX_SURFACE_VOXELS) ** (1 / 3)))
        if factor > 1:
            # subsampled in index space: output points keep their original index coordinates
            shrink = vtkImageShrink3D()
            shrink.SetInputData(image)
            shrink.SetShrinkFactors(factor, factor, factor)
            shrink.AveragingOn()
            shrink.Update()
            source = shrink.GetOutput()
        blur = vtkImageGaussianSmooth()
        blur.SetInputData(source)
        blur.SetStandardDeviations(0.6, 0.6, 0.6)
        blur.SetRadiusFactors(2.0, 2.0, 2.0)
        iso = vtkFlyingEdges3D()
        iso.SetInputConnection(blur.GetOutputPort())
        iso.SetValue(0, self.threshold)
        iso.ComputeNormalsOff()
        smooth = vtkWindowedSincPolyDataFilter()
        smooth.SetInputConnection(iso.GetOutputPort())
        smooth.SetNumberOfIterations(15)
        smooth.SetPassBand(0.1)
        smooth.NormalizeCoordinatesOn()
        to_lps = vtkTransform()
        to_lps.SetMatrix(_matrix(vol.affine))
        place = vtkTransformFilter()
        place.SetTransform(to_lps)
        place.SetInputConnection(smooth.GetOutputPort())
        normals = vtkPolyDataNormals()
        normals.SetInputConnection(place.GetOutputPort())
        normals.SplittingOff()
        normals.Update()
        surface = vtkPolyData()
        surface.DeepCopy(normals.GetOutput())  # independent of the pipeline and of ``keep``
        del keep
        self.surface_cells = surface.GetNumberOfCells()
        mapper = vtkPolyDataMapper()
        mapper.SetInputData(surface)
        mapper.ScalarVisibilityOff()
        actor = vtkActor()
        actor.SetMapper(mapper)
        prop = actor.GetProperty()
        prop.SetColor(*(BONE_COLOUR if vol.modality == "CT" else BODY_COLOUR))
        prop.SetSpecular(0.2)
        prop.SetSpecularPower(20)
        self.surface_actor = actor
        self.renderer.AddActor(actor)
        actor.SetVisibility(not (self.state.show_labels and self.label_actors))

    # -- label surfaces -------------------------------------------------------------------------
    def _clear_label_surfaces(self) -> None:
        for actor in self.label_actors.values():
            self.renderer.RemoveActor(actor)
        self.label_actors = {}
        self._on_label_display()

    def set_label_surfaces(self, meshes: dict[int, Mesh]) -> None:
        """Show the label map's structures as surfaces (value -> mesh in LPS), in their colours."""
        self._clear_label_surfaces()
        lm = self.state.labelmap
        if lm is None:
            return
        for value, mesh in meshes.items():
            if mesh.is_empty():
                continue
            lab = lm.legend.by_value(value)
            mapper = vtkPolyDataMapper()
            mapper.SetInputData(mesh_to_polydata(mesh))
            mapper.ScalarVisibilityOff()
            actor = vtkActor()
            actor.SetMapper(mapper)
            prop = actor.GetProperty()
            prop.SetColor(*(c / 255.0 for c in lab.color))
            prop.SetSpecular(0.2)
            self.renderer.AddActor(actor)
            self.label_actors[value] = actor
        self._on_label_display()

    def _on_label_display(self) -> None:
        for view, actor in zip(self._slices, self._plane_actors, strict=True):
            actor.GetMapper().SetInputConnection(view.output_port())  # with or without labels
        shown = self.state.show_labels and self.state.labelmap is not None
        for value, actor in self.label_actors.items():
            on = shown and self.state.label_visible.get(value, False)
            actor.SetVisibility(on)
        if self.surface_actor is not None:
            # the labelled structures replace the threshold surface while they are shown
            self.surface_actor.SetVisibility(not (shown and self.label_actors))
        self.request_render()

    # -- camera ---------------------------------------------------------------------------------
    def set_standard_view(self, name: str) -> None:
        """Point the camera from one of :data:`STANDARD_VIEWS` at the whole scene."""
        direction, up = STANDARD_VIEWS[name]
        r = self.renderer
        r.ResetCamera()
        cam = r.GetActiveCamera()
        focal = np.array(cam.GetFocalPoint())
        dist = cam.GetDistance()
        cam.SetPosition(*(focal + dist * np.asarray(direction)))
        cam.SetViewUp(*up)
        r.ResetCamera()
        cam.Zoom(1.3)
        r.ResetCameraClippingRange()
        self.render()

    def reset_view(self, render: bool = True) -> None:
        """Back to the anterior view of the whole scene (key R)."""
        self.set_standard_view("anterior")

    def step_slices(self, steps: int) -> None:
        """Slice keys do nothing in 3D."""


class Scene3DPanel(QWidget):
    """The 3D view with its control bar: A P L R S I views, reset, threshold, planes on/off."""

    doubleClicked = Signal()

    def __init__(self, state: ViewerState, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("scene_3d_panel")
        self.state = state
        self.scene = Scene3D(state, self)
        self.scene.doubleClicked.connect(self.doubleClicked)
        bar = QHBoxLayout()
        bar.setContentsMargins(2, 0, 2, 0)
        bar.setSpacing(2)
        self.view_buttons: dict[str, QToolButton] = {}
        for letter, name in (("A", "anterior"), ("P", "posterior"), ("L", "left"), ("R", "right"), ("S", "superior"), ("I", "inferior")):
            b = QToolButton(self)
            b.setText(letter)
            b.setToolTip(f"View from the {name}")
            b.setObjectName(f"view_{name}")
            b.clicked.connect(lambda _=False, n=name: self.scene.set_standard_view(n))
            bar.addWidget(b)
            self.view_buttons[name] = b
        reset = QToolButton(self)
        reset.setText("Reset")
        reset.setToolTip("Reset the camera (R in the 3D view)")
        reset.clicked.connect(lambda: self.scene.reset_view())
        bar.addWidget(reset)
        self.reset_button = reset
        bar.addSpacing(8)
        self.planes_box = QCheckBox("Planes", self)
        self.planes_box.setToolTip("Show the three slice planes (P)")
        self.planes_box.setChecked(state.show_planes_3d)
        self.planes_box.toggled.connect(state.set_show_planes_3d)
        state.displayChanged.connect(lambda: self.planes_box.setChecked(state.show_planes_3d))
        bar.addWidget(self.planes_box)
        bar.addSpacing(8)
        bar.addWidget(QLabel("Threshold", self))
        self.threshold_box = QDoubleSpinBox(self)
        self.threshold_box.setRange(-3000, 10000)
        self.threshold_box.setDecimals(0)
        self.threshold_box.setSingleStep(50)
        self.threshold_box.setKeyboardTracking(False)  # rebuild on Enter / arrows, not per digit
        self.threshold_box.setToolTip("Surface threshold (HU for CT): bone about 160, skin about -300")
        self.threshold_box.valueChanged.connect(self.scene.set_threshold)
        bar.addWidget(self.threshold_box)
        self.threshold_unit = QLabel("", self)
        bar.addWidget(self.threshold_unit)
        bar.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(1)
        layout.addLayout(bar)
        layout.addWidget(self.scene, 1)
        state.volumeChanged.connect(self._on_volume)
        self.setFocusProxy(self.scene)

    def _on_volume(self) -> None:
        vol = self.state.volume
        if vol is None:
            return
        self.threshold_box.blockSignals(True)
        self.threshold_box.setValue(self.scene.threshold)
        self.threshold_box.blockSignals(False)
        self.threshold_unit.setText("HU" if vol.modality == "CT" else "")

    def mouseDoubleClickEvent(self, ev) -> None:  # noqa: N802
        ev.accept()
        self.doubleClicked.emit()
