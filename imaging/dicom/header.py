"""Read the few header elements the scanner and loader need from one DICOM file, fast.

pydicom builds a full :class:`~pydicom.dataset.Dataset` for every file; a folder scan needs only
~40 top-level elements and the byte offset of the pixel data. This module walks the byte stream
of little- or big-endian, explicit- or implicit-VR files itself: it reads a small window of the
file, jumps over every element it does not want (sequences of undefined length included),
decodes the wanted ones and stops at the pixel data. Anything it does not understand (deflated
transfer syntax, a malformed element) is handed to pydicom, which stays the reference for
correctness (tests compare the two on every file they can find).

Nothing read from a file is trusted: every length is checked against the file size before it is
used, nesting is bounded, and no read is larger than the file.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from io import BytesIO

__all__ = [
    "FileHeader",
    "NotDicomError",
    "HeaderError",
    "TruncatedError",
    "read_header",
    "read_header_pydicom",
    "TAGS",
    "EXPLICIT_LE",
    "IMPLICIT_LE",
    "EXPLICIT_BE",
    "DEFLATED_LE",
    "NATIVE_SYNTAXES",
]

EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
DEFLATED_LE = "1.2.840.10008.1.2.1.99"
NATIVE_SYNTAXES = frozenset({EXPLICIT_LE, IMPLICIT_LE, EXPLICIT_BE})

UNDEFINED = 0xFFFFFFFF
ITEM = 0xFFFEE000
ITEM_END = 0xFFFEE00D
SEQUENCE_END = 0xFFFEE0DD
PIXEL_TAGS = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})
FUNCTIONAL_GROUPS = frozenset({0x52009229, 0x52009230})
DIRECTORY_RECORDS = 0x00041220

_CHUNK = 16384
_MAX_DEPTH = 12
_MAX_VALUE = 1 << 16  # a wanted element longer than this is not plausible

_LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
_SHORT_VRS = frozenset(
    {
        b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT",
        b"PN", b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US",
    }
)

# tag -> (keyword, kind). kind: "s" text, "m" multi-valued text, "f" DS number, "F" DS numbers,
# "i" IS number, "u" unsigned short (binary), "l" unsigned long (binary)
TAGS: dict[int, tuple[str, str]] = {
    0x00080005: ("SpecificCharacterSet", "m"),
    0x00080008: ("ImageType", "m"),
    0x00080016: ("SOPClassUID", "s"),
    0x00080018: ("SOPInstanceUID", "s"),
    0x00080020: ("StudyDate", "s"),
    0x00080030: ("StudyTime", "s"),
    0x00080032: ("AcquisitionTime", "s"),
    0x00080060: ("Modality", "s"),
    0x00080070: ("Manufacturer", "s"),
    0x00081030: ("StudyDescription", "s"),
    0x0008103E: ("SeriesDescription", "s"),
    0x00100010: ("PatientName", "s"),
    0x00100020: ("PatientID", "s"),
    0x00100030: ("PatientBirthDate", "s"),
    0x00180015: ("BodyPartExamined", "s"),
    0x00180050: ("SliceThickness", "f"),
    0x00180081: ("EchoTime", "f"),
    0x00180086: ("EchoNumbers", "i"),
    0x00180088: ("SpacingBetweenSlices", "f"),
    0x00181060: ("TriggerTime", "f"),
    0x00181120: ("GantryDetectorTilt", "f"),
    0x0020000D: ("StudyInstanceUID", "s"),
    0x0020000E: ("SeriesInstanceUID", "s"),
    0x00200011: ("SeriesNumber", "i"),
    0x00200012: ("AcquisitionNumber", "i"),
    0x00200013: ("InstanceNumber", "i"),
    0x00200032: ("ImagePositionPatient", "F"),
    0x00200037: ("ImageOrientationPatient", "F"),
    0x00200052: ("FrameOfReferenceUID", "s"),
    0x00200060: ("Laterality", "s"),
    0x00200062: ("ImageLaterality", "s"),
    0x00200100: ("TemporalPositionIdentifier", "i"),
    0x00280002: ("SamplesPerPixel", "u"),
    0x00280004: ("PhotometricInterpretation", "s"),
    0x00280006: ("PlanarConfiguration", "u"),
    0x00280008: ("NumberOfFrames", "i"),
    0x00280010: ("Rows", "u"),
    0x00280011: ("Columns", "u"),
    0x00280030: ("PixelSpacing", "F"),
    0x00280100: ("BitsAllocated", "u"),
    0x00280101: ("BitsStored", "u"),
    0x00280103: ("PixelRepresentation", "u"),
    0x00281052: ("RescaleIntercept", "f"),
    0x00281053: ("RescaleSlope", "f"),
    0x3004000C: ("GridFrameOffsetVector", "F"),
}
KEYWORDS = {kw: tag for tag, (kw, _) in TAGS.items()}

_HH = {True: struct.Struct("<HH"), False: struct.Struct(">HH")}
_H = {True: struct.Struct("<H"), False: struct.Struct(">H")}
_I = {True: struct.Struct("<I"), False: struct.Struct(">I")}
_EXPLICIT_HEAD = {True: struct.Struct("<HH2sH"), False: struct.Struct(">HH2sH")}
_IMPLICIT_HEAD = {True: struct.Struct("<HHI"), False: struct.Struct(">HHI")}


class HeaderError(Exception):
    """The file is DICOM but its byte stream is malformed (internal; callers see DicomError)."""


class NotDicomError(HeaderError):
    """The file is not DICOM at all."""


class TruncatedError(HeaderError):
    """The file ends before its header does (no point asking pydicom)."""


@dataclass(slots=True)
class FileHeader:
    """What one file's header says, decoded. ``values`` maps keywords of :data:`TAGS` to values."""

    path: str
    file_size: int
    transfer_syntax: str
    little: bool = True
    explicit: bool = True
    values: dict[str, object] = field(default_factory=dict)
    media_sop_class: str = ""
    pixel_tag: int = 0
    pixel_offset: int = -1  # byte offset of the pixel data value; -1 when unknown or absent
    pixel_length: int = -1  # -1 for encapsulated (undefined length) or absent
    functional_groups: bool = False
    is_dicomdir: bool = False
    parsed_by: str = "fast"

    def get(self, keyword: str, default: object = None) -> object:
        return self.values.get(keyword, default)

    @property
    def sop_class(self) -> str:
        return str(self.values.get("SOPClassUID") or self.media_sop_class or "")

    @property
    def has_pixels(self) -> bool:
        return self.pixel_tag != 0


