"""Split the images of one series into stacks that can each be one volume.

A SeriesInstanceUID often holds more than one volume: a localizer beside the axial images, two
echoes, several acquisitions of the same range, mixed orientations. The images are first
partitioned by what can never share a volume (orientation, size, pixel spacing, echo, stack id,
localizer, colour); then, only where a part repeats slice positions, by what tells the repeats
apart (acquisition number, temporal position, trigger time, acquisition time), provided that
gives parts without repeats. Each stack carries the reason it was split off.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from imaging.dicom.frames import Frame
from imaging.dicom.geometry import orientation_label

__all__ = ["split_series", "dedupe"]


def _orientation_key(frames: Sequence[Frame]) -> list[int]:
    """Cluster orientations (within 1e-3 per component); return a cluster index per frame."""
    centres: list[tuple[float, ...]] = []
    out = []
    last: tuple[float, ...] | None = None
    last_n = -1
    for f in frames:
        v = f.orientation
        if v is None:
            out.append(-1)
            continue
        if v == last:  # the common case: the same orientation as the previous image
            out.append(last_n)
            continue
        n = next((i for i, ctr in enumerate(centres) if max(abs(a - b) for a, b in zip(ctr, v, strict=False)) <= 1e-3), -1)
        if n < 0:
            centres.append(v)
            n = len(centres) - 1
        last, last_n = v, n
        out.append(n)
    return out


def dedupe(frames: Sequence[Frame]) -> tuple[list[Frame], list[Frame]]:
    """Drop repeated copies of the same image (same SOP instance and frame); return (kept, dropped)."""
    seen: set[tuple[str, int]] = set()
    kept, dropped = [], []
    for f in frames:
        key = (f.file.sop_instance_uid, f.index)
        if f.file.sop_instance_uid and key in seen:
            dropped.append(f)
            continue
        seen.add(key)
        kept.append(f)
    return kept, dropped


def _describe(key_name: str, frames: Sequence[Frame]) -> str:
    f = frames[0]
    if key_name == "orientation":
        return f"{orientation_label(f.orientation)} orientation"
    if key_name == "size":
        return f"{f.rows} x {f.columns} pixels"
    if key_name == "spacing":
        return f"pixel spacing {f.pixel_spacing}"
    if key_name == "echo":
        return f"echo {f.echo_number if f.echo_number is not None else f.echo_time}"
    if key_name == "stack":
        return f"stack id {f.stack_id}"
    if key_name == "localizer":
        return "localizer" if f.is_localizer else ""
    if key_name == "colour":
        return f"{f.photometric} images"
    if key_name == "placed":
        return "no position in patient space" if f.position is None else "placed in patient space"
    return key_name


_HARD_KEYS: list[tuple[str, Callable[[Frame], object]]] = [
    ("placed", lambda f: f.position is None or f.orientation is None),
    ("size", lambda f: (f.rows, f.columns)),
    ("colour", lambda f: (f.samples, f.photometric)),
    ("spacing", lambda f: tuple(round(x, 4) for x in f.pixel_spacing) if f.pixel_spacing else None),
    ("echo", lambda f: f.echo_number if f.echo_number is not None else (round(f.echo_time, 3) if f.echo_time else None)),
    ("stack", lambda f: f.stack_id),
]

_REPEAT_KEYS: list[tuple[str, Callable[[Frame], object]]] = [
    ("acquisition", lambda f: f.acquisition_number),
    ("temporal position", lambda f: f.temporal_position),
    ("trigger time", lambda f: f.trigger_time),
    ("acquisition time", lambda f: f.acquisition_time or None),
]


def _has_repeats(frames: Sequence[Frame]) -> bool:
    seen = set()
    for f in frames:
        if f.position is None:
            return False
        key = tuple(round(x, 2) for x in f.position)
        if key in seen:
            return True
        seen.add(key)
    return False


def _partition(frames: list[Frame], key: Callable[[Frame], object]) -> list[list[Frame]]:
    groups: dict[object, list[Frame]] = {}
    for f in frames:
        groups.setdefault(key(f), []).append(f)
    return list(groups.values())


def split_series(frames: Sequence[Frame]) -> list[tuple[list[Frame], str]]:
    """Partition a series' frames into stacks; return ``(frames, reason)`` pairs, where the
    reason says what sets a stack apart ("" when the series is a single stack)."""
    parts: list[tuple[list[Frame], list[str]]] = [(list(frames), [])]
    # localizers first, then orientation (with tolerance), then the exact keys
    new = []
    for fr, why in parts:
        groups_list = _partition(fr, lambda f: f.is_localizer)
        if len(groups_list) > 1:
            new.extend((g, why + [_describe("localizer", g)]) for g in groups_list)
        else:
            new.append((fr, why))
    parts = new
    new = []
    for fr, why in parts:
        clusters = _orientation_key(fr)
        groups: dict[int, list[Frame]] = {}
        for f, cl in zip(fr, clusters, strict=True):
            groups.setdefault(cl, []).append(f)
        if len(groups) > 1:
            new.extend((g, why + [_describe("orientation", g)]) for g in groups.values())
        else:
            new.append((fr, why))
    parts = new
    for name, key in _HARD_KEYS:
        new = []
        for fr, why in parts:
            groups_list = _partition(fr, key)
            if len(groups_list) > 1:
                new.extend((g, why + [_describe(name, g)]) for g in groups_list)
            else:
                new.append((fr, why))
        parts = new
    result: list[tuple[list[Frame], list[str]]] = []
    for fr, why in parts:
        if len(fr) > 1 and _has_repeats(fr):
            for name, key in _REPEAT_KEYS:
                groups_list = _partition(fr, key)
                if len(groups_list) > 1 and all(len(g) > 1 and not _has_repeats(g) for g in groups_list):
                    for g in groups_list:
                        result.append((g, why + [f"{name} {key(g[0])}"]))
                    break
            else:
                result.append((fr, why))
        else:
            result.append((fr, why))
    result.sort(key=lambda item: _stack_sort_key(item[0]))
    return [(fr, ", ".join(w for w in why if w)) for fr, why in result]


def _stack_sort_key(frames: Sequence[Frame]) -> tuple:
    numbers = [f.instance_number for f in frames if f.instance_number is not None]
    return (
        frames[0].is_localizer is False,  # localizers first, as scanners list them
        min(numbers) if numbers else 0,
        min(f.file.path for f in frames),
        min(f.index for f in frames),
    )
