"""The viewer driven with real mouse, wheel and key events, checked against independent numbers
(voxel indices and spacings, SimpleITK interpolation, the grey-level formula)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QAction, QImage, QKeySequence, QWheelEvent
from PySide6.QtWidgets import QApplication, QFileDialog

from imaging.samples import list_samples, sample_path
from imaging.windowing import CT_PRESETS, WindowLevel, to_grey
from tests.ui.conftest import dispose, load_and_wait
from ui.screenshot import qimage_to_array
from ui.shortcuts import ACTIONS

pytestmark = pytest.mark.gui


@pytest.fixture
def lumbar(qtbot, main_window):
    vol = load_and_wait(qtbot, main_window, sample_path("lumbar_ct"))
    return main_window, vol


def wheel(view, notches: int = 1, modifiers=Qt.KeyboardModifier.NoModifier, pos: QPointF | None = None) -> None:
    pos = pos or QPointF(view.width() / 2, view.height() / 2)
    ev = QWheelEvent(pos, view.mapToGlobal(pos), QPoint(0, 0), QPoint(0, 120 * notches), Qt.MouseButton.NoButton,
                     modifiers, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view, ev)


def drag(qtbot, view, button, start, end, modifier=Qt.KeyboardModifier.NoModifier, steps: int = 4) -> None:
    start, end = QPoint(*map(round, start)), QPoint(*map(round, end))
    qtbot.mousePress(view, button, modifier, start)
    for s in range(1, steps + 1):
        qtbot.mouseMove(view, start + (end - start) * s / steps)
    qtbot.mouseRelease(view, button, modifier, end)


def point(xy) -> QPoint:
    return QPoint(round(xy[0]), round(xy[1]))


def voxel_index(vol, lps) -> np.ndarray:
    return np.rint(vol.lps_to_index(lps)).astype(int)


# -- navigation ---------------------------------------------------------------------------------
def test_wheel_and_keys_step_exactly_one_slice(lumbar, qtbot):
    window, vol = lumbar
    view = window.axial
    n0, count = view.slice_number()
    k0 = voxel_index(vol, window.state.cursor)[2]
    z0 = window.state.cursor[2]
    wheel(view, 1)
    assert view.slice_number() == (n0 + 1, count)
    assert voxel_index(vol, window.state.cursor)[2] == k0 + 1  # one image further (superior)
    assert window.state.cursor[2] == pytest.approx(z0 + vol.spacing[2])
    wheel(view, -1)
    assert view.slice_number()[0] == n0
    view.setFocus()
    for key, delta in ((Qt.Key.Key_Up, 1), (Qt.Key.Key_PageUp, 1), (Qt.Key.Key_Down, -1), (Qt.Key.Key_PageDown, -1)):
        before = view.slice_number()[0]
        qtbot.keyClick(view, key)
        assert view.slice_number()[0] == before + delta, QKeySequence(key).toString()
    # the slice on screen is the one the cursor is on: its overlay says so
    assert f"Im {view.slice_number()[0]}/{count}" in view._slice_text.GetInput()
    # a step in the sagittal view moves left-right by one column (spacing along x)
    x0 = window.state.cursor[0]
    wheel(window.sagittal, 1)
    assert abs(window.state.cursor[0] - x0) == pytest.approx(vol.spacing[0])


def test_click_moves_the_cursor_and_every_view_follows(lumbar, qtbot):
    window, vol = lumbar
    # a voxel centre 7 columns right and 5 rows down (patient left and posterior) of the cursor
    start = voxel_index(vol, window.state.cursor)
    target_idx = start + np.array([7, 5, 0])
    target = vol.index_to_lps(target_idx)
    qtbot.mouseClick(window.axial, Qt.MouseButton.LeftButton, pos=point(window.axial.lps_to_display(target)))
    np.testing.assert_array_equal(voxel_index(vol, window.state.cursor), target_idx)
    cur = window.state.cursor
    # the coronal view now shows the plane y = cursor y, the sagittal x = cursor x
    assert window.coronal._plane_origin()[1] == pytest.approx(cur[1])
    assert window.sagittal._plane_origin()[0] == pytest.approx(cur[0])
    assert window.axial._plane_origin()[2] == pytest.approx(cur[2])
    assert f"A {abs(cur[1]):.1f} mm" in window.coronal._slice_text.GetInput() or f"P {abs(cur[1]):.1f} mm" in window.coronal._slice_text.GetInput()
    # the crosshairs of the coronal view cross where the cursor is drawn
    x, y = window.coronal.lps_to_display(cur)
    image = window.coronal.capture().astype(int)
    green = (image[..., 1] > 150) & (image[..., 0] < 120)
    row = max(green[r, :].mean() for r in range(int(y) - 1, int(y) + 3))
    col = max(green[:, c].mean() for c in range(int(x) - 1, int(x) + 3))
    assert row > 0.3 and col > 0.3
    # readout: LPS, voxel index and the HU value of that voxel, read independently
    i, j, k = target_idx
    text = window.cursor_label.text()
    assert f"LPS ({cur[0]:.1f}, {cur[1]:.1f}, {cur[2]:.1f}) mm" in text
    assert f"voxel ({i}, {j}, {k})" in text
    assert f"value {vol.array[k, j, i]:.0f} HU" in text
    # a click in the sagittal view moves the axial slice (superior-inferior)
    target2 = vol.index_to_lps(target_idx + np.array([0, 0, 9]))
    qtbot.mouseClick(window.sagittal, Qt.MouseButton.LeftButton, pos=point(window.sagittal.lps_to_display(target2)))
    assert voxel_index(vol, window.state.cursor)[2] == k + 9
    assert window.axial._plane_origin()[2] == pytest.approx(target2[2])  # clicks snap to voxel centres


def test_zoom_pan_and_reset(lumbar, qtbot):
    window, vol = lumbar
    view = window.axial
    centre = QPointF(view.width() / 2, view.height() / 2)
    mm0 = view.mm_per_pixel()
    under = view.display_to_lps(centre.x() + 40, centre.y() + 30)
    wheel(view, 2, Qt.KeyboardModifier.ControlModifier, QPointF(centre.x() + 40, centre.y() + 30))
    assert view.mm_per_pixel() == pytest.approx(mm0 / 1.15**2)
    # zoom keeps the point under the mouse where it was
    np.testing.assert_allclose(view.display_to_lps(centre.x() + 40, centre.y() + 30), under, atol=view.mm_per_pixel())
    assert window.state.cursor[2] == pytest.approx(view._plane_origin()[2])  # no slice change
    # right drag up zooms in
    z = view.zoom
    drag(qtbot, view, Qt.MouseButton.RightButton, (centre.x(), centre.y()), (centre.x(), centre.y() - 40))
    assert view.zoom > z
    # middle drag pans: the point under the mouse follows it
    mm = view.mm_per_pixel()
    p = view.display_to_lps(100, 100)
    cursor_before = window.state.cursor.copy()
    drag(qtbot, view, Qt.MouseButton.MiddleButton, (100, 100), (160, 130))
    np.testing.assert_allclose(view.display_to_lps(160, 130), p, atol=1.5 * mm)
    np.testing.assert_array_equal(window.state.cursor, cursor_before)  # panning is not clicking
    # Shift+left drag pans too
    p = view.display_to_lps(150, 120)
    drag(qtbot, view, Qt.MouseButton.LeftButton, (150, 120), (110, 150), Qt.KeyboardModifier.ShiftModifier)
    np.testing.assert_allclose(view.display_to_lps(110, 150), p, atol=1.5 * mm)
    np.testing.assert_array_equal(window.state.cursor, cursor_before)
    # the scale bar is a 1-2-5 length drawn at the current scale
    assert view.scale_bar_mm / view.scale_bar_px == pytest.approx(view.mm_per_pixel(), rel=1e-6)
    assert view.scale_bar_mm in {1, 2, 5, 10, 20, 50, 100, 200}
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_R)
    assert view.zoom == 1.0 and view.mm_per_pixel() == pytest.approx(mm0)


# -- window/level ---------------------------------------------------------------------------------
def _grey_check_points(vol, view, window):
    """Voxel centres on the shown axial slice inside the body, away from edges, text and
    crosshairs, whose 3x3 in-plane neighbourhood is uniform enough for a pixel comparison."""
    k = voxel_index(vol, window.state.cursor)[2]
    sl = vol.array[k].astype(float)
    from scipy import ndimage

    local_range = ndimage.maximum_filter(sl, 3) - ndimage.minimum_filter(sl, 3)
    jj, ii = np.nonzero((local_range < 25) & (sl > -200) & (sl < 200))
    pts = []
    cur = window.state.cursor
    for i, j in zip(ii, jj, strict=True):
        p = vol.index_to_lps((i, j, k))
        x, y = view.lps_to_display(p)
        if 40 < x < view.width() - 40 and 50 < y < view.height() - 50 and np.min(np.abs(p[:2] - cur[:2])) > 6:
            pts.append((p, sl[j, i], x, y))
    assert len(pts) > 30
    rng = np.random.default_rng(1)
    return [pts[n] for n in rng.choice(len(pts), 30, replace=False)]


def test_window_level_drag_changes_the_displayed_range(lumbar, qtbot):
    window, vol = lumbar
    view = window.axial
    window.apply_preset("soft tissue")
    pts = _grey_check_points(vol, view, window)

    def check(wl: WindowLevel) -> None:
        image = view.capture().mean(axis=2)
        for _p, value, x, y in pts:
            assert image[int(round(y)), int(round(x))] == pytest.approx(float(to_grey(value, wl)), abs=6)

    check(CT_PRESETS["soft tissue"])
    assert "W 400  L 40 (soft tissue)" in view._wl_text.GetInput()
    # Ctrl+left drag: right widens the window, up raises the level
    drag(qtbot, view, Qt.MouseButton.LeftButton, (200, 200), (260, 170), Qt.KeyboardModifier.ControlModifier)
    wl = window.state.window_level
    assert wl.width > 400 and wl.level > 40
    assert window.state.window_name == ""  # no longer a preset
    check(wl)  # every checked pixel shows its HU under the new window
    assert wl.label() in window.wl_label.text() and wl.label() in view._wl_text.GetInput()
    assert window.preset_combo.currentText() == "custom"
    # with the W/L tool a plain left drag does it (and leaves the cursor alone)
    qtbot.keyClick(window, Qt.Key.Key_W)
    assert window.state.tool == "window_level"
    cursor = window.state.cursor.copy()
    drag(qtbot, view, Qt.MouseButton.LeftButton, (200, 200), (150, 200))
    assert window.state.window_level.width < wl.width
    np.testing.assert_array_equal(window.state.cursor, cursor)
    check(window.state.window_level)
    # presets by key: F5 is bone
    qtbot.keyClick(window, Qt.Key.Key_F5)
    assert (window.state.window, window.state.level) == (2000, 500)
    check(CT_PRESETS["bone"])


def test_mr_gets_an_automatic_window_and_no_ct_presets(main_window, qtbot):
    vol = load_and_wait(qtbot, main_window, _hitachi())
    from imaging.windowing import percentile_window

    auto = percentile_window(vol.array)
    assert (main_window.state.window, main_window.state.level) == (pytest.approx(auto.width), pytest.approx(auto.level))
    assert not main_window.actions_by_id["wl_bone"].isEnabled()
    assert main_window.actions_by_id["wl_auto"].isEnabled()


# -- orientation on an oblique acquisition ----------------------------------------------------------
def _hitachi():
    from tests.conftest import shared_data

    return shared_data("dicom2nifti_tests", "hitachi", "anatomical", "001")


def test_orientation_letters_on_the_oblique_hitachi_series(main_window, qtbot, screenshot_dir):
    """The strongly oblique Hitachi MR (row direction mostly P and L, column mostly I): each
    view's edge letters are the radiological ones, the image axes run on screen where the
    direction cosines and those letters say, and the pixels are the volume's values at the
    displayed LPS positions (SimpleITK's linear interpolation as the reference)."""
    import SimpleITK as sitk

    vol = load_and_wait(qtbot, main_window, _hitachi())
    assert np.abs(vol.direction - np.eye(3)).max() > 0.5  # it is oblique
    expected = {
        "axial": {"left": "R", "right": "L", "top": "A", "bottom": "P"},
        "coronal": {"left": "R", "right": "L", "top": "S", "bottom": "I"},
        "sagittal": {"left": "A", "right": "P", "top": "S", "bottom": "I"},
    }
    from ui.screenshot import save_png

    save_png(main_window, screenshot_dir / "hitachi_oblique.png")
    image = vol.to_sitk()
    pix = float(vol.spacing.min())
    for name in ("axial", "coronal", "sagittal"):
        view = main_window.view_by_name[name]
        letters = {edge: actor.GetInput() for edge, actor in view._letters.items()}
        assert letters == expected[name]
        cur = main_window.state.cursor
        x0, y0 = view.lps_to_display(cur)
        for axis in range(2):  # rows (i) and columns (j) of the acquisition
            d = vol.direction[:, axis]
            x1, y1 = view.lps_to_display(cur + 20.0 * d)
            dx, dy = x1 - x0, y1 - y0
            # what the screen says: the letter of the edge the axis runs toward
            for comp, (neg, pos) in ((dx, ("left", "right")), (dy, ("top", "bottom"))):
                if abs(comp) > 3:
                    letter = letters[pos if comp > 0 else neg]
                    lps_axis = "LPS".index(letter) if letter in "LPS" else "RAI".index(letter)
                    sign = 1 if letter in "LPS" else -1
                    assert sign * d[lps_axis] > 0.02, f"{name}: image axis {axis} runs toward {letter} on screen but points {d}"
        # pixels against SimpleITK at the same LPS points
        grey = view.capture().mean(axis=2)
        wl = main_window.state.window_level
        checked = 0
        for y in range(60, view.height() - 60, 2):
            for x in range(40, view.width() - 40, 2):
                if abs(x - x0) < 4 or abs(y - y0) < 4:
                    continue  # the crosshair lines
                p = view.display_to_lps(x + 0.0, y + 0.0)
                idx = vol.lps_to_index(p)
                if np.any(idx < 1) or np.any(idx > np.array(vol.size_ijk) - 2):
                    continue
                ref = image.EvaluateAtPhysicalPoint(tuple(float(c) for c in p), sitk.sitkLinear)
                # compare where the image is smooth within one resliced pixel (the view draws
                # the volume resampled at its finest spacing, each pixel as a square)
                r, u = np.asarray(view.plane.right), np.asarray(view.plane.up)
                near = [image.EvaluateAtPhysicalPoint(tuple(float(c) for c in p + pix * (a * r + b * u)), sitk.sitkLinear)
                        for a in (-1, 0, 1) for b in (-1, 0, 1)]
                if max(abs(float(to_grey(v, wl)) - float(to_grey(ref, wl))) for v in near) > 8:
                    continue
                assert grey[y, x] == pytest.approx(float(to_grey(ref, wl)), abs=10), (name, x, y)
                checked += 1
        assert checked > 20, f"{name}: only {checked} pixels inside the oblique slab"


# -- measurements -----------------------------------------------------------------------------------
def test_distance_and_angle_in_mm_and_degrees(lumbar, qtbot):
    window, vol = lumbar
    view = window.axial
    c = voxel_index(vol, window.state.cursor)
    a_idx, b_idx = c + np.array([-12, -9, 0]), c + np.array([14, 6, 0])
    qtbot.keyClick(window, Qt.Key.Key_M)
    assert window.state.tool == "distance"
    for idx in (a_idx, b_idx):
        qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=point(view.lps_to_display(vol.index_to_lps(idx))))
    assert len(window.state.measurements) == 1
    m = window.state.measurements[0]
    # independent: voxel steps times the voxel spacing (the sample is axial, not oblique)
    di, dj = (b_idx - a_idx)[:2]
    expected = math.hypot(di * vol.spacing[0], dj * vol.spacing[1])
    assert m.value == pytest.approx(expected, abs=2 * view.mm_per_pixel())
    assert m.plane == "axial"
    # drawn in the view: measurement yellow on the line between the two points
    image = view.capture().astype(int)
    mid = (np.array(view.lps_to_display(vol.index_to_lps(a_idx))) + view.lps_to_display(vol.index_to_lps(b_idx))) / 2
    patch = image[int(mid[1]) - 2 : int(mid[1]) + 3, int(mid[0]) - 2 : int(mid[0]) + 3]
    assert ((patch[..., 0] > 200) & (patch[..., 1] > 170) & (patch[..., 2] < 90)).any()
    # a drag measures too
    qtbot.keyClick(window, Qt.Key.Key_M)
    p0, p1 = c + np.array([-5, 10, 0]), c + np.array([5, 10, 0])
    drag(qtbot, view, Qt.MouseButton.LeftButton, view.lps_to_display(vol.index_to_lps(p0)), view.lps_to_display(vol.index_to_lps(p1)))
    assert window.state.measurements[-1].value == pytest.approx(10 * vol.spacing[0], abs=2 * view.mm_per_pixel())
    # angle: a right angle at the vertex, arms along x and y
    qtbot.keyClick(window, Qt.Key.Key_A)
    v = c + np.array([0, -12, 0])
    for idx in (v + np.array([15, 0, 0]), v, v + np.array([0, 11, 0])):
        qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=point(view.lps_to_display(vol.index_to_lps(idx))))
    ang = window.state.measurements[-1]
    assert ang.kind == "angle" and ang.value == pytest.approx(90.0, abs=2.0)
    # listed in the side panel, removable
    panel = window.measurements_panel
    assert panel.list.count() == 3
    assert panel.list.item(0).text() == f"1. Distance {m.label()} (axial)"
    assert "\N{DEGREE SIGN}" in panel.list.item(2).text()
    panel.list.setCurrentRow(0)
    qtbot.mouseClick(panel.remove_button, Qt.MouseButton.LeftButton)
    assert [x.kind for x in window.state.measurements] == ["distance", "angle"]
    qtbot.keyClick(window, Qt.Key.Key_Delete)
    assert len(window.state.measurements) == 1
    # not shown on another slice, shown again when coming back
    assert view.visible_measurements() == [0]
    wheel(view, 1)
    assert view.visible_measurements() == []
    wheel(view, -1)
    assert view.visible_measurements() == [0]
    qtbot.mouseClick(panel.clear_button, Qt.MouseButton.LeftButton)
    assert window.state.measurements == [] and panel.list.count() == 0
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert window.state.tool == "cursor"


