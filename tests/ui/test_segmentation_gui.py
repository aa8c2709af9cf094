"""The segmentation GUI with real clicks and keys: segment on a worker thread, the label overlay
(colours, visibility, opacity), level names and the target, the legend, 3D surfaces, label map
files."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from imaging.kinds import DEFAULT_COLORS
from imaging.labelmap import read_labelmap
from imaging.samples import sample_path
from imaging.windowing import to_grey
from tests.ui.conftest import load_and_wait
from ui.screenshot import save_png

pytestmark = pytest.mark.gui


def wait_task(qtbot, window, timeout_ms=120000):
    task = window.task
    qtbot.waitUntil(lambda: task.finished, timeout=timeout_ms)
    assert window.last_error is None, window.last_error


def core_voxel(labels: np.ndarray, value: int, away_from_k: float | None = None, min_slices: int = 0) -> np.ndarray:
    """(i, j, k) of a voxel of ``value`` whose 5x5 in-plane (axial) neighbourhood is all
    ``value``: its pixel is the label's colour whatever the interpolation. With ``away_from_k``,
    only slices more than ``min_slices`` from that slice (where no landmark name is written)."""
    m = labels == value
    core = m.copy()
    for dj in range(-2, 3):
        for di in range(-2, 3):
            core &= np.roll(np.roll(m, dj, axis=1), di, axis=2)
    if away_from_k is not None:
        far = np.abs(np.arange(labels.shape[0]) - away_from_k) > min_slices
        core &= far[:, None, None]
    k, j, i = np.nonzero(core)
    assert k.size, "no core voxel"
    n = k.size // 2
    return np.array([i[n], j[n], k[n]])


def label_probe(vol, labels: np.ndarray, view, value: int, avoid=(), min_mm: float = 15.0) -> np.ndarray:
    """LPS of a voxel centre on the view's current slice whose 5x5 in-plane neighbourhood is all
    ``value``, away from the crosshairs, from text anchored at ``avoid`` and from the edges."""
    n = view.plane.normal
    m = labels == value
    core = m.copy()
    in_plane_axes = [2 - a for a in range(3) if abs(vol.direction[:, a] @ n) < 1e-6]
    for axis in in_plane_axes:
        for shift in (-2, -1, 1, 2):
            core &= np.roll(m, shift, axis=axis)
    k, j, i = np.nonzero(core)
    pts = vol.index_to_lps(np.stack([i, j, k], -1).astype(float))
    rel = pts - view.state.cursor
    ok = np.abs(rel @ n) < 0.25 * vol.step_along(n)
    ok &= (np.abs(rel @ np.asarray(view.plane.right)) > 5) & (np.abs(rel @ np.asarray(view.plane.up)) > 5)
    for a in avoid:
        ok &= np.linalg.norm(pts - np.asarray(a, float), axis=1) > min_mm
    for idx in np.nonzero(ok)[0]:
        x, y = view.lps_to_display(pts[idx])
        if 40 < x < view.width() - 40 and 50 < y < view.height() - 50:
            return pts[idx]
    raise AssertionError("no probe voxel for this label on this slice")


def pixel(view, lps) -> np.ndarray:
    x, y = view.lps_to_display(lps)
    img = view.capture().astype(float)
    return img[int(round(y)) - 1 : int(round(y)) + 2, int(round(x)) - 1 : int(round(x)) + 2].reshape(-1, 3).mean(axis=0)


def check_legend_item(qtbot, panel, name: str) -> None:
    """Toggle a legend entry's checkbox with a real key press (Space on the current item)."""
    item = panel.item_for(name)
    panel.legend.setCurrentItem(item)
    panel.legend.setFocus()
    qtbot.keyClick(panel.legend, Qt.Key.Key_Space)