class _Window:
    """A sliding window on an open file: ``at(pos, n)`` makes bytes [pos, pos+n) available."""

    __slots__ = ("f", "buf", "base", "size")

    def __init__(self, f, size: int, first: bytes) -> None:
        self.f = f
        self.size = size
        self.buf = first
        self.base = 0

    def at(self, pos: int, n: int) -> int:
        p = pos - self.base
        if p >= 0 and p + n <= len(self.buf):
            return p
        if pos < 0 or pos + n > self.size:
            raise TruncatedError(f"the file ends early ({self.size} bytes; {n} more needed at offset {pos})")
        self.f.seek(pos)
        self.buf = self.f.read(min(max(n, _CHUNK), self.size - pos))
        self.base = pos
        if len(self.buf) < n:
            raise TruncatedError(f"the file ended at offset {pos + len(self.buf)}")
        return 0


def _text(raw: bytes) -> str:
    # latin-1 never fails; names with other character sets are re-decoded by the caller
    return raw.decode("latin-1").strip(" \x00")


def _decode(kind: str, raw: bytes, little: bool) -> object:
    if kind == "s":
        return raw.decode("latin-1").strip(" \x00")
    if kind == "u":
        if len(raw) < 2:
            return None
        return _H[little].unpack_from(raw)[0]
    s = raw.decode("latin-1").strip(" \x00")
    if kind == "m":
        return tuple(v.strip(" \x00") for v in s.split("\\"))
    if not s:
        return None
    try:
        if kind == "f":
            return float(s.split("\\", 1)[0])
        if kind == "F":
            return tuple(map(float, s.split("\\")))
        return int(s) if s.isdigit() else int(float(s.split("\\", 1)[0]))  # "i": IS
    except ValueError:
        return None


