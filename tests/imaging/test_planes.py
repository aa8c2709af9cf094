"""Viewing planes: radiological orientation letters and reslicing in patient space."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage

from imaging.planes import (
    AXIAL,
    CORONAL,
    SAGITTAL,
    in_plane,
    orientation_label,
    plane_origin,
    reslice_axes,
    reslice_grid,
    slice_position,
)
from imaging.volume import Volume, affine_from_geometry


def rotation(axis, deg):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    a = np.radians(deg)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * k @ k


def oblique_volume():
    rng = np.random.default_rng(3)
    arr = ndimage.gaussian_filter(rng.normal(0, 100, (20, 30, 40)), 2).astype(np.float32)
    direction = rotation((1, 2, 3), 35)
    return Volume(arr, affine_from_geometry((-20, 15, 40), (1.2, 0.9, 2.5), direction))


def test_radiological_letters():
    # patient's right on the screen's left in axial and coronal; anterior up in axial
    assert AXIAL.edge_labels() == {"left": "R", "right": "L", "top": "A", "bottom": "P"}
    assert CORONAL.edge_labels() == {"left": "R", "right": "L", "top": "S", "bottom": "I"}
    assert SAGITTAL.edge_labels() == {"left": "A", "right": "P", "top": "S", "bottom": "I"}
    # the viewer looks from the feet (axial), the front (coronal) and the patient's left (sagittal)
    np.testing.assert_allclose(AXIAL.normal, [0, 0, -1])
    np.testing.assert_allclose(CORONAL.normal, [0, -1, 0])
    np.testing.assert_allclose(SAGITTAL.normal, [1, 0, 0])
    assert orientation_label((0.6, 0.79, 0.06)) == "PL"


def test_reslice_axes_map_plane_points_to_their_voxels():
    vol = oblique_volume()
    centre = vol.centre_lps()
    for plane in (AXIAL, CORONAL, SAGITTAL):
        origin = plane_origin(plane, centre, centre + np.array([3.0, -2.0, 5.0]))
        m = reslice_axes(vol, plane, origin)
        for u, v in [(0, 0), (10, -7), (-13.5, 4.25)]:
            ijk = (m @ [u, v, 0, 1])[:3]
            np.testing.assert_allclose(vol.index_to_lps(ijk), plane.to_lps(origin, u, v), atol=1e-9)
        uvw = in_plane(plane, origin, plane.to_lps(origin, 4.0, -6.0))
        np.testing.assert_allclose(uvw, [4.0, -6.0, 0.0], atol=1e-9)


def test_resliced_oblique_plane_matches_simpleitk():
    """Cut an axial plane out of an oblique volume with the reslice matrix (scipy, linear) and
    with SimpleITK resampling onto an axial 2D grid placed in LPS: same pixels."""
    vol = oblique_volume()
    centre = vol.centre_lps()
    grid = reslice_grid(vol, AXIAL, centre, pixel_mm=1.0)
    m = reslice_axes(vol, AXIAL, centre)
    a, b = np.meshgrid(np.arange(grid.nu), np.arange(grid.nv))
    u, v = grid.u0 + a * grid.pixel_mm, grid.v0 + b * grid.pixel_mm
    ijk = np.einsum("rc,cxy->rxy", m[:3], np.stack([u, v, np.zeros_like(u), np.ones_like(u)]))
    ours = ndimage.map_coordinates(vol.array, ijk[::-1], order=1, cval=np.nan)
    # SimpleITK: a one-slice output image whose axes are the plane's right and up vectors
    ref = sitk.ResampleImageFilter()
    ref.SetSize((grid.nu, grid.nv, 1))
    ref.SetOutputSpacing((1.0, 1.0, 1.0))
    ref.SetOutputOrigin(tuple(AXIAL.to_lps(centre, grid.u0, grid.v0)))
    d = np.stack([AXIAL.right, AXIAL.up, AXIAL.normal], axis=1)
    ref.SetOutputDirection(tuple(d.ravel()))
    ref.SetInterpolator(sitk.sitkLinear)
    ref.SetDefaultPixelValue(np.nan)
    theirs = sitk.GetArrayFromImage(ref.Execute(vol.to_sitk()))[0]
    both = np.isfinite(ours) & np.isfinite(theirs)
    assert both.mean() > 0.2
    np.testing.assert_allclose(ours[both], theirs[both], atol=1e-3)
    # the grid covers the whole projected volume
    umin, umax, vmin, vmax = grid.extent
    assert grid.nu * grid.pixel_mm >= umax - umin and grid.nv * grid.pixel_mm >= vmax - vmin


def test_slice_position_counts_voxel_steps():
    vol = Volume(np.zeros((12, 5, 6)), affine_from_geometry((0, 0, 10), (1, 1, 2.5), np.eye(3)))
    for k in (0, 5, 11):
        p = vol.index_to_lps((2, 2, k))
        # axial views look from the feet: slice 1 is the most inferior one, counting upward
        assert slice_position(vol, AXIAL, p) == (k + 1, 12)
    # sagittal views look from the patient's left: slice 1 is the leftmost (largest x)
    assert slice_position(vol, SAGITTAL, vol.index_to_lps((5, 0, 0))) == (1, 6)
    # coronal views look from the front: slice 1 is the most anterior (smallest y)
    assert slice_position(vol, CORONAL, vol.index_to_lps((0, 0, 0))) == (1, 5)
    assert slice_position(vol, CORONAL, vol.index_to_lps((0, 4, 0))) == (5, 5)


@pytest.mark.parametrize("plane", [AXIAL, CORONAL, SAGITTAL])
def test_plane_origin_lies_on_the_slice_through_the_point(plane):
    centre = np.array([1.0, 2.0, 3.0])
    p = np.array([10.0, -4.0, 7.5])
    o = plane_origin(plane, centre, p)
    assert (o - p) @ plane.normal == pytest.approx(0.0)
    np.testing.assert_allclose(o - centre, ((p - centre) @ plane.normal) * plane.normal)
