"""Core meshes (:class:`imaging.mesh.Mesh`, numpy, LPS) as VTK poly data."""

from __future__ import annotations

import numpy as np
from vtkmodules.util.numpy_support import numpy_to_vtk, numpy_to_vtkIdTypeArray
from vtkmodules.vtkCommonCore import vtkPoints
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData

from imaging.mesh import Mesh


def mesh_to_polydata(mesh: Mesh) -> vtkPolyData:
    """A deep copy of ``mesh`` (vertices, triangles, point normals) as vtkPolyData."""
    poly = vtkPolyData()
    pts = vtkPoints()
    pts.SetData(numpy_to_vtk(np.ascontiguousarray(mesh.vertices, dtype=np.float64), deep=True))
    poly.SetPoints(pts)
    faces = np.ascontiguousarray(mesh.faces, dtype=np.int64)
    offsets = np.arange(0, 3 * len(faces) + 1, 3, dtype=np.int64)
    cells = vtkCellArray()
    cells.SetData(numpy_to_vtkIdTypeArray(offsets, deep=True), numpy_to_vtkIdTypeArray(faces.ravel(), deep=True))
    poly.SetPolys(cells)
    if mesh.normals is not None and len(mesh.normals) == len(mesh.vertices):
        normals = numpy_to_vtk(np.ascontiguousarray(mesh.normals, dtype=np.float32), deep=True)
        normals.SetName("Normals")
        poly.GetPointData().SetNormals(normals)
    return poly
