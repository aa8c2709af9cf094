"""Deterministic adult joint phantoms (knee, shoulder, hip) as label maps rendered to CT and MR.

``PHANTOMS`` maps a sample name to its :class:`~imaging.phantoms.build.PhantomSpec`;
``build(name, root)`` writes one sample, ``build_all(root)`` all of them plus the manifest.
No Qt, no VTK.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from imaging.phantoms.build import PhantomSpec, build_sample, write_manifest
from imaging.phantoms.registry import PHANTOMS

__all__ = ["PHANTOMS", "PhantomSpec", "build", "build_all", "names"]


def names() -> list[str]:
    return list(PHANTOMS)


def build(name: str, root: str | Path, log: Callable[[str], None] | None = None) -> list[Path]:
    """Generate sample ``name`` under ``root`` and update ``root/MANIFEST.sha256`` for it."""
    if name not in PHANTOMS:
        raise KeyError(f"No phantom called {name!r} (available: {', '.join(PHANTOMS)}).")
    files = build_sample(PHANTOMS[name], Path(root), log)
    write_manifest(Path(root), files, [name])
    return files


def build_all(root: str | Path, only: Sequence[str] | None = None, log: Callable[[str], None] | None = None) -> list[Path]:
    """Generate every phantom (or those in ``only``) and update the manifest."""
    todo = list(only) if only else names()
    files: list[Path] = []
    for name in todo:
        if name not in PHANTOMS:
            raise KeyError(f"No phantom called {name!r} (available: {', '.join(PHANTOMS)}).")
        files += build_sample(PHANTOMS[name], Path(root), log)
    write_manifest(Path(root), files, todo)
    return files
