"""Right shoulder of an adult, arm at the side, patient supine: humeral head and proximal shaft,
scapula (glenoid, neck, body, spine, acromion, coracoid), lateral clavicle, upper ribs and the lung
apex; humeral and glenoid cartilage, labrum, a fluid-filled glenohumeral joint with an axillary
recess; deltoid, rotator cuff (supraspinatus with its tendon, infraspinatus, subscapularis),
pectoral muscles and trapezius; the suprascapular nerve, artery and vein through the
suprascapular and spinoglenoid notches; the axillary nerve and posterior circumflex humeral
artery round the surgical neck; fat and skin.

Local frame (mm): origin at the centre of the humeral head, ``l`` lateral (patient right = -x),
``a`` anterior, ``s`` superior.
"""

from __future__ import annotations

import numpy as np

from imaging.phantoms.common import GRAYS_ANATOMY, Outline, alongside, body_layers, snap_curve
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
    frame_from,
)

FRAME = Frame(origin=(-172.0, 30.0, -120.0), lateral=-1)  # right shoulder
CT_LO, CT_HI = (-110.0, -100.0, -100.0), (72.0, 86.0, 68.0)

HEAD_R = 24.0
HUMERAL_CARTILAGE_MM = 1.5
FLUID_MM = 3.0
GLENOID_CARTILAGE_MM = 2.0
SOCKET_R = HEAD_R + HUMERAL_CARTILAGE_MM + FLUID_MM + GLENOID_CARTILAGE_MM  # 30.5
# the articular surface of the head faces medially, 25 deg posteriorly (retroversion), 25 deg up
ARTICULAR = np.array([-_cos(25) ** 2, -_cos(25) * _sin(25), _sin(25)])
ARTICULAR /= np.linalg.norm(ARTICULAR)
SCAPULAR_PLANE = np.array([-0.7, -0.7, 0.0]) / np.sqrt(0.98)  # from the glenoid toward the medial border

DIMENSIONS = [
    ("Humeral head", "48 mm diameter (radius of curvature 24 mm), retroversion 25 deg", "Iannotti et al. 1992"),
    ("Glenoid", "39 mm high, 29 mm wide, pear-shaped, facing laterally", "Iannotti et al. 1992; Checroun et al. 2002"),
    ("Acromion", "50 mm long, 24 mm wide, 9 mm thick; 10 mm above the head (acromiohumeral distance)", "Gray's Anatomy; Petersson & Redlund-Johnell 1984 (7-14 mm)"),
    ("Clavicle", "15-17 mm thick; acromioclavicular joint gap 2-3 mm", "Gray's Anatomy"),
    ("Cartilage", "humeral 1.5 mm, glenoid 2 mm", "Fox et al. 2008 (glenohumeral cartilage 1.2-2.5 mm)"),
    ("Joint space", "3 mm fluid film, axillary recess 18 x 26 x 12 mm (effusion)", "issue #5 brief"),
    ("Suprascapular nerve / artery / vein", "3 / 2.6 / 3 mm, on the bone in the supraspinous fossa and spinoglenoid notch", "Gray's Anatomy"),
    ("Axillary nerve / posterior circumflex humeral artery", "3.5 / 3 mm, round the surgical neck 6-7 cm below the acromion", "Gray's Anatomy"),
    ("Skin / subcutaneous fat", "2 mm / 8-15 mm", "typical adult"),
]

REFERENCES = [
    "Iannotti JP, Gabriel JP, Schneck SL, Evans BG, Misra S. The normal glenohumeral relationships. An anatomical study of one hundred and forty shoulders. J Bone Joint Surg Am 1992;74:491-500.",
    "Checroun AJ, Hawkins C, Kummer FJ, Zuckerman JD. Fit of current glenoid component designs: an anatomic cadaver study. J Shoulder Elbow Surg 2002;11:614-617.",
    "Petersson CJ, Redlund-Johnell I. The subacromial space in normal shoulder radiographs. Acta Orthop Scand 1984;55:57-58.",
    "Fox JA, Cole BJ, Romeo AA, et al. Articular cartilage thickness of the humeral head: an anatomic study. Orthopedics 2008;31:216.",
    GRAYS_ANATOMY,
]


