"""Read frames' pixels into a preallocated array, rescaled to real-world values.

Fast path (uncompressed little/big endian with a known pixel offset): each frame's bytes are read
with ``readinto`` straight into its slice of the output array, then corrected (unused high bits,
byte order) and rescaled in place while the slice is still in the CPU cache. No Dataset is built
and no intermediate copy of the volume exists. Everything else (JPEG, JPEG-LS, JPEG 2000, RLE,
deflate, 1-bit data) goes through pydicom and its decoder plugins, one frame at a time.

Output types: ``slope == 1`` and integral intercepts give integers (int16 when every value fits,
else int32, decided from the stored bit depth or, when that is not enough, from the data);
anything else gives float32 (``stored * slope + intercept``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from imaging.dicom.frames import Frame
from imaging.dicom.limits import check_allocation
from imaging.errors import DicomError, UnsupportedDicomError
from imaging.progress import Cancel, Progress, check_cancel, report

__all__ = ["read_frames", "output_dtype", "stored_dtype"]


def stored_dtype(frame: Frame) -> np.dtype:
    ba = frame.bits_allocated
    if ba not in (8, 16, 32):
        raise UnsupportedDicomError(f"{frame.label}: {ba}-bit pixels are not supported.")
    kind = "i" if frame.signed else "u"
    order = "<" if frame.file.little else ">"
    return np.dtype(f"{order}{kind}{ba // 8}")


def _stored_range(frame: Frame) -> tuple[int, int]:
    bs = min(frame.bits_stored, frame.bits_allocated)
    if frame.signed:
        return -(1 << (bs - 1)), (1 << (bs - 1)) - 1
    return 0, (1 << bs) - 1


def output_dtype(frames: Sequence[Frame]) -> tuple[np.dtype, bool]:
    """(dtype, needs_data_check): the output type, and whether stored values must be looked at
    to be sure the int16 choice holds."""
    integral = all(
        f.slope == 1.0 and float(f.intercept).is_integer() and f.file.pixel_tag == 0x7FE00010 for f in frames
    )
    if not integral:
        return np.dtype(np.float32), False
    lo = min(_stored_range(f)[0] + int(f.intercept) for f in frames)
    hi = max(_stored_range(f)[1] + int(f.intercept) for f in frames)
    if -32768 <= lo and hi <= 32767:
        return np.dtype(np.int16), False
    if max(f.bits_stored for f in frames) <= 16:
        return np.dtype(np.int16), True  # fits unless the data use the extremes; checked per slice
    return np.dtype(np.int32), False


def _fix_unused_bits(a: np.ndarray, frame: Frame) -> None:
    """Ignore bits above BitsStored, as the standard says (pydicom does the same)."""
    shift = frame.bits_allocated - frame.bits_stored
    if shift <= 0:
        return
    if frame.signed:
        np.left_shift(a, shift, out=a)
        np.right_shift(a, shift, out=a)
    else:
        np.bitwise_and(a, (1 << frame.bits_stored) - 1, out=a)


class _Overflow(Exception):
    """A slice's values do not fit the chosen int16 output (switch to int32)."""


