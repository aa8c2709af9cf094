"""From a file's header to the image frames it holds.

A classic file holds one frame; an Enhanced CT/MR file holds many, each with its own position,
orientation, pixel spacing and rescale in the per-frame functional groups. Either way the rest of
the ingest code sees a flat list of :class:`Frame` records that point back to their
:class:`ImageFile`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from imaging.dicom.header import (
    NATIVE_SYNTAXES,
    FileHeader,
    HeaderError,
    NotDicomError,
    TruncatedError,
    read_header,
    read_header_pydicom,
)

__all__ = ["ImageFile", "Frame", "read_file", "NON_IMAGE_KINDS", "describe_non_image"]

# SOP classes and modalities that are not images to load, with the name the browser shows.
NON_IMAGE_KINDS = {
    "SR": "structured report",
    "PR": "presentation state",
    "KO": "key object selection",
    "RTSTRUCT": "RT structure set",
    "RTPLAN": "RT plan",
    "RTRECORD": "RT treatment record",
    "SEG": "segmentation",
    "REG": "registration",
    "DOC": "encapsulated document",
    "AU": "audio",
    "ECG": "waveform",
    "FID": "fiducials",
}
_SOP_PREFIX_KINDS = (
    ("1.2.840.10008.5.1.4.1.1.88.", "SR"),
    ("1.2.840.10008.5.1.4.1.1.11.", "PR"),
    ("1.2.840.10008.5.1.4.1.1.481.3", "RTSTRUCT"),
    ("1.2.840.10008.5.1.4.1.1.481.5", "RTPLAN"),
    ("1.2.840.10008.5.1.4.1.1.481.4", "RTRECORD"),
    ("1.2.840.10008.5.1.4.1.1.66.4", "SEG"),
    ("1.2.840.10008.5.1.4.1.1.66.", "REG"),
    ("1.2.840.10008.5.1.4.1.1.104.", "DOC"),
    ("1.2.840.10008.5.1.4.1.1.9.", "ECG"),
)
_DICOMDIR_SOP = "1.2.840.10008.1.3.10"


def describe_non_image(kind: str) -> str:
    return f"{kind} ({NON_IMAGE_KINDS.get(kind, 'not an image')})"


@dataclass(slots=True, eq=False)
class ImageFile:
    """One DICOM file: who and what it belongs to, and how its pixels are stored."""

    path: str
    size: int
    sop_class: str
    sop_instance_uid: str
    modality: str
    patient_name: str
    patient_id: str
    study_uid: str
    study_date: str
    study_time: str
    study_description: str
    series_uid: str
    series_number: int | None
    series_description: str
    body_part: str
    manufacturer: str
    frame_of_reference_uid: str
    transfer_syntax: str
    little: bool
    pixel_offset: int
    pixel_length: int
    number_of_frames: int
    pixel_tag: int = 0x7FE00010  # (7FE0,0008/0009) are float / double pixel data
    laterality: str = ""  # "R" or "L" (Laterality, else ImageLaterality); "" when neither says
    non_image_kind: str = ""  # "SR", "PR", ... for objects that are not images
    parsed_by: str = "fast"
    frames: list[Frame] = field(default_factory=list)

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    @property
    def native(self) -> bool:
        """Uncompressed pixel data whose byte offset is known (the fast reading path)."""
        return (
            self.transfer_syntax in NATIVE_SYNTAXES
            and self.pixel_tag == 0x7FE00010
            and self.pixel_offset >= 0
            and self.pixel_length >= 0
        )


@dataclass(slots=True, eq=False)
class Frame:
    """One 2D image: a classic file, or one frame of a multi-frame file."""

    file: ImageFile
    index: int  # frame index inside the file (0 for single-frame files)
    instance_number: int | None
    position: tuple[float, float, float] | None
    orientation: tuple[float, ...] | None
    pixel_spacing: tuple[float, float] | None  # (between rows, between columns) in mm
    rows: int
    columns: int
    samples: int
    photometric: str
    bits_allocated: int
    bits_stored: int
    signed: bool
    slope: float
    intercept: float
    slice_thickness: float | None
    spacing_between_slices: float | None
    image_type: tuple[str, ...]
    echo_number: int | None
    echo_time: float | None
    acquisition_number: int | None
    temporal_position: int | None
    trigger_time: float | None
    acquisition_time: str
    stack_id: str
    gantry_tilt: float | None
    in_stack_position: int | None = None

    @property
    def label(self) -> str:
        """How messages name this frame: the file name, with the frame number if needed."""
        if self.file.number_of_frames > 1:
            return f"{self.file.name} frame {self.index + 1}"
        return self.file.name

    @property
    def frame_bytes(self) -> int:
        return self.rows * self.columns * self.samples * ((self.bits_allocated + 7) // 8)

    @property
    def is_localizer(self) -> bool:
        return "LOCALIZER" in self.image_type


def _non_image_kind(h: FileHeader) -> str:
    sop = h.sop_class
    for prefix, kind in _SOP_PREFIX_KINDS:
        if sop.startswith(prefix):
            return kind
    modality = str(h.get("Modality") or "").upper()
    if modality in NON_IMAGE_KINDS:
        return modality
    if not h.has_pixels:
        if _is_image_storage(sop):
            raise HeaderError("an image object without pixel data (the file is incomplete)")
        return modality or "OT"
    return ""


def _is_image_storage(sop: str) -> bool:
    try:
        from pydicom.uid import UID

        return "Image Storage" in UID(sop).name
    except Exception:  # an unknown or malformed UID is simply not a known image class
        return False


def laterality_code(*values: object) -> str:
    """``"R"`` or ``"L"``: the first of the DICOM laterality values given (Laterality, then
    ImageLaterality) that says one side; ``""`` when none does (``B`` both, ``U`` unpaired or
    absent)."""
    for v in values:
        code = str(v or "").strip().upper()
        if code in ("R", "L"):
            return code
    return ""


def _int(v: object) -> int | None:
    return v if isinstance(v, int) else None


def _float(v: object) -> float | None:
    return float(v) if isinstance(v, (int, float)) else None


def _vec(v: object, n: int) -> tuple[float, ...] | None:
    if type(v) is tuple and len(v) >= n:
        v = v[:n] if len(v) > n else v
        if all(type(x) is float for x in v):
            return v
    return None


def read_file(path: str, size: int | None = None) -> ImageFile:
    """Read one file's header into an :class:`ImageFile` with its frames (empty for non-image
    objects). Raises :class:`NotDicomError` or :class:`HeaderError` (with a reason)."""
    dataset = None
    try:
        h = read_header(path, size)
    except (NotDicomError, TruncatedError):
        raise
    except OSError as exc:
        raise HeaderError(f"cannot be read: {exc.strerror or exc}") from exc
    except HeaderError as exc:
        h, dataset = _pydicom_header(path, size, exc)
    if h.is_dicomdir or h.media_sop_class == _DICOMDIR_SOP:
        raise NotDicomError("a DICOMDIR (directory of the media), not an image")
    v = h.values
    f = ImageFile(
        path=path,
        size=h.file_size,
        sop_class=h.sop_class,
        sop_instance_uid=str(v.get("SOPInstanceUID") or ""),
        modality=str(v.get("Modality") or ""),
        patient_name=str(v.get("PatientName") or ""),
        patient_id=str(v.get("PatientID") or ""),
        study_uid=str(v.get("StudyInstanceUID") or ""),
        study_date=str(v.get("StudyDate") or ""),
        study_time=str(v.get("StudyTime") or ""),
        study_description=str(v.get("StudyDescription") or ""),
        series_uid=str(v.get("SeriesInstanceUID") or ""),
        series_number=_int(v.get("SeriesNumber")),
        series_description=str(v.get("SeriesDescription") or ""),
        body_part=str(v.get("BodyPartExamined") or ""),
        laterality=laterality_code(v.get("Laterality"), v.get("ImageLaterality")),
        manufacturer=str(v.get("Manufacturer") or ""),
        frame_of_reference_uid=str(v.get("FrameOfReferenceUID") or ""),
        transfer_syntax=h.transfer_syntax,
        little=h.little,
        pixel_offset=h.pixel_offset,
        pixel_length=h.pixel_length,
        number_of_frames=max(1, _int(v.get("NumberOfFrames")) or 1),
        pixel_tag=h.pixel_tag or 0x7FE00010,
        parsed_by=h.parsed_by,
    )
    f.non_image_kind = _non_image_kind(h)
    if f.non_image_kind:
        return f
    if any(ord(c) > 127 for c in f.patient_name + f.study_description + f.series_description):
        _decode_texts(f, h)
    base = _base_frame(f, v)
    _check_declared_size(f, base)
    if f.number_of_frames > 1 or h.functional_groups:
        if dataset is None:
            try:
                end = h.pixel_offset if h.pixel_offset > 0 else None
                _, dataset = read_header_pydicom(path, size, header_bytes=end)
            except Exception as exc:  # pydicom raises many kinds on broken files
                raise HeaderError(f"its multi-frame header cannot be read: {exc}") from exc
        f.frames = _enhanced_frames(f, base, dataset)
    else:
        f.frames = [base]
    return f


MAX_FRAMES = 100_000


def _check_declared_size(f: ImageFile, base: Frame) -> None:
    """Refuse absurd declared sizes before anything is allocated for them."""
    from imaging.dicom.limits import ENV_VAR, format_bytes, max_volume_bytes

    if f.number_of_frames > MAX_FRAMES:
        raise HeaderError(f"declares {f.number_of_frames} frames (more than {MAX_FRAMES}); refused")
    declared = base.rows * base.columns * max(1, base.samples) * max(1, (base.bits_allocated + 7) // 8) * f.number_of_frames
    limit = max_volume_bytes()
    if declared > limit:
        raise HeaderError(
            f"declares {base.rows} x {base.columns} pixels x {f.number_of_frames} frames "
            f"({format_bytes(declared)}), more than the memory limit of {format_bytes(limit)}; refused "
            f"before reading (raise the limit with --max-memory-mb or {ENV_VAR} if the image is real)"
        )


def _pydicom_header(path: str, size: int | None, first_error: Exception):
    try:
        return read_header_pydicom(path, size)
    except Exception as exc:  # pydicom raises many kinds on broken files
        try:
            return read_header_pydicom(path, size, force=True)
        except Exception:
            raise HeaderError(f"unreadable DICOM header ({first_error}; pydicom: {exc})") from exc


def _decode_texts(f: ImageFile, h: FileHeader) -> None:
    """Re-decode names with the file's Specific Character Set (the fast parser used latin-1)."""
    charset = h.get("SpecificCharacterSet") or ("ISO_IR 6",)
    try:
        from pydicom.charset import decode_bytes

        for attr in ("patient_name", "study_description", "series_description"):
            raw = getattr(f, attr).encode("latin-1", errors="replace")
            setattr(f, attr, decode_bytes(raw, list(charset), set()).strip())
    except Exception:  # a wrong charset must never stop a scan; latin-1 text stays
        return


