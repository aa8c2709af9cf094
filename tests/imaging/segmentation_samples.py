"""Phantom sample studies for the segmentation tests: loaded once per run, and a FAILURE (not a
skip) with a clear message when they have not been generated (``make test`` builds them)."""

from __future__ import annotations

from functools import cache

import pytest

from imaging.dicom import load_folder
from imaging.labelmap import LabelMap, read_labelmap
from imaging.samples import samples_dir
from imaging.volume import Volume


@cache
def _load(name: str) -> tuple[Volume, LabelMap]:
    folder = samples_dir() / name
    vol = load_folder(folder)
    return vol, read_labelmap(folder / "labels.nrrd", reference=vol)


def load_phantom(name: str) -> tuple[Volume, LabelMap]:
    """The phantom's volume and its ground truth; fails the test when the sample is missing."""
    folder = samples_dir() / name
    if not (folder / "labels.nrrd").is_file():
        pytest.fail(
            f"The phantom sample {name!r} is missing from {folder} (no labels.nrrd). Build the samples "
            "with `make samples` (or `.venv/bin/python -m imaging.samples`); `make test` builds them.",
            pytrace=False,
        )
    return _load(name)
