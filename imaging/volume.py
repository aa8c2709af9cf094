"""The image volume every layer shares: a voxel array and its exact place in patient space.

World coordinates are DICOM patient coordinates, LPS, millimetres. ``array`` has shape
``(nz, ny, nx)`` (slice, row, column) and ``affine`` maps ``(i=column, j=row, k=slice, 1)`` to
LPS. Index <-> world arithmetic happens here and nowhere else.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from imaging.errors import GeometryError

__all__ = ["Volume", "SeriesInfo", "affine_from_geometry"]


@dataclass(frozen=True)
class SeriesInfo:
    """Identifiers and descriptions of the study and series a volume came from."""

    modality: str = ""
    patient_name: str = ""
    patient_id: str = ""
    study_uid: str = ""
    series_uid: str = ""
    frame_of_reference_uid: str = ""
    study_date: str = ""
    study_description: str = ""
    series_description: str = ""
    series_number: int | None = None
    body_part: str = ""
    laterality: str = ""  # "R" or "L" from (0020,0060) Laterality or (0020,0062) ImageLaterality


def affine_from_geometry(
    origin: Sequence[float], spacing: Sequence[float], direction: np.ndarray | Sequence[float]
) -> np.ndarray:
    """Build the 4x4 index->LPS affine from origin (mm), spacing (i, j, k in mm) and a 3x3
    direction matrix whose columns are the unit LPS directions of the i, j and k axes."""
    d = np.asarray(direction, dtype=float).reshape(3, 3)
    a = np.eye(4)
    a[:3, :3] = d * np.asarray(spacing, dtype=float)[None, :]
    a[:3, 3] = np.asarray(origin, dtype=float)
    return a


@dataclass(frozen=True, eq=False)
class Volume:
    """A 3D image on a regular grid placed in patient LPS space.

    Parameters
    ----------
    array
        Voxel values, shape ``(nz, ny, nx)``. CT volumes hold Hounsfield units.
    affine
        4x4 matrix mapping ``(i, j, k, 1)`` (column, row, slice) to LPS mm.
    info
        Study and series identifiers.
    warnings
        Messages the loader wants the user to see (e.g. a resampled gap).
    """

    array: np.ndarray
    affine: np.ndarray
    info: SeriesInfo = field(default_factory=SeriesInfo)
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        arr = np.asarray(self.array)
        if arr.ndim != 3:
            raise GeometryError(f"A volume needs a 3D array (slice, row, column); got shape {arr.shape}.")
        aff = np.asarray(self.affine, dtype=float)
        if aff.shape != (4, 4):
            raise GeometryError(f"The affine must be 4x4; got shape {aff.shape}.")
        if not np.allclose(aff[3], [0, 0, 0, 1]):
            raise GeometryError("The affine's last row must be (0, 0, 0, 1).")
        if abs(np.linalg.det(aff[:3, :3])) < 1e-9:
            raise GeometryError("The affine is singular: two image axes point the same way or a spacing is zero.")
        aff = aff.copy()
        aff.setflags(write=False)
        object.__setattr__(self, "array", arr)
        object.__setattr__(self, "affine", aff)

    # -- geometry -----------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        """``(nz, ny, nx)``."""
        return tuple(int(n) for n in self.array.shape)  # type: ignore[return-value]

    @property
    def size_ijk(self) -> tuple[int, int, int]:
        """Number of voxels along i (columns), j (rows), k (slices)."""
        nz, ny, nx = self.shape
        return nx, ny, nz

    @property
    def spacing(self) -> np.ndarray:
        """Voxel size along i, j, k in mm."""
        return np.linalg.norm(self.affine[:3, :3], axis=0)

    @property
    def origin(self) -> np.ndarray:
        """LPS position (mm) of the centre of voxel (0, 0, 0)."""
        return self.affine[:3, 3].copy()

    @property
    def direction(self) -> np.ndarray:
        """3x3 matrix whose columns are the unit LPS directions of the i, j, k axes."""
        return self.affine[:3, :3] / self.spacing[None, :]

    @property
    def modality(self) -> str:
        return self.info.modality

    def index_to_lps(self, ijk: np.ndarray | Sequence[float]) -> np.ndarray:
        """Map continuous indices ``(..., 3)`` in (i, j, k) order to LPS mm ``(..., 3)``."""
        p = np.asarray(ijk, dtype=float)
        return p @ self.affine[:3, :3].T + self.affine[:3, 3]

    def lps_to_index(self, lps: np.ndarray | Sequence[float]) -> np.ndarray:
        """Map LPS mm ``(..., 3)`` to continuous (i, j, k) indices ``(..., 3)``."""
        p = np.asarray(lps, dtype=float)
        inv = np.linalg.inv(self.affine)
        return p @ inv[:3, :3].T + inv[:3, 3]

    def contains_lps(self, lps: np.ndarray | Sequence[float], margin_voxels: float = 0.5) -> np.ndarray:
        """True where a point lies inside the volume (voxel centres +- ``margin_voxels``)."""
        idx = self.lps_to_index(lps)
        hi = np.asarray(self.size_ijk, dtype=float) - 1 + margin_voxels
        return np.all((idx >= -margin_voxels) & (idx <= hi), axis=-1)

    def corner_centres(self) -> np.ndarray:
        """LPS positions (8, 3) of the centres of the eight corner voxels."""
        nx, ny, nz = self.size_ijk
        corners = np.array(
            [[i, j, k] for k in (0, nz - 1) for j in (0, ny - 1) for i in (0, nx - 1)], dtype=float
        )
        return self.index_to_lps(corners)

    def world_bounds(self, *, voxel_edges: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned LPS box ``(lo, hi)`` enclosing the volume.

        With ``voxel_edges`` the box encloses the voxels' outer faces; otherwise their centres.
        """
        nx, ny, nz = self.size_ijk
        h = 0.5 if voxel_edges else 0.0
        corners = np.array(
            [[i, j, k] for i in (-h, nx - 1 + h) for j in (-h, ny - 1 + h) for k in (-h, nz - 1 + h)]
        )
        pts = self.index_to_lps(corners)
        return pts.min(axis=0), pts.max(axis=0)

    def centre_lps(self) -> np.ndarray:
        """LPS position of the centre of the volume."""
        return self.index_to_lps((np.asarray(self.size_ijk, dtype=float) - 1) / 2.0)

    def step_along(self, direction: np.ndarray | Sequence[float]) -> float:
        """Length in mm of one voxel step along an LPS direction (e.g. a view's normal): for a
        direction along an image axis, that axis's spacing."""
        d = np.asarray(direction, dtype=float)
        d = d / np.linalg.norm(d)
        return float(1.0 / np.max(np.abs(np.linalg.inv(self.affine[:3, :3]) @ d)))

    def value_at(self, lps: np.ndarray | Sequence[float]) -> np.ndarray:
        """Voxel value at the nearest voxel to each LPS point (NaN outside the volume)."""
        idx = np.rint(self.lps_to_index(lps)).astype(np.int64)
        nx, ny, nz = self.size_ijk
        inside = (
            (idx[..., 0] >= 0) & (idx[..., 0] < nx) & (idx[..., 1] >= 0) & (idx[..., 1] < ny)
            & (idx[..., 2] >= 0) & (idx[..., 2] < nz)
        )
        out = np.full(idx.shape[:-1], np.nan)
        sel = idx[inside]
        out[inside] = self.array[sel[:, 2], sel[:, 1], sel[:, 0]]
        return out

    # -- derived volumes ----------------------------------------------------------------------
    def with_array(self, array: np.ndarray, **changes: object) -> Volume:
        """A volume on the same grid holding ``array`` (e.g. a label map)."""
        if tuple(np.shape(array)) != self.shape:
            raise GeometryError(f"Array shape {np.shape(array)} does not match the volume grid {self.shape}.")
        return dataclasses.replace(self, array=array, **changes)  # type: ignore[arg-type]

    def flip(self, axis: int) -> Volume:
        """The same image with index axis ``axis`` (0=i, 1=j, 2=k) reversed; every voxel keeps
        its LPS position."""
        if axis not in (0, 1, 2):
            raise ValueError("axis must be 0 (i), 1 (j) or 2 (k)")
        n = self.size_ijk[axis]
        aff = self.affine.copy()
        aff[:3, 3] = self.index_to_lps(np.eye(3)[axis] * (n - 1))
        aff[:3, axis] = -aff[:3, axis]
        return dataclasses.replace(self, array=np.flip(self.array, axis=2 - axis).copy(), affine=aff)

    def oriented_like_dicom_axial(self) -> Volume:
        """Flip axes so that i runs toward patient left, j toward posterior and k toward superior
        as far as the axes allow (no resampling; positions unchanged)."""
        vol = self
        for axis in range(3):
            d = vol.direction[:, axis]
            if d[int(np.argmax(np.abs(d)))] < 0:
                vol = vol.flip(axis)
        return vol

    def same_grid(self, other: Volume, tol_mm: float = 1e-3) -> bool:
        """True when ``other`` has the same shape and voxel positions (within ``tol_mm``)."""
        return self.shape == other.shape and bool(
            np.allclose(self.corner_centres(), other.corner_centres(), atol=tol_mm)
        )

    def to_sitk(self):  # -> SimpleITK.Image
        """Convert to a SimpleITK image (ITK is LPS too, so geometry carries over unchanged)."""
        import SimpleITK as sitk

        img = sitk.GetImageFromArray(np.ascontiguousarray(self.array))
        img.SetSpacing(tuple(float(s) for s in self.spacing))
        img.SetOrigin(tuple(float(o) for o in self.origin))
        img.SetDirection(tuple(float(d) for d in self.direction.ravel()))
        return img

    @classmethod
    def from_sitk(cls, image, info: SeriesInfo | None = None, warnings: tuple[str, ...] = ()) -> Volume:
        """Build a volume from a 3D SimpleITK image (LPS geometry kept exactly)."""
        import SimpleITK as sitk

        if image.GetDimension() != 3:
            raise GeometryError(f"Expected a 3D image; got {image.GetDimension()} dimensions.")
        affine = affine_from_geometry(
            image.GetOrigin(), image.GetSpacing(), np.array(image.GetDirection()).reshape(3, 3)
        )
        return cls(sitk.GetArrayFromImage(image), affine, info or SeriesInfo(), warnings)

    def resample_like(self, reference: Volume, *, interpolation: str = "linear", default: float = 0.0) -> Volume:
        """Resample this volume onto ``reference``'s grid (patient positions are preserved)."""
        return _resample(self, reference.shape, reference.affine, interpolation, default)

    def resample_to_spacing(
        self, spacing_mm: float | Sequence[float], *, interpolation: str = "linear", default: float = 0.0
    ) -> Volume:
        """Resample onto a grid with the same orientation and extent but a new voxel size."""
        new_sp = np.broadcast_to(np.asarray(spacing_mm, dtype=float), (3,))
        extent = (np.asarray(self.size_ijk) - 1) * self.spacing
        n = np.maximum(1, np.floor(extent / new_sp + 1e-6).astype(int) + 1)
        aff = affine_from_geometry(self.origin, new_sp, self.direction)
        return _resample(self, (int(n[2]), int(n[1]), int(n[0])), aff, interpolation, default)


