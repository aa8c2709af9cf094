"""Body outline, skin layer, bone split and skin mesh on synthetic studies with known geometry."""

from __future__ import annotations

import numpy as np
import pytest

from imaging.errors import CancelledError, LabelMapError
from imaging.labelmap import Label, LabelMap, Legend
from imaging.segmentation import copy_structures, skin_mesh
from imaging.segmentation.body import body_mask, fill_holes_fov, segment_body, skin_layer, skin_mask
from imaging.segmentation.bone import bone_mask, segment_bones, split_bones
from imaging.volume import SeriesInfo, Volume, affine_from_geometry
from tests.helpers import voxel_centres

CT = SeriesInfo(modality="CT")


def _grid(shape_zyx, spacing_ijk, info=CT, origin=(0.0, 0.0, 0.0)):
    aff = affine_from_geometry(origin, spacing_ijk, np.eye(3))
    return Volume(np.zeros(shape_zyx, np.int16), aff, info)


def _trunk_ct():
    """An elliptic trunk (40 HU, 200 x 140 mm) with lungs and bowel gas, lying on a thin table.

    Returns the CT and the analytic masks (trunk, lungs, gas, table) on its grid."""
    vol = _grid((30, 110, 130), (2.0, 2.0, 4.0))
    p = voxel_centres(vol)
    x, y, z = p[..., 0] - 130.0, p[..., 1] - 100.0, p[..., 2]
    trunk = (x / 100.0) ** 2 + (y / 70.0) ** 2 <= 1.0
    lungs = (((np.abs(x) - 45.0) / 30.0) ** 2 + (y / 35.0) ** 2 <= 1.0) & (z >= 60.0)
    gas = ((x + 10.0) ** 2 + (y + 30.0) ** 2 <= 12.0**2) & (z < 40.0)
    # table: a 4 mm carbon plate (250 HU) 6 mm under the back (posterior = +y) and a gel pad
    # (-100 HU, soft-tissue-like) filling the space between them: all joined to the patient
    table = (y >= 76.0) & (y <= 80.0) & (np.abs(x) <= 120.0)
    pad = (y > 70.0) & (y < 76.0) & (np.abs(x) <= 110.0) & ~trunk
    arr = np.full(vol.shape, -1000.0)
    arr[pad] = -100.0
    arr[trunk] = 40.0
    arr[lungs] = -850.0
    arr[gas] = -950.0
    arr[table] = 250.0
    rng = np.random.default_rng(1)
    arr += rng.normal(0.0, 8.0, arr.shape)
    return vol.with_array(arr.astype(np.int16)), trunk, lungs, gas, table, pad


def test_body_excludes_table_and_fills_lungs_and_bowel_gas():
    vol, trunk, lungs, gas, table, pad = _trunk_ct()
    body = body_mask(vol)
    assert body[lungs].all(), "the lungs are inside the body"
    assert body[gas].all(), "bowel gas is inside the body"
    assert not body[table].any(), "the table is not the patient"
    assert body[pad].mean() < 0.3, "nor is the pad, beyond the sliver that touches the skin"
    # the outline follows the trunk (Dice against the analytic ellipse)
    dice = 2 * (body & trunk).sum() / (body.sum() + trunk.sum())
    assert dice > 0.97


def test_mr_body_outline_without_hounsfield_units():
    vol = _grid((20, 80, 80), (2.5, 2.5, 5.0), SeriesInfo(modality="MR"))
    p = voxel_centres(vol)
    x, y = p[..., 0] - 100.0, p[..., 1] - 100.0
    limb = x**2 + y**2 <= 70.0**2
    marrow_void = x**2 + y**2 <= 15.0**2  # dark cortical bone ring inside
    rng = np.random.default_rng(2)
    arr = rng.rayleigh(15.0, vol.shape)
    arr[limb] = 600.0 + rng.normal(0, 30, int(limb.sum()))
    arr[marrow_void] = 20.0
    body = body_mask(vol.with_array(arr.astype(np.float32)))
    assert body[limb].mean() > 0.99
    assert body[~limb].mean() < 0.01