def _base_frame(f: ImageFile, v: dict) -> Frame:
    get = v.get
    ps = _vec(get("PixelSpacing"), 2)
    bits = get("BitsAllocated")
    bits = bits if isinstance(bits, int) else 16
    stored = get("BitsStored")
    image_type = get("ImageType") or ()
    return Frame(
        file=f,
        index=0,
        instance_number=_int(get("InstanceNumber")),
        position=_vec(get("ImagePositionPatient"), 3),  # type: ignore[arg-type]
        orientation=_vec(get("ImageOrientationPatient"), 6),
        pixel_spacing=ps,  # type: ignore[arg-type]
        rows=_int(get("Rows")) or 0,
        columns=_int(get("Columns")) or 0,
        samples=_int(get("SamplesPerPixel")) or 1,
        photometric=str(get("PhotometricInterpretation") or "MONOCHROME2"),
        bits_allocated=bits,
        bits_stored=stored if isinstance(stored, int) and stored else bits,
        signed=get("PixelRepresentation") == 1,
        slope=_float(get("RescaleSlope")) or 1.0,
        intercept=_float(get("RescaleIntercept")) or 0.0,
        slice_thickness=_float(get("SliceThickness")),
        spacing_between_slices=_float(get("SpacingBetweenSlices")),
        image_type=tuple(x.upper() for x in image_type) if isinstance(image_type, tuple) else (),
        echo_number=_int(get("EchoNumbers")),
        echo_time=_float(get("EchoTime")),
        acquisition_number=_int(get("AcquisitionNumber")),
        temporal_position=_int(get("TemporalPositionIdentifier")),
        trigger_time=_float(get("TriggerTime")),
        acquisition_time=str(get("AcquisitionTime") or ""),
        stack_id="",
        gantry_tilt=_float(get("GantryDetectorTilt")),
    )


