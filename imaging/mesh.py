"""Surface meshes as plain numpy arrays (vertices and normals in LPS mm), for entry search and 3D.

The core never uses VTK; ``ui/`` turns a :class:`Mesh` into a ``vtkPolyData``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imaging.volume import Volume

__all__ = ["Mesh", "surface_mesh"]


@dataclass(frozen=True, eq=False)
class Mesh:
    """A triangle mesh in patient space.

    ``vertices`` (N, 3) LPS mm; ``faces`` (M, 3) vertex indices; ``normals`` (N, 3) unit vectors
    pointing out of the surface (for the skin: away from the patient)."""

    vertices: np.ndarray
    faces: np.ndarray
    normals: np.ndarray

    @property
    def n_vertices(self) -> int:
        return int(self.vertices.shape[0])

    def is_empty(self) -> bool:
        return self.vertices.shape[0] == 0 or self.faces.shape[0] == 0


def _empty() -> Mesh:
    return Mesh(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64), np.zeros((0, 3)))


def surface_mesh(mask: np.ndarray, volume: Volume, *, step: int = 1, smooth_sigma_vox: float = 0.7) -> Mesh:
    """Marching-cubes surface of a boolean ``(nz, ny, nx)`` mask on ``volume``'s grid.

    ``step`` > 1 makes a coarser mesh (marching cubes on every ``step``-th voxel). The mask is
    lightly smoothed first so the surface sits on the 50 % partial-volume level rather than on
    voxel corners; normals are the outward gradient of that smoothed mask, mapped to LPS."""
    from scipy import ndimage
    from skimage.measure import marching_cubes

    mask = np.asarray(mask, dtype=bool)
    if mask.shape != volume.shape:
        raise ValueError(f"mask shape {mask.shape} is not the volume's {volume.shape}")
    if not mask.any():
        return _empty()
    field = np.pad(mask.astype(np.float32), 1)
    if smooth_sigma_vox > 0:
        field = ndimage.gaussian_filter(field, smooth_sigma_vox)
    verts_zyx, faces, _normals, _values = marching_cubes(field, level=0.5, step_size=max(1, int(step)), allow_degenerate=False)
    verts_zyx = verts_zyx - 1.0  # undo the padding
    ijk = verts_zyx[:, ::-1]
    vertices = volume.index_to_lps(ijk)
    # Outward normal = -gradient of the (smoothed) mask, mapped from index to LPS space.
    gz, gy, gx = np.gradient(field)
    coords = (verts_zyx + 1.0).T
    g_idx = np.stack(
        [ndimage.map_coordinates(g, coords, order=1, mode="nearest") for g in (gx, gy, gz)], axis=1
    )
    lin = volume.affine[:3, :3]
    g_lps = g_idx @ np.linalg.inv(lin)  # covector transform: g_world = A^-T g_index
    normals = -g_lps
    norm = np.linalg.norm(normals, axis=1, keepdims=True)
    normals = np.divide(normals, norm, out=np.zeros_like(normals), where=norm > 0)
    return Mesh(vertices.astype(np.float64), faces.astype(np.int64), normals)
