"""Segmentation: what the planner needs from a study, as a label map on the study's grid.

- :func:`segment` runs one task (``lumbar``, ``knee``, ``shoulder``, ``hip``; ``auto`` picks one
  from the study's body part and anatomy) and returns a :class:`~imaging.labelmap.LabelMap`: the
  whole body ("soft tissue", kind other), its skin, the bones, the target and the structures at
  risk, with landmarks (lumbar level table and interlaminar windows, or the joint target).
- :func:`skin_mesh`: the skin surface as a :class:`~imaging.mesh.Mesh` (LPS, outward normals).
- :func:`grow_vessel`: a vessel from a seed point by region growing (contrast CT, MR).

Classical methods (SimpleITK, scipy, scikit-image); every long function takes ``progress`` and
``cancel`` (see :mod:`imaging.progress`). Structures that imaging cannot find reliably (nerves
on CT) come from a ground-truth label map (``structures_from``) or are drawn by the user.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from imaging.errors import ImagingError, LabelMapError
from imaging.labelmap import Label, LabelMap, Legend
from imaging.mesh import Mesh, surface_mesh
from imaging.progress import Cancel, Progress
from imaging.volume import Volume

__all__ = [
    "TASKS",
    "JOINT_TASKS",
    "AT_RISK_KINDS",
    "SegmentationError",
    "segment",
    "choose_task",
    "copy_structures",
    "sample_ground_truth",
    "skin_mesh",
    "grow_vessel",
]

TASKS = ("auto", "lumbar", "knee", "shoulder", "hip")
JOINT_TASKS = ("knee", "shoulder", "hip")
# Kinds copied from a ground-truth label map: what CT cannot show or a classical method misses.
AT_RISK_KINDS = ("artery", "vein", "nerve", "cord")


class SegmentationError(ImagingError):
    """A segmentation task cannot run on this study or found nothing usable."""


_BODY_PART_WORDS = (
    ("lumbar", ("LSPINE", "L-SPINE", "LUMBAR", "LUMBOSACRAL", "LWS", "SPINE", "ABDOMEN", "ABDOMENPELVIS")),
    ("knee", ("KNEE", "KNIE", "GENOU")),
    ("shoulder", ("SHOULDER", "SCHULTER", "EPAULE")),
    ("hip", ("HIP", "HUEFTE", "HANCHE")),
)


def choose_task(volume: Volume) -> str:
    """The task for ``auto``: from the DICOM body part and descriptions, else from the anatomy
    (a CT wide enough to hold a trunk, with a spinal canal, is a lumbar study)."""
    info = volume.info
    text = " ".join([info.body_part, info.study_description, info.series_description]).upper()
    words = text.replace("_", " ").replace("/", " ").replace(",", " ").split()
    for task, keys in _BODY_PART_WORDS:
        if any(k in words for k in keys) or (task != "lumbar" and any(k in text for k in keys)):
            return task
    if any(k in text for k in ("LSPINE", "LUMBAR", "SPINE")):
        return "lumbar"
    from imaging.segmentation.common import is_ct

    lo, hi = volume.world_bounds()
    width = float(hi[0] - lo[0])
    if is_ct(volume) and width >= 250.0 and float(hi[2] - lo[2]) >= 120.0:
        return "lumbar"
    raise SegmentationError(
        "Cannot tell from this study which region it shows (no body part in the DICOM header and "
        "the anatomy is not a lumbar CT). Choose the task: lumbar, knee, shoulder or hip."
    )


def segment(
    volume: Volume,
    task: str = "auto",
    *,
    structures_from: LabelMap | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> LabelMap:
    """Segment ``volume`` for ``task`` (one of :data:`TASKS`) and return a label map on its grid.

    ``structures_from``: a ground-truth label map on the same grid whose structures at risk
    (kinds artery, vein, nerve, cord) are copied into the result. For a bundled sample study
    whose ``labels.nrrd`` lies on this grid, that file is used automatically."""
    if task not in TASKS:
        raise SegmentationError(f"Unknown segmentation task {task!r}; choose one of: {', '.join(TASKS)}.")
    if task == "auto":
        task = choose_task(volume)
    from imaging.segmentation.common import Steps

    steps = Steps(progress, cancel)
    if task == "lumbar":
        from imaging.segmentation.spine import segment_lumbar

        result = segment_lumbar(volume, progress=steps.sub(0.0, 0.95), cancel=cancel)
    else:
        segment_joint = _joint_function()
        result = segment_joint(volume, task, progress=steps.sub(0.0, 0.95), cancel=cancel)
    if structures_from is None:
        structures_from = sample_ground_truth(volume)
    if structures_from is not None:
        steps(0.96, "Adding structures at risk from the ground truth")
        result = copy_structures(result, structures_from)
    steps(1.0, "Segmentation done")
    return result


def _joint_function():
    try:
        from imaging.segmentation.joints import segment_joint
    except ImportError as exc:
        raise SegmentationError(
            "Joint segmentation (knee, shoulder, hip) is not available in this build "
            f"(imaging.segmentation.joints: {exc}). Use the lumbar task or draw the structures."
        ) from exc
    return segment_joint


def copy_structures(result: LabelMap, source: LabelMap, kinds: tuple[str, ...] = AT_RISK_KINDS) -> LabelMap:
    """``result`` with the structures of ``kinds`` from ``source`` (same grid) painted over it.

    A structure whose name ``result`` already uses replaces it; other labels keep their values."""
    if not result.volume.same_grid(source.volume, tol_mm=0.01):
        raise LabelMapError(
            f"The ground-truth label map is on a {source.volume.shape} grid that does not match this "
            f"study's {result.volume.shape} grid; it belongs to another study or series."
        )
    wanted = [lab for lab in source.legend.of_kind(*kinds) if lab.value in set(np.unique(source.volume.array).tolist())]
    if not wanted:
        return result
    legend = result.legend
    arr = result.volume.array
    out = arr.astype(np.uint16 if legend.next_value() + len(wanted) > 255 else arr.dtype, copy=True)
    src = source.volume.array
    if any(lab.kind == "cord" for lab in wanted):
        # a cord from the ground truth replaces one the segmentation could only assume
        sac = legend.get("thecal sac")
        for lab in legend.of_kind("cord"):
            if lab.name.endswith("(assumed)"):
                out[out == lab.value] = sac.value if sac is not None else 0
                legend = Legend(tuple(x for x in legend.labels if x.value != lab.value))
    for lab in wanted:
        existing = legend.get(lab.name)
        if existing is not None:
            value = existing.value
            out[out == value] = 0 if existing.kind not in kinds else value
        else:
            value = legend.next_value()
            legend = Legend(legend.labels + (Label(value, lab.name, lab.kind, lab.color),))
        out[src == lab.value] = value
    return LabelMap(result.volume.with_array(out), legend, result.landmarks)


def sample_ground_truth(volume: Volume) -> LabelMap | None:
    """The ``labels.nrrd`` of the bundled sample study on ``volume``'s grid, if there is one."""
    try:
        from imaging.labelmap import read_labelmap
        from imaging.samples import list_samples
    except ImportError:
        return None
    for sample in list_samples():
        path = Path(sample.path) / "labels.nrrd"
        if not path.is_file() or not _same_grid_on_disk(path, volume):
            continue
        if not _same_series(Path(sample.path), volume):
            continue
        try:
            return read_labelmap(path, reference=volume)
        except LabelMapError:
            continue
    return None


