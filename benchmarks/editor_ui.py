"""Editor responsiveness at 1,000 nodes (offscreen): build the canvas, auto-layout, then time parameter-edit
round trips (edit pushed through the controller -> incremental re-check -> touched canvas items updated ->
inspector refreshed). Target: < 50 ms per edit. Run: python benchmarks/editor_ui.py [--nodes 1000]"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from dlstudio.io.project import Project  # noqa: E402
from dlstudio.ui.main_window import MainWindow  # noqa: E402


def mlp_chain(n_nodes: int) -> Project:
    """Input -> (Linear, ReLU) x k -> Output, n_nodes in all."""
    p = Project(meta={"name": f"chain{n_nodes}"})
    g = p.graph
    h = g.input("x", (32,))
    i = 0
    while len(g) < n_nodes - 1:
        h = g.add("Linear", h, out_features=32) if i % 2 == 0 else g.add("ReLU", h)
        i += 1
    g.output("y", h)
    return p


def activation_chain(n_nodes: int) -> Project:
    """Input -> ReLU x (n-2) -> Output: changing the input shape relabels every wire (the worst case)."""
    p = Project(meta={"name": f"relu{n_nodes}"})
    g = p.graph
    h = g.input("x", (32,))
    while len(g) < n_nodes - 1:
        h = g.add("ReLU", h)
    g.output("y", h)
    return p


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    QApplication.processEvents()
    return (time.perf_counter() - t0) * 1000.0


def run(n_nodes: int, edits: int) -> dict[str, float]:
    app = QApplication.instance() or QApplication([])
    tmp = Path(tempfile.mkdtemp())
    win = MainWindow(settings=QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat), recovery_dir=tmp / "recovery")
    win.resize(1400, 900)
    win.show()
    app.processEvents()
    out: dict[str, float] = {}
    project = mlp_chain(n_nodes)
    out["open (scene + analysis) ms"] = timed(lambda: win.set_project(project))
    out["auto-layout ms"] = timed(win.auto_layout)
    g = win.project.graph
    linears = [n.id for n in g.nodes.values() if n.type == "Linear"]
    target = linears[len(linears) // 2]
    win.scene.select_nodes([target])  # the inspector shows it, as when a user edits it
    app.processEvents()
    times = []
    for k in range(edits):
        times.append(timed(lambda k=k: win.controller.set_param([target], "out_features", 33 + k)))
    out["param edit round trip, median ms"] = statistics.median(times)
    out["param edit round trip, max ms"] = max(times)
    out["undo of the (merged) edit run ms"] = timed(win.undo)
    out["redo ms"] = timed(win.redo)
    out["select all ms"] = timed(win.select_all)
    out["delete all + undo ms"] = timed(lambda: (win.delete_selection(), win.undo()))
    # worst case: every wire's shape label changes
    win.set_project(activation_chain(n_nodes))
    inp = win.project.graph.find("x").id
    worst = [timed(lambda k=k: win.controller.set_param([inp], "shape", (40 + k,))) for k in range(5)]
    out["worst case (all labels change), median ms"] = statistics.median(worst)
    win.controller.undo_stack.setClean()
    win.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--edits", type=int, default=30)
    args = ap.parse_args()
    res = run(args.nodes, args.edits)
    print(f"editor_ui: {args.nodes} nodes")
    for k, v in res.items():
        print(f"  {k:45s} {v:9.1f}")
    ok = res["param edit round trip, median ms"] < 50.0
    print(f"  target < 50 ms per edit: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
