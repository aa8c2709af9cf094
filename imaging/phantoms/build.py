"""Write a phantom sample: DICOM series, ``labels.nrrd`` + ``labels.json`` (+ landmarks),
``sample.json`` with the reference approaches, and ``README.md``; and the manifest of them all."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from imaging.dicom.write import SeriesUids, deterministic_uid, write_series
from imaging.labelmap import LabelMap, Landmarks, Legend, write_labelmap
from imaging.phantoms import render
from imaging.phantoms.scene import Frame, Grid, PhantomError, Structure, rasterise
from imaging.volume import SeriesInfo

__all__ = ["SeriesSpec", "PhantomSpec", "build_sample", "write_manifest", "NEEDLE_RADIUS_MM", "trace_approach"]

NEEDLE = "22G:89:quincke"
NEEDLE_RADIUS_MM = 0.36  # 22G outer diameter 0.72 mm
NEEDLE_REACH_MM = 79.0  # 89 mm needle less a 10 mm hub allowance
CLEARANCE_MM = 3.0
MANIFEST = "MANIFEST.sha256"
SAG = np.array([[0.0, 0.0, -1.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])  # i -> +y (P), j -> -z (I), k -> -x (R)


@dataclass(frozen=True)
class SeriesSpec:
    """One DICOM series of a sample: contrast (``ct``, ``t1``, ``t2fs``), sub-folder, tags."""

    contrast: str
    subdir: str
    description: str
    number: int
    tags: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PhantomSpec:
    """Everything that makes one sample study."""

    name: str
    title: str
    description: str
    modality: str
    body_part: str
    frame: Frame
    structures: Callable[[], list[Structure]]
    grid: Callable[[], Grid]
    series: Sequence[SeriesSpec]
    approaches: Sequence[dict]
    dimensions: Sequence[tuple[str, str, str]]
    references: Sequence[str]
    shows: str
    study_description: str
    patient_name: str
    patient_id: str
    module: str
    render_options: dict = field(default_factory=dict)
    # The series a viewer opens by default when the sample holds several (its sub-folder).
    open_series: str = ""

    @property
    def seed(self) -> str:
        return f"injection-planner phantom {self.name} v1"


def _sample_line(labels: np.ndarray, grid: Grid, p0: np.ndarray, p1: np.ndarray, step: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Points from ``p0`` to ``p1`` (LPS) every ``step`` mm and the label at each (nearest voxel)."""
    n = int(np.ceil(np.linalg.norm(p1 - p0) / step)) + 1
    t = np.linspace(0.0, 1.0, n)[:, None]
    pts = p0 * (1 - t) + p1 * t
    vol = grid.volume(labels)
    idx = np.rint(vol.lps_to_index(pts)).astype(int)
    size = np.array(vol.size_ijk)
    inside = np.all((idx >= 0) & (idx < size), axis=1)
    lab = np.zeros(n, dtype=np.int32)
    ii = idx[inside]
    lab[inside] = labels[ii[:, 2], ii[:, 1], ii[:, 0]]
    return pts, lab


def trace_approach(labels: np.ndarray, grid: Grid, legend: Legend, outside_lps, aim_lps) -> tuple[np.ndarray, np.ndarray]:
    """Entry (where the line from ``outside`` toward ``aim`` meets the skin) and target (middle of
    the first run of the target label along it), LPS mm."""
    p0, p1 = np.asarray(outside_lps, float), np.asarray(aim_lps, float)
    pts, lab = _sample_line(labels, grid, p0, p1)
    body = np.nonzero(lab > 0)[0]
    if body.size == 0:
        raise PhantomError("The approach line never meets the body.")
    # the entry: the first point on the skin, still on it once rounded to 0.01 mm for the files
    vol = grid.volume(labels)
    k = body[0]
    while True:
        entry = np.round(pts[k], 2)
        i, j, kk = np.rint(vol.lps_to_index(entry)).astype(int)
        if labels[kk, j, i] != 0 or k + 1 >= len(pts):
            break
        k += 1
    targets = {lab_.value for lab_ in legend.of_kind("target")}
    hit = np.nonzero(np.isin(lab, list(targets)))[0]
    if hit.size == 0:
        raise PhantomError("The approach line never reaches the joint space.")
    first = hit[0]
    last = first
    while last + 1 < len(lab) and lab[last + 1] in targets:
        last += 1
    target = (pts[first] + pts[last]) / 2
    return entry, target


