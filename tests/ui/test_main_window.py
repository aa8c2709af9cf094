"""The main window on the real lumbar sample, driven and checked as a user sees it."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QImage

from imaging.samples import sample_path
from tests.ui.conftest import load_and_wait
from ui.screenshot import qimage_to_array, save_png
from ui.views.scene_3d import BACKGROUND

pytestmark = pytest.mark.gui


def in_plane_points(vol, view, predicate, limit_mm=None, avoid_cursor_mm=6.0):
    """Voxel centres in the view's current slice whose in-plane 3x3 neighbourhood all satisfy
    ``predicate`` (so interpolation cannot change them), away from the crosshair lines."""
    n = view.plane.normal
    cursor = view.state.cursor
    arr = vol.array
    ok = predicate(arr)
    core = ok.copy()
    in_plane = [2 - a for a in range(3) if abs(vol.direction[:, a] @ n) < 1e-6]  # numpy axes
    for axis in in_plane:
        for shift in (-1, 1):
            core &= np.roll(ok, shift, axis=axis)
    k, j, i = np.nonzero(core)
    pts = vol.index_to_lps(np.stack([i, j, k], -1).astype(float))
    rel = pts - cursor
    on_slice = np.abs(rel @ n) < 0.25 * vol.step_along(n)
    off_lines = (np.abs(rel @ np.asarray(view.plane.right)) > avoid_cursor_mm) & (
        np.abs(rel @ np.asarray(view.plane.up)) > avoid_cursor_mm
    )
    sel = on_slice & off_lines
    if limit_mm is not None:
        sel &= np.abs(rel[:, 0]) < limit_mm  # near the midline (left-right)
    return pts[sel]


def away_from_overlays(view, pts):
    """Points drawn where no text or scale bar is: not in the top and bottom bands (corner
    text, letters, scale bar) nor at the left and right edges (orientation letters)."""
    keep = []
    for p in pts:
        x, y = view.lps_to_display(p)
        if 30 < x < view.width() - 30 and 45 < y < view.height() - 45:
            keep.append(p)
    return np.array(keep).reshape(-1, 3)


def grey_at(image: np.ndarray, xy) -> float:
    x, y = int(round(xy[0])), int(round(xy[1]))
    return float(image[y - 1 : y + 2, x - 1 : x + 2].mean())


@pytest.fixture
def lumbar(qtbot, main_window):
    vol = load_and_wait(qtbot, main_window, sample_path("lumbar_ct"))
    return main_window, vol


def test_slice_views_show_bone_of_the_spine_bright_and_air_dark(lumbar, screenshot_dir):
    window, vol = lumbar
    # put the cursor on the spine: the median of dense bone near the left-right middle
    k, j, i = np.nonzero(vol.array > 300)
    pts = vol.index_to_lps(np.stack([i, j, k], -1).astype(float))
    near_mid = pts[np.abs(pts[:, 0] - vol.centre_lps()[0]) < 20]
    spine = vol.index_to_lps(np.rint(vol.lps_to_index(np.median(near_mid, axis=0))))
    window.state.set_cursor(spine)
    save_png(window, screenshot_dir / "main_window_lumbar.png")
    for view in (window.axial, window.sagittal, window.coronal):
        image = view.capture().mean(axis=2)
        assert 0.02 < (image < 5).mean() < 0.9, f"{view.plane.name}: implausible amount of black"
        bone = in_plane_points(vol, view, lambda a: a > 300, limit_mm=25)
        assert len(bone) >= 3, f"{view.plane.name}: no spine bone in this slice"
        air = away_from_overlays(view, in_plane_points(vol, view, lambda a: a < -950))
        assert len(air) > 5
        rng = np.random.default_rng(0)
        for p in bone[rng.choice(len(bone), min(5, len(bone)), replace=False)]:
            # HU 300 in the W 1500 / L 300 window is grey 127
            assert grey_at(image, view.lps_to_display(p)) > 110, f"{view.plane.name}: bone at {p} not bright"
        for p in air[rng.choice(len(air), 5, replace=False)]:
            assert grey_at(image, view.lps_to_display(p)) < 15, f"{view.plane.name}: air at {p} not dark"


def test_3d_view_shows_a_bone_surface(lumbar):
    window, _ = lumbar
    image = window.scene.capture().astype(float)
    bg = np.array(BACKGROUND) * 255
    is_bg = np.all(np.abs(image - bg) < 3, axis=2)
    assert 0.3 < is_bg.mean() < 0.97, f"background covers {is_bg.mean():.0%}"
    bone_like = (image[..., 0] > 120) & (image[..., 0] >= image[..., 2])
    assert bone_like.mean() > 0.02
    # not garbage: few distinct colours compared with random noise
    assert len(np.unique(image.reshape(-1, 3)[::7], axis=0)) < 0.5 * image.shape[0] * image.shape[1] / 7


def test_click_moves_the_cursor_and_the_other_views_follow(lumbar, qtbot):
    window, vol = lumbar
    target = window.state.cursor + np.array([21.0, -15.0, 0.0])
    x, y = window.axial.lps_to_display(target)
    qtbot.mouseClick(window.axial, Qt.MouseButton.LeftButton, pos=QPoint(round(x), round(y)))
    pixel_mm = vol.spacing.min() * 2  # one widget pixel is about this many mm or less
    np.testing.assert_allclose(window.state.cursor[:2], target[:2], atol=pixel_mm)
    assert window.state.cursor[2] == pytest.approx(target[2])
    # the coronal slice now passes through the new cursor, the sagittal one too
    assert window.coronal._plane_origin()[1] == pytest.approx(window.state.cursor[1])
    assert window.sagittal._plane_origin()[0] == pytest.approx(window.state.cursor[0])
    assert "LPS" in window.cursor_label.text()


def test_wheel_steps_one_slice(lumbar, qtbot):
    window, vol = lumbar
    z0 = window.state.cursor[2]
    view = window.axial
    pos = QPointF(view.width() / 2, view.height() / 2)
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    ev = QWheelEvent(pos, view.mapToGlobal(pos), QPoint(0, 0), QPoint(0, 120), Qt.MouseButton.NoButton,
                     Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view, ev)
    assert window.state.cursor[2] == pytest.approx(z0 + vol.spacing[2])  # forward = superior


def test_a_broken_folder_reports_an_error_and_keeps_the_study(lumbar, qtbot, tmp_path):
    window, vol = lumbar
    (tmp_path / "broken.dcm").write_bytes(b"\x00" * 200)
    task = window.open_folder(tmp_path)
    qtbot.waitUntil(lambda: task.finished, timeout=30000)
    assert window.last_error and "No DICOM images" in window.last_error
    assert window.state.volume is vol
    assert window.isVisible()


def test_screenshot_option_works_without_a_display(qapp, tmp_path):
    out = tmp_path / "window.png"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "VTK_DEFAULT_OPENGL_WINDOW")}
    result = subprocess.run(
        [sys.executable, "-m", "ui.launcher", "--screenshot", str(out), "--size", "1000x700"],
        env=env, capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stderr
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1000, 700)
    # the four views are not blank: many pixels differ from black in each quadrant
    arr = qimage_to_array(image)
    for quadrant in (arr[50:350, 20:480], arr[50:350, 520:980], arr[380:650, 20:480], arr[380:650, 520:980]):
        assert (quadrant.mean(axis=2) > 40).mean() > 0.1


def test_without_display_the_gui_explains_how_to_run(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "VTK_DEFAULT_OPENGL_WINDOW")}
    result = subprocess.run([sys.executable, "-m", "ui.launcher"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "xvfb-run" in result.stderr and "--screenshot" in result.stderr
