"""Label maps: an integer volume on a study's grid, its legend, and its landmarks.

One format for everyone (segmentation output, sample ground truth, planner input):

- ``NAME.nrrd`` (or ``.nii.gz``/``.mha``): the label volume, written through SimpleITK, same grid
  as the study (LPS geometry exact);
- ``NAME.json``: the legend, a JSON list of ``{"value", "name", "kind", "color"}`` where ``kind``
  is one of :data:`imaging.kinds.KINDS` and ``color`` is ``[r, g, b]`` 0-255;
- ``NAME.landmarks.json`` (optional): points the segmentation found, in LPS mm, as
  ``{"schema_version": 1, "task": ..., "target": {...}, "levels": [...], "windows": [...]}``
  (see :class:`Landmarks`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from imaging.errors import LabelMapError
from imaging.files import atomic_write_text
from imaging.kinds import DEFAULT_COLORS, KINDS
from imaging.volume import Volume

__all__ = [
    "Label",
    "Legend",
    "LabelMap",
    "Landmarks",
    "legend_path",
    "landmarks_path",
    "read_legend",
    "write_legend",
    "read_labelmap",
    "write_labelmap",
    "read_landmarks",
    "write_landmarks",
]

_SUFFIXES = (".nii.gz", ".nrrd", ".nhdr", ".nii", ".mha", ".mhd")
LANDMARKS_SCHEMA = 1


@dataclass(frozen=True)
class Label:
    """One labelled structure: its voxel value, clinical name, kind and display colour."""

    value: int
    name: str
    kind: str
    color: tuple[int, int, int] = (160, 160, 160)

    def __post_init__(self) -> None:
        if not (1 <= int(self.value) <= 65535):
            raise LabelMapError(f"Label {self.name!r} has value {self.value}; values must be 1-65535 (0 is background).")
        if self.kind not in KINDS:
            raise LabelMapError(f"Label {self.name!r} has unknown kind {self.kind!r}; expected one of {', '.join(KINDS)}.")
        if not self.name.strip():
            raise LabelMapError(f"Label {self.value} has no name.")


@dataclass(frozen=True)
class Legend:
    """The labels of a label map, in value order. Values and names are unique."""

    labels: tuple[Label, ...] = ()

    def __post_init__(self) -> None:
        labels = tuple(sorted(self.labels, key=lambda lab: lab.value))
        object.__setattr__(self, "labels", labels)
        values = [lab.value for lab in labels]
        if len(set(values)) != len(values):
            raise LabelMapError("The legend lists the same label value twice.")
        names = [lab.name for lab in labels]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise LabelMapError(f"The legend lists the same structure name twice: {', '.join(dup)}.")

    def __iter__(self) -> Iterator[Label]:
        return iter(self.labels)

    def __len__(self) -> int:
        return len(self.labels)

    def by_value(self, value: int) -> Label:
        for lab in self.labels:
            if lab.value == value:
                return lab
        raise KeyError(value)

    def by_name(self, name: str) -> Label:
        for lab in self.labels:
            if lab.name == name:
                return lab
        raise KeyError(name)

    def get(self, name: str) -> Label | None:
        return next((lab for lab in self.labels if lab.name == name), None)

    def of_kind(self, *kinds: str) -> tuple[Label, ...]:
        """The labels whose kind is one of ``kinds``."""
        return tuple(lab for lab in self.labels if lab.kind in kinds)

    def next_value(self) -> int:
        return max((lab.value for lab in self.labels), default=0) + 1

    def with_label(self, name: str, kind: str, color: Sequence[int] | None = None, value: int | None = None) -> Legend:
        """A new legend with one more label (next free value unless given)."""
        col = tuple(int(c) for c in (color if color is not None else DEFAULT_COLORS[kind]))
        return Legend(self.labels + (Label(int(value or self.next_value()), name, kind, col),))  # type: ignore[arg-type]

    def to_json(self) -> list[dict]:
        return [{"value": lab.value, "name": lab.name, "kind": lab.kind, "color": list(lab.color)} for lab in self.labels]

    @classmethod
    def from_json(cls, data: object, *, source: str = "legend") -> Legend:
        if not isinstance(data, list):
            raise LabelMapError(f"{source}: expected a JSON list of labels.")
        labels = []
        for i, item in enumerate(data):
            try:
                color = item.get("color") or DEFAULT_COLORS.get(item["kind"], (160, 160, 160))
                labels.append(
                    Label(int(item["value"]), str(item["name"]), str(item["kind"]), tuple(int(c) for c in color)[:3])  # type: ignore[arg-type]
                )
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise LabelMapError(f"{source}: entry {i} is not a label ({exc!s}); expected value, name, kind and color.") from exc
        return cls(tuple(labels))


@dataclass(frozen=True, eq=False)
class LabelMap:
    """A label volume (integer values on the study's grid) and its legend."""

    volume: Volume
    legend: Legend
    landmarks: Landmarks | None = None

    def mask(self, *names: str) -> np.ndarray:
        """Boolean ``(nz, ny, nx)`` mask of the named structures."""
        values = [self.legend.by_name(n).value for n in names]
        return np.isin(self.volume.array, values)

    def mask_of_kind(self, *kinds: str) -> np.ndarray:
        values = [lab.value for lab in self.legend.of_kind(*kinds)]
        return np.isin(self.volume.array, values)

    def present(self) -> tuple[Label, ...]:
        """The legend's labels that occupy at least one voxel."""
        values = set(np.unique(self.volume.array).tolist())
        return tuple(lab for lab in self.legend if lab.value in values)


@dataclass(frozen=True)
class Landmarks:
    """What a segmentation found besides voxels, in LPS mm.

    ``target``: ``{"name": str, "lps": [x, y, z]}`` (default target point), or None.
    ``levels``: lumbar level table, ``[{"name": "L4", "centre": [x, y, z]}, ...]`` cranial to caudal.
    ``windows``: interlaminar windows, ``[{"interspace": "L4-L5", "centre": [...], "width_mm": w,
    "height_mm": h, "midline_point": [...], "midline_direction": [...], "below_conus": bool}, ...]``.
    ``extra``: anything else a task reports (kept on round trip).
    """

    task: str = ""
    target: dict | None = None
    levels: tuple[dict, ...] = ()
    windows: tuple[dict, ...] = ()
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "schema_version": LANDMARKS_SCHEMA,
            "task": self.task,
            "target": self.target,
            "levels": list(self.levels),
            "windows": list(self.windows),
            "extra": self.extra,
        }

    @classmethod
    def from_json(cls, data: object, *, source: str = "landmarks") -> Landmarks:
        if not isinstance(data, dict):
            raise LabelMapError(f"{source}: expected a JSON object.")
        version = data.get("schema_version", 1)
        if not isinstance(version, int) or version > LANDMARKS_SCHEMA:
            raise LabelMapError(
                f"{source} was written by a newer version of Injection Planner (schema {version}); update the program to read it."
            )
        return cls(
            task=str(data.get("task", "")),
            target=data.get("target"),
            levels=tuple(data.get("levels") or ()),
            windows=tuple(data.get("windows") or ()),
            extra=dict(data.get("extra") or {}),
        )

    def window(self, interspace: str) -> dict | None:
        return next((w for w in self.windows if w.get("interspace") == interspace), None)