def _skip_undefined(w: _Window, pos: int, little: bool, explicit: bool, depth: int) -> int:
    """Skip the items of a sequence (or encapsulated data) of undefined length starting at
    ``pos``; return the offset after its sequence delimiter."""
    if depth > _MAX_DEPTH:
        raise HeaderError("sequences nested too deeply")
    hh, ii = _HH[little].unpack_from, _I[little].unpack_from
    while True:
        p = w.at(pos, 8)
        g, e = hh(w.buf, p)
        tag = (g << 16) | e
        length = ii(w.buf, p + 4)[0]
        if tag == SEQUENCE_END:
            return pos + 8
        if tag != ITEM:
            raise HeaderError(f"expected an item at offset {pos}, found ({g:04X},{e:04X})")
        if length == UNDEFINED:
            pos = _skip_item(w, pos + 8, little, explicit, depth + 1)
        else:
            pos += 8 + length
            if pos > w.size:
                raise TruncatedError("an item runs past the end of the file")


def _skip_item(w: _Window, pos: int, little: bool, explicit: bool, depth: int) -> int:
    """Skip the elements of an item of undefined length; return the offset after its delimiter."""
    if depth > _MAX_DEPTH:
        raise HeaderError("sequences nested too deeply")
    hh, h, ii = _HH[little].unpack_from, _H[little].unpack_from, _I[little].unpack_from
    while True:
        p = w.at(pos, 8)
        buf = w.buf
        g, e = hh(buf, p)
        if g == 0xFFFE:
            if e == 0xE00D:
                return pos + 8
            raise HeaderError(f"unexpected delimiter ({g:04X},{e:04X}) at offset {pos}")
        vr = b""
        if explicit:
            vr = buf[p + 4 : p + 6]
            if vr in _LONG_VRS:
                p = w.at(pos, 12)
                length = ii(w.buf, p + 8)[0]
                hdr = 12
            elif vr in _SHORT_VRS:
                length = h(buf, p + 6)[0]
                hdr = 8
            else:
                raise HeaderError(f"invalid VR {vr!r} at offset {pos}")
        else:
            length = ii(buf, p + 4)[0]
            hdr = 8
        if length == UNDEFINED:
            pos = _skip_undefined(w, pos + hdr, little, explicit and vr != b"UN", depth + 1)
        else:
            pos += hdr + length
            if pos > w.size:
                raise TruncatedError("an element runs past the end of the file")


