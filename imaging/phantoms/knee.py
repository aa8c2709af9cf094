"""Right knee of an adult, extended, patient supine: distal femur, proximal tibia and fibula,
patella, cartilage, menisci, cruciate and collateral ligaments, quadriceps and patellar tendons,
a fluid-filled joint space with a distended suprapatellar recess, the popliteal neurovascular
bundle, the common peroneal nerve around the fibular neck, four genicular arteries, muscles, fat
and skin.

Local frame (mm): origin at the centre of the tibiofemoral joint space, ``l`` lateral (patient
right), ``a`` anterior, ``s`` superior. Sizes and the sources they come from are listed in
:data:`DIMENSIONS` (printed into the sample README).
"""

from __future__ import annotations

import numpy as np

from imaging.phantoms.common import (
    CARTWRIGHT_2008,
    GRAYS_ANATOMY,
    SHEPHERD_1999,
    Outline,
    body_layers,
    snap_curve,
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
    RoundBox,
    Shape,
    Subtract,
    SuperEllipsoid,
    Tube,
    Union,
    frame_from,
    rotation,
)

FRAME = Frame(origin=(-96.0, 14.0, -452.0), lateral=-1)  # right knee: lateral = patient right = -x

# CT field of view (local mm) and MR field of view
CT_LO, CT_HI = (-80.0, -88.0, -92.0), (80.0, 72.0, 104.0)
MR_LO, MR_HI = (-62.0, -86.0, -88.0), (62.0, 66.0, 92.0)

FEMORAL_CARTILAGE_MM = 2.5
TIBIAL_CARTILAGE_MM = 2.5
PATELLAR_CARTILAGE_MM = 4.0
FLUID_MM = 3.0

DIMENSIONS = [
    ("Femoral bicondylar (epicondylar) width", "84 mm", "Yue et al. 2011 (white men 84.6 +- 3.9 mm)"),
    ("Tibial plateau", "76 mm medio-lateral x 50 mm antero-posterior", "Yue et al. 2011"),
    ("Distal femoral shaft", "28-30 mm diameter, cortex 4-5 mm", "Gray's Anatomy, 42nd ed."),
    ("Patella", "44 mm wide, 42 mm high, 22 mm thick", "Gray's Anatomy; Insall-Salvati ratio ~1"),
    ("Patellar tendon", "46 mm long, 26 mm wide, 5 mm thick", "Gray's Anatomy; Insall & Salvati 1971"),
    ("Quadriceps tendon", "34 mm wide, 7 mm thick", "Gray's Anatomy"),
    ("Articular cartilage", "femoral 2.5 mm, tibial 2.5 mm, patellar 4 mm", "Shepherd & Seedhom 1999 (knee 1.7-2.6 mm; patella up to 4-5 mm)"),
    ("Joint space", "3 mm fluid film between cartilage surfaces; suprapatellar recess up to 15 mm deep, 64 mm wide, 56 mm high (distended, lens-shaped)", "issue #5 brief; effusion appearance"),
    ("Menisci", "wedges 7 mm high at the periphery, ring 40% of the compartment radius", "Gray's Anatomy"),
    ("Popliteal artery", "6 mm", "Gray's Anatomy (5-7 mm in adults)"),
    ("Popliteal vein", "8 mm", "Gray's Anatomy"),
    ("Tibial nerve", "5 mm", "Cartwright et al. 2008 (nerve ultrasound reference values)"),
    ("Common peroneal nerve", "3.6 mm, 2 mm from the fibular neck", "Cartwright et al. 2008; Gray's Anatomy"),
    ("Genicular arteries (4)", "2.2 mm", "Gray's Anatomy (1.5-2.5 mm)"),
    ("Great saphenous vein / saphenous nerve", "4 mm / 2.5 mm, subcutaneous, posteromedial at the knee", "Gray's Anatomy"),
    ("Infrapatellar branch of the saphenous nerve", "2.4 mm, crossing about 2 cm below the joint line to the lateral side", "Gray's Anatomy (1-3 mm)"),
    ("Fibular head / shaft", "20 mm / 13 mm", "Gray's Anatomy"),
    ("Skin / subcutaneous fat", "2 mm / 5-12 mm", "typical adult"),
]

