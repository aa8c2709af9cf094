"""The README of a phantom sample: what it shows, sizes with sources, reference approaches, how
it was made."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from imaging.dicom.write import DISCLAIMER
from imaging.labelmap import Legend
from imaging.phantoms import render
from imaging.phantoms.scene import Grid, Structure


def _orientation(grid: Grid) -> str:
    d = grid.direction
    normal = np.abs(np.cross(d[:, 0], d[:, 1]))
    return {0: "sagittal", 1: "coronal", 2: "axial"}[int(np.argmax(normal))]


def readme(spec, grid: Grid, labels: np.ndarray, legend: Legend, structures: Sequence[Structure], approaches: list[dict]) -> str:
    nz, ny, nx = grid.shape
    sp = grid.spacing
    counts = np.bincount(labels.ravel(), minlength=len(legend) + 1)
    voxel_ml = float(np.prod(sp)) / 1000.0
    rows = []
    tissues = {st.name: st.tissue for st in structures}
    diameters = {st.name: st.diameter_mm for st in structures if st.diameter_mm}
    for lab in legend:
        size = f"{diameters[lab.name]:g} mm tube" if lab.name in diameters else ""
        rows.append(f"| {lab.value} | {lab.name} | {lab.kind} | {tissues[lab.name]} | {counts[lab.value] * voxel_ml:.1f} | {size} |")
    series = "\n".join(
        f"- {('`' + s.subdir + '/`') if s.subdir else 'the `IM*.dcm` files here:'} series {s.number}, {s.description}" for s in spec.series
    )
    dims = "\n".join(f"| {a} | {b} | {c} |" for a, b, c in spec.dimensions)
    refs = "\n".join(f"- {r}" for r in spec.references)
    aps = []
    for a in approaches:
        chk = a["check"]
        near = ", ".join(f"{k} {v} mm" for k, v in list(chk["clearance_mm"].items())[:3])
        aps.append(
            f"### {a['name']}\n\n{a['note'][0].upper() + a['note'][1:]}.\n\n"
            f"- entry (skin), LPS mm: `{a['entry']}`\n- target ({legend.of_kind('target')[0].name}), LPS mm: `{a['target']}`\n"
            f"- needle `{a['needle']}`; depth {chk['depth_mm']} mm; passes through: {', '.join(chk['crossed'])}\n"
            f"- closest vessels/nerves (from the needle surface): {near}; no bone crossed\n"
        )
    ct_rows = "\n".join(
        f"| {name} | {v[0]:g} | {v[2]:g} | {v[3]:g} |" for name, v in render.TISSUES.items() if name != "bone"
    )
    lat = "right" if spec.frame.lateral < 0 else "left"
    return f"""# {spec.title}

{DISCLAIMER} Synthetic phantom: no patient data; every value below comes from the generator.

## What it shows

{spec.shows}

- Modality {spec.modality}, {_orientation(grid)} images, {nx} x {ny} pixels of {sp[0]:g} x {sp[1]:g} mm,
  {nz} slices {sp[2]:g} mm apart ({nx * sp[0]:.0f} x {ny * sp[1]:.0f} x {nz * sp[2]:.0f} mm).
- Patient supine, {lat} side. LPS coordinates: +x is the patient's left, +y posterior, +z superior.
{series}
- `labels.nrrd` (+ `labels.json` legend, `labels.landmarks.json`): the ground truth on the same grid as the
  images, every voxel of the body labelled. The target label is `{legend.of_kind('target')[0].name}`.

| value | structure | kind | tissue | volume (ml) | size |
| --- | --- | --- | --- | --- | --- |
{chr(10).join(rows)}

## Dimensions used

| structure | size in the phantom | source |
| --- | --- | --- |
{dims}

{refs}

## Reference approaches (textbook)

Computed by the generator on the label map: the entry is where the line meets the skin, the target
the middle of the first stretch of the target label along it. Checked: no bone crossed, every
artery, vein and nerve at least 3 mm from the needle's surface (22G, radius 0.36 mm), depth within
an 89 mm spinal needle less 10 mm for the hub. The same points are in `sample.json`.

{chr(10).join(aps)}
## How it was made

`python -m imaging.samples --only {spec.name}` (or `make samples`) runs `imaging/phantoms/{spec.module}.py`:
the anatomy is a list of smooth parametric shapes (signed distance fields of ellipsoids,
superellipsoids, rounded boxes and tubes along Catmull-Rom curves, combined with smooth unions and
offsets) in a local joint frame (mm), rasterised at the voxel centres in a fixed painting order
(later structures replace earlier ones only where allowed; a vessel or nerve that would touch a
bone stops the build). Images: tissue values plus seeded texture, cortex from an exact distance
transform of each bone (thickness by level), trabecular texture or fatty marrow, Gaussian partial
volume blur, then noise (CT: correlated Gaussian, about 13 HU; MR: Rician, with a smooth coil
shading). Seed: `{spec.seed}`. Same code and library versions give the same bytes; the hashes are
in `sample_dicom/MANIFEST.sha256` (checked by `tests/imaging/test_phantoms_manifest.py`).

Tissue values (CT in HU with iodinated contrast in the vessels; MR in arbitrary units):

| tissue | CT HU | T1 | T2 fat-sat |
| --- | --- | --- | --- |
{ct_rows}
| cortical bone | {render.CORTEX_HU:g} | 25 | 25 |
| cancellous bone / fatty marrow | {render.TRABECULAR_HU:g} / {render.FATTY_MARROW_HU:g} | 820-950 | 80-115 |
"""