def _walk(w: _Window, pos: int, h: FileHeader) -> None:
    """Walk the top-level dataset from ``pos``: decode wanted elements, stop at pixel data."""
    little, explicit = h.little, h.explicit
    ii = _I[little].unpack_from
    head = (_EXPLICIT_HEAD if explicit else _IMPLICIT_HEAD)[little].unpack_from
    tags, values, size = TAGS, h.values, w.size
    long_vrs, short_vrs, pixel_tags = _LONG_VRS, _SHORT_VRS, PIXEL_TAGS
    buf, base = w.buf, w.base
    blen = len(buf)
    while pos < size:
        p = pos - base
        if p < 0 or p + 12 > blen:
            p = w.at(pos, min(12, size - pos))
            buf, base = w.buf, w.base
            blen = len(buf)
            if blen - p < 8:
                raise TruncatedError(f"{size - pos} stray bytes at the end of the file")
        if explicit:
            g, e, vr, length = head(buf, p)
            if vr in short_vrs:
                start = pos + 8
            elif vr in long_vrs:
                if blen - p < 12:
                    p = w.at(pos, 12)
                    buf, base = w.buf, w.base
                    blen = len(buf)
                length = ii(buf, p + 8)[0]
                start = pos + 12
            else:
                raise HeaderError(f"invalid VR {vr!r} at offset {pos}")
        else:
            vr = b""
            g, e, length = head(buf, p)
            start = pos + 8
        tag = (g << 16) | e
        if tag in pixel_tags:
            h.pixel_tag = tag
            h.pixel_offset = start
            h.pixel_length = -1 if length == UNDEFINED else length
            if length != UNDEFINED and start + length > size:
                h.pixel_length = -2 - length  # marks "declares more bytes than the file holds"
            return
        if length == UNDEFINED:
            if g == 0xFFFE:
                raise HeaderError(f"an item tag at the top level (offset {pos})")
            if tag in FUNCTIONAL_GROUPS:
                h.functional_groups = True
            elif tag == DIRECTORY_RECORDS:
                h.is_dicomdir = True
            pos = _skip_undefined(w, start, little, explicit and vr != b"UN", 1)
            buf, base = w.buf, w.base
            blen = len(buf)
            continue
        pos = start + length
        spec = tags.get(tag)
        if spec is not None:
            if pos > size or length > _MAX_VALUE:
                raise TruncatedError(f"element ({g:04X},{e:04X}) runs past the end of the file")
            if length:
                q = start - base
                if q < 0 or q + length > blen:
                    q = w.at(start, length)
                    buf, base = w.buf, w.base
                    blen = len(buf)
                values[spec[0]] = _decode(spec[1], buf[q : q + length], little)
        elif g >= 0x0028 and (tag in FUNCTIONAL_GROUPS or tag == DIRECTORY_RECORDS or g == 0xFFFE):
            if g == 0xFFFE:
                raise HeaderError(f"an item tag at the top level (offset {pos})")
            h.functional_groups |= tag in FUNCTIONAL_GROUPS
        elif tag == DIRECTORY_RECORDS:
            h.is_dicomdir = True
    if pos > size:
        raise TruncatedError("the last element runs past the end of the file (truncated)")


def _syntax_flags(ts: str) -> tuple[bool, bool]:
    """(little, explicit) for a transfer syntax; encapsulated syntaxes are explicit LE."""
    if ts == IMPLICIT_LE:
        return True, False
    if ts == EXPLICIT_BE:
        return False, True
    return True, True


def read_header(path: str | os.PathLike[str], size: int | None = None) -> FileHeader:
    """Parse the header of one file. Raises :class:`NotDicomError` for non-DICOM files and
    :class:`HeaderError` for DICOM files whose header this parser cannot walk (callers then
    try :func:`read_header_pydicom`)."""
    path = os.fspath(path)
    with open(path, "rb", buffering=0) as f:
        if size is None:
            size = os.fstat(f.fileno()).st_size
        first = f.read(min(_CHUNK, size))
        w = _Window(f, size, first)
        h = FileHeader(path=path, file_size=size, transfer_syntax="")
        if len(first) >= 132 and first[128:132] == b"DICM":
            pos = 132
        else:
            pos = 0
            if not _looks_like_raw_dataset(first):
                raise NotDicomError("not a DICOM file (no 'DICM' marker and no recognisable header)")
        # file meta information: always explicit VR little endian
        meta_ts = ""
        while True:
            p = w.at(pos, 8) if pos + 8 <= size else None
            if p is None:
                break
            g, e = _HH[True].unpack_from(w.buf, p)
            if g != 0x0002:
                break
            vr = w.buf[p + 4 : p + 6]
            if vr in _LONG_VRS:
                p = w.at(pos, 12)
                length = _I[True].unpack_from(w.buf, p + 8)[0]
                hdr = 12
            elif vr in _SHORT_VRS:
                length = _H[True].unpack_from(w.buf, p + 6)[0]
                hdr = 8
            else:
                raise HeaderError(f"invalid VR {vr!r} in the file meta information")
            if length == UNDEFINED or length > _MAX_VALUE:
                raise HeaderError("malformed file meta information")
            if e in (0x0010, 0x0002):
                q = w.at(pos + hdr, length)
                text = _text(w.buf[q : q + length])
                if e == 0x0010:
                    meta_ts = text
                else:
                    h.media_sop_class = text
            pos += hdr + length
        if not meta_ts:
            meta_ts = _guess_syntax(w, pos)
        h.transfer_syntax = meta_ts
        if meta_ts == DEFLATED_LE:
            raise HeaderError("deflated transfer syntax (handled by pydicom)")
        h.little, h.explicit = _syntax_flags(meta_ts)
        _walk(w, pos, h)
    if not h.values and not h.has_pixels and not h.is_dicomdir and h.media_sop_class == "":
        raise NotDicomError("not a DICOM file (no elements could be read)")
    return h


