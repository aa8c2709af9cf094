"""The phantom samples: grids, series, DICOM tags and approaches of each."""

from __future__ import annotations

from imaging.phantoms import hip, knee, shoulder
from imaging.phantoms.build import SAG, PhantomSpec, SeriesSpec
from imaging.phantoms.scene import Grid

CT_TAGS = {
    "KVP": "120",
    "XRayTubeCurrent": 180,
    "ExposureTime": 1000,
    "ConvolutionKernel": "SOFT",
    "ContrastBolusAgent": "IODINATED CONTRAST (SIMULATED)",
    "WindowCenter": ["40", "500"],
    "WindowWidth": ["400", "2000"],
    "WindowCenterWidthExplanation": ["SOFT TISSUE", "BONE"],
}

PHANTOMS: dict[str, PhantomSpec] = {}

PHANTOMS["knee_ct"] = PhantomSpec(
    name="knee_ct",
    title="Right knee CT (phantom)",
    description="Synthetic right knee CT with effusion, 0.8 x 0.8 x 1.5 mm: intra-articular knee planning",
    modality="CT",
    body_part="KNEE",
    frame=knee.FRAME,
    structures=knee.structures,
    grid=lambda: Grid.make(knee.FRAME, knee.CT_LO, knee.CT_HI, (0.8, 0.8, 1.5)),
    series=[SeriesSpec("ct", "", "CT KNEE RT 1.5 mm SOFT (phantom)", 1, {"PatientPosition": "FFS", **CT_TAGS})],
    approaches=knee.APPROACHES,
    dimensions=knee.DIMENSIONS,
    references=knee.REFERENCES,
    shows=(
        "An adult right knee in extension from the distal femoral shaft to the proximal tibial and fibular "
        "shafts: femur, tibia, fibula and patella with cortical and cancellous bone, articular cartilage, both "
        "menisci, the cruciate and collateral ligaments, the quadriceps and patellar tendons, Hoffa's fat pad, "
        "a fluid-filled joint space (3 mm between the cartilage surfaces) with a distended suprapatellar "
        "recess and parapatellar gutters (a knee effusion), the popliteal artery and vein and the tibial nerve "
        "in the popliteal fossa, the common peroneal nerve winding round the fibular neck, four genicular "
        "arteries, the great saphenous vein, the saphenous nerve and its infrapatellar branch, thigh and leg muscles, subcutaneous fat and skin. Vessels carry iodinated contrast."
    ),
    study_description="CT KNEE RIGHT WITH CONTRAST (PHANTOM)",
    patient_name="PHANTOM^KNEE",
    patient_id="PHANTOM-KNEE",
    module="knee",
)

MR_TAGS = {
    "MagneticFieldStrength": "1.5",
    "ImagingFrequency": "63.87",
    "ImagedNucleus": "1H",
    "MRAcquisitionType": "2D",
    "ScanningSequence": "SE",
    "SequenceVariant": ["SK", "OSP"],
    "ReceiveCoilName": "KNEE 8CH",
    "PixelBandwidth": "200",
    "NumberOfAverages": "2",
    "PatientPosition": "FFS",
}

PHANTOMS["knee_mr"] = PhantomSpec(
    name="knee_mr",
    title="Right knee MR, T1 and T2 fat-sat (phantom)",
    description="Synthetic right knee MR with effusion: sagittal T1 and T2 fat-sat, 0.7 mm x 2 mm slices",
    modality="MR",
    body_part="KNEE",
    frame=knee.FRAME,
    structures=knee.structures,
    grid=lambda: Grid.make(knee.FRAME, knee.MR_LO, knee.MR_HI, (0.7, 0.7, 2.0), direction=SAG),
    series=[
        SeriesSpec("t1", "t1", "SAG T1 TSE (phantom)", 1, {
            **MR_TAGS, "ScanOptions": "", "RepetitionTime": "550", "EchoTime": "12", "EchoTrainLength": 3,
            "FlipAngle": "90", "SequenceName": "tse2d1_3", "WindowCenter": "600", "WindowWidth": "1200",
        }),
        SeriesSpec("t2fs", "t2fs", "SAG T2 TSE FS (phantom)", 2, {
            **MR_TAGS, "ScanOptions": "FS", "RepetitionTime": "3800", "EchoTime": "65", "EchoTrainLength": 12,
            "FlipAngle": "150", "SequenceName": "tse2d1_12", "WindowCenter": "500", "WindowWidth": "1100",
        }),
    ],
    approaches=knee.APPROACHES,
    dimensions=knee.DIMENSIONS,
    references=knee.REFERENCES,
    shows=(
        "The same adult right knee as `knee_ct` (same anatomy, same patient coordinates), imaged by MR in "
        "sagittal slices: a T1-weighted series (fat and marrow bright, fluid dark, tendons, ligaments and "
        "menisci black) and a fat-suppressed T2-weighted series in which the joint effusion, the "
        "suprapatellar recess and the gutters are bright. Structures: femur, tibia, fibula, patella, "
        "cartilage, menisci, cruciate and collateral ligaments, quadriceps and patellar tendons, Hoffa's fat "
        "pad, popliteal artery (flow void) and vein, tibial and common peroneal nerves, genicular arteries, "
        "great saphenous vein, saphenous nerve and its infrapatellar branch, muscles, fat and skin."
    ),
    study_description="MR KNEE RIGHT (PHANTOM)",
    patient_name="PHANTOM^KNEE^MR",
    patient_id="PHANTOM-KNEE-MR",
    module="knee",
    render_options={"coil_centre_local": (0.0, 0.0, 10.0), "coil_radius_mm": 120.0},
    open_series="t2fs",  # fluid bright: the series the knee MR segmentation reads
)