def _halfspace(normal, offset: float) -> Shape:
    """``p . normal <= offset``."""
    n = np.asarray(normal, float)
    n = n / np.linalg.norm(n)

    def fn(b: Box) -> np.ndarray:
        return b.l * np.float32(n[0]) + b.a * np.float32(n[1]) + b.s * np.float32(n[2]) - np.float32(offset)

    return Func(fn, (-300, -300, -300), (300, 300, 300))


def _sphere(r: float, c=(0.0, 0.0, 0.0)) -> Shape:
    return Ellipsoid(c, (r, r, r))


def _humerus() -> Shape:
    head = _sphere(HEAD_R)
    meta = Ellipsoid((9, 2, -10), (19, 20, 26))
    gt = Ellipsoid((20, 0, 5), (9, 14, 13))
    lt = Ellipsoid((6, 18, -6), (7, 7, 10))
    shaft = Tube([(12, 2, -28), (14, 2, -70), (15, 3, -160)], [16, 12.5, 11.5])
    return Union(head, meta, gt, lt, shaft, k=7)


def _acromion_rot() -> np.ndarray:
    return frame_from((-0.707, 0.707, 0.0), (0.0, 0.0, 1.0))


def _scapula() -> Shape:
    glenoid = Union(Ellipsoid((-40, 0, -7), (12, 15, 14)), Ellipsoid((-40, 0, 8), (12, 11, 10)), k=5)
    neck = Tube([(-42, 0, -2), (-56, -10, -6)], 13)
    rot = frame_from(SCAPULAR_PLANE, (0.0, 0.0, 1.0))
    body = Ellipsoid(np.array([-44, 0, -40]) + 58 * SCAPULAR_PLANE, (52, 4, 78), rot=rot)
    lateral_border = Tube([(-46, -6, -22), (-62, -20, -70), (-78, -34, -115)], [7, 6, 6])
    spine = Tube([(-125, -72, 20), (-72, -55, 27), (-32, -39, 33), (10, -30, 38)], [6, 8, 8, 8])
    acromion = Union(SuperEllipsoid((7, -7, 39), (20, 10, 4.0), rot=_acromion_rot()), Ellipsoid((7, -7, 39), (26, 12.5, 5.0), rot=_acromion_rot()), k=3)
    coracoid = Tube([(-44, 2, 12), (-42, 20, 22), (-32, 36, 20), (-25, 42, 14)], [9, 7, 6.5, 6])
    scap = Union(glenoid, neck, body, lateral_border, spine, acromion, coracoid, k=7)
    return Subtract(scap, _sphere(SOCKET_R))


def _clavicle() -> Shape:
    return Tube([(-21, 16, 41), (-45, 22, 44), (-80, 24, 42), (-130, 20, 36)], [6.5, 7.5, 8, 8.5])


RIBS = ("rib 2", "rib 3", "rib 4", "rib 5")


def _ribs() -> list[Shape]:
    """Ribs 2-5 round the lateral chest wall, sloping down toward the front."""
    tubes = []
    for s0 in (12.0, -22.0, -56.0, -90.0):
        pts = []
        for deg in range(-85, 90, 15):
            pts.append((-172 + 90 * _cos(deg), 8 + 70 * _sin(deg), s0 - 16 * _sin(deg)))
        tubes.append(Tube(pts, 5.0))
    return tubes


FILLERS = ("soft tissue", "muscle", "intermuscular fat", "axillary fat")


def _muscle(name: str, shape: Shape, deep: Shape) -> list[Structure]:
    return [
        Structure("intermuscular fat", "fat", Intersect(Lumpy(Offset(shape, 1.5), 1.4, 14.0, 31 + len(name)), deep), "fat", over=FILLERS),
        Structure(name, "muscle", Intersect(shape, deep), "muscle", over=FILLERS),
    ]