def _first(seq_owner, keyword: str):
    """The first item of sequence ``keyword`` in a functional-group item, or None."""
    if seq_owner is None:
        return None
    seq = seq_owner.get(keyword)
    if seq is None:
        return None
    try:
        return seq[0] if len(seq) else None
    except (TypeError, IndexError):
        return None


def _get(groups: list, macro: str, keyword: str):
    """Look ``keyword`` up in sequence ``macro`` of the per-frame item, then the shared item."""
    for g in groups:
        item = _first(g, macro)
        if item is not None and keyword in item:
            value = item.get(keyword)
            if value is not None and value != "":
                return value
    return None


def _floats(value, n: int) -> tuple[float, ...] | None:
    try:
        vals = tuple(float(x) for x in value)
    except (TypeError, ValueError):
        return None
    return vals[:n] if len(vals) >= n else None


def _enhanced_frames(f: ImageFile, base: Frame, ds) -> list[Frame]:
    """One :class:`Frame` per frame of a multi-frame file, from its functional groups (falling
    back to the top-level elements, e.g. for legacy multi-frame or RT dose)."""
    from dataclasses import replace

    shared_seq = ds.get("SharedFunctionalGroupsSequence")
    shared = shared_seq[0] if shared_seq is not None and len(shared_seq) else None
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    n = f.number_of_frames
    if per_frame is not None and len(per_frame) != n:
        raise HeaderError(f"declares {n} frames but describes {len(per_frame)} in its functional groups")
    offsets = ds.get("GridFrameOffsetVector")
    frames = []
    for i in range(n):
        item = per_frame[i] if per_frame is not None else None
        groups = [g for g in (item, shared) if g is not None]
        pos = _get(groups, "PlanePositionSequence", "ImagePositionPatient")
        iop = _get(groups, "PlaneOrientationSequence", "ImageOrientationPatient")
        ps = _get(groups, "PixelMeasuresSequence", "PixelSpacing")
        thick = _get(groups, "PixelMeasuresSequence", "SliceThickness")
        between = _get(groups, "PixelMeasuresSequence", "SpacingBetweenSlices")
        slope = _get(groups, "PixelValueTransformationSequence", "RescaleSlope")
        intercept = _get(groups, "PixelValueTransformationSequence", "RescaleIntercept")
        echo = _get(groups, "MREchoSequence", "EffectiveEchoTime")
        stack_id = _get(groups, "FrameContentSequence", "StackID")
        in_stack = _get(groups, "FrameContentSequence", "InStackPositionNumber")
        temporal = _get(groups, "FrameContentSequence", "TemporalPositionIndex")
        frame_type = _get(groups, "MRImageFrameTypeSequence", "FrameType") or _get(
            groups, "CTImageFrameTypeSequence", "FrameType"
        )
        position = _floats(pos, 3) if pos is not None else base.position
        if pos is None and offsets is not None and base.position is not None and base.orientation is not None:
            # RT dose style: frames offset along the normal by GridFrameOffsetVector
            import numpy as np

            try:
                normal = np.cross(base.orientation[:3], base.orientation[3:6])
                off = float(offsets[i])
                position = tuple(float(x) for x in np.asarray(base.position) + off * normal)
            except (TypeError, ValueError, IndexError):
                position = None
        elif pos is None and n > 1:
            position = None  # frames without their own position cannot be placed
        frames.append(
            replace(
                base,
                index=i,
                position=position,  # type: ignore[arg-type]
                orientation=_floats(iop, 6) if iop is not None else base.orientation,
                pixel_spacing=_floats(ps, 2) if ps is not None else base.pixel_spacing,  # type: ignore[arg-type]
                slice_thickness=_as_float(thick, base.slice_thickness),
                spacing_between_slices=_as_float(between, base.spacing_between_slices),
                slope=_as_float(slope, base.slope) or 1.0,
                intercept=_as_float(intercept, base.intercept) or 0.0,
                echo_time=_as_float(echo, base.echo_time),
                stack_id=str(stack_id or ""),
                in_stack_position=int(in_stack) if isinstance(in_stack, int) else None,
                temporal_position=int(temporal) if isinstance(temporal, int) else base.temporal_position,
                image_type=tuple(str(x).upper() for x in frame_type) if frame_type else base.image_type,
            )
        )
    return frames


def _as_float(value, default):
    try:
        return float(value) if value is not None else default
    except (TypeError, ValueError):
        return default
