"""Shared test set-up: headless drawing before Qt/VTK load, paths to shared data, GUI clean-up."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Qt aborts without a display unless a platform is chosen before it is imported; VTK inside an
# off-screen Qt window must render through OSMesa. Set INJECTION_PLANNER_TEST_DISPLAY=1 to run the
# GUI tests on a real (or Xvfb) display instead.
if not os.environ.get("INJECTION_PLANNER_TEST_DISPLAY"):
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    os.environ["VTK_DEFAULT_OPENGL_WINDOW"] = "vtkOSOpenGLRenderWindow"

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SAMPLES = REPO / "sample_dicom"
SCREENSHOTS = REPO / "test-output" / "screenshots"


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data; the calling test is skipped (with the reason) if it is missing."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared test data not found: {path} (the ../shared/data folder is not present)")
    return path


@pytest.fixture
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
