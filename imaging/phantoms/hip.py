"""Left hip of an adult, patient supine: femoral head, neck, trochanters and proximal shaft;
the left hemipelvis (acetabulum, ilium with ASIS and AIIS, pubic rami, ischium) and the edge of
the right pubis at the symphysis; a fluid-filled joint capsule with an anterior recess along the
neck; labrum and cartilage; the femoral nerve, artery and vein (lateral to medial) and the lateral
femoral cutaneous nerve; iliopsoas, glutei, tensor fasciae latae, sartorius, rectus femoris,
adductors; pelvic contents and bladder; fat and skin.

Local frame (mm): origin at the centre of the femoral head, ``l`` lateral (patient left = +x),
``a`` anterior, ``s`` superior.
"""

from __future__ import annotations

import numpy as np

from imaging.phantoms.common import (
    CARTWRIGHT_2008,
    GRAYS_ANATOMY,
    SHEPHERD_1999,
    Outline,
    body_layers,
)
from imaging.phantoms.scene import BoneSpec, Frame, Structure
from imaging.phantoms.sdf import (
    Box,
    Cached,
    Ellipsoid,
    Func,
    Intersect,
    Lumpy,
    Offset,
    Shape,
    Subtract,
    SuperEllipsoid,
    Tube,
    Union,
    _cos,
    _sin,
    rotation,
)

FRAME = Frame(origin=(86.0, 10.0, -190.0), lateral=1)  # left hip, 86 mm left of the midline
CT_LO, CT_HI = (-98.0, -116.0, -104.0), (104.0, 84.0, 80.0)

HEAD_R = 24.0
HEAD_CARTILAGE_MM = 1.5
ACETABULAR_CARTILAGE_MM = 1.5
FLUID_MM = 3.0
SOCKET_R = HEAD_R + HEAD_CARTILAGE_MM + FLUID_MM + ACETABULAR_CARTILAGE_MM  # 30 mm
# neck axis from the head centre toward the shaft: neck-shaft angle 130 deg, anteversion 12 deg
NECK = np.array([_cos(40) * _cos(12), -_cos(40) * _sin(12), -_sin(40)])
NECK = NECK / np.linalg.norm(NECK)
# acetabular opening: inclination 45 deg, anteversion 20 deg
OPENING = np.array([_cos(45) * _cos(20), _cos(45) * _sin(20), -_sin(45)])

DIMENSIONS = [
    ("Femoral head", f"{2 * HEAD_R:.0f} mm diameter", "Gray's Anatomy (men 45-56 mm)"),
    ("Femoral neck", "neck-shaft angle 130 deg, anteversion 12 deg, 29-32 mm thick, 55 mm head centre to shaft axis", "Gray's Anatomy"),
    ("Acetabulum", "inclination 45 deg, anteversion 20 deg, covers the head to its equator", "Gray's Anatomy"),
    ("Hip centre", "86 mm from the midline; ASIS 34 mm lateral, 46 mm anterior, 72 mm superior to it", "Bell et al. 1990 (inter-ASIS width ~240 mm)"),
    ("Cartilage", "head 1.5 mm, acetabulum 1.5 mm", "Shepherd & Seedhom 1999 (hip 1.35-2.0 mm)"),
    ("Joint space", "3 mm fluid film; anterior recess 5 mm thick along the neck (capsular distension)", "issue #5 brief"),
    ("Common femoral artery", "9 mm", "Sandgren et al. 1999 (men 9.8 mm, women 8.2 mm)"),
    ("Common femoral vein", "11 mm", "Gray's Anatomy"),
    ("Femoral nerve", "7 mm", "Gray's Anatomy; Cartwright et al. 2008"),
    ("Lateral femoral cutaneous nerve", "2.5 mm, 12 mm medial to the ASIS", "Gray's Anatomy"),
    ("Sciatic nerve", "9 mm, behind the posterior column, between ischial tuberosity and greater trochanter", "Gray's Anatomy (about 10 mm wide)"),
    ("Skin / subcutaneous fat", "2 mm / 14-22 mm", "typical adult"),
]

REFERENCES = [
    "Bell AL, Pedersen DR, Brand RA. A comparison of the accuracy of several hip center location prediction methods. J Biomech 1990;23:617-621.",
    "Sandgren T, Sonesson B, Ahlgren AR, Länne T. The diameter of the common femoral artery in healthy human: influence of sex, age, and body size. J Vasc Surg 1999;29:503-510.",
    SHEPHERD_1999,
    CARTWRIGHT_2008,
    GRAYS_ANATOMY,
]


def _halfspace(normal, offset: float, lo=(-200, -200, -200), hi=(200, 200, 200)) -> Shape:
    """``p . normal <= offset``."""
    n = np.asarray(normal, float)
    n = n / np.linalg.norm(n)

    def fn(b: Box) -> np.ndarray:
        return b.l * np.float32(n[0]) + b.a * np.float32(n[1]) + b.s * np.float32(n[2]) - np.float32(offset)

    return Func(fn, lo, hi)