@pytest.mark.slow
def test_knee_target_drawn_in_its_colour_hidden_and_faded(main_window, qtbot, screenshot_dir):
    window = main_window
    vol = load_and_wait(qtbot, window, sample_path("knee_ct"))
    before_3d = window.scene.capture()
    window.load_labelmap(sample_path("knee_ct") / "labels.nrrd")
    wait_task(qtbot, window)
    lm = window.state.labelmap
    assert lm is not None and lm.landmarks is not None and lm.landmarks.target
    target = lm.legend.get(lm.landmarks.target["name"]) or lm.legend.of_kind("target")[0]
    assert target.kind == "target"
    panel = window.structures_panel
    assert panel.legend.count() == len(lm.legend)
    # the 3D view changes when the surfaces appear
    assert window.scene.label_actors
    after_3d = window.scene.capture()
    assert np.abs(after_3d.astype(int) - before_3d).mean() > 3
    # go to a voxel well inside the target (joint space), axial view
    # a slice the target's name and cross are not drawn on (they show within 10 mm of it)
    target_k = vol.lps_to_index(np.asarray(lm.landmarks.target["lps"], float))[2]
    ijk = core_voxel(lm.volume.array, target.value, target_k, int(np.ceil(12.0 / vol.spacing[2])))
    p = vol.index_to_lps(ijk.astype(float))
    view = window.axial
    window.state.set_cursor(p + np.array([9.0, 9.0, 0.0]))  # that axial slice
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(*map(round, view.lps_to_display(p))))
    np.testing.assert_allclose(window.state.cursor, p, atol=1e-6)
    # opacity to 100 % with the keyboard on the slider: the pixel is the target colour
    qtbot.keyClick(panel.opacity, Qt.Key.Key_End)
    assert window.state.label_opacity == 1.0
    # a target voxel away from the crosshairs and from the target's cross and name
    probe = label_probe(vol, lm.volume.array, view, target.value, avoid=[lm.landmarks.target["lps"]], min_mm=25)
    assert lm.volume.array[tuple(np.rint(vol.lps_to_index(probe)).astype(int)[::-1])] == target.value
    np.testing.assert_allclose(pixel(view, probe), target.color, atol=12)
    assert tuple(target.color) == DEFAULT_COLORS["target"] or len(target.color) == 3
    # hidden in the legend: back to the grey of its HU under the window
    check_legend_item(qtbot, panel, target.name)
    assert not window.state.label_visible[target.value]
    value = float(vol.value_at(probe))
    grey = float(to_grey(value, window.state.window_level))
    px = pixel(view, probe)
    assert np.ptp(px) < 4 and abs(px.mean() - grey) < 12, (px, grey)
    # shown again at 100 %, then opacity 0: grey again
    check_legend_item(qtbot, panel, target.name)
    np.testing.assert_allclose(pixel(view, probe), target.color, atol=12)
    qtbot.keyClick(panel.opacity, Qt.Key.Key_Home)
    px = pixel(view, probe)
    assert np.ptp(px) < 4 and abs(px.mean() - grey) < 12
    # the target cross and its name are drawn on the target's slice
    probe_cursor = window.state.cursor.copy()
    window.state.set_cursor(np.asarray(lm.landmarks.target["lps"], float))
    qtbot.keyClick(panel.opacity, Qt.Key.Key_End)
    texts = [a.GetInput() for a, _p, _r in view._landmark_texts if a.GetVisibility()]
    assert any(t.startswith("target:") for t in texts)
    panel.opacity.setValue(60)  # half-transparent for the picture
    save_png(window, screenshot_dir / "knee_joint_space_target.png")
    window.export_png("sagittal", screenshot_dir / "knee_sagittal_target.png")
    window.state.set_cursor(probe_cursor)
    # L hides every label and the names
    qtbot.keyClick(panel.opacity, Qt.Key.Key_End)
    qtbot.keyClick(window, Qt.Key.Key_L)
    assert not window.state.show_labels and not view.labels_drawn()
    assert not any(a.GetVisibility() for a, _p, _r in view._landmark_texts)
    px = pixel(view, probe)
    assert np.ptp(px) < 4


