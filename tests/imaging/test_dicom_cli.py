"""`injection-planner scan` and `convert --series/--stack`: the same core as the GUI, headless."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk

from imaging.dicom.limits import set_max_volume_bytes
from imaging.dicom.write import SeriesUids
from imaging.volume import Volume
from planner.cli import main
from tests.helpers import assert_same_image
from tests.imaging import dicom_factory as fac


@pytest.fixture(autouse=True)
def default_ceiling():
    yield
    set_max_volume_bytes(None)  # --max-memory-mb sets it for the process


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "in"
    fac.series(root / "a", fac.volume(shape=(4, 10, 12), direction=fac.OBLIQUE), series_number=3, seed="a")
    uids = SeriesUids.from_seed("split")
    fac.series(root / "b1", fac.volume(shape=(3, 8, 8), modality="MR"), uids=uids, seed="b1", series_number=5)
    fac.series(root / "b2", fac.volume(shape=(3, 8, 8), modality="MR", direction=np.array([[0, 1, 0], [0, 0, -1], [1, 0, 0]], float).T),
               uids=uids, seed="b2", series_number=5)
    (root / "readme.txt").write_text("hello")
    return root


def test_scan_text(folder, capsys):
    assert main(["scan", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "Series 3 CT" in out and "Series 5 MR" in out
    assert "stack 1 [axial orientation]" in out and "stack 2 [sagittal orientation]" in out
    assert "readme.txt: not a DICOM file" in out


def test_scan_json(folder, capsys):
    assert main(["scan", str(folder), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    series = [se for p in data["patients"] for st in p["studies"] for se in st["series"]]
    assert sorted(len(se["stacks"]) for se in series) == [1, 2]
    ct = next(se for se in series if se["modality"] == "CT")
    (stack,) = ct["stacks"]
    assert stack["shape_zyx"] == [4, 10, 12]
    np.testing.assert_allclose(stack["spacing_ijk_mm"], [0.8, 0.6, 2.5])
    np.testing.assert_allclose(np.array(stack["affine_lps"]), fac.volume(shape=(4, 10, 12), direction=fac.OBLIQUE).affine, atol=1e-4)


def test_convert_chosen_stack_and_refusals(folder, tmp_path, capsys):
    assert main(["convert", str(folder), str(tmp_path / "x.nrrd")]) == 3
    assert "2 image series" in capsys.readouterr().err
    uid = SeriesUids.from_seed("split").series
    assert main(["convert", str(folder), str(tmp_path / "x.nrrd"), "--series", uid]) == 3
    assert "holds 2 stacks" in capsys.readouterr().err
    out = tmp_path / "sag.nii.gz"
    assert main(["convert", str(folder), str(out), "--series", uid, "--stack", "2"]) == 0
    written = Volume.from_sitk(sitk.ReadImage(str(out)))
    expected = fac.volume(shape=(3, 8, 8), modality="MR", direction=np.array([[0, 1, 0], [0, 0, -1], [1, 0, 0]], float).T)
    assert_same_image(written, expected, atol_mm=1e-3)
    assert main(["convert", str(folder), str(tmp_path / "y.nrrd"), "--series", "1.2.3"]) == 3
    assert "No image series 1.2.3" in capsys.readouterr().err


def test_convert_prints_warnings_and_honours_the_memory_ceiling(tmp_path, capsys):
    paths = fac.series(tmp_path / "gap", fac.volume(shape=(5, 8, 8)))
    paths[2].unlink()
    assert main(["convert", str(tmp_path / "gap"), str(tmp_path / "g.nrrd")]) == 0
    assert "warning: Uneven slice spacing" in capsys.readouterr().out
    assert main(["convert", str(tmp_path / "gap"), str(tmp_path / "h.nrrd"), "--max-memory-mb", "0.0001"]) == 3
    assert "memory limit" in capsys.readouterr().err
