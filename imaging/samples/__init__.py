"""The bundled sample studies in ``sample_dicom/``: where they are and what each shows."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SampleStudy", "samples_dir", "list_samples", "sample", "sample_path"]


@dataclass(frozen=True)
class SampleStudy:
    """One bundled study: its folder name, a title and a one-line description."""

    name: str
    title: str
    description: str
    path: Path
    series: tuple[str, ...] = ()
    open_series: str = ""

    @property
    def series_paths(self) -> tuple[Path, ...]:
        """The folder of each series when the study holds several (e.g. T1 and T2 fat-sat)."""
        return tuple(self.path / s for s in self.series)

    @property
    def open_path(self) -> Path:
        """What a viewer loads by default: the study folder, or its default series' folder when
        the study holds several series (a folder of several series is not one volume)."""
        if not self.series:
            return self.path
        return self.path / (self.open_series if self.open_series in self.series else self.series[0])


def samples_dir() -> Path:
    """The ``sample_dicom`` folder (``INJECTION_PLANNER_SAMPLES`` overrides it)."""
    env = os.environ.get("INJECTION_PLANNER_SAMPLES")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "sample_dicom"


def list_samples() -> list[SampleStudy]:
    """Every sample study that has a ``sample.json`` beside its files, sorted by name."""
    root = samples_dir()
    found = []
    if not root.is_dir():
        return found
    for meta in sorted(root.glob("*/sample.json")):
        if meta.parent.name.startswith("."):  # a study being generated (imaging.phantoms builds beside it)
            continue
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        found.append(
            SampleStudy(
                name=meta.parent.name,
                title=str(data.get("title", meta.parent.name)),
                description=str(data.get("description", "")),
                path=meta.parent,
                series=tuple(str(x) for x in data.get("series", ()) if isinstance(x, str)),
                open_series=str(data.get("open_series", "")),
            )
        )
    return found


def sample(name: str) -> SampleStudy:
    """Sample ``name``; raises ``FileNotFoundError`` naming what is available."""
    for s in list_samples():
        if s.name == name:
            return s
    names = ", ".join(s.name for s in list_samples()) or "none"
    raise FileNotFoundError(f"No sample study called {name!r} (available: {names}).")


def sample_path(name: str) -> Path:
    """The folder of sample ``name``; raises ``FileNotFoundError`` naming what is available."""
    return sample(name).path
