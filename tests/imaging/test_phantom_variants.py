"""The study variants the robustness benchmark measures with: values and positions (LPS) stay
where they should, and the ground truth moves with the image."""

from __future__ import annotations

import numpy as np
import pytest

from imaging.labelmap import Label, LabelMap, Legend
from imaging.phantoms.variants import VARIANTS, noise_sd, vary
from imaging.volume import SeriesInfo, Volume, affine_from_geometry


def _study(modality: str = "CT"):
    rng = np.random.default_rng(5)
    shape = (12, 10, 14)  # z, y, x
    arr = rng.integers(-100, 100, shape).astype(np.int16)
    aff = affine_from_geometry((-30.0, 12.0, 100.0), (0.8, 0.7, 1.5), np.eye(3))
    vol = Volume(arr, aff, SeriesInfo(modality=modality))
    labels = (np.indices(shape)[2] % 3 + 1).astype(np.uint8)  # stripes along x
    truth = LabelMap(vol.with_array(labels), Legend(tuple(Label(v, f"s{v}", "bone") for v in (1, 2, 3))))
    return vol, truth


def test_every_variant_keeps_image_and_truth_on_one_grid():
    vol, truth = _study()
    for variant in VARIANTS:
        v, t = vary(vol, truth, variant, np.random.default_rng(0))
        assert t.volume.same_grid(v, tol_mm=1e-6), variant


def test_hu_shifts_and_noise():
    vol, truth = _study()
    v, _ = vary(vol, truth, "denser +20 HU", np.random.default_rng(0))
    assert np.array_equal(v.array.astype(int), vol.array.astype(int) + 20)
    v, _ = vary(vol, truth, "noisier", np.random.default_rng(0))
    extra = v.array.astype(float) - vol.array
    assert extra.std() == pytest.approx(noise_sd(vol), rel=0.2)


def test_other_side_mirrors_across_the_patient_x_axis():
    vol, truth = _study()
    v, t = vary(vol, truth, "other side", np.random.default_rng(0))
    assert np.allclose(v.affine, vol.affine)
    assert np.array_equal(v.array, vol.array[:, :, ::-1])  # x is the column axis here
    assert np.array_equal(t.volume.array, truth.volume.array[:, :, ::-1])


def test_narrow_field_keeps_every_voxel_at_its_lps_position():
    vol, truth = _study()
    v, t = vary(vol, truth, "narrow field", np.random.default_rng(0))
    assert v.shape[0] == vol.shape[0] - 2 * (vol.shape[0] // 6)
    for k in (0, v.shape[0] - 1):
        p = v.index_to_lps(np.array([3.0, 4.0, k]))
        assert v.value_at(p) == vol.value_at(p)
        assert t.volume.value_at(p) == truth.volume.value_at(p)


def test_thick_slices_are_slab_means_placed_at_their_centres():
    vol, truth = _study()
    v, _ = vary(vol, truth, "thick slices", np.random.default_rng(0))
    assert v.spacing[2] == pytest.approx(2 * vol.spacing[2])
    centre = 0.5 * (vol.index_to_lps(np.array([2.0, 3.0, 4.0])) + vol.index_to_lps(np.array([2.0, 3.0, 5.0])))
    ijk = v.lps_to_index(centre)
    np.testing.assert_allclose(ijk, [2.0, 3.0, 2.0], atol=1e-6)
    mean = 0.5 * (int(vol.array[4, 3, 2]) + int(vol.array[5, 3, 2]))
    assert abs(int(v.array[2, 3, 2]) - mean) <= 0.5  # the mean, rounded to the study's integers


def test_three_mm_slices():
    vol, truth = _study()
    v, t = vary(vol, truth, "3 mm slices", np.random.default_rng(0))
    assert v.spacing[2] == pytest.approx(3.0)
    assert t.volume.same_grid(v, tol_mm=1e-6)
    # stripes along x do not change along z: the truth is the same in every slab
    assert np.array_equal(t.volume.array[0], truth.volume.array[0])


def test_an_unknown_variant_is_refused():
    vol, truth = _study()
    with pytest.raises(ValueError, match="No variant"):
        vary(vol, truth, "upside down", np.random.default_rng(0))
