"""Knee MR: parting the fibular head from the subcutaneous fat against it (synthetic images with
a known answer: a bone with fatty marrow inside a thin, gapped cortex under the skin, and a
block of subcutaneous fat as dark as the marrow stuck to it)."""

from __future__ import annotations

import numpy as np

from imaging.segmentation.knee_mr import _apart_from_fat
from imaging.volume import SeriesInfo, Volume

SPACING = (0.7, 0.7, 2.0)  # x, y, z (mm): thin in-plane pixels, 2 mm slices
SHAPE = (9, 120, 120)  # z, y, x
FAT, MARROW, CORTEX, MUSCLE = 0.62, 0.75, 0.35, 1.3


def _scene(block: bool, seed: int = 3):
    """Normalised fat-suppressed signal, body, bone and the mask earlier steps produced.

    The skin is on the left (x = 5); 12 mm of subcutaneous fat; a bone of 10 mm radius whose
    lateral edge lies 8 mm under the skin, in the fat, and whose cortex has a gap facing it;
    muscle elsewhere. With ``block`` the mask also holds the fat beside the bone's upper half,
    as the intensity-based steps leave it."""
    rng = np.random.default_rng(seed)
    aff = np.diag([*SPACING, 1.0])
    vol = Volume(np.zeros(SHAPE, np.int16), aff, SeriesInfo(modality="MR"))
    zz, yy, xx = np.indices(SHAPE)
    depth = (xx - 5) * 0.7  # mm under the skin
    body = (xx >= 5) & (xx < 115) & (yy >= 5) & (yy < 115)
    norm = np.where(body, MUSCLE, 0.05)
    fat = body & (depth < 12.0)
    norm[fat] = FAT
    cx = 5 + round(18.0 / 0.7)  # lateral edge 8 mm deep
    r = np.hypot((yy - 60) * 0.7, (xx - cx) * 0.7)
    bone = r <= 10.0
    norm[bone] = MARROW
    ring = bone & (r > 9.3)
    gap = ring & (np.abs(np.arctan2(yy - 60, xx - cx) - np.pi) < 0.35)  # a gap facing the skin
    norm[ring & ~gap] = CORTEX
    stuck = np.zeros(SHAPE, dtype=bool)
    if block:
        stuck = fat & ~bone & (depth >= 5.0) & (yy >= 60) & (yy < 80) & (r <= 17.0)
    norm = norm + rng.normal(0.0, 0.06, SHAPE)
    mask = bone | stuck
    other = body & (yy > 95) & (xx > 80)  # another bone far away
    return vol, norm.astype(np.float32), body, bone, stuck, mask, other


def _dice(a, b):
    return 2.0 * float((a & b).sum()) / float(a.sum() + b.sum())


def test_fat_stuck_to_a_subcutaneous_bone_is_cut_off_and_the_bone_kept():
    vol, norm, body, bone, stuck, mask, other = _scene(block=True)
    assert _dice(mask, bone) < 0.92  # the input is really wrong
    out = _apart_from_fat({"fibula": mask, "tibia": other}, "fibula", norm, body, vol)
    assert _dice(out, bone) >= 0.95
    # most of the fat goes; what stays is beside the cortex's gap, where nothing separates them
    assert (out & stuck).sum() <= 0.4 * stuck.sum()
    assert (out & bone).sum() >= 0.98 * bone.sum()  # the cortex (and its gap) stays


def test_a_clean_bone_is_left_as_it_is():
    vol, norm, body, bone, _, mask, other = _scene(block=False)
    out = _apart_from_fat({"fibula": mask, "tibia": other}, "fibula", norm, body, vol)
    assert _dice(out, bone) >= 0.97


def test_a_bone_wholly_within_the_fat_depth_is_not_touched():
    """No part lies deep enough to seed the bone: the step cannot tell bone from fat and does
    nothing rather than give the bone away."""
    vol, norm, body, _, _, mask, other = _scene(block=True)
    shallow = mask & (np.indices(mask.shape)[2] < 5 + round(12.5 / 0.7))
    out = _apart_from_fat({"fibula": shallow, "tibia": other}, "fibula", norm, body, vol)
    assert np.array_equal(out, shallow)


def _varied(variant: str):
    from imaging.phantoms.variants import vary
    from tests.imaging.segmentation_samples import load_phantom

    vol, truth = load_phantom("knee_mr", "t2fs")
    return vary(vol, truth, variant, np.random.default_rng(0))


def test_the_fibula_is_found_on_a_noisier_knee_mr():
    """With as much noise again as the phantom has, the fibula's dark marrow no longer forms a
    piece of the marrow band (noise joins it to the fat and muscle around); the tube darker than
    muscle beside the tibia still gives it, and with it the side. Before, it was lost and the side
    unknown."""
    from imaging.segmentation.joints import segment_joint

    vol, truth = _varied("noisier")
    result = segment_joint(vol, "knee")
    assert result.landmarks.extra["side"] == "right" and result.landmarks.extra["side_from"] == "anatomy"
    fib = result.legend.get("fibula")
    assert fib is not None
    assert _dice(result.volume.array == fib.value, truth.mask("fibula")) >= 0.85


def test_the_patella_is_found_on_a_knee_mr_resliced_to_3_mm():
    """3 mm sagittal slices (the thickest accepted; common on real knee MRs): the phantom
    interpolated to 0.5 mm and averaged over 3 mm slabs, its truth taken at each slab's centre.
    A tibia piece that leaked upwards once made the patella fail its "above the tibia" rule."""
    from imaging.segmentation.joints import segment_joint

    vol, truth = _varied("3 mm slices")
    result = segment_joint(vol, "knee")
    found = result.legend.get("patella")
    assert found is not None
    assert _dice(result.volume.array == found.value, truth.mask("patella")) >= 0.70
    assert result.landmarks.extra["side"] == "right"
