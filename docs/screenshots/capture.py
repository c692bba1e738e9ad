"""Regenerates the README screenshots offscreen: `python docs/screenshots/capture.py`."""
from __future__ import annotations

import os
import tempfile
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from dlstudio.io.project import Project  # noqa: E402
from dlstudio.ui.main_window import MainWindow  # noqa: E402
from dlstudio.ui.theme import apply_app_theme  # noqa: E402


def lenet5() -> Project:
    path = ROOT / "examples" / "lenet5.dlstudio"
    if path.exists():
        return Project.load(path)
    p = Project(meta={"name": "lenet5"})
    g = p.graph
    x = g.input("image", (1, 28, 28))
    h = g.add("Conv2d", x, out_channels=6, kernel_size=5, padding=2, label="conv1")
    h = g.add("ReLU", h, label="relu1")
    h = g.add("MaxPool2d", h, kernel_size=2, label="pool1")
    h = g.add("Conv2d", h, out_channels=16, kernel_size=5, label="conv2")
    h = g.add("ReLU", h, label="relu2")
    h = g.add("MaxPool2d", h, kernel_size=2, label="pool2")
    h = g.add("Flatten", h)
    h = g.add("Linear", h, out_features=120, label="fc1")
    h = g.add("ReLU", h, label="relu3")
    h = g.add("Linear", h, out_features=84, label="fc2")
    h = g.add("ReLU", h, label="relu4")
    h = g.add("Linear", h, out_features=10, label="fc3")
    g.output("logits", h)
    return p


def fit_first(win: MainWindow, count: int) -> None:
    order = win.project.graph.topological_order()[:count]
    rect = win.scene.nodes[order[0]].sceneBoundingRect()
    for nid in order[1:]:
        rect = rect.united(win.scene.nodes[nid].sceneBoundingRect())
    win.view.fit(rect)


def main(out: Path = ROOT / "docs" / "screenshots") -> None:
    app = QApplication.instance() or QApplication([])
    tmp = Path(tempfile.mkdtemp())
    settings = QSettings(str(tmp / "capture.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings, recovery_dir=tmp / "recovery")
    apply_app_theme(app, win.theme)
    win.resize(1720, 980)
    win.show()
    win.set_project(lenet5())
    win.auto_layout()
    app.processEvents()
    g = win.project.graph
    conv = [n for n in g.nodes.values() if n.type == "Conv2d"][-1]
    fit_first(win, 6)
    win.scene.select_nodes([conv.id])
    win.panel.setCurrentIndex(1)
    win.panel.refresh()
    win.view.minimap.refit()
    app.processEvents()
    win.grab().save(str(out / "editor_lenet5.png"))
    # two errors: a kernel larger than its input, and an Output with nothing wired into it
    win.controller.set_param([conv.id], "kernel_size", 17)
    out_node = [n for n in g.nodes.values() if n.type == "Output"][0]
    win.controller.remove([], g.in_edges(out_node.id))
    fit_first(win, 6)
    win.scene.select_nodes([conv.id])
    win.panel.setCurrentIndex(0)
    win.panel.refresh()
    win.view.minimap.refit()
    app.processEvents()
    win.grab().save(str(out / "editor_error.png"))
    # the dark theme, on the default example with a block
    win.set_project(Project.load(ROOT / "examples" / "mlp_digits.dlstudio"))
    win.set_theme("dark")
    win.auto_layout()
    win.view.fit()
    win.panel.setCurrentIndex(1)
    win.panel.refresh()
    win.view.minimap.refit()
    app.processEvents()
    win.grab().save(str(out / "editor_dark.png"))
    win.set_theme("light")
    win.controller.undo_stack.setClean()
    win.close()


if __name__ == "__main__":
    main()
