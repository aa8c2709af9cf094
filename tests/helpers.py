"""Helpers shared by tests."""

from __future__ import annotations

import numpy as np

from imaging.volume import Volume


def voxel_centres(vol: Volume) -> np.ndarray:
    """LPS of every voxel centre, shape (nz, ny, nx, 3)."""
    kk, jj, ii = np.meshgrid(*(np.arange(n) for n in vol.shape), indexing="ij")
    return vol.index_to_lps(np.stack([ii, jj, kk], -1).astype(float))


def assert_same_image(actual: Volume, expected: Volume, atol_mm: float = 1e-3, atol_value: float = 0.0) -> None:
    """Every voxel of ``expected`` exists in ``actual`` at the same LPS position with the same value
    (axis order and direction may differ)."""
    assert sorted(actual.shape) == sorted(expected.shape), (actual.shape, expected.shape)
    pts = voxel_centres(expected)
    idx = actual.lps_to_index(pts)
    assert np.max(np.abs(idx - np.rint(idx))) * float(actual.spacing.max()) <= atol_mm, "voxel centres do not line up"
    np.testing.assert_allclose(actual.value_at(pts), expected.array, atol=atol_value)
