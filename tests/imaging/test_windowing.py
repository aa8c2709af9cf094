"""Window/level: presets, percentile windows, mouse drags and the grey mapping."""

from __future__ import annotations

import numpy as np
import pytest

from imaging.volume import SeriesInfo, Volume
from imaging.windowing import (
    CT_PRESETS,
    MR_AUTO,
    WindowLevel,
    default_window,
    drag_window,
    percentile_window,
    presets_for,
    to_grey,
)


def _vol(arr, modality):
    return Volume(arr, np.eye(4), SeriesInfo(modality=modality))


def test_ct_presets_are_the_standard_windows():
    assert set(CT_PRESETS) == {"bone", "soft tissue", "spine", "lung"}
    # soft tissue shows fat (-100 HU) dark grey and contrast-free muscle (50 HU) mid grey
    st = CT_PRESETS["soft tissue"]
    assert (st.low, st.high) == (-160.0, 240.0)
    # lung window: air black, lung parenchyma (-850) visible, soft tissue white
    lung = CT_PRESETS["lung"]
    assert lung.low < -1000 < -850 < lung.high < 300
    # bone window keeps cortical bone (1500 HU) below white
    assert CT_PRESETS["bone"].high >= 1500


def test_grey_mapping_is_linear_between_low_and_high():
    wl = WindowLevel(400, 40)
    np.testing.assert_allclose(to_grey([-160, 40, 240, -1000, 3000], wl), [0, 127.5, 255, 0, 255])
    assert WindowLevel(0, 10).width == 1.0  # never zero width
    assert wl.label() == "W 400  L 40"


def test_percentile_window_matches_numpy_on_the_foreground():
    rng = np.random.default_rng(1)
    arr = np.zeros((20, 64, 64), np.int16)  # MR-like: a block of zero background
    arr[:, 16:48, 16:48] = rng.normal(600, 100, (20, 32, 32)).clip(1, None).astype(np.int16)
    wl = percentile_window(arr)
    fg = arr[arr > 0].astype(float)
    lo, hi = np.percentile(fg, [1, 99.5])
    assert wl.low == pytest.approx(lo) and wl.high == pytest.approx(hi)
    # without a background block, every voxel counts
    full = rng.normal(0, 1, (10, 10, 10))
    lo, hi = np.percentile(full, [1, 99.5])
    w = percentile_window(full)
    assert (w.low, w.high) == (pytest.approx(lo), pytest.approx(hi))


def test_presets_depend_on_modality():
    ct = _vol(np.zeros((2, 2, 2), np.int16), "CT")
    assert presets_for(ct) == CT_PRESETS | {MR_AUTO: percentile_window(ct.array)}
    assert default_window(ct) == ("spine", CT_PRESETS["spine"])
    # a joint CT opens in the soft-tissue window, where its fluid (the target) shows
    knee = Volume(ct.array, ct.affine, SeriesInfo(modality="CT", body_part="KNEE"))
    assert default_window(knee) == ("soft tissue", CT_PRESETS["soft tissue"])
    hip = Volume(ct.array, ct.affine, SeriesInfo(modality="CT", series_description="CT HIP LT 2 mm"))
    assert default_window(hip)[0] == "soft tissue"
    spine = Volume(ct.array, ct.affine, SeriesInfo(modality="CT", body_part="LSPINE"))
    assert default_window(spine)[0] == "spine"
    mr = _vol(np.arange(1000, dtype=np.float32).reshape(10, 10, 10), "MR")
    name, wl = default_window(mr)
    assert name == MR_AUTO and name in presets_for(mr)
    assert wl.low == pytest.approx(np.percentile(np.arange(1000), 1))  # one zero is not a background block


def test_drag_right_widens_and_up_raises_the_level():
    start = WindowLevel(400, 40)
    wider = drag_window(start, 50, 0, 4000)
    assert wider.width > start.width and wider.level == 40
    narrower = drag_window(start, -50, 0, 4000)
    assert narrower.width < start.width
    up = drag_window(start, 0, -10, 4000)  # Qt y grows downward: -10 is up
    assert up.level == pytest.approx(40 + 10 * 4000 / 500) and up.width == 400
    assert drag_window(start, 0, 0, 4000) == start
    # a drag and its reverse return to the start
    back = drag_window(drag_window(start, 37, 12, 4000), -37, -12, 4000)
    assert back.width == pytest.approx(400) and back.level == pytest.approx(40)


def test_surface_threshold_is_bone_for_ct_and_between_air_and_tissue_for_mr():
    from imaging.windowing import surface_threshold

    assert surface_threshold(_vol(np.zeros((2, 2, 2), np.int16), "CT")) == 160.0
    arr = np.zeros((10, 40, 40), np.float32)
    arr[:, 5:35, 5:35] = 500.0  # body of signal 500 in zero background (56 % of voxels)
    t = surface_threshold(_vol(arr, "MR"))
    assert 0 < t < 500