def _sphere(r: float) -> Shape:
    return Ellipsoid((0, 0, 0), (r, r, r))


def _femur() -> tuple[Shape, Shape]:
    head = _sphere(HEAD_R)
    neck = Tube([NECK * 10, NECK * 30, NECK * 52], [16.5, 14.5, 20])
    gt = Ellipsoid((52, -12, -22), (13, 18, 22))
    shaft = Tube([(42, -6, -32), (42, -4, -70), (40, -2, -160)], [22, 17, 15])
    lt = Ellipsoid((30, -17, -62), (9, 9, 11))
    return Union(head, neck, gt, shaft, lt, k=8), neck


def _pelvis() -> Shape:
    block = Intersect(SuperEllipsoid((-10, -4, 6), (24, 34, 36)), _halfspace(OPENING, 0.0))
    ilium = SuperEllipsoid((-4, -18, 44), (11, 30, 26), rot=rotation(("a", -15)))
    wing = Ellipsoid((-12, -8, 66), (5, 72, 24), rot=rotation(("l", 0), ("s", -41)) @ rotation(("a", -20)))
    asis = Ellipsoid((34, 46, 72), (8, 9, 9))
    aiis = Ellipsoid((16, 28, 38), (7, 7, 9))
    sup_ramus = Tube([(-18, 16, -4), (-45, 27, -12), (-74, 30, -22)], [12, 9, 8])
    symphysis = Ellipsoid((-80, 30, -28), (6, 12, 20))
    inf_ramus = Tube([(-79, 26, -44), (-58, 8, -60), (-32, -22, -64)], [7, 7, 8])
    ischium = Tube([(-14, -24, -10), (-19, -32, -34), (-22, -35, -50)], [15, 12, 12])
    tuberosity = Ellipsoid((-22, -36, -56), (13, 15, 18))
    left = Union(block, ilium, wing, asis, aiis, sup_ramus, symphysis, inf_ramus, ischium, tuberosity, k=8)
    right_pubis = Ellipsoid((-93, 30, -28), (5, 12, 20))
    return Union(Subtract(left, _sphere(SOCKET_R)), right_pubis)


FILLERS = ("soft tissue", "muscle", "intermuscular fat")


def _muscle(name: str, shape: Shape, deep: Shape) -> list[Structure]:
    return [
        Structure("intermuscular fat", "fat", Intersect(Lumpy(Offset(shape, 1.6), 1.4, 14.0, 21 + len(name)), deep), "fat", over=FILLERS),
        Structure(name, "muscle", Intersect(shape, deep), "muscle", over=FILLERS),
    ]


