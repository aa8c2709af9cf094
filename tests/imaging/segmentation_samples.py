"""Phantom sample studies for the segmentation tests: loaded once per run, and a FAILURE (not a
skip) with a clear message when they have not been generated (``make test`` builds them)."""

from __future__ import annotations

from functools import cache

import pytest

from imaging.dicom import load_folder
from imaging.labelmap import LabelMap, read_labelmap
from imaging.samples import samples_dir
from imaging.volume import Volume

SERIES = {"knee_mr": "t2fs"}  # the series a multi-series sample is segmented on


@cache
def _load(name: str, series: str | None = None) -> tuple[Volume, LabelMap]:
    folder = samples_dir() / name
    vol = load_folder(folder / (series if series is not None else SERIES.get(name, "")))
    return vol, read_labelmap(folder / "labels.nrrd", reference=vol)


def load_phantom(name: str, series: str | None = None) -> tuple[Volume, LabelMap]:
    """The phantom's volume (``series``: sub-folder of a multi-series sample) and its ground
    truth; fails the test when the sample is missing."""
    folder = samples_dir() / name
    if not (folder / "labels.nrrd").is_file():
        pytest.fail(
            f"The phantom sample {name!r} is missing from {folder} (no labels.nrrd). Build the samples "
            "with `make samples` (or `.venv/bin/python -m imaging.samples`); `make test` builds them.",
            pytrace=False,
        )
    return _load(name, series)
