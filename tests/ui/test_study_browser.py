"""File > Open DICOM folder: scan on a worker thread, browse patients/studies/series/stacks, load
the chosen stack with the progress bar; warnings and errors reach the user."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from imaging.dicom.write import SeriesUids
from tests.imaging import dicom_factory as fac
from ui.panels.study_browser import COLUMNS, STACK_ROLE
from ui.screenshot import grab, qimage_to_array, save_png

pytestmark = pytest.mark.gui

SAGITTAL = np.array([[0, 1, 0], [0, 0, -1], [1, 0, 0]], float).T


def phantom_ct():
    """A body-shaped ellipse of soft tissue with a bright 'spine' cylinder, in HU."""
    vol = fac.volume(shape=(24, 48, 40), spacing=(0.8, 0.8, 2.0))
    z, y, x = np.ogrid[:24, :48, :40]
    body = ((y - 24) / 20.0) ** 2 + ((x - 20) / 17.0) ** 2 < 1
    spine = ((y - 33) / 5.0) ** 2 + ((x - 20) / 5.0) ** 2 < 1
    arr = np.where(body, 40, -1000) + np.where(spine, 1100, 0) + 0 * z
    return vol.with_array(arr.astype(np.int16))


@pytest.fixture
def media(tmp_path):
    root = tmp_path / "usb stick"
    fac.series(root / "ct", phantom_ct(), patient_name="Roe^John", patient_id="P1",
               series_number=2, series_description="CT lumbar spine", seed="ct")
    gap = fac.series(root / "gap", fac.volume(shape=(6, 32, 32)), patient_name="Roe^John", patient_id="P1",
                     series_number=4, series_description="CT with a missing slice", seed="gap")
    gap[3].unlink()
    uids = SeriesUids.from_seed("mr")
    fac.series(root / "mr1", fac.volume(shape=(5, 24, 24), modality="MR"), uids=uids, seed="mr1", series_number=7,
               series_description="T2", patient_name="Doe^Jane", patient_id="P2")
    fac.series(root / "mr2", fac.volume(shape=(3, 24, 24), modality="MR", direction=SAGITTAL), uids=uids, seed="mr2",
               series_number=7, series_description="T2", patient_name="Doe^Jane", patient_id="P2")
    dup = fac.series(root / "dup", fac.volume(shape=(2, 16, 16)), seed="dup", series_number=9, series_description="repeats",
                     patient_name="Doe^Jane", patient_id="P2")
    fac.rewrite(dup[1], ImagePositionPatient=[str(v) for v in __import__("pydicom").dcmread(dup[0]).ImagePositionPatient])
    (root / "autorun.inf").write_text("[autorun]")
    return root


def browse(qtbot, window, folder):
    task = window.browse_folder(folder)
    assert window.progress.isVisible() and window.cancel_button.isVisible()
    qtbot.waitUntil(lambda: task.finished, timeout=30000)
    assert window.last_error is None, window.last_error
    browser = window.study_browser
    assert browser is not None and browser.isVisible()
    return browser


def rows_by_title(browser):
    return {item.text(0): item for item in browser.stack_items()}


def test_browser_lists_the_folder_and_loads_the_chosen_stack(qtbot, main_window, media, screenshot_dir):
    browser = browse(qtbot, main_window, media)
    rows = rows_by_title(browser)
    assert set(rows) == {"Series 2: CT lumbar spine", "Series 4: CT with a missing slice", "Stack 1: axial orientation",
                         "Stack 2: sagittal orientation", "Series 9: repeats"}
    status = COLUMNS.index("Status")
    ct = rows["Series 2: CT lumbar spine"]
    assert ct.text(COLUMNS.index("Voxels (x, y, z)")) == "40 x 48 x 24"
    assert ct.text(COLUMNS.index("Spacing (mm)")) == "0.8 x 0.8 x 2"
    assert ct.text(COLUMNS.index("Orientation")) == "axial" and ct.text(status) == "ready"
    assert rows["Series 4: CT with a missing slice"].text(status).startswith("ready (resampled: Uneven slice spacing")
    assert rows["Series 9: repeats"].text(status).startswith("cannot load:") and "same position" in rows["Series 9: repeats"].text(status)
    skipped = browser.tree.topLevelItem(browser.tree.topLevelItemCount() - 1)
    assert skipped.text(0) == "Files not used (1)" and "not a DICOM file" in skipped.child(0).text(status)
    # an unloadable stack cannot be chosen
    browser.tree.setCurrentItem(rows["Series 9: repeats"])
    assert not browser.load_button.isEnabled()
    browser.tree.setCurrentItem(ct)
    assert browser.load_button.isEnabled()
    qtbot.wait(50)
    save_png(browser, screenshot_dir / "study_browser.png")
    image = qimage_to_array(grab(browser))
    assert image.std() > 10  # text and rows drawn, not a blank dialog
    # Load: a worker thread with the progress bar, then the views show the stack
    with qtbot.waitSignal(browser.stackChosen, timeout=5000):
        qtbot.mouseClick(browser.load_button, Qt.MouseButton.LeftButton)
    task = main_window.task
    assert main_window.progress.isVisible() and main_window.cancel_button.isVisible()
    qtbot.waitUntil(lambda: task.finished, timeout=30000)
    assert main_window.last_error is None, main_window.last_error
    vol = main_window.state.volume
    assert vol.shape == (24, 48, 40) and vol.info.series_description == "CT lumbar spine"
    np.testing.assert_array_equal(vol.array, phantom_ct().array)
    assert not main_window.progress.isVisible()
    assert "CT lumbar spine" in main_window.windowTitle()
    qtbot.wait(100)
    save_png(main_window, screenshot_dir / "study_browser_loaded.png")


def test_warnings_of_a_resampled_stack_are_shown(qtbot, main_window, media):
    browser = browse(qtbot, main_window, media)
    browser.tree.setCurrentItem(rows_by_title(browser)["Series 4: CT with a missing slice"])
    browser.load_selected()
    qtbot.waitUntil(lambda: main_window.task.finished, timeout=30000)
    assert main_window.state.volume.shape == (6, 32, 32)
    assert main_window.last_error and "Uneven slice spacing" in main_window.last_error
    assert "1 slice missing" in main_window.last_error


def test_dropping_a_folder_opens_the_browser(qtbot, main_window, media):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(media))])
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    main_window.dropEvent(event)
    qtbot.waitUntil(lambda: main_window.task.finished, timeout=30000)
    assert main_window.study_browser is not None and main_window.study_browser.isVisible()
    stacks = [it.data(0, STACK_ROLE) for it in main_window.study_browser.stack_items()]
    assert len(stacks) == 5


def test_scan_errors_are_shown_and_the_app_keeps_running(qtbot, main_window, tmp_path):
    task = main_window.browse_folder(tmp_path / "does not exist")
    qtbot.waitUntil(lambda: task.finished, timeout=30000)
    assert main_window.last_error and "not a folder" in main_window.last_error
    assert main_window.isVisible()
