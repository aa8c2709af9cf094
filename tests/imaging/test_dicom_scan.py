"""Scanning folders: the tree, splitting series into stacks, skipped files, links, DICOMDIR."""

from __future__ import annotations

import json
import os

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset

import imaging
from imaging.dicom.write import SeriesUids
from imaging.errors import CancelledError, NoImagesError, NotAVolumeError
from tests.imaging import dicom_factory as fac


def write_sr(path, study_uid, patient=("Doe^Jane", "P2")):
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"
    ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "SR"
    ds.PatientName, ds.PatientID = patient
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = pydicom.uid.generate_uid()
    ds.SeriesNumber = 99
    ds.SeriesDescription = "report"
    ds.save_as(path, enforce_file_format=True)


@pytest.fixture
def media(tmp_path):
    """Two patients, three studies, several series, a report and some junk."""
    root = tmp_path / "media"
    a = fac.series(root / "p1" / "ct", fac.volume(shape=(6, 16, 16)), patient_name="Roe^John", patient_id="P1",
                   series_number=2, series_description="CT abdomen", seed="ct")
    fac.series(root / "p1" / "sag", fac.volume(shape=(4, 16, 16), direction=np.array([[0, 1, 0], [0, 0, -1], [1, 0, 0]], float).T),
               patient_name="Roe^John", patient_id="P1", uids=SeriesUids(pydicom.dcmread(a[0]).StudyInstanceUID, "1.2.3.4.5", "1.2.3"),
               series_number=3, series_description="sagittal reformat", seed="sag")
    mr = fac.series(root / "p2" / "mr", fac.volume(shape=(5, 8, 8), modality="MR"), patient_name="Doe^Jane", patient_id="P2",
                    series_number=7, series_description="T1", seed="mr")
    write_sr(root / "p2" / "report.dcm", pydicom.dcmread(mr[0]).StudyInstanceUID)
    (root / "notes.txt").write_text("not dicom")
    (root / "empty.dcm").write_bytes(b"")
    broken = root / "p1" / "broken.dcm"
    broken.write_bytes(a[0].read_bytes()[:400])  # header cut short
    return root


def test_tree_of_patients_studies_series_and_stacks(media):
    result = imaging.scan(media)
    assert [p.id for p in result.patients] == ["P2", "P1"]  # sorted by name: Doe before Roe
    p2, p1 = result.patients
    assert len(p1.studies) == 1 and len(p1.studies[0].series) == 2
    ct, sag = p1.studies[0].series
    assert (ct.number, ct.description, ct.modality) == (2, "CT abdomen", "CT")
    (stack,) = ct.stacks
    assert stack.loadable and stack.shape == (6, 16, 16) and stack.orientation == "axial"
    np.testing.assert_allclose(stack.spacing, [0.8, 0.6, 2.5])
    assert sag.stacks[0].orientation == "sagittal"
    mr_series, report = p2.studies[0].series
    assert mr_series.modality == "MR" and mr_series.image_count == 5
    assert not report.is_image and report.kind_label.startswith("SR")
    reasons = {os.path.basename(s.path): s.reason for s in result.skipped}
    assert "not a DICOM file" in reasons["notes.txt"]
    assert "not a DICOM file" in reasons["empty.dcm"]
    assert "broken header" in reasons["broken.dcm"] or "holds only" in reasons["broken.dcm"]
    assert result.dicom_files == 6 + 4 + 5 + 1  # images and the report; the broken file is skipped
    # loading one stack from the tree
    vol = imaging.load(stack)
    assert vol.shape == (6, 16, 16) and vol.info.series_description == "CT abdomen"
    # the folder itself holds several series: refused with advice
    with pytest.raises(NotAVolumeError, match="3 image series"):
        imaging.load(media)


def test_scan_json_has_shape_spacing_and_affine(media):
    data = json.loads(json.dumps(imaging.scan(media).to_dict()))
    stacks = [st for p in data["patients"] for s in p["studies"] for se in s["series"] for st in se["stacks"]]
    assert len(stacks) == 3
    for st in stacks:
        assert len(st["affine_lps"]) == 4 and len(st["shape_zyx"]) == 3 and len(st["spacing_ijk_mm"]) == 3
    assert any("SR" in se["kind"] for p in data["patients"] for s in p["studies"] for se in s["series"])