# -- layout, 3D, export, help, settings --------------------------------------------------------------
def test_double_click_and_layout_menu_maximise_a_view(lumbar, qtbot):
    window, _ = lumbar
    size = window.axial.size()
    qtbot.mouseDClick(window.axial, Qt.MouseButton.LeftButton, pos=QPoint(50, 60))
    assert window.layout_name == "axial"
    assert window.axial.isVisible() and not window.coronal.isVisible() and not window.scene_panel.isVisible()
    qtbot.waitUntil(lambda: window.axial.width() > 1.5 * size.width())
    qtbot.mouseDClick(window.axial, Qt.MouseButton.LeftButton, pos=QPoint(50, 60))
    assert window.layout_name == "grid" and all(c.isVisible() for c in window.cells.values())
    qtbot.mouseDClick(window.scene, Qt.MouseButton.LeftButton, pos=QPoint(60, 60))
    assert window.layout_name == "3d" and not window.axial.isVisible()
    qtbot.mouseDClick(window.scene, Qt.MouseButton.LeftButton, pos=QPoint(60, 60))
    assert window.layout_name == "grid"
    qtbot.keyClick(window, Qt.Key.Key_4, Qt.KeyboardModifier.ControlModifier)
    assert window.layout_name == "3d" and window.scene_panel.isVisible() and not window.axial.isVisible()
    qtbot.keyClick(window, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert window.layout_name == "grid"
    layout_menu = window._menus["Layout"]
    texts = [a.text().replace("&", "") for a in layout_menu.actions()]
    assert "Sagittal only" in texts
    window.actions_by_id["layout_sagittal"].trigger()
    assert window.layout_name == "sagittal" and window.sagittal.isVisible() and not window.axial.isVisible()
    window.set_layout("grid")


def test_3d_view_threshold_standard_views_and_planes(lumbar, qtbot):
    window, vol = lumbar
    panel, scene = window.scene_panel, window.scene
    assert panel.threshold_box.value() == 160
    # planes on/off (key P) change the picture
    with_planes = scene.capture()
    qtbot.keyClick(window, Qt.Key.Key_P)
    assert not window.state.show_planes_3d and not panel.planes_box.isChecked()
    without = scene.capture()
    assert np.abs(with_planes.astype(int) - without).mean() > 2
    cells_bone = scene.surface_cells
    before = scene.capture()
    panel.threshold_box.setValue(-300)  # skin: a bigger surface around the body
    assert scene.threshold == -300 and scene.surface_cells != cells_bone
    after = scene.capture()
    assert np.abs(after.astype(int) - before).mean() > 5
    # standard views: the camera looks from the named side
    for name, axis, sign in (("left", 0, 1), ("right", 0, -1), ("posterior", 1, 1), ("superior", 2, 1), ("anterior", 1, -1)):
        qtbot.mouseClick(panel.view_buttons[name], Qt.MouseButton.LeftButton)
        cam = scene.renderer.GetActiveCamera()
        d = np.array(cam.GetPosition()) - cam.GetFocalPoint()
        d /= np.linalg.norm(d)
        assert sign * d[axis] > 0.99, name
    # rotate by dragging, then Reset goes back to anterior
    drag(qtbot, scene, Qt.MouseButton.LeftButton, (100, 100), (180, 120))
    qtbot.mouseClick(panel.reset_button, Qt.MouseButton.LeftButton)
    cam = scene.renderer.GetActiveCamera()
    d = np.array(cam.GetPosition()) - cam.GetFocalPoint()
    assert d[1] / np.linalg.norm(d) < -0.99


def _check_slice_png(path, vol, view, window):
    arr = qimage_to_array(QImage(str(path))).astype(int)
    assert arr.shape[:2] == (view.height(), view.width())
    grey = arr.mean(axis=2)
    black = (grey < 5).mean()
    assert 0.05 < black < 0.85, f"{path.name}: {black:.0%} black"
    # a rendered CT slice has few colours (grey levels, green crosshair, yellow text), noise has many
    assert len(np.unique(arr.reshape(-1, 3), axis=0)) < 3000
    # bright where dense bone is on this slice, independent of the view's code: take bone voxels
    k, j, i = np.nonzero(vol.array > 500)
    pts = vol.index_to_lps(np.stack([i, j, k], -1).astype(float))
    on = np.abs((pts - window.state.cursor) @ view.plane.normal) < 0.1
    bright = []
    for p in pts[on][:: max(1, on.sum() // 40)]:
        x, y = view.lps_to_display(p)
        if 40 < x < view.width() - 40 and 50 < y < view.height() - 50:
            bright.append(grey[int(round(y)), int(round(x))])
    assert len(bright) >= 5 and np.median(bright) > 150, f"{path.name}: bone not bright ({np.median(bright) if bright else None})"


def test_png_export_of_each_view_and_the_window(lumbar, qtbot, screenshot_dir, monkeypatch):
    window, vol = lumbar
    k, j, i = np.nonzero(vol.array > 300)
    pts = vol.index_to_lps(np.stack([i, j, k], -1).astype(float))
    near_mid = pts[np.abs(pts[:, 0] - vol.centre_lps()[0]) < 20]
    window.state.set_cursor(vol.index_to_lps(np.rint(vol.lps_to_index(np.median(near_mid, axis=0)))))
    for name in ("axial", "coronal", "sagittal"):
        path = window.export_png(name, screenshot_dir / f"view_{name}.png")
        _check_slice_png(path, vol, window.view_by_name[name], window)
    path = window.export_png("3d", screenshot_dir / "view_3d.png")
    arr = qimage_to_array(QImage(str(path))).astype(int)
    from ui.views.scene_3d import BACKGROUND

    bg = np.all(np.abs(arr - np.array(BACKGROUND) * 255) < 4, axis=2).mean()
    assert 0.2 < bg < 0.95
    bone = ((arr[..., 0] > 150) & (arr[..., 0] >= arr[..., 2]) & (arr[..., 1] > 120)).mean()
    assert bone > 0.02
    # Ctrl+Shift+S: the whole window, through the file dialog
    target = screenshot_dir / "window_export.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(target), "PNG images (*.png)")))
    if target.exists():
        target.unlink()
    qtbot.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    image = QImage(str(target))
    assert (image.width(), image.height()) == (window.width(), window.height())
    whole = qimage_to_array(image)
    # the axial view's pixels are in the window picture where the view is
    top_left = window.axial.mapTo(window, QPoint(0, 0))
    axial = qimage_to_array(QImage(str(screenshot_dir / "view_axial.png")))
    h, w = axial.shape[:2]
    assert np.abs(whole[top_left.y() : top_left.y() + h, top_left.x() : top_left.x() + w].astype(int) - axial).mean() < 3


def test_shortcuts_dialog_lists_every_action_key(main_window, qtbot):
    qtbot.keyClick(main_window, Qt.Key.Key_F1)
    dialog = main_window.shortcuts_dialog
    assert dialog is not None and dialog.isVisible()
    rows = dialog.rows()
    for spec in ACTIONS:
        if not spec.keys:
            continue
        keys = ", ".join(QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText) for k in spec.keys)
        assert any(r[0] == keys and r[1] == spec.text.replace("&", "") for r in rows), spec.id
        # and the action really has those keys
        action = main_window.actions_by_id.get(spec.id) or main_window.view_actions[(spec.id, "axial")]
        assert [s.toString() for s in action.shortcuts()] == [QKeySequence(k).toString() for k in spec.keys]
    assert any("wheel" in r[0] for r in rows)
    # no two window actions share a key
    keys = [QKeySequence(k).toString() for s in ACTIONS if s.scope == "window" for k in s.keys]
    assert len(keys) == len(set(keys))
    dialog.close()


def test_samples_menu_lists_every_sample_with_its_description(main_window):
    actions = main_window.samples_menu.actions()
    expected = [(s, p) for s in list_samples() for p in (s.series_paths or (s.path,))]
    assert len(actions) == len(expected) >= 1
    for act, (s, path) in zip(actions, expected, strict=True):
        assert s.title in act.text() and s.description in act.text()
        assert act.data() == str(path)


def test_a_sample_of_several_series_opens_each_series_from_the_menu(qtbot, main_window):
    mr = next((s for s in list_samples() if len(s.series) > 1), None)
    assert mr is not None, "the knee MR sample (T1 and T2 fat-sat) is missing: run make samples"
    act = main_window.findChild(QAction, f"sample_{mr.name}_{mr.series[-1]}")
    assert act is not None
    act.trigger()
    qtbot.waitUntil(lambda: main_window.task is not None and main_window.task.finished, timeout=60000)
    assert main_window.last_error is None, main_window.last_error
    vol = main_window.state.volume
    assert vol.modality == "MR"
    assert mr.series[-1].upper().replace("FS", "") in vol.info.series_description.upper()


def test_settings_remember_layout_presets_and_geometry(qtbot, isolated_settings):
    from ui.main_window import MainWindow
    from ui.settings import app_settings

    assert str(isolated_settings) in app_settings().fileName()  # never the user's file
    w = MainWindow()
    w.show()
    w.resize(700, 520)
    w.set_layout("coronal")
    w.state.preferred_presets["CT"] = "bone"
    w.state.set_show_planes_3d(False)
    w.close()
    w.release_views()
    dispose(w)
    w2 = MainWindow()
    try:
        assert w2.layout_name == "coronal"
        assert w2.state.preferred_presets == {"CT": "bone"}
        assert not w2.state.show_planes_3d
        assert (w2.width(), w2.height()) == (700, 520)
    finally:
        w2.close()
        w2.release_views()
        dispose(w2)