def _same_series(folder: Path, volume: Volume) -> bool:
    """False when the volume names a series and the sample's first image names another."""
    if not volume.info.series_uid:
        return True
    first = next(iter(sorted(folder.glob("*.dcm"))), None)
    if first is None:
        return True
    try:
        import pydicom

        ds = pydicom.dcmread(first, stop_before_pixels=True, specific_tags=["SeriesInstanceUID"])
    except Exception:  # noqa: BLE001 - an unreadable sample file only means "not this one"
        return False
    return str(getattr(ds, "SeriesInstanceUID", "")) == volume.info.series_uid


def _same_grid_on_disk(path: Path, volume: Volume) -> bool:
    import SimpleITK as sitk

    from imaging.volume import affine_from_geometry

    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError:
        return False
    size = reader.GetSize()
    if len(size) != 3 or tuple(size) != tuple(volume.size_ijk):
        return False
    aff = affine_from_geometry(reader.GetOrigin(), reader.GetSpacing(), np.array(reader.GetDirection()).reshape(3, 3))
    other = Volume(np.zeros((1, 1, 1), np.uint8), aff)
    corners = np.array([[i, j, k] for i in (0, size[0] - 1) for j in (0, size[1] - 1) for k in (0, size[2] - 1)], float)
    return bool(np.allclose(other.index_to_lps(corners), volume.index_to_lps(corners), atol=0.01))


def skin_mesh(
    labelmap_or_body_mask: LabelMap | np.ndarray,
    volume: Volume | None = None,
    *,
    resolution_mm: float = 2.0,
) -> Mesh:
    """The skin surface as a mesh (LPS mm, normals pointing away from the patient).

    Given a label map, the body is every labelled voxel with holes filled; given a boolean mask,
    the mask. The surface is made on a grid of about ``resolution_mm`` (block fractions of the
    study's voxels, so a 512 x 512 x 300 CT takes well under a second). Faces where the field of
    view cuts the body are left out: they are not skin."""
    from imaging.segmentation.common import CoarseGrid, fill_holes

    if isinstance(labelmap_or_body_mask, LabelMap):
        volume = volume or labelmap_or_body_mask.volume
        body = labelmap_or_body_mask.volume.array > 0
    else:
        if volume is None:
            raise ValueError("skin_mesh needs the volume when given a mask")
        body = np.asarray(labelmap_or_body_mask, dtype=bool)
    grid = CoarseGrid.for_volume(volume, resolution_mm)
    coarse = grid.down_fraction(body) >= 0.5
    coarse = fill_holes(coarse)
    cvol = grid.coarse_volume(volume)
    mesh = surface_mesh(coarse, cvol)
    if mesh.is_empty():
        return mesh
    ijk = cvol.lps_to_index(mesh.vertices)
    hi = np.asarray(cvol.size_ijk, dtype=float) - 1
    on_cut = np.any((ijk < 0.0) | (ijk > hi), axis=1)
    keep_face = ~np.any(on_cut[mesh.faces], axis=1)
    faces = mesh.faces[keep_face]
    used = np.unique(faces)
    remap = np.full(mesh.n_vertices, -1, np.int64)
    remap[used] = np.arange(used.size)
    return Mesh(mesh.vertices[used], remap[faces], mesh.normals[used])


def grow_vessel(*args, **kwargs):
    """A vessel from a seed point by seeded region growing (see :mod:`imaging.segmentation.vessels`)."""
    try:
        from imaging.segmentation.vessels import grow_vessel as _grow
    except ImportError as exc:
        raise SegmentationError(f"Vessel growing is not available in this build ({exc}).") from exc
    return _grow(*args, **kwargs)