def check_approach(structures: Sequence[Structure], frame: Frame, labels: np.ndarray, grid: Grid, legend: Legend, entry, target) -> dict:
    """Clearances of the straight path (needle surface) from every vessel/nerve (analytic, from
    the shapes) and the labels crossed; raises :class:`PhantomError` when unsafe."""
    entry, target = np.asarray(entry, float), np.asarray(target, float)
    depth = float(np.linalg.norm(target - entry))
    n = int(np.ceil(depth / 0.25)) + 1
    t = np.linspace(0.0, 1.0, n)[:, None]
    local = frame.to_local(entry * (1 - t) + target * t)
    clear: dict[str, float] = {}
    for st in structures:
        if st.kind in ("artery", "vein", "nerve", "bone"):
            d = float(st.shape.contains(local).min()) - NEEDLE_RADIUS_MM
            clear[st.name] = min(clear.get(st.name, 1e9), d)
    _, lab = _sample_line(labels, grid, entry, target)
    crossed = sorted({legend.by_value(int(v)).name for v in np.unique(lab) if v})
    problems = []
    for name, d in clear.items():
        kind = legend.by_name(name).kind
        if kind == "bone" and d <= 0.5:
            problems.append(f"passes {d:.1f} mm from the {name}")
        elif kind != "bone" and d < CLEARANCE_MM:
            problems.append(f"passes {d:.1f} mm from the {name} (needs {CLEARANCE_MM} mm)")
    if depth > NEEDLE_REACH_MM:
        problems.append(f"is {depth:.0f} mm deep; an 89 mm needle reaches {NEEDLE_REACH_MM:.0f} mm")
    if any(legend.by_name(c).kind == "bone" for c in crossed):
        problems.append("crosses bone")
    if problems:
        raise PhantomError("The reference path " + "; ".join(problems) + ".")
    nearest = {k: round(v, 1) for k, v in sorted(clear.items(), key=lambda kv: kv[1]) if legend.by_name(k).kind != "bone"}
    return {"depth_mm": round(depth, 1), "crossed": crossed, "clearance_mm": nearest}


def _tags(spec: PhantomSpec, s: SeriesSpec, grid: Grid) -> dict:
    fov = float(max(grid.spacing[0] * grid.shape[2], grid.spacing[1] * grid.shape[1]))
    tags = {
        "BodyPartExamined": spec.body_part,
        "Laterality": "R" if spec.frame.lateral < 0 else "L",
        "ReconstructionDiameter": f"{fov:.1f}",
        "SpacingBetweenSlices": f"{grid.spacing[2]:g}",
        "DerivationDescription": f"Synthetic phantom from imaging.phantoms.{spec.module} (seed '{spec.seed}'); no patient data",
        "PatientAge": "",
        "InstitutionName": "",
        "StationName": "PHANTOM",
    }
    tags.update(s.tags)
    return tags


def build_sample(spec: PhantomSpec, root: Path, log: Callable[[str], None] | None = None) -> list[Path]:
    """Generate sample ``spec.name`` into ``root / spec.name``; return every file written.

    The sample is written to a hidden folder beside it and swapped in by two renames, so that a
    reader (a test run in parallel) never sees a half-written study."""
    final = Path(root) / spec.name
    staging = Path(root) / f".{spec.name}.building-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    try:
        written = _build_into(spec, staging, log)
        old = Path(root) / f".{spec.name}.old-{os.getpid()}"
        if final.exists():
            os.replace(final, old)
        os.replace(staging, final)
        if old.exists():
            shutil.rmtree(old)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return [final / p.relative_to(staging) for p in written]


