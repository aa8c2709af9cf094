"""Every generated sample is reproducible bit for bit: regenerate it into a temporary folder and
compare each file with ``sample_dicom/MANIFEST.sha256`` (and with the committed small files)."""

from __future__ import annotations

import hashlib

import pytest

from imaging import phantoms
from imaging.phantoms.build import read_manifest
from tests.conftest import SAMPLES

MANIFEST = SAMPLES / "MANIFEST.sha256"
COMMITTED = ("README.md", "sample.json", "labels.json", "labels.landmarks.json")


def test_manifest_lists_every_phantom():
    entries = read_manifest(MANIFEST)
    for name in phantoms.names():
        files = [k for k in entries if k.startswith(name + "/")]
        assert any(k.endswith(".dcm") for k in files), name
        assert f"{name}/labels.nrrd" in files and f"{name}/sample.json" in files


@pytest.mark.slow
@pytest.mark.parametrize("name", phantoms.names())
def test_regenerated_bit_for_bit(name, tmp_path):
    expected = {k: v for k, v in read_manifest(MANIFEST).items() if k.startswith(name + "/")}
    files = phantoms.build_sample(phantoms.PHANTOMS[name], tmp_path)
    got = {p.relative_to(tmp_path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    assert sorted(got) == sorted(expected)
    diff = [k for k in expected if got[k] != expected[k]]
    assert not diff, f"{len(diff)} files differ, e.g. {diff[:3]}"
    for small in COMMITTED:
        assert (tmp_path / name / small).read_bytes() == (SAMPLES / name / small).read_bytes(), small
