"""Lumbar spine on CT (work in progress)."""

from __future__ import annotations

from imaging.errors import ImagingError


def segment_lumbar(volume, *, progress=None, cancel=None):
    raise ImagingError("The lumbar segmentation is not finished yet.")