def structures() -> list[Structure]:
    arm = Tube([(12, 0, -200), (14, 0, -60), (8, -3, -5)], [46, 47, 50])
    cap = Ellipsoid((4, -6, 12), (57, 60, 46))
    girdle = Ellipsoid((-40, 0, -6), (46, 62, 46))  # axillary folds: soft tissue from chest wall to arm
    outline = Outline(
        [
            (80, -172, -12, 72, 62, 10),
            (50, -172, -8, 118, 78, 11),
            (25, -172, -4, 124, 92, 12),
            (-30, -172, 0, 120, 102, 13),
            (-110, -172, 2, 127, 104, 13),
        ],
        (-130, -120, -120),
        (90, 110, 90),
        extra=[arm, cap, girdle],
        k=18,
    )
    body, skin, subcut, deep = body_layers(outline, seed=31)
    humerus = Cached(_humerus())
    scapula = Cached(_scapula())
    clavicle = Cached(_clavicle())
    ribs = [Cached(r) for r in _ribs()]

    hum_cart = Intersect(_sphere(HEAD_R + HUMERAL_CARTILAGE_MM), _halfspace(-ARTICULAR, -2.0))
    glen_region = _halfspace((1, 0, 0), -21.0)
    glen_cart = Intersect(Subtract(_sphere(SOCKET_R), _sphere(SOCKET_R - GLENOID_CARTILAGE_MM)), glen_region)
    film = Intersect(_sphere(SOCKET_R - GLENOID_CARTILAGE_MM), _halfspace(-ARTICULAR, -1.0))
    axillary = Ellipsoid((-10, 0, -27), (9, 13, 6))
    joint = Union(film, axillary, Ellipsoid((-20, -8, -18), (8, 12, 8)))
    labrum = Intersect(
        Subtract(_sphere(SOCKET_R + 3.5), _sphere(SOCKET_R - GLENOID_CARTILAGE_MM)),
        _halfspace((1, 0, 0), -17.0),
        _halfspace((-1, 0, 0), 23.5),
        _halfspace((0, 0, 1), 22.0),
    )
    supra_dir = np.array([0.5, 0.0, 0.87])
    cuff_tendon = Intersect(
        Subtract(_sphere(33.0), _sphere(SOCKET_R - GLENOID_CARTILAGE_MM + 0.5)),
        _halfspace(-supra_dir, -22.0),
        _halfspace((0, 1, 0), 13.0),
        _halfspace((0, -1, 0), 13.0),
    )
    deltoid_depth = 17.0

    def deltoid_fn(b: Box) -> np.ndarray:
        d = deep(b)
        shell = np.maximum(d, -np.float32(deltoid_depth) - d)
        return np.maximum(np.maximum(shell, np.float32(-24.0) - b.l), b.s - np.float32(48.0))

    deltoid = Func(deltoid_fn, (-30, -90, -110), (80, 90, 50))

    rot = frame_from(SCAPULAR_PLANE, (0.0, 0.0, 1.0))
    posterior_n = rot[:, 1]  # scapular body normal, toward posterior-lateral
    body_c = np.array([-44, 0, -40]) + 58 * SCAPULAR_PLANE

    humerus_spec = BoneSpec(
        cortex_mm=lambda b: np.clip(1.0 + (-30 - b.s) * np.float32(0.06), 1.0, 4.0),
        marrow_fat=lambda b: np.clip((-45 - b.s) / np.float32(30), 0, 1),
    )
    flat_spec = BoneSpec(cortex_mm=lambda b: np.float32(1.3), marrow_fat=lambda b: np.float32(0.2))

    ssn = snap_curve([(-96, -8, 52), (-62, -13, 40), (-52, -20, 32), (-44, -27, 16), (-43, -31, 4), (-52, -40, -12), (-62, -44, -30)], [scapula], 2.6)
    ssa = alongside(ssn, [scapula], 5.0, 2.4)
    ssv = alongside(ssn, [scapula], -5.2, 2.6)
    axn = [(-36, 8, -38), (-22, -6, -46)] + snap_curve([(-6, -20, -46), (10, -20, -44), (24, -10, -43), (27, 6, -43), (20, 22, -43)], [humerus], 4.0)
    pcha = [(x, y, z + 5.0) for x, y, z in [(-36, 13, -38), (-22, -2, -46)] + snap_curve([(-6, -16, -46), (10, -17, -44), (24, -7, -43), (27, 9, -43), (20, 25, -43)], [humerus], 4.0)]

    never = ("skin", "humerus", "scapula", "clavicle", *RIBS)
    st: list[Structure] = [
        Structure("soft tissue", "other", body, "soft"),
        Structure("skin", "skin", skin, "skin", over=("soft tissue",), info={"outer_layer": True}),
        Structure("subcutaneous fat", "fat", subcut, "fat", over=("soft tissue",)),
        Structure("muscle", "muscle", deep, "muscle", over=("soft tissue",)),
        Structure("lung", "other", Ellipsoid((-172, 8, -62), (80, 61, 106)), "lung", over=("muscle", "soft tissue")),
        Structure("axillary fat", "fat", Intersect(Ellipsoid((-58, 4, -58), (22, 30, 38)), deep), "fat", over=("muscle",)),
        Structure("deltoid", "muscle", deltoid, "muscle", over=("muscle", "axillary fat")),
        *_muscle("supraspinatus", Tube([(-112, -42, 40), (-72, -30, 38), (-36, -16, 34), (-12, -6, 32)], [11, 13, 12, 9]), deep),
        *_muscle("infraspinatus and teres minor", Union(
            Ellipsoid(body_c + 13 * posterior_n + np.array([0, 0, 2]), (50, 11, 38), rot=rot),
            Tube([(-48, -38, -6), (-22, -34, 0), (2, -28, 4), (18, -16, 5)], [12, 10, 8, 6]),
        ), deep),
        *_muscle("subscapularis", Union(
            Ellipsoid(body_c - 14 * posterior_n, (48, 11, 44), rot=rot),
            Tube([(-52, 10, -6), (-28, 24, -6), (2, 24, -5)], [12, 9, 6]),
        ), deep),
        *_muscle("pectoralis major", Ellipsoid((-98, 66, -46), (72, 13, 44), rot=frame_from((1.0, -0.15, 0.3), (0, 0, 1))), deep),
        *_muscle("pectoralis minor", Tube([(-26, 42, 12), (-50, 50, -30), (-72, 50, -80)], [5, 11, 13]), deep),
        *_muscle("trapezius", Ellipsoid((-92, -36, 58), (62, 40, 16), rot=frame_from((1.0, 0.25, 0.35), (0, 0, 1))), deep),
        Structure("supraspinatus tendon", "tendon", cuff_tendon, "tendon", over=FILLERS + ("deltoid", "supraspinatus")),
        Structure("joint space", "target", joint, "fluid", over=FILLERS + ("deltoid", "infraspinatus and teres minor", "subscapularis", "supraspinatus"), forbid=("skin",), info={"one_piece_else": "soft tissue"}),
        Structure("glenoid labrum", "cartilage", labrum, "labrum"),
        Structure("humeral cartilage", "cartilage", hum_cart, "cartilage"),
        Structure("glenoid cartilage", "cartilage", glen_cart, "cartilage"),
        Structure("humerus", "bone", humerus, "bone", bone=humerus_spec),
        Structure("scapula", "bone", scapula, "bone", bone=flat_spec, forbid=("humerus",)),
        Structure("clavicle", "bone", clavicle, "bone", bone=flat_spec, forbid=("humerus", "scapula")),
        *[Structure(name, "bone", rib, "bone", bone=flat_spec, forbid=("humerus", "scapula", "clavicle")) for name, rib in zip(RIBS, ribs, strict=True)],
        Structure("suprascapular nerve", "nerve", Tube(ssn, 1.5, step=1.0), "nerve", forbid=never, diameter_mm=3.0),
        Structure("suprascapular artery", "artery", Tube(ssa, 1.3, step=1.0), "artery", forbid=never + ("suprascapular nerve",), diameter_mm=2.6),
        Structure("suprascapular vein", "vein", Tube(ssv, 1.5, step=1.0), "vein", forbid=never + ("suprascapular nerve", "suprascapular artery"), diameter_mm=3.0),
        Structure("axillary nerve", "nerve", Tube(axn, 1.75, step=1.0), "nerve", forbid=never, diameter_mm=3.5),
        Structure("posterior circumflex humeral artery", "artery", Tube(pcha, 1.5, step=1.0), "artery", forbid=never + ("axillary nerve",), diameter_mm=3.0),
    ]
    return st


APPROACHES = [
    {
        "name": "Posterior (glenohumeral)",
        "route": "intra-articular",
        "site": "shoulder",
        "side": "right",
        "outside": (40.0, -140.0, 20.0),
        "aim": (-25.0, 42.0, 14.0),
        "needle": "22G:89:quincke",
        "note": "patient prone or sitting in practice (shown here on the supine study); entry about 2 cm below and 1 cm "
        "medial to the posterolateral corner of the acromion, needle aimed anteriorly toward the coracoid; the tip stops "
        "in the posterior joint space over the humeral head, just lateral to the posterior glenoid rim",
    },
]