class _Reader:
    """Keeps one file open (and one decoded dataset) while consecutive frames come from it."""

    def __init__(self) -> None:
        self._path: str | None = None
        self._fh = None
        self._ds = None

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
        self._fh = self._ds = self._path = None

    def _open(self, path: str):
        if self._path != path:
            self.close()
            self._path = path
        return self

    def read_native(self, frame: Frame, dst: np.ndarray) -> None:
        f = frame.file
        self._open(f.path)
        if self._fh is None:
            try:
                self._fh = open(f.path, "rb", buffering=0)  # noqa: SIM115 - kept open across frames
            except OSError as exc:
                raise DicomError(f"{frame.label} cannot be opened: {exc.strerror or exc}") from exc
        nbytes = frame.frame_bytes
        offset = f.pixel_offset + frame.index * nbytes
        if f.pixel_length >= 0 and (frame.index + 1) * nbytes > f.pixel_length:
            raise DicomError(f"{frame.label}: the pixel data is shorter than the header declares.")
        view = memoryview(dst).cast("B")
        try:
            self._fh.seek(offset)
            got = self._fh.readinto(view)
        except OSError as exc:
            raise DicomError(f"{frame.label} cannot be read: {exc.strerror or exc}") from exc
        if got != nbytes:
            raise DicomError(
                f"{frame.label} ends early: {got} of {nbytes} pixel bytes present (the file was truncated)."
            )

    def decode(self, frame: Frame) -> np.ndarray:
        """One frame's stored values through pydicom (compressed or unusual encodings)."""
        import pydicom
        from pydicom.pixels import pixel_array

        f = frame.file
        self._open(f.path)
        try:
            if self._ds is None:
                self._ds = pydicom.dcmread(f.path, force=True)
            ds = self._ds
            if f.number_of_frames > 1:
                arr = pixel_array(ds, index=frame.index)
            else:
                arr = ds.pixel_array
        except MemoryError as exc:
            raise DicomError(f"{frame.label}: not enough memory to decode the pixel data.") from exc
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - decoders raise many kinds on corrupt data,
            # including Rust panics (pyo3 PanicException derives from BaseException)
            raise DicomError(f"The pixel data of {frame.label} cannot be decoded: {exc}") from exc
        arr = np.asarray(arr)
        if arr.shape != (frame.rows, frame.columns):
            raise DicomError(
                f"{frame.label}: decoded pixel data has shape {arr.shape}, the header says "
                f"{frame.rows} x {frame.columns}."
            )
        return arr


def read_frames(
    frames: Sequence[Frame],
    *,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    start: float = 0.0,
    end: float = 1.0,
    max_bytes: int | None = None,
) -> np.ndarray:
    """Read ``frames`` (in this order) into a new array ``(n, rows, cols)`` of real-world values."""
    first = frames[0]
    n, rows, cols = len(frames), first.rows, first.columns
    dtype, check = output_dtype(frames)
    check_allocation(n * rows * cols * dtype.itemsize, f"{n} images of {rows} x {cols} pixels", max_bytes)
    out = np.empty((n, rows, cols), dtype=dtype)
    if _parallel_ok(frames):
        try:
            _read_parallel(out, frames, check, progress, cancel, start, end)
            return out
        except _Overflow:
            pass  # rare: start again below, one thread, switching to int32 where needed
    reader = _Reader()
    done = 0
    try:
        while True:
            try:
                _read_into(out, frames, done, n, reader, check, progress, cancel, start, end)
                return out
            except _Overflow as exc:
                # rare: stored values too large for int16 after rescale; continue in int32
                done = exc.args[0]
                check_allocation(out.size * 4, f"{n} images of {rows} x {cols} pixels (32-bit)", max_bytes)
                wide = np.empty(out.shape, dtype=np.int32)
                wide[:done] = out[:done]
                out = wide
                check = False
    finally:
        reader.close()


# Reading many uncompressed files is bound by copying and page faults, which run outside the GIL
# (readinto, numpy reductions), so a few threads overlap them.
_MIN_PARALLEL = 48
_CHUNK = 16


def _threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _parallel_ok(frames: Sequence[Frame]) -> bool:
    return len(frames) >= _MIN_PARALLEL and _threads() > 1 and all(
        f.file.native and f.bits_allocated in (8, 16, 32) for f in frames
    )