REFERENCES = [
    "Yue B, Varadarajan KM, Ai S, Tang T, Rubash HE, Li G. Differences of knee anthropometry between Chinese and white men and women. J Arthroplasty 2011;26:124-130.",
    SHEPHERD_1999,
    "Insall J, Salvati E. Patella position in the normal knee joint. Radiology 1971;101:101-104.",
    CARTWRIGHT_2008,
    GRAYS_ANATOMY,
]


def _femur() -> Shape:
    block = Union(SuperEllipsoid((0, 2, 38), (33, 21, 19)), Ellipsoid((0, 1, 37), (38, 24, 21)), k=6)
    lat = Ellipsoid((21, -6, 24), (16, 30, 20))
    med = Ellipsoid((-21, -6, 24), (17, 31, 20))
    shaft = Tube([(0, -3, 42), (3, -4, 75), (12, -6, 150)], [20, 15, 14])
    epi_l = Ellipsoid((37, -6, 28), (5, 10, 8))
    epi_m = Ellipsoid((-39, -6, 30), (6, 11, 9))
    body = Union(block, lat, med, shaft, epi_l, epi_m, k=8)
    groove = Tube([(2, 32, -5), (2, 32, 62)], 13)
    # intercondylar notch; its roof (Blumensaat's line) slopes about 35 deg from the shaft
    notch = RoundBox((0, -22, 9), (10, 21, 13), rr=4, rot=rotation(("l", -35)))
    return Subtract(Subtract(body, groove, k=4), notch, k=3)


def _tibia() -> Shape:
    plateau = Func(lambda b: b.s + np.float32(4.0), (-60, -60, -200), (60, 60, 1))
    lat = Intersect(Ellipsoid((18, -5, -12), (21, 23, 36)), plateau)
    med = Intersect(Ellipsoid((-17, -3, -12), (22, 25, 36)), plateau)
    block = Union(lat, med, SuperEllipsoid((0, 2, -14), (30, 18, 10)), k=6)
    shaft = Tube([(0, -1, -36), (-1, 4, -58), (-4, 12, -100), (-5, 14, -140)], [24, 19, 14, 13])
    tuberosity = Ellipsoid((3, 20, -30), (13, 10, 14))
    eminence = Ellipsoid((0, -4, -4.5), (9, 11, 4.5))
    return Union(block, shaft, tuberosity, eminence, k=8)


def _fibula() -> Shape:
    head = Ellipsoid((37, -33, -34), (10, 10, 11))
    shaft = Tube([(37, -32, -42), (33, -26, -70), (30, -21, -140)], [7, 6.5, 6.5])
    return Union(head, shaft, k=6)


def _patella() -> Shape:
    body = Ellipsoid((3, 46, 41), (22, 11, 21))
    apex = Ellipsoid((2, 44, 26), (13, 8, 10))
    return Union(body, apex, k=6)