@pytest.mark.parametrize("spacing", [(0.5, 1.0, 2.5), (1.0, 0.7, 1.5)])
def test_skin_is_two_mm_thick_along_every_axis_on_anisotropic_grids(spacing):
    sx, sy, sz = spacing
    shape = (int(120 / sz), int(120 / sy), int(120 / sx))
    vol = _grid(shape, spacing)
    p = voxel_centres(vol)
    c = np.array([60.0, 60.0, 60.0])
    body = np.sum(((p - c) / np.array([45.0, 35.0, 40.0])) ** 2, axis=-1) <= 1.0
    skin = skin_layer(body, vol, 2.0)
    assert skin.any()
    kc, jc, ic = (n // 2 for n in shape)
    for axis, (line_skin, sp) in enumerate(
        ((skin[kc, jc, :], sx), (skin[kc, :, ic], sy), (skin[:, jc, ic], sz))
    ):
        idx = np.nonzero(line_skin)[0]
        first_run = idx[idx < len(line_skin) // 2]
        thickness = len(first_run) * sp
        expected = max(1, round(2.0 / sp)) * sp
        assert thickness == pytest.approx(expected), (axis, thickness)
        assert abs(thickness - 2.0) <= sp / 2 + 1e-6
    # everything in the skin is in the body, and the skin is the body's outer layer only
    assert not (skin & ~body).any()
    assert body[kc, jc, ic] and not skin[kc, jc, ic]


def test_no_skin_where_the_field_of_view_cuts_the_body():
    vol = _grid((20, 60, 60), (2.0, 2.0, 3.0))
    p = voxel_centres(vol)
    body = (p[..., 0] - 60.0) ** 2 + (p[..., 1] - 60.0) ** 2 <= 50.0**2  # a cylinder through every slice
    skin = skin_layer(body, vol)
    inner = (p[..., 0] - 60.0) ** 2 + (p[..., 1] - 60.0) ** 2 <= 45.0**2
    assert not skin[0][inner[0]].any() and not skin[-1][inner[-1]].any(), "no skin on the cut faces"
    from scipy import ndimage

    edge = body[10] & ~ndimage.binary_erosion(body[10])  # the outline in a slice inside the field
    assert skin[10][edge].all()


def test_segment_body_labels_whole_body_and_reports_progress_and_cancel():
    vol, trunk, *_ = _trunk_ct()
    seen = []
    lm = segment_body(vol, progress=lambda f, m: seen.append(f))
    names = {lab.name: lab for lab in lm.legend}
    assert names["soft tissue"].kind == "other" and names["skin"].kind == "skin"
    labelled = lm.volume.array > 0
    assert (labelled & trunk).sum() / trunk.sum() > 0.98
    assert seen and seen[-1] == pytest.approx(1.0) and all(b >= a for a, b in zip(seen, seen[1:], strict=False))
    with pytest.raises(CancelledError):
        segment_body(vol, cancel=lambda: True)


def _bones_ct():
    """Three bones: two balls of 'femoral head' size touching over a narrow neck, and a rod."""
    vol = _grid((50, 60, 90), (1.5, 1.5, 1.5))
    p = voxel_centres(vol)
    a = np.linalg.norm(p - np.array([40.0, 45.0, 37.0]), axis=-1) <= 15.0
    b = np.linalg.norm(p - np.array([71.0, 45.0, 37.0]), axis=-1) <= 15.0  # 1 mm gap
    neck = (np.abs(p[..., 0] - 55.5) <= 2.0) & (np.hypot(p[..., 1] - 45.0, p[..., 2] - 37.0) <= 3.0)
    rod = (np.hypot(p[..., 0] - 110.0, p[..., 1] - 45.0) <= 6.0) & (p[..., 2] > 10.0) & (p[..., 2] < 65.0)
    arr = np.full(vol.shape, 30.0)
    arr[a | b | neck] = 700.0
    arr[rod] = 900.0
    return vol.with_array(arr.astype(np.int16)), a, b, rod


def test_touching_bones_are_split_into_connected_bones():
    vol, a, b, rod = _bones_ct()
    mask = bone_mask(vol)
    from imaging.segmentation.common import components

    assert components(mask, connectivity=3)[1] == 2, "the two balls touch: one connected piece, plus the rod"
    labels, n = split_bones(mask, vol.spacing[::-1])
    assert n == 3
    # each analytic bone is (nearly) one label, and different bones get different labels
    la, lb, lr = (np.bincount(labels[m]).argmax() for m in (a, b, rod))
    assert len({la, lb, lr}) == 3 and 0 not in (la, lb, lr)
    for m, lab in ((a, la), (b, lb), (rod, lr)):
        assert (labels[m] == lab).mean() > 0.95


def test_segment_bones_legend():
    vol, *_ = _bones_ct()
    lm = segment_bones(vol)
    bones = [lab for lab in lm.legend if lab.kind == "bone"]
    assert len(bones) == 3 and {lab.name for lab in bones} == {"bone 1", "bone 2", "bone 3"}


def test_skin_mesh_lies_on_the_body_surface_with_outward_normals_and_no_cut_faces():
    vol = _grid((24, 70, 90), (2.0, 2.0, 3.0))
    p = voxel_centres(vol)
    centre = np.array([90.0, 70.0])
    rx, ry = 70.0, 50.0
    body = ((p[..., 0] - centre[0]) / rx) ** 2 + ((p[..., 1] - centre[1]) / ry) ** 2 <= 1.0
    labels = np.where(body, 1, 0).astype(np.uint8)
    lm = LabelMap(vol.with_array(labels), Legend((Label(1, "soft tissue", "other"),)))
    mesh = skin_mesh(lm)
    assert not mesh.is_empty()
    v = mesh.vertices
    # every vertex is on the elliptic outline (within about one voxel), none on the cut faces
    r = np.hypot((v[:, 0] - centre[0]) / rx, (v[:, 1] - centre[1]) / ry)
    assert np.abs(r - 1.0).max() < 2.5 / ry
    z_lo, z_hi = vol.index_to_lps([0, 0, 0])[2], vol.index_to_lps([0, 0, vol.shape[0] - 1])[2]
    assert v[:, 2].min() >= z_lo - 1e-6 and v[:, 2].max() <= z_hi + 1e-6
    radial = np.stack([(v[:, 0] - centre[0]) / rx**2, (v[:, 1] - centre[1]) / ry**2], 1)
    outward = np.einsum("ij,ij->i", radial, mesh.normals[:, :2])
    assert (outward > 0).mean() > 0.98


def test_copy_structures_from_ground_truth_keeps_grid_and_refuses_another_grid():
    vol = _grid((10, 20, 20), (1.0, 1.0, 1.0))
    base = np.zeros(vol.shape, np.uint8)
    base[2:8, 2:18, 2:18] = 1
    result = LabelMap(vol.with_array(base), Legend((Label(1, "soft tissue", "other"),)))
    gt = np.zeros(vol.shape, np.uint8)
    gt[4:6, 5:7, 5:7] = 3
    gt[4:6, 10:12, 10:12] = 7
    gt[0, 0, 0] = 9
    gt_map = LabelMap(
        vol.with_array(gt),
        Legend((Label(3, "femoral nerve", "nerve"), Label(7, "femoral artery", "artery"), Label(9, "femur", "bone"))),
    )
    out = copy_structures(result, gt_map)
    assert out.mask("femoral nerve").sum() == 8 and out.mask("femoral artery").sum() == 8
    assert out.legend.get("femur") is None, "only structures at risk are copied"
    assert out.mask("soft tissue").sum() == base.sum() - 16
    other = LabelMap(_grid((10, 20, 21), (1.0, 1.0, 1.0)).with_array(np.zeros((10, 20, 21), np.uint8)), Legend(()))
    with pytest.raises(LabelMapError):
        copy_structures(result, other)


def test_a_bundled_sample_ground_truth_is_found_by_its_grid(tmp_path, monkeypatch):
    import json

    from imaging.labelmap import write_labelmap
    from imaging.segmentation import sample_ground_truth

    vol = _grid((6, 8, 10), (1.0, 1.0, 2.0), origin=(5.0, -3.0, 40.0))
    gt = np.zeros(vol.shape, np.uint8)
    gt[2:4, 3:5, 4:6] = 1
    folder = tmp_path / "phantom"
    folder.mkdir()
    (folder / "sample.json").write_text(json.dumps({"title": "phantom", "description": "test"}))
    write_labelmap(folder / "labels.nrrd", LabelMap(vol.with_array(gt), Legend((Label(1, "sciatic nerve", "nerve"),))))
    monkeypatch.setenv("INJECTION_PLANNER_SAMPLES", str(tmp_path))
    found = sample_ground_truth(vol)
    assert found is not None and found.mask("sciatic nerve").sum() == 8
    shifted = _grid((6, 8, 10), (1.0, 1.0, 2.0), origin=(5.0, -3.0, 41.0))
    assert sample_ground_truth(shifted) is None


@pytest.mark.parametrize("spacing", [(0.8, 0.8, 1.5), (0.8, 0.8, 2.0), (0.5, 1.0, 2.5)])
def test_skin_mask_is_the_outer_two_mm_measured_from_the_surface_on_oblique_surfaces_too(spacing):
    """A ball (every surface orientation): skin = voxel centres within 2 mm of its surface."""
    sx, sy, sz = spacing
    shape = (int(80 / sz), int(80 / sy), int(80 / sx))
    vol = _grid(shape, spacing)
    p = voxel_centres(vol)
    depth = 30.0 - np.linalg.norm(p - np.array([40.0, 40.0, 40.0]), axis=-1)
    body = depth >= 0.0
    truth = body & (depth <= 2.0)
    skin = skin_mask(body, vol)
    assert not (skin & ~body).any()
    dice = 2 * (skin & truth).sum() / (skin.sum() + truth.sum())
    assert dice >= 0.85, dice
    assert not skin[depth > 3.5].any(), "nothing deeper than 2 mm plus a voxel is skin"
    # the axis-cross shell is thinner on oblique surfaces (and one voxel on 1.5 mm slices)
    layer = skin_layer(body, vol)
    assert dice > 2 * (layer & truth).sum() / (layer.sum() + truth.sum())


def test_skin_mask_absent_where_the_field_of_view_cuts_the_body():
    vol = _grid((20, 60, 60), (1.0, 1.0, 1.5))
    p = voxel_centres(vol)
    r = np.hypot(p[..., 0] - 30.0, p[..., 1] - 30.0)
    body = r <= 25.0  # a cylinder through every slice
    skin = skin_mask(body, vol)
    assert not skin[0][r[0] <= 22.0].any() and not skin[-1][r[-1] <= 22.0].any(), "no skin on the cut faces"
    assert skin[10][(r[10] > 23.5) & body[10]].all() and not skin[10][r[10] < 22.0].any()


def test_fill_holes_fov_fills_air_ringed_by_the_body_on_the_cut_face_only():
    mask = np.ones((12, 20, 20), bool)
    mask[3:9, 5:12, 0:6] = False  # a "lung" cut by the x = 0 face, ringed by body on that face
    mask[:, 15:, :] = False  # air in front of the body: reaches the face's edges
    out = fill_holes_fov(mask)
    assert out[3:9, 5:12, 0:6].all(), "air ringed by the body on the cut face is internal"
    assert not out[:, 15:, :].any(), "outside air stays outside"
    assert not fill_holes_fov(np.zeros((4, 4, 4), bool)).any()


def test_lung_cut_by_the_field_of_view_is_body_and_carries_no_skin():
    vol, trunk, lungs, *_ = _trunk_ct()
    cut = 40  # columns (2 mm): the field of view starts at x = 80 mm, through the right lung
    arr = vol.array[:, :, cut:]
    vol_c = _grid(arr.shape, (2.0, 2.0, 4.0), origin=(2.0 * cut, 0.0, 0.0)).with_array(arr)
    trunk, lungs = trunk[:, :, cut:], lungs[:, :, cut:]
    assert lungs[:, :, 0].any(), "the lung reaches the cut"
    lm = segment_body(vol_c)
    body = lm.volume.array > 0
    assert body[lungs].mean() > 0.99, "a lung cut by the field of view is inside the body"
    p = voxel_centres(vol_c)
    deep = ((p[..., 0] - 130.0) / 94.0) ** 2 + ((p[..., 1] - 100.0) / 64.0) ** 2 <= 1.0  # 6 mm inside
    assert not lm.mask("skin")[deep].any(), "no skin drawn along the lung"


def test_bounding_box_is_the_extent_of_the_mask_padded_and_clipped():
    """Against the voxel list (np.argwhere) on random masks, empty ones included."""
    from imaging.segmentation.common import bounding_box

    rng = np.random.default_rng(1)
    for _ in range(200):
        shape = tuple(int(n) for n in rng.integers(1, 12, 3))
        mask = rng.random(shape) < rng.random() * 0.1
        pad = tuple(int(p) for p in rng.integers(0, 3, 3))
        idx = np.argwhere(mask)
        expected = None
        if len(idx):
            lo = np.maximum(idx.min(axis=0) - pad, 0)
            hi = np.minimum(idx.max(axis=0) + 1 + np.asarray(pad), shape)
            expected = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
        assert bounding_box(mask, pad, shape) == expected