def _looks_like_raw_dataset(first: bytes) -> bool:
    """A file without preamble that starts with a group 0002 or 0008 element (old ACR-NEMA
    style exports)."""
    if len(first) < 8:
        return False
    g, e = _HH[True].unpack_from(first, 0)
    if g not in (0x0002, 0x0008) or e > 0x0020:
        return False
    vr = first[4:6]
    if vr in _SHORT_VRS or vr in _LONG_VRS:
        return True
    length = _I[True].unpack_from(first, 4)[0]
    return length < 256  # implicit VR: a short first element


def _guess_syntax(w: _Window, pos: int) -> str:
    """No transfer syntax in the meta information: tell explicit from implicit VR LE."""
    if pos + 8 > w.size:
        return IMPLICIT_LE
    p = w.at(pos, 8)
    vr = w.buf[p + 4 : p + 6]
    return EXPLICIT_LE if (vr in _SHORT_VRS or vr in _LONG_VRS) else IMPLICIT_LE


def read_header_pydicom(
    path: str | os.PathLike[str], size: int | None = None, *, force: bool = False, header_bytes: int | None = None
):
    """Parse a header with pydicom (the fallback and the reference). Returns
    ``(FileHeader, dataset)``; the dataset has no pixel data. With ``header_bytes`` (the pixel
    data offset, when known) only that much of the file is read."""
    import pydicom

    path = os.fspath(path)
    if size is None:
        size = os.path.getsize(path)
    # Read through a bounded in-memory copy: pydicom then never asks the OS for more bytes than
    # the file holds, whatever lengths the file declares.
    limit = min(size, header_bytes if header_bytes is not None else 64 * 1024 * 1024)
    with open(path, "rb") as f:
        data = f.read(limit)
    if header_bytes is not None:
        ds = pydicom.dcmread(BytesIO(data), force=force, stop_before_pixels=True)
        pixel_tag = 0
    else:
        ds = pydicom.dcmread(BytesIO(data), force=force)
        present = [t for t in sorted(PIXEL_TAGS, reverse=True) if t in ds]
        pixel_tag = present[0] if present else 0
        for t in present:
            del ds[t]  # the header is what is wanted; pixels are decoded later, frame by frame
    meta = getattr(ds, "file_meta", None)
    ts = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    if not ts:
        ts = EXPLICIT_LE if not ds.is_implicit_VR else IMPLICIT_LE
    h = FileHeader(path=path, file_size=size, transfer_syntax=ts, parsed_by="pydicom", pixel_tag=pixel_tag)
    h.little, h.explicit = _syntax_flags(ts)
    if meta is not None:
        h.media_sop_class = str(meta.get("MediaStorageSOPClassUID", ""))
    for tag, (kw, kind) in TAGS.items():
        elem = ds.get(tag)
        if elem is None or elem.value is None or elem.value == "":
            continue
        h.values[kw] = _from_pydicom(elem.value, kind)
    h.functional_groups = any(t in ds for t in FUNCTIONAL_GROUPS)
    h.is_dicomdir = DIRECTORY_RECORDS in ds
    return h, ds


def _from_pydicom(value: object, kind: str) -> object:
    from pydicom.multival import MultiValue

    try:
        if kind == "m":
            vals = value if isinstance(value, (list, tuple, MultiValue)) else [value]
            return tuple(str(v).strip() for v in vals)
        if kind == "s":
            return str(value).strip()
        if kind == "u":
            return int(value[0] if isinstance(value, (list, tuple, MultiValue)) else value)
        seq = list(value) if isinstance(value, (list, tuple, MultiValue)) else [value]
        if kind == "F":
            return tuple(float(v) for v in seq)
        if kind == "f":
            return float(seq[0])
        return int(float(seq[0]))
    except (TypeError, ValueError, IndexError):
        return None