def _build_into(spec: PhantomSpec, out: Path, log: Callable[[str], None] | None) -> list[Path]:
    t0 = time.perf_counter()
    structures = spec.structures()
    grid = spec.grid()
    labels, legend = rasterise(structures, grid)
    t1 = time.perf_counter()
    approaches = []
    for ap in spec.approaches:
        entry, target = trace_approach(labels, grid, legend, spec.frame.to_lps(ap["outside"]), spec.frame.to_lps(ap["aim"]))
        checked = check_approach(structures, spec.frame, labels, grid, legend, entry, target)
        approaches.append(
            {
                "name": ap["name"],
                "route": ap["route"],
                "site": ap["site"],
                "side": ap["side"],
                "entry": [round(float(v), 2) for v in entry],
                "target": [round(float(v), 2) for v in target],
                "needle": ap.get("needle", NEEDLE),
                "note": ap["note"],
                "check": checked,
            }
        )
    written: list[Path] = []
    study_uid = deterministic_uid(spec.seed, "study")
    frame_uid = deterministic_uid(spec.seed, "frame-of-reference")
    for s in spec.series:
        if s.contrast == "ct":
            image = render.render_ct(labels, grid, structures, spec.seed, **spec.render_options)
        else:
            image = render.render_mr(labels, grid, structures, spec.seed, s.contrast, **spec.render_options)
        vol = grid.volume(image, SeriesInfo(modality=spec.modality))
        uids = SeriesUids(study=study_uid, series=deterministic_uid(spec.seed, "series", s.contrast), frame_of_reference=frame_uid)
        written += write_series(
            vol,
            out / s.subdir if s.subdir else out,
            seed=f"{spec.seed} {s.contrast}",
            uids=uids,
            series_number=s.number,
            series_description=s.description,
            study_description=spec.study_description,
            patient_name=spec.patient_name,
            patient_id=spec.patient_id,
            extra=_tags(spec, s, grid),
        )
    t2 = time.perf_counter()
    target = approaches[0]["target"] if approaches else None
    landmarks = Landmarks(
        task=spec.name,
        target={"name": legend.of_kind("target")[0].name, "lps": target} if target else None,
        extra={"approaches": [{k: a[k] for k in ("name", "entry", "target", "needle")} for a in approaches]},
    )
    lm_path = write_labelmap(out / "labels.nrrd", LabelMap(grid.volume(labels), legend, landmarks))
    written += [lm_path, out / "labels.json", out / "labels.landmarks.json"]
    meta = {
        "title": spec.title,
        "description": spec.description,
        "modality": spec.modality,
        "series": [s.subdir for s in spec.series if s.subdir],
        "labels": "labels.nrrd",
        "approaches": [{k: a[k] for k in ("name", "route", "site", "side", "entry", "target", "needle")} for a in approaches],
    }
    if not meta["series"]:
        del meta["series"]
    elif spec.open_series:
        meta["open_series"] = spec.open_series
    (out / "sample.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    from imaging.phantoms.readme import readme

    (out / "README.md").write_text(readme(spec, grid, labels, legend, structures, approaches), encoding="utf-8")
    written += [out / "sample.json", out / "README.md"]
    if log:
        log(f"{spec.name}: {len(written)} files, labels {t1 - t0:.1f} s, images {t2 - t1:.1f} s, total {time.perf_counter() - t0:.1f} s")
    return written


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(path: Path) -> dict[str, str]:
    """``{relative path: sha256}`` from a manifest file (empty when missing)."""
    if not path.is_file():
        return {}
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            digest, name = line.split(maxsplit=1)
            out[name.strip()] = digest
    return out


def write_manifest(root: Path, files: Sequence[Path], names: Sequence[str]) -> Path:
    """Replace the entries of samples ``names`` in ``root/MANIFEST.sha256`` by the hashes of
    ``files`` (paths under ``root``); other samples' entries are kept."""
    path = Path(root) / MANIFEST
    entries = {k: v for k, v in read_manifest(path).items() if k.split("/", 1)[0] not in set(names)}
    for f in files:
        entries[Path(f).relative_to(root).as_posix()] = sha256(Path(f))
    lines = [f"{entries[k]}  {k}" for k in sorted(entries)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
