"""DICOMDIR: the table of contents of a CD/DVD/USB export.

Each record's ReferencedFileID is a path written by whoever made the media. It is used only after
checking that it stays inside the folder the user chose: absolute paths, drive letters, ``..``
components and symbolic links that resolve outside are refused, entry by entry.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from io import BytesIO

__all__ = ["DicomdirEntries", "read_dicomdir", "resolve_reference"]


@dataclass
class DicomdirEntries:
    files: list[str] = field(default_factory=list)  # referenced files that exist, inside the root
    refused: list[tuple[str, str]] = field(default_factory=list)  # (reference, reason)
    missing: list[str] = field(default_factory=list)


def _is_inside(path: str, root: str) -> bool:
    try:
        return os.path.commonpath([path, root]) == root
    except ValueError:  # different drives
        return False


def resolve_reference(components: list[str], base: str, root: str) -> tuple[str | None, str]:
    """Turn a ReferencedFileID into a real path under ``root``; return ``(path, "")`` or
    ``(None, reason)``."""
    shown = "\\".join(components)
    if not components:
        return None, "empty file reference"
    for comp in components:
        if comp in ("", ".", "..") or "/" in comp or "\\" in comp or ":" in comp or "\x00" in comp:
            return None, f"file reference {shown!r} is not a plain relative path; refused"
    if os.path.isabs(components[0]):
        return None, f"file reference {shown!r} is absolute; refused"
    candidate = os.path.join(base, *components)
    real = os.path.realpath(candidate)
    if not _is_inside(real, root):
        return None, f"file reference {shown!r} leads outside the chosen folder; refused"
    if os.path.isfile(real):
        return real, ""
    # CD file systems: names may differ in case or carry an ISO 9660 version suffix (";1")
    found = _case_insensitive(base, components)
    if found is not None:
        real = os.path.realpath(found)
        if _is_inside(real, root) and os.path.isfile(real):
            return real, ""
    return None, f"file reference {shown!r} does not exist"


def _case_insensitive(base: str, components: list[str]) -> str | None:
    current = base
    for comp in components:
        try:
            names = os.listdir(current)
        except OSError:
            return None
        want = comp.upper()
        match = next((n for n in names if n.upper() == want or n.upper() == want + ";1"), None)
        if match is None:
            return None
        current = os.path.join(current, match)
    return current


def read_dicomdir(path: str, root: str) -> DicomdirEntries:
    """List the files a DICOMDIR references (checked to lie under ``root``)."""
    import pydicom

    out = DicomdirEntries()
    root = os.path.realpath(root)
    base = os.path.dirname(os.path.realpath(path))
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        data = f.read(min(size, 256 * 1024 * 1024))
    ds = pydicom.dcmread(BytesIO(data), force=True)
    records = ds.get("DirectoryRecordSequence") or []
    seen: set[str] = set()
    for rec in records:
        value = rec.get("ReferencedFileID")
        if value is None or value == "":
            continue
        components = [value] if isinstance(value, (str, bytes)) else list(value)
        components = [c.decode("latin-1") if isinstance(c, bytes) else str(c) for c in components]
        if len(components) == 1:
            components = [c for c in components[0].replace("/", "\\").split("\\")]
        real, reason = resolve_reference(components, base, root)
        if real is None:
            if "does not exist" in reason:
                out.missing.append("\\".join(components))
            else:
                out.refused.append(("\\".join(components), reason))
            continue
        if real not in seen:
            seen.add(real)
            out.files.append(real)
    return out


def is_dicomdir_name(name: str) -> bool:
    return os.path.basename(name).upper() in ("DICOMDIR", "DICOMDIR;1")
