"""The generated phantom samples (knee, shoulder, hip; CT and MR): geometry, anatomy sanity,
tissue values and the reference approaches, each measured on the written files with tools
independent of the generator (SciPy distance transforms and labelling, KD-trees, pydicom)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from scipy import ndimage
from scipy.spatial import cKDTree

import imaging
from imaging import phantoms
from imaging.labelmap import read_labelmap
from imaging.samples import list_samples
from tests.conftest import SAMPLES
from tests.helpers import voxel_centres

NAMES = phantoms.names()
NEEDLE_RADIUS = 0.36
# bones that meet at a joint and must be kept apart by cartilage and joint space
JOINT_BONES = {
    "knee": [("femur", "tibia"), ("femur", "patella"), ("tibia", "fibula"), ("femur", "fibula")],
    "shoulder": [("humerus", "scapula"), ("humerus", "clavicle"), ("scapula", "clavicle")],
    "hip": [("femur", "pelvis")],
}


def _site(name: str) -> str:
    return name.split("_")[0]


def _series_dirs(folder: Path) -> list[Path]:
    meta = json.loads((folder / "sample.json").read_text())
    return [folder / s for s in meta.get("series", [])] or [folder]


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> dict[str, Path]:
    """Sample folders: the generated ones in sample_dicom (``make test`` builds them), or a fresh
    build in a temporary folder when they are missing or stale (label map not the one in the
    manifest)."""
    from imaging.phantoms.build import read_manifest, sha256

    manifest = read_manifest(SAMPLES / "MANIFEST.sha256")
    out = {}

    def fresh(n: str) -> bool:
        p = SAMPLES / n / "labels.nrrd"
        return p.is_file() and manifest.get(f"{n}/labels.nrrd") == sha256(p)

    missing = [n for n in NAMES if not fresh(n)]
    root = tmp_path_factory.mktemp("phantoms") if missing else SAMPLES
    if missing:
        phantoms.build_all(root, missing)
    for n in NAMES:
        out[n] = (root if n in missing else SAMPLES) / n
    return out


@pytest.fixture(scope="session")
def studies(built):
    """name -> (label map, [image volumes])."""
    cache = {}

    def get(name):
        if name not in cache:
            folder = built[name]
            images = [imaging.load(d) for d in _series_dirs(folder)]
            lm = read_labelmap(folder / "labels.nrrd", reference=images[0])
            cache[name] = (lm, images)
        return cache[name]

    return get


@pytest.mark.parametrize("name", NAMES)
def test_listed_with_one_line_description_and_approaches(name, built):
    listed = {s.name: s for s in list_samples()}
    assert name in listed
    assert listed[name].description and "\n" not in listed[name].description
    meta = json.loads((built[name] / "sample.json").read_text())
    assert meta["modality"] in ("CT", "MR")
    assert meta["approaches"], "every sample has at least one reference approach"
    for ap in meta["approaches"]:
        assert set(ap) >= {"name", "route", "site", "side", "entry", "target", "needle"}
        assert ap["needle"] == "22G:89:quincke" and len(ap["entry"]) == 3 and len(ap["target"]) == 3
    readme = (built[name] / "README.md").read_text()
    assert "not a medical device" in readme and "Dimensions used" in readme
    for ap in meta["approaches"]:
        assert str(ap["entry"]) in readme and str(ap["target"]) in readme


@pytest.mark.parametrize("name", NAMES)
def test_labels_on_the_series_grid_and_dicom_tags(name, built, studies):
    lm, images = studies(name)
    folder = built[name]
    study_uids = set()
    for d, vol in zip(_series_dirs(folder), images, strict=True):
        assert vol.same_grid(lm.volume, tol_mm=0.01)
        sp = vol.spacing
        assert 0.5 <= sp[0] <= 1.0 and 0.5 <= sp[1] <= 1.0 and 1.0 <= sp[2] <= 2.0, sp
        files = sorted(d.glob("*.dcm"))
        assert len(files) == vol.shape[0]
        ds = pydicom.dcmread(files[0])
        assert ds.SOPClassUID == (pydicom.uid.CTImageStorage if name.endswith("_ct") else pydicom.uid.MRImageStorage)
        assert str(ds.PatientName).startswith("PHANTOM^")
        assert ds.PatientBirthDate == "" and ds.PatientIdentityRemoved == "YES"
        assert ds.Laterality in ("L", "R")
        study_uids.add(ds.StudyInstanceUID)
        if name.endswith("_mr"):
            normal = np.cross(vol.direction[:, 0], vol.direction[:, 1])
            assert abs(normal[0]) > 0.99, "knee MR is sagittal"
        else:
            np.testing.assert_allclose(vol.direction, np.eye(3), atol=1e-6)
    assert len(study_uids) == 1, "one study per sample"


@pytest.mark.parametrize("name", NAMES)
def test_left_and_right(name, studies):
    lm, _ = studies(name)
    centres = voxel_centres(lm.volume)

    def mean_x(label):
        return float(centres[lm.mask(label)][:, 0].mean())

    if _site(name) == "knee":  # right knee: lateral (fibula) toward patient right = -x
        assert mean_x("fibula") < mean_x("tibia") < 0
    elif _site(name) == "shoulder":  # right shoulder: the humerus lies lateral (-x) to the scapula
        assert mean_x("humerus") < mean_x("scapula") < 0
    else:  # left hip: the femur lies lateral (+x) to the acetabulum; the whole joint at +x
        assert mean_x("femur") > 0 and mean_x("femoral artery") > 0
        assert mean_x("femoral nerve") > mean_x("femoral artery") > mean_x("femoral vein")  # lateral to medial


@pytest.mark.parametrize("name", NAMES)
def test_vessels_and_nerves_are_single_tubes_of_their_diameter(name, built, studies):
    lm, _ = studies(name)
    readme = (built[name] / "README.md").read_text()
    sp = lm.volume.spacing
    array_sp = (sp[2], sp[1], sp[0])
    tubes = lm.legend.of_kind("artery", "vein", "nerve")
    assert len(tubes) >= 4
    for lab in tubes:
        mask = lm.mask(lab.name)
        assert mask.sum() > 20, lab.name
        _, n = ndimage.label(mask, structure=np.ones((3, 3, 3)))
        assert n == 1, f"{lab.name} is {n} pieces"
        # stated diameter (README) vs measured: 2 sqrt(volume / (pi length)), the length from a
        # skeleton of the tube resampled to 0.5 mm voxels
        row = next(line for line in readme.splitlines() if f"| {lab.name} |" in line)
        stated = float(row.split("|")[6].split("mm")[0])
        measured = _tube_diameter(mask, array_sp)
        assert 0.8 * stated <= measured <= 1.15 * stated, (lab.name, stated, measured)


def _tube_diameter(mask: np.ndarray, array_sp) -> float:
    from skimage.morphology import skeletonize

    iso = 0.5
    sl = ndimage.find_objects(mask.astype(np.uint8))[0]
    crop = np.pad(mask[sl], 2).astype(np.float32)
    fine = ndimage.zoom(crop, np.asarray(array_sp) / iso, order=1) > 0.5
    pts = np.argwhere(skeletonize(fine))
    pairs = np.array(sorted(cKDTree(pts).query_pairs(1.8)))
    length = float(np.linalg.norm(pts[pairs[:, 0]] - pts[pairs[:, 1]], axis=1).sum()) * iso
    volume = float(mask.sum()) * float(np.prod(array_sp))
    return 2 * float(np.sqrt(volume / (np.pi * length)))


@pytest.mark.parametrize("name", NAMES)
def test_bones_of_a_joint_do_not_touch_and_the_joint_space_lies_between(name, studies):
    lm, _ = studies(name)
    sp = lm.volume.spacing
    array_sp = (sp[2], sp[1], sp[0])
    centres = voxel_centres(lm.volume)
    target = lm.legend.of_kind("target")
    assert len(target) == 1
    js = lm.mask(target[0].name)
    _, n = ndimage.label(js, structure=np.ones((3, 3, 3)))
    assert n == 1, f"the joint space is {n} pieces"
    main_pair = JOINT_BONES[_site(name)][0]
    for a, b in JOINT_BONES[_site(name)]:
        ma, mb = lm.mask(a), lm.mask(b)
        dist_to_a = ndimage.distance_transform_edt(~ma, sampling=array_sp)
        gap = float(dist_to_a[mb].min())
        assert gap >= 1.5, f"{a} and {b} are {gap:.1f} mm apart"
        if (a, b) == main_pair:
            # the straight line between the closest points of the two bones passes the joint space
            kb = np.argmin(np.where(mb, dist_to_a, np.inf))
            pb = centres.reshape(-1, 3)[kb]
            tree = cKDTree(centres[ma])
            _, ka = tree.query(pb)
            pa = centres[ma][ka]
            line = pa + np.linspace(0, 1, 200)[:, None] * (pb - pa)
            labels = _nearest(lm.volume, line)
            assert target[0].value in labels, f"no joint space between {a} and {b}"


def _nearest(vol, pts):
    idx = np.rint(vol.lps_to_index(pts)).astype(int)
    return vol.array[idx[:, 2], idx[:, 1], idx[:, 0]]


@pytest.mark.parametrize("name", NAMES)
def test_skin_encloses_everything(name, studies):
    lm, _ = studies(name)
    arr = lm.volume.array
    bg = arr == 0
    # background only outside: every background component reaches the edge of the field of view
    comp, n = ndimage.label(bg)
    edge = np.zeros_like(bg)
    edge[[0, -1], :, :] = edge[:, [0, -1], :] = edge[:, :, [0, -1]] = True
    assert set(np.unique(comp[edge & bg])) >= set(range(1, n + 1)), "air enclosed in the body"
    # the only labelled tissue touching the outside air is skin (the cut faces of the field of view aside)
    touching = ndimage.binary_dilation(bg) & ~bg
    inner = np.zeros_like(bg)
    inner[1:-1, 1:-1, 1:-1] = True
    names = {lm.legend.by_value(int(v)).name for v in np.unique(arr[touching & inner])}
    assert names == {"skin"}, names


HU_RANGES = {  # published CT ranges (HU); vessels with iodinated contrast
    "fat": (-130, -70),
    "muscle": (35, 70),
    "fluid": (-10, 25),
    "artery": (130, 350),
}


@pytest.mark.parametrize("name", [n for n in NAMES if n.endswith("_ct")])
def test_ct_values_per_tissue(name, studies):
    lm, (ct,) = studies(name)
    hu = ct.array.astype(float)

    def interior(mask, it=2):
        return ndimage.binary_erosion(mask, iterations=it)

    fat = interior(lm.mask_of_kind("fat"))
    muscle = interior(lm.mask_of_kind("muscle"))
    fluid = interior(lm.mask_of_kind("target"), 1)
    artery = lm.mask(lm.legend.of_kind("artery")[0].name)
    for key, m in (("fat", fat), ("muscle", muscle), ("fluid", fluid)):
        assert m.sum() > 50, key
        lo, hi = HU_RANGES[key]
        assert lo <= np.median(hu[m]) <= hi, (key, np.median(hu[m]))
    lo, hi = HU_RANGES["artery"]
    assert lo <= np.percentile(hu[artery], 90) <= hi
    bone = lm.mask_of_kind("bone")
    assert np.percentile(hu[bone], 99) > 1000, "cortical bone"
    core = interior(bone, 4)
    assert 100 <= np.percentile(hu[core], 75) <= 450, "cancellous bone"
    assert np.median(hu[lm.volume.array == 0]) < -900, "air"
    noise = np.std(hu[interior(lm.mask_of_kind("muscle"), 3)])
    assert 5 <= noise <= 30, noise


@pytest.mark.parametrize("name", [n for n in NAMES if n.endswith("_mr")])
def test_mr_contrasts(name, studies, built):
    lm, (t1, t2fs) = studies(name)
    dirs = [d.name for d in _series_dirs(built[name])]
    assert dirs == ["t1", "t2fs"]
    fluid = ndimage.binary_erosion(lm.mask_of_kind("target"))
    fat = ndimage.binary_erosion(lm.mask_of_kind("fat"), iterations=2)
    muscle = ndimage.binary_erosion(lm.mask_of_kind("muscle"), iterations=2)
    med = {k: (np.median(t1.array[m]), np.median(t2fs.array[m])) for k, m in (("fluid", fluid), ("fat", fat), ("muscle", muscle))}
    assert med["fluid"][1] > 2 * med["fat"][1] and med["fluid"][1] > 2 * med["muscle"][1], med  # T2FS: fluid bright
    assert med["fat"][0] > med["muscle"][0] > med["fluid"][0], med  # T1: fat bright, fluid dark


@pytest.mark.parametrize("name", NAMES)
def test_reference_approaches_cross_no_bone_and_keep_clear(name, built, studies):
    lm, _ = studies(name)
    vol = lm.volume
    meta = json.loads((built[name] / "sample.json").read_text())
    centres = voxel_centres(vol)
    trees = {lab.name: cKDTree(centres[lm.mask(lab.name)]) for lab in lm.legend.of_kind("artery", "vein", "nerve")}
    bone = {lab.value for lab in lm.legend.of_kind("bone")}
    target = lm.legend.of_kind("target")[0].value
    for ap in meta["approaches"]:
        entry, tip = np.array(ap["entry"]), np.array(ap["target"])
        depth = np.linalg.norm(tip - entry)
        assert 10 < depth <= 79, depth
        pts = entry + np.linspace(0, 1, int(depth / 0.1) + 1)[:, None] * (tip - entry)
        labels = _nearest(vol, pts)
        assert not (set(labels.tolist()) & bone), f"{ap['name']} crosses bone"
        assert _nearest(vol, tip[None])[0] == target, f"{ap['name']} tip is not in the joint space"
        assert labels[0] == lm.legend.by_name("skin").value, "the entry is on the skin"
        assert _nearest(vol, (entry - 2 * (tip - entry) / depth)[None])[0] == 0, "outside the entry is air"
        for lab_name, tree in trees.items():
            d, _ = tree.query(pts)
            assert d.min() - NEEDLE_RADIUS >= 3.0, f"{ap['name']} passes {d.min():.1f} mm from the {lab_name}"


PICTURES = Path(__file__).resolve().parents[2] / "test-output" / "phantoms"


@pytest.mark.parametrize("name", NAMES)
def test_pictures_for_review(name, built, studies):
    """Bone and soft-tissue windows (CT) or both series (MR), axial/coronal/sagittal through the
    first reference target, written to test-output/phantoms/ for people to look at."""
    from tests.imaging.phantom_pictures import WINDOWS, save_labels, save_views

    lm, images = studies(name)
    meta = json.loads((built[name] / "sample.json").read_text())
    point = meta["approaches"][0]["target"]
    written = []
    for d, vol in zip(_series_dirs(built[name]), images, strict=True):
        stem = PICTURES / (name if d == built[name] else f"{name}_{d.name}")
        if vol.modality == "CT":
            windows = WINDOWS
        else:
            hi = float(np.percentile(vol.array, 99.7))
            windows = {"mr": (0.45 * hi, 0.95 * hi)}
        written += save_views(vol, point, stem, windows)
    written.append(save_labels(lm.volume, point, PICTURES / name))
    for p in written:
        assert p.stat().st_size > 1000