PHANTOMS["hip_ct"] = PhantomSpec(
    name="hip_ct",
    title="Left hip CT (phantom)",
    description="Synthetic left hip CT with capsular effusion, 0.8 x 0.8 x 2 mm: intra-articular hip planning",
    modality="CT",
    body_part="HIP",
    frame=hip.FRAME,
    structures=hip.structures,
    grid=lambda: Grid.make(hip.FRAME, hip.CT_LO, hip.CT_HI, (0.8, 0.8, 2.0)),
    series=[SeriesSpec("ct", "", "CT HIP LT 2 mm SOFT (phantom)", 1, {"PatientPosition": "HFS", **CT_TAGS})],
    approaches=hip.APPROACHES,
    dimensions=hip.DIMENSIONS,
    references=hip.REFERENCES,
    shows=(
        "An adult left hip from the iliac wing (with the anterior superior iliac spine) to the proximal femoral "
        "shaft: femoral head, neck, greater and lesser trochanters with cortical and cancellous bone; the left "
        "hemipelvis with the acetabulum, ilium, pubic rami, symphysis and ischium; head and acetabular "
        "cartilage and the labrum; a fluid-filled joint capsule (3 mm film plus an anterior recess along the "
        "neck); the femoral nerve, artery and vein (lateral to medial) in the femoral triangle the lateral "
        "femoral cutaneous nerve medial to the ASIS and the sciatic nerve behind the joint; iliopsoas, glutei, tensor fasciae latae, sartorius, rectus "
        "femoris, adductors and hamstrings; bladder and pelvic contents; fat and skin. Vessels carry iodinated "
        "contrast."
    ),
    study_description="CT HIP LEFT WITH CONTRAST (PHANTOM)",
    patient_name="PHANTOM^HIP",
    patient_id="PHANTOM-HIP",
    module="hip",
)

PHANTOMS["shoulder_ct"] = PhantomSpec(
    name="shoulder_ct",
    title="Right shoulder CT (phantom)",
    description="Synthetic right shoulder CT with effusion, 0.8 x 0.8 x 1.5 mm: glenohumeral injection planning",
    modality="CT",
    body_part="SHOULDER",
    frame=shoulder.FRAME,
    structures=shoulder.structures,
    grid=lambda: Grid.make(shoulder.FRAME, shoulder.CT_LO, shoulder.CT_HI, (0.8, 0.8, 1.5)),
    series=[SeriesSpec("ct", "", "CT SHOULDER RT 1.5 mm SOFT (phantom)", 1, {"PatientPosition": "HFS", **CT_TAGS})],
    approaches=shoulder.APPROACHES,
    dimensions=shoulder.DIMENSIONS,
    references=shoulder.REFERENCES,
    shows=(
        "An adult right shoulder, arm at the side: humeral head and proximal shaft with cortical and cancellous "
        "bone; the scapula with glenoid, neck, body, spine, acromion and coracoid; the lateral clavicle at the "
        "acromioclavicular joint; ribs 2 to 5 (one label each) and the lung apex; humeral and glenoid cartilage and the labrum; a "
        "fluid-filled glenohumeral joint (3 mm film and an axillary recess); deltoid, supraspinatus with its "
        "tendon under the acromion, infraspinatus and teres minor, subscapularis, pectoralis major and minor, "
        "trapezius; the suprascapular nerve, artery and vein on the bone through the suprascapular and "
        "spinoglenoid notches; the axillary nerve and posterior circumflex humeral artery round the surgical "
        "neck; axillary fat, subcutaneous fat and skin. Vessels carry iodinated contrast."
    ),
    study_description="CT SHOULDER RIGHT WITH CONTRAST (PHANTOM)",
    patient_name="PHANTOM^SHOULDER",
    patient_id="PHANTOM-SHOULDER",
    module="shoulder",
)
