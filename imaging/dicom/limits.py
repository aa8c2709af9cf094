"""The memory ceiling: how large a volume the loader may allocate.

A DICOM header can declare any size (65535 x 65535 pixels, 10,000 frames). Every allocation the
loader makes for pixel data is checked against this ceiling *before* it happens, so a hostile or
broken file is refused with a message instead of exhausting memory.

The default is 75 % of physical memory, at most 32 GiB. Raise or lower it with the environment
variable ``INJECTION_PLANNER_MAX_VOLUME_MB``, the CLI option ``--max-memory-mb``, or
:func:`set_max_volume_bytes` / the ``max_bytes`` argument of :func:`imaging.load`.
"""

from __future__ import annotations

import functools
import os

from imaging.errors import VolumeTooLargeError

__all__ = ["max_volume_bytes", "set_max_volume_bytes", "check_allocation", "ENV_VAR", "format_bytes"]

ENV_VAR = "INJECTION_PLANNER_MAX_VOLUME_MB"
_MIB = 1024 * 1024
_override: int | None = None


@functools.cache
def _physical_memory() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # not available on this platform
        return 8 * 1024 * _MIB


def max_volume_bytes() -> int:
    """The current ceiling in bytes for one volume's pixel data."""
    if _override is not None:
        return _override
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        try:
            return max(1, int(float(env) * _MIB))
        except ValueError:
            pass
    return min(32 * 1024 * _MIB, int(0.75 * _physical_memory()))


def set_max_volume_bytes(nbytes: int | None) -> None:
    """Set the ceiling for this process (``None`` restores the default / environment value)."""
    global _override
    _override = None if nbytes is None else max(1, int(nbytes))


def format_bytes(n: float) -> str:
    """``1536 MiB`` style sizes for messages."""
    for unit, size in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", _MIB), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} bytes"


def check_allocation(nbytes: int, what: str, limit: int | None = None) -> None:
    """Raise :class:`VolumeTooLargeError` if allocating ``nbytes`` would pass the ceiling."""
    ceiling = max_volume_bytes() if limit is None else int(limit)
    if nbytes > ceiling:
        raise VolumeTooLargeError(
            f"{what} would need {format_bytes(nbytes)}, more than the memory limit of "
            f"{format_bytes(ceiling)}. If the image really is this large, raise the limit with "
            f"--max-memory-mb or the environment variable {ENV_VAR} (in MB)."
        )