def _band(p0, p1, width: float, thickness: float, width_dir=(1.0, 0.0, 0.0), rr: float = 1.2) -> Shape:
    """A flat band (tendon, ligament) from ``p0`` to ``p1``."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    axis = p1 - p0
    rot = frame_from(axis, width_dir)  # columns: along, thickness, width
    return RoundBox((p0 + p1) / 2, (np.linalg.norm(axis) / 2, thickness / 2, width / 2), rr=rr, rot=rot)


def _meniscus(centre_l: float, femur: Shape) -> Shape:
    cl, ca, rl, ra = centre_l, -3.0, 17.0, 24.0
    inner, height = 0.6, 7.0
    top = -TIBIAL_CARTILAGE_MM + (-4.0 + TIBIAL_CARTILAGE_MM) + 2.5  # tibial cartilage surface: s = -1.5

    def fn(box: Box) -> np.ndarray:
        dl = (box.l - np.float32(cl)) / np.float32(rl)
        da = (box.a - np.float32(ca)) / np.float32(ra)
        rho = np.sqrt(dl * dl + da * da)
        wedge_top = np.float32(top) + np.float32(height) * (rho - np.float32(inner)) / np.float32(1 - inner)
        d = np.maximum((np.float32(inner) - rho) * 17, (rho - 1) * 17)
        d = np.maximum(d, np.float32(top) - box.s)
        d = np.maximum(d, box.s - wedge_top)
        d = np.maximum(d, np.float32(FEMORAL_CARTILAGE_MM + 0.6) - femur(box))
        return d

    return Func(fn, (cl - rl - 2, ca - ra - 2, -3), (cl + rl + 2, ca + ra + 2, 8))


FILLERS = ("soft tissue", "thigh muscles", "leg muscles", "popliteal fat", "intermuscular fat")


def _muscle(name: str, shape: Shape, deep: Shape) -> list[Structure]:
    """A muscle wrapped in a thin fat sheath (so that it stands apart from its neighbours)."""
    return [
        Structure("intermuscular fat", "fat", Intersect(Lumpy(Offset(shape, 1.5), 1.4, 14.0, 11 + len(name)), deep), "fat", over=FILLERS),
        Structure(name, "muscle", Intersect(shape, deep), "muscle", over=FILLERS),
    ]


def _sheet(c, along, half_along: float, half_s: float, deep: Shape, thick: float = 1.8) -> Structure:
    rot = frame_from(along, (0.0, 0.0, 1.0))
    return Structure("intermuscular fat", "fat", Intersect(RoundBox(c, (half_along, thick / 2, half_s), rr=0.5, rot=rot), deep), "fat", over=FILLERS)


def _septa(deep: Shape) -> list[Structure]:
    """Intermuscular septa of the thigh and the leg, and the interosseous membrane region."""
    return [
        _sheet((30, -18, 85), (0.8, -0.6, 0), 16, 32, deep),  # lateral intermuscular septum
        _sheet((-26, -16, 85), (-0.75, -0.65, 0), 16, 32, deep),  # medial intermuscular septum
        _sheet((-8, -34, 85), (-0.2, -1.0, 0), 12, 32, deep),  # adductor / hamstring plane
        _sheet((42, -4, -72), (0.45, 0.9, 0), 10, 28, deep),  # anterior crural septum
        _sheet((44, -34, -72), (0.6, -0.8, 0), 9, 28, deep),  # posterior crural septum
        _sheet((18, -8, -72), (0.55, -0.83, 0), 16, 28, deep, 1.2),  # interosseous membrane
        _sheet((2, -36, -72), (1.0, 0.12, 0), 36, 28, deep),  # transverse septum (deep / superficial posterior)
    ]


def structures() -> list[Structure]:
    """The knee's structures in painting order."""
    outline = Outline(
        # s, centre l, centre a, semi l, semi a, subcutaneous fat
        [
            (115, -2, -4, 68, 64, 12),
            (60, -3, -4, 62, 60, 11),
            (20, -2, -8, 57, 59, 7),
            (0, -1, -10, 56, 60, 6),
            (-30, 0, -14, 56, 60, 8),
            (-100, 0, -20, 54, 62, 10),
        ],
        (-90, -100, -110),
        (90, 90, 120),
        extra=[Ellipsoid((3, 46, 38), (26, 18, 27))],
        k=14,
    )
    body, skin, subcut, deep = body_layers(outline, seed=11)
    femur = Cached(_femur())
    tibia = Cached(_tibia())
    fibula = Cached(_fibula())
    patella = Cached(_patella())

    fem_art = Union(
        RoundBox((0, 20, 30), (33, 17, 26), rr=6),  # trochlea
        RoundBox((21.5, -6, 15), (15.5, 35, 19), rr=4),  # lateral condyle, distal and posterior
        RoundBox((-21.5, -6, 15), (15.5, 35, 19), rr=4),  # medial condyle
    )
    tib_art = Union(RoundBox((20, -3, -2), (16, 24, 5), rr=3), RoundBox((-20, -3, -2), (16, 24, 5), rr=3))
    pat_art = RoundBox((3, 32, 41), (20, 7, 19), rr=4)

    fem_cart = Intersect(Offset(femur, FEMORAL_CARTILAGE_MM), fem_art)
    tib_cart = Intersect(Offset(tibia, TIBIAL_CARTILAGE_MM), tib_art)
    pat_cart = Intersect(Offset(patella, PATELLAR_CARTILAGE_MM), pat_art)

    film = FEMORAL_CARTILAGE_MM + FLUID_MM
    joint = Union(
        Intersect(Offset(femur, film), fem_art),
        # tibiofemoral compartments: the gap where both bones are near (menisci, cartilage painted over)
        Intersect(Ellipsoid((20, -3, 2), (17, 25, 9)), Offset(femur, 7.0), Offset(tibia, 7.0)),
        Intersect(Ellipsoid((-20, -3, 2), (17, 25, 9)), Offset(femur, 7.0), Offset(tibia, 7.0)),
        Intersect(Offset(patella, PATELLAR_CARTILAGE_MM + FLUID_MM), Offset(pat_art, 1.0)),
        Ellipsoid((2, 26, 77), (32, 7.5, 28)),  # suprapatellar recess (distended): a lens under the quadriceps tendon
        Ellipsoid((40.5, 5, 40), (3.2, 11, 18)),  # lateral gutter
        Ellipsoid((35, 18, 46), (5, 8, 12)),
        Ellipsoid((-41.5, 5, 40), (3.2, 11, 18)),  # medial gutter
        Ellipsoid((-36, 18, 46), (5, 8, 12)),
    )

    # muscle bellies end higher in front (quadriceps tendon) and lower behind (hamstrings);
    # the calf muscles start higher behind (gastrocnemius heads)
    thigh = Func(lambda b: np.maximum(deep(b), np.float32(50) - np.float32(0.25) * b.a - b.s), (-90, -100, 20), (90, 90, 120))
    leg = Func(lambda b: np.maximum(deep(b), b.s - (np.float32(-38) - np.float32(0.3) * b.a)), (-90, -100, -110), (90, 90, 0))

    femur_spec = BoneSpec(
        cortex_mm=lambda b: np.clip(1.2 + (b.s - 45) * np.float32(0.07), 1.2, 5.0),
        marrow_fat=lambda b: np.clip((b.s - 50) / np.float32(35), 0, 1),
    )
    tibia_spec = BoneSpec(
        cortex_mm=lambda b: np.clip(1.2 + (-45 - b.s) * np.float32(0.07), 1.2, 4.5),
        marrow_fat=lambda b: np.clip((-55 - b.s) / np.float32(30), 0, 1),
    )
    fibula_spec = BoneSpec(
        cortex_mm=lambda b: np.clip(1.0 + (-38 - b.s) * np.float32(0.08), 1.0, 2.8),
        marrow_fat=lambda b: np.clip((-45 - b.s) / np.float32(30), 0, 0.8),
    )
    patella_spec = BoneSpec(cortex_mm=lambda b: np.float32(1.3), marrow_fat=lambda b: np.float32(0.05))

    soft_over = ("soft tissue", "thigh muscles", "leg muscles", "popliteal fat", "infrapatellar fat pad")
    muscle_over = ("soft tissue", "thigh muscles", "leg muscles", "popliteal fat")
    never = ("skin", "femur", "tibia", "fibula", "patella")

    # popliteal neurovascular bundle, top to bottom
    art_pts = [(-10, -26, 106), (-4, -33, 60), (0, -38, 25), (1, -36, 0), (0, -43, -25), (-3, -38, -55), (-5, -28, -93)]
    vein_pts = [(x + 3, y - 9, z) for x, y, z in art_pts]
    nerve_pts = [(x + 6, y - 18, z) for x, y, z in art_pts]
    cpn_pts = [(10, -50, 106), (16, -54, 60), (30, -48, 25), (40, -40, 0), (39, -44, -20), (38, -46.5, -34), (43.5, -44, -41), (45.5, -36, -48), (46, -24, -56), (42, -8, -62), (36, 4, -72), (32, 8, -93)]

    st: list[Structure] = [
        Structure("soft tissue", "other", body, "soft"),
        Structure("skin", "skin", skin, "skin", over=("soft tissue",), info={"outer_layer": True}),
        Structure("subcutaneous fat", "fat", subcut, "fat", over=("soft tissue",)),
        Structure("thigh muscles", "muscle", thigh, "muscle", over=("soft tissue",)),
        Structure("leg muscles", "muscle", leg, "muscle", over=("soft tissue",)),
        Structure("popliteal fat", "fat", Intersect(Ellipsoid((2, -46, 30), (27, 20, 52)), deep), "fat", over=("soft tissue", "thigh muscles", "leg muscles")),
        Structure("infrapatellar fat pad", "fat", Ellipsoid((1, 30, 6), (22, 11, 15)), "fat", over=("soft tissue",)),
        *_septa(deep),
        *_muscle("vastus medialis", Ellipsoid((-38, 8, 62), (17, 24, 34)), deep),
        *_muscle("biceps femoris", Tube([(40, -34, 110), (38, -33, 60), (40, -29, 22), (43, -24, -12)], [18, 15, 8, 3.5]), deep),
        *_muscle("semimembranosus", Tube([(-28, -38, 110), (-30, -38, 60), (-34, -32, 20), (-36, -24, -5)], [20, 17, 9, 4]), deep),
        *_muscle("gastrocnemius", Union(
            Tube([(26, -38, 26), (25, -56, -10), (18, -64, -60), (12, -68, -100)], [6, 14, 20, 18]),
            Tube([(-24, -38, 28), (-23, -58, -10), (-16, -66, -60), (-12, -70, -100)], [7, 15, 22, 20]),
        ), deep),
        Structure("popliteus", "muscle", Tube([(30, -24, -6), (10, -31, -22), (-12, -29, -45)], [3, 5, 6]), "muscle", over=muscle_over),
        Structure("quadriceps tendon", "tendon", _band((3, 49, 58), (1, 40, 112), 34, 7), "tendon", over=soft_over + ("subcutaneous fat",)),
        Structure("patellar tendon", "tendon", _band((2, 44, 20), (4, 28, -30), 26, 5), "tendon", over=soft_over + ("subcutaneous fat",)),
        Structure("joint space", "target", joint, "fluid", over=soft_over + ("vastus medialis", "intermuscular fat"), forbid=("skin",), info={"one_piece_else": "soft tissue"}),
        Structure("anterior cruciate ligament", "tendon", Tube([(10, -20, 18), (2, 6, -2)], 4.5), "ligament"),
        Structure("posterior cruciate ligament", "tendon", Tube([(-8, -6, 20), (-1, -27, -8)], 5), "ligament"),
        Structure("lateral collateral ligament", "tendon", Tube([(42, -8, 28), (46, -27, -28)], 2.5), "ligament", over=soft_over + ("subcutaneous fat", "joint space", "biceps femoris")),
        Structure("medial collateral ligament", "tendon", _band((-44, -5, 32), (-44, -3, -34), 11, 3, width_dir=(0, 1, 0)), "ligament", over=soft_over + ("subcutaneous fat", "joint space", "vastus medialis", "semimembranosus")),
        Structure("femoral cartilage", "cartilage", fem_cart, "cartilage"),
        Structure("tibial cartilage", "cartilage", tib_cart, "cartilage"),
        Structure("patellar cartilage", "cartilage", pat_cart, "cartilage"),
        Structure("lateral meniscus", "cartilage", _meniscus(21.0, femur), "meniscus"),
        Structure("medial meniscus", "cartilage", _meniscus(-21.0, femur), "meniscus"),
        Structure("femur", "bone", femur, "bone", bone=femur_spec),
        Structure("tibia", "bone", tibia, "bone", bone=tibia_spec, forbid=("femur",)),
        Structure("fibula", "bone", fibula, "bone", bone=fibula_spec, forbid=("tibia", "femur")),
        Structure("patella", "bone", patella, "bone", bone=patella_spec, forbid=("femur",)),
        Structure("popliteal artery", "artery", Tube(art_pts, 3.0), "artery", forbid=never, diameter_mm=6.0),
        Structure("popliteal vein", "vein", Tube(vein_pts, 4.0), "vein", forbid=never + ("popliteal artery",), diameter_mm=8.0),
        Structure("tibial nerve", "nerve", Tube(nerve_pts, 2.5), "nerve", forbid=never + ("popliteal artery", "popliteal vein"), diameter_mm=5.0),
        Structure("common peroneal nerve", "nerve", Tube(cpn_pts, 1.8), "nerve", forbid=never + ("popliteal artery", "popliteal vein", "tibial nerve"), diameter_mm=3.6),
    ]
    # subcutaneous, medial: great saphenous vein and saphenous nerve; the nerve's infrapatellar
    # branch crosses below the patella to the lateral side
    skin_surface = [body]
    gsv = snap_curve([(-46, -8, 106), (-52, -14, 60), (-55, -20, 20), (-54, -22, 0), (-50, -18, -40), (-46, -12, -93)], skin_surface, -4.8, exact=True)
    saph = snap_curve([(-51, -30, 28), (-52, -31, 0), (-49, -28, -40), (-45, -22, -93)], skin_surface, -6.0, exact=True)
    ipb = snap_curve([(-51, -30, 14), (-50, -12, 4), (-44, 6, -6)], skin_surface, -10.0, exact=True) + snap_curve(
        [(-36, 22, -12), (-20, 36, -18), (0, 44, -22), (20, 38, -20), (32, 26, -16)], skin_surface, -3.6, exact=True
    )
    superficial = ("skin", "femur", "tibia", "patella", "fibula", "patellar tendon")
    st += [
        Structure("great saphenous vein", "vein", Tube(gsv, 2.0, step=1.0), "vein", forbid=superficial, diameter_mm=4.0),
        Structure("saphenous nerve", "nerve", Tube(saph, 1.25, step=1.0), "nerve", forbid=superficial + ("great saphenous vein",), diameter_mm=2.5),
        Structure("infrapatellar branch of the saphenous nerve", "nerve", Tube(ipb, 1.2, step=1.0), "nerve", forbid=superficial + ("great saphenous vein",), keep=("saphenous nerve",), diameter_mm=2.4),
    ]
    vessels = ("popliteal artery", "popliteal vein", "tibial nerve", "common peroneal nerve")
    genicular = {
        "superior lateral genicular artery": [(0, -37, 40), (16, -34, 46), (31, -28, 50), (41, -14, 50), (44, -4, 50)],
        "superior medial genicular artery": [(-2, -37, 42), (-18, -34, 47), (-32, -28, 50), (-43, -14, 50), (-46, -4, 50)],
        "inferior lateral genicular artery": [(2, -39, -12), (20, -33, -11), (33, -25, -10), (40.2, -13, -10), (41.2, -2, -10)],
        "inferior medial genicular artery": [(-1, -41, -20), (-20, -34, -26), (-35, -22, -31), (-39.5, -8, -33), (-39.5, 2, -33)],
    }
    for name, pts in genicular.items():
        st.append(Structure(name, "artery", Tube(pts, 1.1, step=1.0), "artery", forbid=never + vessels[1:] + ("joint space",), keep=("popliteal artery",), diameter_mm=2.2))
    return st


APPROACHES = [
    {
        "name": "Superolateral (suprapatellar recess)",
        "route": "intra-articular",
        "site": "knee",
        "side": "right",
        "outside": (90.0, 30.0, 72.0),
        "aim": (10.0, 26.0, 76.0),
        "needle": "22G:89:quincke",
        "note": "knee extended; entry about 1 cm above and 1 cm lateral to the superolateral corner of the patella, needle "
        "directed medially and slightly posteriorly under the quadriceps tendon into the suprapatellar recess",
    },
    {
        "name": "Anterolateral (lateral to the patellar tendon)",
        "route": "intra-articular",
        "site": "knee",
        "side": "right",
        "outside": (24.0, 80.0, 5.0),
        "aim": (12.0, -4.0, 1.0),
        "needle": "22G:89:quincke",
        "note": "soft spot lateral to the patellar tendon about 1 cm above the joint line, needle directed posteromedially "
        "toward the intercondylar notch; the tip stops in the anterior joint space of the lateral compartment",
    },
]