_INTERPOLATORS = {"nearest": "sitkNearestNeighbor", "linear": "sitkLinear", "bspline": "sitkBSpline"}


def _resample(vol: Volume, shape_zyx, affine: np.ndarray, interpolation: str, default: float) -> Volume:
    import SimpleITK as sitk

    if interpolation not in _INTERPOLATORS:
        raise ValueError(f"interpolation must be one of {sorted(_INTERPOLATORS)}")
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    direction = affine[:3, :3] / spacing[None, :]
    f = sitk.ResampleImageFilter()
    f.SetSize((int(shape_zyx[2]), int(shape_zyx[1]), int(shape_zyx[0])))
    f.SetOutputSpacing(tuple(float(s) for s in spacing))
    f.SetOutputOrigin(tuple(float(o) for o in affine[:3, 3]))
    f.SetOutputDirection(tuple(float(d) for d in direction.ravel()))
    f.SetInterpolator(getattr(sitk, _INTERPOLATORS[interpolation]))
    f.SetDefaultPixelValue(float(default))
    src = vol.to_sitk()
    if interpolation != "nearest" and src.GetPixelID() not in (sitk.sitkFloat32, sitk.sitkFloat64):
        src = sitk.Cast(src, sitk.sitkFloat32)
    out = Volume.from_sitk(f.Execute(src), vol.info, vol.warnings)
    if interpolation == "nearest":
        return out
    if np.issubdtype(vol.array.dtype, np.integer):
        info = np.iinfo(vol.array.dtype)
        arr = np.clip(np.rint(out.array), info.min, info.max).astype(vol.array.dtype)
        return out.with_array(arr)
    return out.with_array(out.array.astype(vol.array.dtype, copy=False))