def _stem(path: Path) -> Path:
    name = path.name
    for suf in _SUFFIXES:
        if name.lower().endswith(suf):
            return path.with_name(name[: -len(suf)])
    return path.with_suffix("")


def legend_path(path: str | os.PathLike[str]) -> Path:
    """``labels.nrrd`` -> ``labels.json`` (same folder, same stem)."""
    return Path(str(_stem(Path(path))) + ".json")


def landmarks_path(path: str | os.PathLike[str]) -> Path:
    """``labels.nrrd`` -> ``labels.landmarks.json``."""
    return Path(str(_stem(Path(path))) + ".landmarks.json")


def _read_json(path: Path, what: str) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise LabelMapError(f"The {what} {path} is missing; it must sit beside the label map with the same name.") from exc
    except OSError as exc:
        raise LabelMapError(f"Cannot read the {what} {path}: {exc.strerror or exc}.") from exc
    try:
        return json.loads(text)
    except ValueError as exc:
        raise LabelMapError(f"The {what} {path} is not valid JSON ({exc}); it may be truncated or damaged.") from exc


def read_legend(path: str | os.PathLike[str]) -> Legend:
    path = Path(path)
    return Legend.from_json(_read_json(path, "legend"), source=str(path))


def write_legend(path: str | os.PathLike[str], legend: Legend | Iterable[Label]) -> Path:
    legend = legend if isinstance(legend, Legend) else Legend(tuple(legend))
    return atomic_write_text(path, json.dumps(legend.to_json(), indent=1) + "\n")


