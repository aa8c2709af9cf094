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

from collections.abc import Sequence

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
    integral = all(f.slope == 1.0 and float(f.intercept).is_integer() for f in frames)
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
        except Exception as exc:  # decoders raise many kinds for corrupt or unsupported data
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
    reader = _Reader()
    done = 0
    try:
        while True:
            try:
                _read_into(out, frames, done, reader, check, progress, cancel, start, end)
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


def _read_into(out, frames, begin, reader, check, progress, cancel, start, end) -> None:
    n = len(frames)
    step = max(1, n // 100)
    scratch: np.ndarray | None = None
    for k in range(begin, n):
        fr = frames[k]
        if k % step == 0:
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
            if check:
                lo, hi = int(raw.min()), int(raw.max())
                if lo + intercept < np.iinfo(out.dtype).min or hi + intercept > np.iinfo(out.dtype).max:
                    # undo nothing: the stored values are intact in raw; convert this slice later
                    raise _Overflow(k)
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
