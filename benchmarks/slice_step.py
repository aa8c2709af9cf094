"""Slice step latency: from a key press in the axial view to the new slice rendered.

    python benchmarks/slice_step.py [--quick]

Generates a 512 x 512 x 300 int16 CT in memory (no files), opens the real main window
(1280 x 900, 2 x 2 layout, 3D surface and planes on) and presses Up / Down in the axial view
with real key events (then again with a label map shown over the slices). For each step it times (a) the key event until the axial view has
rendered the new slice (the view renders synchronously in the handler) and (b) until every view
(coronal and sagittal crosshairs, the 3D planes, drawn on the next event-loop turn) is done.
Alternating with each step it times the floor: one ``vtkImageReslice`` of the same slice with
the same output grid (Modified + Update), nothing drawn.

Runs itself in a child process off-screen (Qt offscreen + VTK OSMesa) and, when ``xvfb-run``
exists, in another under Xvfb (a real X server, VTK's GLX window, Mesa llvmpipe). Reports
medians; the last line is the JSON result (value = off-screen median of (a)).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

GOAL_MS = 16.0


def make_volume(nz: int = 300):
    import numpy as np

    from imaging.volume import SeriesInfo, Volume, affine_from_geometry

    rng = np.random.default_rng(0)
    z, y, x = np.ogrid[:nz, :512, :512]
    body = ((y - 256) ** 2 / 200**2 + (x - 256) ** 2 / 160**2) < 1
    arr = np.where(body, 40, -1000).astype(np.int16) + rng.integers(-30, 30, (nz, 512, 512), dtype=np.int16)
    arr[:, 300:340, 236:276] = 1200  # a "spine"
    info = SeriesInfo(modality="CT", patient_name="Benchmark^CT", series_description="benchmark CT 512x512x300")
    return Volume(arr, affine_from_geometry((-180, -180, -150), (0.7, 0.7, 1.0), np.eye(3)), info)


def child(mode: str, steps: int) -> dict:
    """Measure in this process (the display mode is set by the parent's environment)."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication
    from vtkmodules.vtkImagingCore import vtkImageReslice

    from imaging.planes import reslice_axes
    from ui.main_window import MainWindow
    from ui.views.slice_view import _matrix

    app = QApplication.instance() or QApplication([])
    window = MainWindow()
    window.resize(1280, 900)
    window.show()
    app.processEvents()
    vol = make_volume()
    t = time.perf_counter()
    window.set_volume(vol)
    app.processEvents()
    load_s = time.perf_counter() - t
    view = window.axial
    window.activateWindow()
    QTest.qWaitForWindowActive(window, 5000)  # shortcuts need the active window (X11)
    view.setFocus()
    app.processEvents()
    # the floor: the same reslice, alone
    src = view._reslice
    floor = vtkImageReslice()
    floor.SetInputData(src.GetInput())
    floor.SetOutputDimensionality(2)
    floor.SetInterpolationModeToLinear()
    floor.SetOutputSpacing(src.GetOutputSpacing())
    floor.SetOutputOrigin(src.GetOutputOrigin())
    floor.SetOutputExtent(src.GetOutputExtent())
    floor.SetBackgroundLevel(src.GetBackgroundLevel())
    step_ms, all_ms, floor_ms = [], [], []
    key = Qt.Key.Key_Up
    for i in range(steps + 5):
        before = view.slice_number()[0]
        t0 = time.perf_counter()
        QTest.keyClick(view, key)
        t1 = time.perf_counter()
        if view.slice_number()[0] == before:
            raise RuntimeError(f"{mode}: the key press did not change the slice")
        app.processEvents()  # the other views' deferred renders
        t2 = time.perf_counter()
        floor.SetResliceAxes(_matrix(reslice_axes(vol, view.plane, view._plane_origin())))
        floor.Modified()
        t3 = time.perf_counter()
        floor.Update()
        t4 = time.perf_counter()
        if i >= 5:  # warm-up
            step_ms.append((t1 - t0) * 1000)
            all_ms.append((t2 - t0) * 1000)
            floor_ms.append((t4 - t3) * 1000)
        key = Qt.Key.Key_Down if key == Qt.Key.Key_Up else Qt.Key.Key_Up
    # the same with a label map shown over the slices (body and "spine" labels, 50 % opacity)
    import numpy as np

    from imaging.labelmap import Label, LabelMap, Legend

    labels = np.where(vol.array > -500, 1, 0).astype(np.uint8)
    labels[vol.array > 1000] = 2
    window.state.set_labelmap(LabelMap(vol.with_array(labels), Legend((Label(1, "body", "skin"), Label(2, "spine", "bone")))))
    app.processEvents()
    labels_ms = []
    for i in range(steps // 2 + 5):
        t0 = time.perf_counter()
        QTest.keyClick(view, key)
        t1 = time.perf_counter()
        app.processEvents()
        if i >= 5:
            labels_ms.append((t1 - t0) * 1000)
        key = Qt.Key.Key_Down if key == Qt.Key.Key_Up else Qt.Key.Key_Up
    size = view.GetRenderWindow().GetSize()
    window.close()
    window.release_views()
    return {
        "mode": mode,
        "step_ms": statistics.median(step_ms),
        "all_views_ms": statistics.median(all_ms),
        "floor_ms": statistics.median(floor_ms),
        "labels_ms": statistics.median(labels_ms),
        "view_px": list(size),
        "slice_px": [int(e) + 1 for e in src.GetOutputExtent()[1::2]][:2],
        "load_s": round(load_s, 2),
        "render_window": view.GetRenderWindow().GetClassName(),
    }


def run_child(mode: str, steps: int) -> dict | None:
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "VTK_DEFAULT_OPENGL_WINDOW", "DISPLAY", "WAYLAND_DISPLAY")}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", mode, "--steps", str(steps)]
    if mode == "offscreen":
        env["QT_QPA_PLATFORM"] = "offscreen"
        env["VTK_DEFAULT_OPENGL_WINDOW"] = "vtkOSOpenGLRenderWindow"
    else:
        cmd = ["xvfb-run", "-a", "-s", "-screen 0 1920x1080x24"] + cmd
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=REPO)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        print(f"{mode}: failed (exit {out.returncode}): {out.stderr.strip()[-800:]}", file=sys.stderr)
        return None
    return json.loads(lines[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer steps (under 30 s)")
    ap.add_argument("--child", choices=("offscreen", "xvfb"), help=argparse.SUPPRESS)
    ap.add_argument("--steps", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.steps)))
        return 0
    steps = 30 if args.quick else 200
    results = {"offscreen": run_child("offscreen", steps)}
    if shutil.which("xvfb-run"):
        results["xvfb"] = run_child("xvfb", steps)
    for mode, r in results.items():
        if r:
            print(f"{mode:9s}: key -> axial rendered {r['step_ms']:.1f} ms ({r['labels_ms']:.1f} ms with labels shown), "
                  f"all views {r['all_views_ms']:.1f} ms, "
                  f"floor (one vtkImageReslice of the {r['slice_px'][0]}x{r['slice_px'][1]} slice) {r['floor_ms']:.1f} ms; "
                  f"view {r['view_px'][0]}x{r['view_px'][1]} px, {r['render_window']}")
    off = results.get("offscreen")
    if off is None:
        return 1
    xv = results.get("xvfb") or {}
    result = {
        "benchmark": "slice_step",
        "value": round(off["step_ms"], 2),
        "unit": "ms",
        "baseline": "one vtkImageReslice of the same 512x512 slice (floor)",
        "baseline_value": round(off["floor_ms"], 2),
        "ratio": round(off["floor_ms"] / off["step_ms"], 2),
        "goal": f"value < {GOAL_MS:g} ms (60 frames/s)",
        "all_views_ms": round(off["all_views_ms"], 2),
        "with_labels_ms": round(off["labels_ms"], 2),
        "xvfb_ms": round(xv["step_ms"], 2) if xv else None,
        "xvfb_all_views_ms": round(xv["all_views_ms"], 2) if xv else None,
        "xvfb_floor_ms": round(xv["floor_ms"], 2) if xv else None,
        "xvfb_with_labels_ms": round(xv["labels_ms"], 2) if xv else None,
        "steps": steps,
        "load_average": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