@pytest.mark.slow
def test_lumbar_segmentation_with_progress_levels_and_legend(main_window, qtbot, screenshot_dir):
    window = main_window
    vol = load_and_wait(qtbot, window, sample_path("lumbar_ct"))
    qtbot.keyClick(window, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert window.task is not None and window.progress.isVisible() and window.cancel_button.isVisible()
    wait_task(qtbot, window)
    assert not window.progress.isVisible()
    lm = window.state.labelmap
    levels = [lv["name"] for lv in lm.landmarks.levels]
    for name in ("L1", "L2", "L3", "L4", "L5"):
        assert name in levels and lm.legend.get(name) is not None
    # the sagittal view through the midline of the spine shows the level names at their centres
    l3 = np.asarray(next(lv["centre"] for lv in lm.landmarks.levels if lv["name"] == "L3"), float)
    window.state.set_cursor(l3, snap=True)
    view = window.sagittal
    shown = {a.GetInput() for a, _p, _r in view._landmark_texts if a.GetVisibility()}
    assert {"L1", "L2", "L3", "L4", "L5"} <= shown
    # each name is drawn where its level centre is: the label of L4 lies below that of L3
    pos = {a.GetInput(): a.GetPositionCoordinate().GetValue() for a, _p, _r in view._landmark_texts}
    assert pos["L4"][1] < pos["L3"][1] < pos["L2"][1]
    # the vertebral body of L3 is coloured with its label colour in the sagittal view
    qtbot.keyClick(window.structures_panel.opacity, Qt.Key.Key_End)
    lab = lm.legend.by_name("L3")
    ijk = np.rint(vol.lps_to_index(l3)).astype(int)
    assert lm.volume.array[ijk[2], ijk[1], ijk[0]] == lab.value
    centres = [lv["centre"] for lv in lm.landmarks.levels] + [lm.landmarks.target["lps"]]
    probe = label_probe(vol, lm.volume.array, view, lab.value, avoid=centres, min_mm=9)
    np.testing.assert_allclose(pixel(view, probe), lab.color, atol=12)
    window.structures_panel.opacity.setFocus()  # keys go to the focused widget, as for a user
    for _ in range(5):  # back to a see-through overlay (50 %)
        qtbot.keyClick(window.structures_panel.opacity, Qt.Key.Key_PageDown)
    assert window.state.label_opacity == pytest.approx(0.5)
    window.export_png("sagittal", screenshot_dir / "lumbar_sagittal_levels.png")
    save_png(window, screenshot_dir / "lumbar_segmented_window.png")
    # the rest of the body is listed but hidden; double-click on a legend entry goes there
    panel = window.structures_panel
    body = lm.legend.get("soft tissue")
    if body is not None:
        assert not window.state.label_visible[body.value]
    assert panel.isVisible()  # its dock tab is raised when labels arrive
    item = panel.item_for("L5")
    panel.legend.scrollToItem(item)
    qtbot.wait(50)
    rect = panel.legend.visualItemRect(item)
    hits = []
    panel.legend.itemDoubleClicked.connect(lambda it: hits.append(it.text()))
    # a real double-click: press-release, then the second press arrives as a double-click
    qtbot.mouseClick(panel.legend.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(panel.legend.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    cur = np.rint(vol.lps_to_index(window.state.cursor)).astype(int)
    assert hits == [item.text()]
    assert lm.volume.array[cur[2], cur[1], cur[0]] == lm.legend.by_name("L5").value


def test_segmentation_can_be_cancelled(main_window, qtbot):
    window = main_window
    load_and_wait(qtbot, window, sample_path("lumbar_ct"))
    task = window.segment("lumbar")
    qtbot.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: task.finished, timeout=60000)
    assert window.state.labelmap is None
    assert window.last_error is None  # a cancel is not an error


def test_label_map_files_grid_check_and_sample_protection(main_window, qtbot, tmp_path):
    window = main_window
    vol = load_and_wait(qtbot, window, sample_path("lumbar_ct"))
    # a label map of another study is refused with the core's message
    window.load_labelmap(sample_path("knee_ct") / "labels.nrrd")
    qtbot.waitUntil(lambda: window.task.finished, timeout=60000)
    assert window.last_error and "does not match this study's" in window.last_error
    assert window.state.labelmap is None
    window.last_error = None
    # segment, save outside the samples, read back: same voxels and legend
    window.segment("lumbar")
    wait_task(qtbot, window)
    out = window.save_labelmap(tmp_path / "mine.nrrd")
    assert out is not None and out.exists() and (tmp_path / "mine.json").exists()
    back = read_labelmap(out, reference=vol)
    np.testing.assert_array_equal(back.volume.array, window.state.labelmap.volume.array)
    assert [lab.name for lab in back.legend] == [lab.name for lab in window.state.labelmap.legend]
    # never into a sample's folder (its ground truth stays as shipped)
    gt = sample_path("knee_ct") / "labels.nrrd"
    stamp = gt.stat().st_mtime_ns
    assert window.save_labelmap(gt) is None
    assert "never" in window.last_error and gt.stat().st_mtime_ns == stamp
    assert window.save_labelmap(sample_path("lumbar_ct") / "new_labels.nrrd") is None
    assert not (sample_path("lumbar_ct") / "new_labels.nrrd").exists()


def test_toggling_labels_with_the_3d_planes_shown_logs_no_vtk_error(main_window, qtbot, capfd):
    """The 3D planes draw the slice images; they must switch pipelines with the slice views
    (a blend of RGB labels into the single-channel grey image is refused by VTK)."""
    window = main_window
    load_and_wait(qtbot, window, sample_path("knee_ct"))
    window.state.set_show_planes_3d(True)
    window.load_labelmap(sample_path("knee_ct") / "labels.nrrd")
    wait_task(qtbot, window)
    capfd.readouterr()
    for _ in range(2):
        qtbot.keyClick(window, Qt.Key.Key_L)
        for view in window.views():
            view.render()
    err = capfd.readouterr().err
    assert "ERR|" not in err and "vtkImageBlend" not in err, err[-2000:]
    assert window.state.show_labels


@pytest.mark.slow
def test_a_side_the_header_contradicts_is_shown_before_planning(main_window, qtbot, screenshot_dir):
    """The knee phantom mirrored on its grid is a left knee whose DICOM header still says R: the
    segmentation reads the side from the anatomy, and the user is told to check it, in a
    message box and in the Structures panel."""
    from imaging.volume import Volume

    window = main_window
    vol = load_and_wait(qtbot, window, sample_path("knee_ct"))
    assert vol.info.laterality == "R"
    across = 2 - int(np.argmax(np.abs(vol.affine[0, :3])))  # the array axis along the patient's x
    flip = tuple(slice(None, None, -1) if a == across else slice(None) for a in range(3))
    window.set_volume(Volume(vol.array[flip].copy(), vol.affine, vol.info))
    panel = window.structures_panel
    panel.task_combo.setCurrentIndex(panel.task_combo.findData("knee"))
    qtbot.mouseClick(panel.segment_button, Qt.MouseButton.LeftButton)
    task = window.task
    qtbot.waitUntil(lambda: task.finished, timeout=120000)
    lm = window.state.labelmap
    assert lm is not None and lm.landmarks.extra["side"] == "left"
    box = window._error_box
    qtbot.waitUntil(box.isVisible, timeout=5000)
    assert box.windowTitle() == "Check before planning"
    assert "left knee" in box.text() and "header says right" in box.text()
    assert panel.warnings.isVisible() and "header says right" in panel.warnings.text()
    assert "side: left (from the anatomy)" in panel.summary.text()
    save_png(window, screenshot_dir / "knee_side_warning.png")
    box.accept()
    # without a label map there is nothing to check
    window.state.set_labelmap(None)
    assert not panel.warnings.isVisible() and panel.warnings.text() == ""