def structures() -> list[Structure]:
    outline = Outline(
        [
            (90, -86, -12, 158, 108, 22),
            (40, -86, -16, 176, 110, 20),
            (0, -86, -18, 188, 108, 18),
            (-30, -70, -16, 170, 100, 17),
            (-62, 12, -8, 92, 84, 15),
            (-110, 12, -6, 86, 80, 14),
        ],
        (-120, -130, -120),
        (120, 110, 100),
        k=10,
    )
    body, skin, subcut, deep = body_layers(outline, seed=21)
    femur_shape, neck = _femur()
    femur = Cached(femur_shape)
    pelvis = Cached(_pelvis())

    head_cart = Intersect(_sphere(HEAD_R + HEAD_CARTILAGE_MM), _halfspace(NECK, 12.0))
    acet_cart = Intersect(
        Subtract(_sphere(SOCKET_R), _sphere(SOCKET_R - ACETABULAR_CARTILAGE_MM)),
        _halfspace(OPENING, -2.0),
    )
    film = Intersect(_sphere(SOCKET_R - ACETABULAR_CARTILAGE_MM), _halfspace(OPENING, 8.0))
    recess = Intersect(Offset(neck, 5.0), _halfspace(NECK, 40.0), _halfspace(-NECK, -6.0))
    joint = Union(film, recess)
    labrum = Intersect(
        Subtract(_sphere(SOCKET_R + 4.5), _sphere(SOCKET_R - ACETABULAR_CARTILAGE_MM)),
        _halfspace(OPENING, 4.0),
        _halfspace(-OPENING, 2.0),
    )

    femur_spec = BoneSpec(
        cortex_mm=lambda b: np.clip(1.0 + (-35 - b.s) * np.float32(0.08), 1.0, 5.5),
        marrow_fat=lambda b: np.clip((-50 - b.s) / np.float32(35), 0, 1),
    )
    pelvis_spec = BoneSpec(cortex_mm=lambda b: np.float32(1.4), marrow_fat=lambda b: np.float32(0.15))

    never = ("skin", "femur", "pelvis")
    art = [(-35, 10, 80), (-22, 33, 32), (-14, 44, 5), (-12, 43, -30), (-10, 39, -70), (-8, 35, -106)]
    vein = [(-48, 8, 80), (-35, 31, 32), (-27, 42, 5), (-25, 41, -30), (-23, 36, -70), (-22, 31, -106)]
    nerve = [(-14, 18, 80), (-8, 34, 40), (-4, 40, 16), (-2, 42, 5), (0, 41, -30), (2, 37, -62)]
    sciatic = [(-38, -55, 80), (-30, -62, 42), (-18, -50, 10), (-6, -47, -30), (3, -44, -70), (7, -40, -106)]
    lfcn = [(0, 24, 80), (14, 48, 64), (24, 52, 40), (31, 52, 0), (35, 50, -50), (40, 46, -106)]

    st: list[Structure] = [
        Structure("soft tissue", "other", body, "soft"),
        Structure("skin", "skin", skin, "skin", over=("soft tissue",), info={"outer_layer": True}),
        Structure("subcutaneous fat", "fat", subcut, "fat", over=("soft tissue",)),
        Structure("muscle", "muscle", deep, "muscle", over=("soft tissue",)),
        Structure("pelvic contents", "other", Intersect(Ellipsoid((-86, -8, 42), (60, 62, 58)), deep), "viscera", over=("muscle",)),
        Structure("bladder", "fluid", Ellipsoid((-86, 0, 0), (30, 21, 20)), "bladder", over=("muscle", "pelvic contents")),
        *_muscle("iliopsoas", Tube([(-12, 8, 84), (-7, 24, 40), (-4, 30, 12), (8, 20, -28), (24, -10, -60)], [20, 15, 12, 10, 6]), deep),
        *_muscle("gluteus maximus", Ellipsoid((10, -72, -10), (60, 26, 72), rot=rotation(("a", 20))), deep),
        *_muscle("gluteus medius and minimus", Ellipsoid((38, -16, 40), (17, 42, 34), rot=rotation(("a", -20))), deep),
        *_muscle("tensor fasciae latae", Tube([(38, 42, 62), (52, 30, 0), (62, 12, -90)], [7, 10, 6]), deep),
        *_muscle("sartorius", Tube([(34, 52, 64), (26, 58, 0), (6, 54, -60), (-18, 44, -110)], [6, 7, 7, 7]), deep),
        *_muscle("rectus femoris", Tube([(16, 32, 34), (19, 42, 0), (22, 50, -50), (20, 54, -110)], [6, 11, 15, 14]), deep),
        *_muscle("adductors", Tube([(-64, 22, -32), (-46, 5, -72), (-30, -8, -112)], [14, 26, 30]), deep),
        *_muscle("hamstrings", Tube([(-22, -40, -62), (-10, -46, -112)], [13, 18]), deep),
        Structure("intermuscular fat", "fat", Intersect(Lumpy(Tube([(-38, -55, 80), (-30, -62, 42), (-18, -50, 10), (-6, -47, -30), (3, -44, -70), (7, -40, -106)], 8.0), 1.5, 12.0, 29), deep), "fat", over=FILLERS + ("gluteus maximus", "hamstrings")),
        Structure("femoral triangle fat", "fat", Intersect(Ellipsoid((-12, 44, -12), (24, 11, 34)), deep), "fat", over=FILLERS + ("sartorius", "iliopsoas", "adductors")),
        Structure("joint space", "target", joint, "fluid", over=FILLERS + ("iliopsoas", "gluteus medius and minimus", "rectus femoris"), forbid=("skin",), info={"one_piece_else": "soft tissue"}),
        Structure("acetabular labrum", "cartilage", labrum, "labrum"),
        Structure("femoral head cartilage", "cartilage", head_cart, "cartilage"),
        Structure("acetabular cartilage", "cartilage", acet_cart, "cartilage"),
        Structure("femur", "bone", femur, "bone", bone=femur_spec),
        Structure("pelvis", "bone", pelvis, "bone", bone=pelvis_spec, forbid=("femur",)),
        Structure("femoral artery", "artery", Tube(art, 4.5), "artery", forbid=never, diameter_mm=9.0),
        Structure("femoral vein", "vein", Tube(vein, 5.5), "vein", forbid=never + ("femoral artery",), diameter_mm=11.0),
        Structure("femoral nerve", "nerve", Tube(nerve, 3.5), "nerve", forbid=never + ("femoral artery", "femoral vein"), diameter_mm=7.0),
        Structure("lateral femoral cutaneous nerve", "nerve", Tube(lfcn, 1.25, step=1.0), "nerve", forbid=never, diameter_mm=2.5),
        Structure("sciatic nerve", "nerve", Tube(sciatic, 4.5), "nerve", forbid=never + ("joint space",), diameter_mm=9.0),
    ]
    return st


APPROACHES = [
    {
        "name": "Anterior (femoral head-neck junction)",
        "route": "intra-articular",
        "site": "hip",
        "side": "left",
        "outside": (16.0, 140.0, -34.0),
        "aim": (17.0, 6.0, -16.0),
        "needle": "22G:89:quincke",
        "note": "patient supine; entry below the inguinal ligament about 3 cm lateral to the femoral artery, needle "
        "directed posteriorly and slightly cephalad onto the anterior femoral head-neck junction, where the "
        "capsule's anterior recess is; the femoral nerve, artery and vein stay medial to the path",
    },
]