def test_series_are_split_into_stacks_with_reasons(tmp_path):
    uids = SeriesUids.from_seed("mixed")
    # two echoes at the same positions
    e1 = fac.series(tmp_path / "e1", fac.volume(shape=(4, 8, 8), modality="MR"), uids=uids, seed="e1")
    e2 = fac.series(tmp_path / "e2", fac.volume(shape=(4, 8, 8), modality="MR"), uids=uids, seed="e2")
    for p in e1:
        fac.rewrite(p, EchoNumbers=1, EchoTime="10")
    for p in e2:
        fac.rewrite(p, EchoNumbers=2, EchoTime="80")
    # a localizer in the same series
    loc = fac.series(tmp_path / "loc", fac.volume(shape=(1, 8, 8), modality="MR", direction=np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], float).T), uids=uids, seed="loc")
    fac.rewrite(loc[0], ImageType=["ORIGINAL", "PRIMARY", "LOCALIZER"], EchoNumbers=1, EchoTime="10")
    result = imaging.scan(tmp_path)
    stacks = list(result.stacks())
    assert len(stacks) == 3
    assert "localizer" in stacks[0].reason
    assert {s.reason for s in stacks[1:]} == {"echo 1", "echo 2"}
    assert all(s.loadable for s in stacks)
    with pytest.raises(NotAVolumeError, match="3 separate stacks"):
        imaging.load(tmp_path)


def test_repeated_acquisitions_are_split_only_when_that_resolves_the_repeats(tmp_path):
    uids = SeriesUids.from_seed("repeat")
    for acq in (1, 2):
        for p in fac.series(tmp_path / f"a{acq}", fac.volume(shape=(3, 8, 8)), uids=uids, seed=f"a{acq}"):
            fac.rewrite(p, AcquisitionNumber=acq)
    stacks = list(imaging.scan(tmp_path).stacks())
    assert [s.reason for s in stacks] == ["acquisition 1", "acquisition 2"]
    assert all(s.loadable for s in stacks)


def test_copies_of_the_same_image_are_ignored_with_a_note(tmp_path):
    paths = fac.series(tmp_path / "a", fac.volume(shape=(3, 8, 8)))
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "x.dcm").write_bytes(paths[1].read_bytes())
    result = imaging.scan(tmp_path)
    (stack,) = result.stacks()
    assert stack.loadable and stack.image_count == 3
    assert any("repeated copies" in n for n in result.notes)


def test_progress_and_cancel(tmp_path):
    fac.series(tmp_path, fac.volume(shape=(8, 8, 8)))
    seen = []
    imaging.scan(tmp_path, progress=lambda f, m: seen.append(f))
    assert seen[-1] == 1.0 and seen == sorted(seen)
    with pytest.raises(CancelledError):
        imaging.scan(tmp_path, cancel=lambda: True)
    loads = []
    imaging.load(tmp_path, progress=lambda f, m: loads.append(f))
    assert loads[-1] == 1.0
    with pytest.raises(CancelledError):
        imaging.load(tmp_path, cancel=lambda: len(loads) > 0)


def test_symlink_loops_and_special_files_do_not_hang(tmp_path):
    fac.series(tmp_path / "s", fac.volume(shape=(3, 8, 8)))
    os.symlink(tmp_path, tmp_path / "s" / "loop")
    os.symlink(tmp_path / "s", tmp_path / "again")
    os.symlink(tmp_path / "nowhere", tmp_path / "dangling")
    os.mkfifo(tmp_path / "pipe")  # opening it would block forever
    result = imaging.scan(tmp_path)
    (stack,) = result.stacks()
    assert stack.image_count == 3
    reasons = " ".join(s.reason for s in result.skipped)
    assert "link loop" in reasons
    assert "not a regular file" in reasons
    assert "broken symbolic link" in reasons


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom dislikes the hostile references we write
def test_dicomdir_is_honoured_and_escaping_references_are_refused(tmp_path):
    from pydicom.fileset import FileSet

    src = fac.series(tmp_path / "src", fac.volume(shape=(3, 8, 8)))
    outside = fac.series(tmp_path / "outside", fac.volume(shape=(2, 8, 8), modality="MR"), seed="outside")
    fs = FileSet()
    for p in src:
        fs.add(p)
    media = tmp_path / "media"
    fs.write(media)
    dicomdir = pydicom.dcmread(media / "DICOMDIR")
    images = [r for r in dicomdir.DirectoryRecordSequence if r.DirectoryRecordType == "IMAGE"]
    images[0].ReferencedFileID = ["..", "outside", outside[0].name]
    images[1].ReferencedFileID = str(outside[1])  # absolute
    dicomdir.save_as(media / "DICOMDIR")
    result = imaging.scan(media)
    assert any(n.startswith("DICOMDIR") and "2 references refused" in n for n in result.notes)
    refused = [s for s in result.skipped if s.reason.startswith("DICOMDIR entry")]
    assert len(refused) == 2 and all("refused" in s.reason for s in refused)
    # nothing outside the chosen folder was read; the three images inside were found anyway
    (stack,) = result.stacks()
    assert stack.image_count == 3 and stack.info.modality == "CT"


def test_empty_and_missing_folders(tmp_path):
    with pytest.raises(NoImagesError, match="not a folder"):
        imaging.scan(tmp_path / "missing")
    (tmp_path / "a.txt").write_text("x")
    assert list(imaging.scan(tmp_path).stacks()) == []
    with pytest.raises(NoImagesError, match="No DICOM images"):
        imaging.load(tmp_path)
