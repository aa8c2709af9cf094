"""The 3D view: a bone (CT) or body (MR) surface in patient LPS space."""

from __future__ import annotations

import numpy as np
from vtkmodules.vtkCommonDataModel import vtkPolyData
from vtkmodules.vtkCommonTransforms import vtkTransform
from vtkmodules.vtkFiltersCore import (
    vtkFlyingEdges3D,
    vtkPolyDataNormals,
    vtkWindowedSincPolyDataFilter,
)
from vtkmodules.vtkFiltersGeneral import vtkTransformFilter
from vtkmodules.vtkImagingGeneral import vtkImageGaussianSmooth
from vtkmodules.vtkInteractionStyle import vtkInteractorStyleTrackballCamera
from vtkmodules.vtkRenderingCore import vtkActor, vtkPolyDataMapper

from imaging.volume import Volume
from ui.viewer_state import ViewerState
from ui.views.slice_view import _matrix, volume_to_vtk_index_image
from ui.views.vtk_widget import VtkWidget

BONE_HU = 160.0
BONE_COLOUR = (0.93, 0.89, 0.80)
BACKGROUND = (0.10, 0.12, 0.16)

# Standard views: (direction from the focal point to the camera in LPS, view-up in LPS).
STANDARD_VIEWS = {
    "anterior": ((0.0, -1.0, 0.0), (0.0, 0.0, 1.0)),
    "posterior": ((0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
    "left": ((1.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
    "right": ((-1.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
    "superior": ((0.0, 0.0, 1.0), (0.0, -1.0, 0.0)),
    "inferior": ((0.0, 0.0, -1.0), (0.0, -1.0, 0.0)),
}


def surface_threshold(volume: Volume) -> float:
    """Bone for CT; for MR a level between background and tissue (the body outline)."""
    if volume.modality == "CT":
        return BONE_HU
    sample = volume.array[:: max(1, volume.shape[0] // 16)]
    return float(np.percentile(sample, 60) * 0.5)


class Scene3D(VtkWidget):
    """Rotatable 3D scene; the camera starts in the anterior view (patient facing the viewer)."""

    def __init__(self, state: ViewerState, parent=None) -> None:
        super().__init__(parent, background=BACKGROUND)
        self.state = state
        self.setObjectName("scene_3d")
        self.SetInteractorStyle(vtkInteractorStyleTrackballCamera())
        self.surface_actor: vtkActor | None = None
        state.volumeChanged.connect(self._on_volume)
        if state.volume is not None:
            self._on_volume()

    def _on_volume(self) -> None:
        vol = self.state.volume
        if vol is None:
            return
        if self.surface_actor is not None:
            self.renderer.RemoveActor(self.surface_actor)
        image, keep = volume_to_vtk_index_image(vol)
        blur = vtkImageGaussianSmooth()
        blur.SetInputData(image)
        blur.SetStandardDeviations(0.6, 0.6, 0.6)
        blur.SetRadiusFactors(2.0, 2.0, 2.0)
        iso = vtkFlyingEdges3D()
        iso.SetInputConnection(blur.GetOutputPort())
        iso.SetValue(0, surface_threshold(vol))
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
        mapper = vtkPolyDataMapper()
        mapper.SetInputData(surface)
        mapper.ScalarVisibilityOff()
        actor = vtkActor()
        actor.SetMapper(mapper)
        prop = actor.GetProperty()
        prop.SetColor(*BONE_COLOUR)
        prop.SetSpecular(0.2)
        prop.SetSpecularPower(20)
        self.surface_actor = actor
        self.renderer.AddActor(actor)
        self.set_standard_view("anterior")

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
