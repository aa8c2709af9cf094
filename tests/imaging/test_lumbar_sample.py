"""The bundled lumbar CT: every voxel where the source NIfTI puts it, checked with an independent
NIfTI header parser (not SimpleITK), and regenerated bit for bit by ``make samples``."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pydicom
import pytest

import imaging
from imaging.samples import lumbar_ct, sample_path
from tests.conftest import SAMPLES, shared_data
from tests.helpers import voxel_centres

NIFTI_DTYPES = {2: np.uint8, 4: np.int16, 8: np.int32, 16: np.float32, 64: np.float64, 512: np.uint16}


def read_nifti(path):
    """Minimal NIfTI-1 reader: (array indexed [i, j, k], 4x4 RAS sform). Independent of ITK."""
    raw = gzip.decompress(path.read_bytes())
    assert struct.unpack("<i", raw[:4])[0] == 348, "not a little-endian NIfTI-1 file"
    dim = struct.unpack("<8h", raw[40:56])
    datatype = struct.unpack("<h", raw[70:72])[0]
    vox_offset = int(struct.unpack("<f", raw[108:112])[0])
    slope, inter = struct.unpack("<2f", raw[112:120])
    sform_code = struct.unpack("<h", raw[254:256])[0]
    assert sform_code > 0
    srow = np.array(struct.unpack("<12f", raw[280:328]), dtype=float).reshape(3, 4)
    shape = dim[1:4]
    data = np.frombuffer(raw, dtype=NIFTI_DTYPES[datatype], count=int(np.prod(shape)), offset=vox_offset)
    data = data.reshape(shape, order="F").astype(float)
    if slope not in (0.0, 1.0) or inter != 0.0:
        data = data * (slope or 1.0) + inter
    aff = np.eye(4)
    aff[:3] = srow
    return data, aff


@pytest.fixture(scope="module")
def sample():
    return imaging.load(sample_path("lumbar_ct"))


def test_every_voxel_centre_matches_the_nifti(sample):
    src = shared_data("lumbar_ct", "example_ct.nii.gz")
    data, ras = read_nifti(src)
    assert sorted(data.shape) == sorted(sample.shape)
    ni, nj, nk = data.shape
    ii, jj, kk = np.meshgrid(np.arange(ni), np.arange(nj), np.arange(nk), indexing="ij")
    ijk1 = np.stack([ii, jj, kk, np.ones_like(ii)], -1).reshape(-1, 4).astype(float)
    lps = (ijk1 @ (np.diag([-1.0, -1.0, 1.0, 1.0]) @ ras).T)[:, :3]
    idx = sample.lps_to_index(lps)
    # each NIfTI voxel centre lands on a DICOM voxel centre to 0.01 mm ...
    off_mm = np.abs(idx - np.rint(idx)) * sample.spacing
    assert off_mm.max() <= 0.01
    # ... and that voxel holds the same Hounsfield value
    np.testing.assert_array_equal(sample.value_at(lps), data.reshape(-1))


def test_study_is_ct_in_hounsfield_units_with_standard_orientation(sample):
    assert sample.modality == "CT"
    np.testing.assert_allclose(sample.direction, np.eye(3), atol=1e-6)
    np.testing.assert_allclose(sample.spacing, [3, 3, 3], atol=1e-4)
    # air around the patient and dense cortical bone are both present, in HU
    assert sample.array.min() < -900
    assert sample.array.max() > 1000
    assert sample.info.frame_of_reference_uid


def test_dicom_tags(sample):
    files = sorted(sample_path("lumbar_ct").glob("*.dcm"))
    assert len(files) == sample.shape[0]
    ds = pydicom.dcmread(files[0])
    assert ds.SOPClassUID == pydicom.uid.CTImageStorage
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert "DERIVED" in ds.SeriesDescription
    assert float(ds.RescaleSlope) == 1.0 and float(ds.RescaleIntercept) == -1024.0
    assert ds.PatientIdentityRemoved == "YES"
    assert ds.PatientBirthDate == "" and ds.PatientSex == ""
    readme = (sample_path("lumbar_ct") / "README.md").read_text()
    assert "Apache License" in readme and "TotalSegmentator" in readme
    assert "not a medical device" in readme


def test_voxel_grid_helper_agrees_with_corner_positions(sample):
    centres = voxel_centres(sample)
    np.testing.assert_allclose(centres[0, 0, 0], sample.origin)
    np.testing.assert_allclose(centres[-1, -1, -1], sample.corner_centres()[-1])


def test_make_samples_regenerates_it_bit_for_bit(tmp_path):
    src = shared_data("lumbar_ct", "example_ct.nii.gz")
    lumbar_ct.build(tmp_path / "lumbar_ct", src)
    committed = SAMPLES / "lumbar_ct"
    names = sorted(p.name for p in committed.iterdir())
    assert names == sorted(p.name for p in (tmp_path / "lumbar_ct").iterdir())
    for name in names:
        assert (tmp_path / "lumbar_ct" / name).read_bytes() == (committed / name).read_bytes(), name
