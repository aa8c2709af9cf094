"""The phantom samples: grids, series, DICOM tags and approaches of each."""

from __future__ import annotations

from imaging.phantoms import knee
from imaging.phantoms.build import PhantomSpec, SeriesSpec
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
        "arteries, thigh and leg muscles, subcutaneous fat and skin. Vessels carry iodinated contrast."
    ),
    study_description="CT KNEE RIGHT WITH CONTRAST (PHANTOM)",
    patient_name="PHANTOM^KNEE",
    patient_id="PHANTOM-KNEE",
    module="knee",
)
