"""`injection-planner segment`: the three files, their grid, the printed table, typed errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

import imaging
from imaging.labelmap import Label, LabelMap, Legend, read_labelmap, write_labelmap
from imaging.samples import sample_path
from planner.cli import main


@pytest.fixture(scope="module")
def lumbar():
    try:
        folder = sample_path("lumbar_ct")
    except FileNotFoundError:
        pytest.skip("the lumbar sample study is not built (make samples)")
    return folder, imaging.load(folder)


def test_segment_writes_label_map_legend_and_landmarks(lumbar, tmp_path, capsys):
    folder, volume = lumbar
    # a ground truth on the same grid with a nerve root the CT cannot show
    gt = np.zeros(volume.shape, np.uint8)
    centre = np.rint(volume.lps_to_index(volume.centre_lps())).astype(int)
    gt[centre[2] - 2 : centre[2] + 3, centre[1], centre[0] + 5] = 4
    write_labelmap(tmp_path / "gt.nrrd", LabelMap(volume.with_array(gt), Legend((Label(4, "L4 nerve root", "nerve"),))))
    out = tmp_path / "out" / "labels.nrrd"
    rc = main(["segment", str(folder), "--out", str(out), "--structures-from", str(tmp_path / "gt.nrrd"), "--quiet"])
    text = capsys.readouterr().out
    assert rc == 0
    assert out.is_file() and (out.parent / "labels.json").is_file() and (out.parent / "labels.landmarks.json").is_file()
    lm = read_labelmap(out, reference=volume)
    legend = json.loads((out.parent / "labels.json").read_text())
    assert {"value", "name", "kind", "color"} <= set(legend[0])
    names = {lab.name: lab.kind for lab in lm.legend}
    assert names["thecal sac"] == "target" and names["L4"] == "bone" and names["L4 nerve root"] == "nerve"
    assert lm.mask("L4 nerve root").sum() == 5
    marks = json.loads((out.parent / "labels.landmarks.json").read_text())
    assert [lv["name"] for lv in marks["levels"]][-6:] == ["L1", "L2", "L3", "L4", "L5", "S1"]
    assert {w["interspace"] for w in marks["windows"]} >= {"L3-L4", "L4-L5"}
    # the printed table: every level and window, in LPS mm, and the disclaimer
    for word in ("L1", "S1", "L3-L4", "L4-L5", "thecal sac", "not a medical device"):
        assert word in text
    l4 = next(lv for lv in marks["levels"] if lv["name"] == "L4")
    assert f"{l4['centre'][2]:7.1f}" in text


def test_segment_errors_are_clear_and_non_zero(tmp_path, capsys):
    rc = main(["segment", str(tmp_path / "missing"), "--out", str(tmp_path / "l.nrrd")])
    assert rc != 0
    assert "not a folder" in capsys.readouterr().err
    rc = main(["segment", str(tmp_path), "--out", str(tmp_path / "labels.png")])
    assert rc != 0 and "format" in capsys.readouterr().err


def test_segment_rejects_a_malformed_vessel_seed(lumbar, tmp_path, capsys):
    folder, _ = lumbar
    rc = main(["segment", str(folder), "--out", str(tmp_path / "l.nrrd"), "--vessel-seed", "1,2"])
    assert rc != 0 and "X,Y,Z" in capsys.readouterr().err


def test_ground_truth_on_another_grid_is_refused(lumbar, tmp_path, capsys):
    folder, volume = lumbar
    other = imaging.Volume(np.zeros((4, 5, 6), np.uint8), np.eye(4))
    write_labelmap(tmp_path / "gt.nrrd", LabelMap(other, Legend((Label(1, "nerve", "nerve"),))))
    rc = main(["segment", str(folder), "--out", str(tmp_path / "l.nrrd"), "--structures-from", str(tmp_path / "gt.nrrd")])
    assert rc != 0 and "grid" in capsys.readouterr().err


def test_the_printed_landmarks_say_the_side_and_what_to_check():
    from imaging.labelmap import Landmarks
    from planner.commands.segment import format_landmarks

    marks = Landmarks(
        task="knee",
        target={"name": "joint space", "lps": [-98.0, -12.0, -376.0]},
        extra={"side": "left", "side_from": "anatomy", "warnings": ["The anatomy reads as a left knee, but the DICOM header says right."]},
    )
    text = format_landmarks(marks)
    assert "Side: left (from the anatomy)" in text
    assert "WARNING: The anatomy reads as a left knee, but the DICOM header says right." in text
    assert "Target: joint space at (  -98.0,   -12.0,  -376.0) mm (LPS)" in text


@pytest.mark.slow
def test_a_knee_mr_study_of_two_series_segments_its_fluid_sensitive_series(tmp_path, capsys):
    """The knee MR sample holds a T1 and a T2 fat-sat series: `segment FOLDER` takes the one the
    knee task needs (fluid bright), says which, and writes a label map on its grid."""
    folder = sample_path("knee_mr")
    out = tmp_path / "knee.nrrd"
    rc = main(["segment", str(folder), "--out", str(out), "--quiet"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "SAG T2 TSE FS" in captured.err and "--series" in captured.err
    t2 = imaging.load(folder / "t2fs")
    lm = read_labelmap(out, reference=t2)  # refused if it were on another series' grid
    assert lm.landmarks.task == "knee" and lm.legend.get("joint space").kind == "target"
    assert "Side: right (from the anatomy)" in captured.out


def test_a_study_of_several_series_names_them_for_the_task_that_cannot_choose(tmp_path, capsys):
    rc = main(["segment", str(sample_path("knee_mr")), "--task", "lumbar", "--out", str(tmp_path / "l.nrrd")])
    err = capsys.readouterr().err
    assert rc == 3  # a typed error, told in one line
    assert "holds 2 image series" in err and err.count("--series ") == 2
    assert "SAG T1 TSE" in err and "SAG T2 TSE FS" in err


@pytest.mark.parametrize(
    ("text", "weighting"),
    [("SAG T2 TSE FS", "fluid"), ("COR PD SPAIR", "fluid"), ("AX STIR", "fluid"), ("SAG T1 TSE", "T1"), ("T1 FS POST", "T1"), ("LOCALIZER", "")],
)
def test_mr_weighting_from_the_series_description(text, weighting):
    from imaging.segmentation.knee_mr import weighting_from_text

    assert weighting_from_text(text) == weighting