def read_landmarks(path: str | os.PathLike[str]) -> Landmarks:
    path = Path(path)
    return Landmarks.from_json(_read_json(path, "landmarks file"), source=str(path))


def write_landmarks(path: str | os.PathLike[str], landmarks: Landmarks) -> Path:
    return atomic_write_text(path, json.dumps(landmarks.to_json(), indent=1, default=_jsonable) + "\n")


def _jsonable(obj: object) -> object:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def read_labelmap(path: str | os.PathLike[str], *, reference: Volume | None = None) -> LabelMap:
    """Read a label map with its legend (and landmarks when present).

    With ``reference`` the map must lie on that study's grid (same shape and voxel positions
    within 0.01 mm), otherwise :class:`LabelMapError` says it belongs to another study."""
    import SimpleITK as sitk

    path = Path(path)
    if not path.is_file():
        raise LabelMapError(f"The label map {path} does not exist.")
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        raise LabelMapError(f"Cannot read the label map {path}: {str(exc).strip().splitlines()[-1]}") from exc
    vol = Volume.from_sitk(image)
    if not np.issubdtype(vol.array.dtype, np.integer):
        arr = vol.array
        if not np.all(np.equal(np.mod(arr, 1), 0)):
            raise LabelMapError(f"The label map {path} holds non-integer values; it is not a label map.")
        vol = vol.with_array(arr.astype(np.uint16))
    legend = read_legend(legend_path(path))
    lm_path = landmarks_path(path)
    landmarks = read_landmarks(lm_path) if lm_path.is_file() else None
    if reference is not None and not vol.same_grid(reference, tol_mm=0.01):
        raise LabelMapError(
            f"The label map {path} is on a {vol.shape} grid that does not match this study's {reference.shape} grid; "
            "it belongs to another study or series. Segment this study again or choose the right file."
        )
    unknown = sorted(set(np.unique(vol.array).tolist()) - {0} - {lab.value for lab in legend})
    if unknown:
        raise LabelMapError(f"The label map {path} holds values {unknown[:10]} that its legend does not list.")
    return LabelMap(vol, legend, landmarks)


def write_labelmap(path: str | os.PathLike[str], labelmap: LabelMap) -> Path:
    """Write the label volume (compressed), its legend and its landmarks (when any) atomically."""
    import SimpleITK as sitk

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = labelmap.volume.array
    dtype = np.uint8 if arr.size == 0 or int(arr.max(initial=0)) < 256 else np.uint16
    image = labelmap.volume.with_array(arr.astype(dtype, copy=False)).to_sitk()
    suffix = "".join(path.suffixes[-2:]) if path.name.endswith(".nii.gz") else path.suffix
    tmp = path.with_name(f".{path.name}.tmp{suffix}")
    try:
        sitk.WriteImage(image, str(tmp), True)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    write_legend(legend_path(path), labelmap.legend)
    if labelmap.landmarks is not None:
        write_landmarks(landmarks_path(path), labelmap.landmarks)
    return path