def _read_parallel(out, frames, check, progress, cancel, start, end) -> None:
    n = len(frames)
    stop = threading.Event()

    def should_stop() -> bool:
        return stop.is_set() or (cancel is not None and cancel())

    def work(a: int, b: int) -> None:
        reader = _Reader()
        try:
            _read_into(out, frames, a, b, reader, check, None, should_stop, 0.0, 1.0)
        finally:
            reader.close()

    chunks = [(a, min(n, a + _CHUNK)) for a in range(0, n, _CHUNK)]
    with ThreadPoolExecutor(max_workers=_threads(), thread_name_prefix="dicom-read") as pool:
        futures = [pool.submit(work, a, b) for a, b in chunks]
        try:
            for (_a, b), fut in zip(chunks, futures, strict=True):
                fut.result()
                report(progress, start + (end - start) * b / n, f"Reading images ({b} of {n})")
        except BaseException:
            stop.set()
            for fut in futures:
                fut.cancel()
            raise
    check_cancel(cancel)


def _read_into(out, frames, begin, stop_at, reader, check, progress, cancel, start, end) -> None:
    n = len(frames)
    step = max(1, n // 100)
    scratch: np.ndarray | None = None
    for k in range(begin, stop_at):
        fr = frames[k]
        if k % step == 0 or progress is None:
            check_cancel(cancel)
            report(progress, start + (end - start) * k / n, f"Reading images ({k} of {n})")
        native = fr.file.native and fr.bits_allocated in (8, 16, 32) and fr.samples == 1
        sdt = stored_dtype(fr) if native else None
        if native and sdt.itemsize == out.dtype.itemsize and out.dtype.kind in "iu":
            # read straight into the output slice, reinterpret as the stored type
            dst = out[k]
            reader.read_native(fr, dst)
            raw = dst.view(sdt)
            if not sdt.isnative:
                raw.byteswap(inplace=True)
                raw = raw.view(sdt.newbyteorder("="))
            _fix_unused_bits(raw, fr)
            intercept = int(fr.intercept)
            if check and _overflows(raw, intercept, out.dtype):
                raise _Overflow(k)  # the stored values are intact; this slice is re-read as int32
            if intercept:
                np.add(dst, intercept, out=dst, casting="unsafe")
            continue
        if native:
            if scratch is None or scratch.dtype != sdt:
                scratch = np.empty((fr.rows, fr.columns), dtype=sdt)
            reader.read_native(fr, scratch)
            raw = scratch
            if not sdt.isnative:
                raw = raw.byteswap().view(sdt.newbyteorder("="))
            _fix_unused_bits(raw, fr)
        else:
            raw = reader.decode(fr)
            if raw.dtype.kind not in "iuf":
                raise UnsupportedDicomError(f"{fr.label}: pixel type {raw.dtype} is not supported.")
        _store(out, k, raw, fr, check)


def _overflows(raw: np.ndarray, intercept: int, dtype: np.dtype) -> bool:
    """Would ``raw + intercept`` leave ``dtype``'s range? Checks only the side that can."""
    info = np.iinfo(dtype)
    sinfo = np.iinfo(raw.dtype)
    if intercept <= 0 and sinfo.max + intercept <= info.max:
        return sinfo.min + intercept < info.min and int(raw.min()) + intercept < info.min
    if intercept >= 0 and sinfo.min + intercept >= info.min:
        return sinfo.max + intercept > info.max and int(raw.max()) + intercept > info.max
    return int(raw.min()) + intercept < info.min or int(raw.max()) + intercept > info.max


def _store(out: np.ndarray, k: int, raw: np.ndarray, fr: Frame, check: bool) -> None:
    dst = out[k]
    if out.dtype.kind == "f":
        np.multiply(raw, fr.slope, out=dst, casting="unsafe")
        if fr.intercept:
            dst += np.float32(fr.intercept)
        return
    intercept = int(fr.intercept)
    info = np.iinfo(out.dtype)
    lo, hi = int(raw.min()), int(raw.max())
    if lo + intercept < info.min or hi + intercept > info.max:
        if out.dtype == np.int16:
            raise _Overflow(k)
        raise DicomError(f"{fr.label}: pixel values exceed the 32-bit range after rescale.")
    np.copyto(dst, raw, casting="unsafe")
    if intercept:
        np.add(dst, intercept, out=dst, casting="unsafe")
