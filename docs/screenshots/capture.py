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

import dlstudio as dls  # noqa: E402
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


def main(out: Path = ROOT / "docs" / "screenshots") -> None:
    app = QApplication.instance() or QApplication([])
    tmp = Path(tempfile.mkdtemp())
    settings = QSettings(str(tmp / "capture.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings, recovery_dir=tmp / "recovery")
    apply_app_theme(app, win.theme)
    win.resize(1600, 960)
    win.show()
    win.set_project(lenet5())
    win.auto_layout()
    app.processEvents()
    win.focus_node(win.project.graph.find("fc1").id)
    win.scene.clearSelection()
    first = [win.scene.nodes[n].sceneBoundingRect() for n in list(win.project.graph.nodes)[:7]]
    rect = first[0]
    for r in first[1:]:
        rect = rect.united(r)
    win.view.fit(rect)
    win.scene.select_nodes([win.project.graph.find("conv2").id])
    win.panel.setCurrentIndex(1)
    win.panel.refresh()
    win.view.minimap.refit()
    app.processEvents()
    win.grab().save(str(out / "editor_lenet5.png"))
    # an error: Flatten removed, so Linear sees a (16, 5, 5) feature map... and a wrong kernel
    g = win.project.graph
    flat = g.find("flatten")
    win.scene.select_nodes([flat.id])
    win.delete_selection()
    pool2, fc1 = g.find("pool2"), g.find("fc1")
    win.controller.connect(pool2.id, "y", fc1.id, "x")
    win.controller.set_param([g.find("conv2").id], "kernel_size", 17)
    win.view.fit(rect)
    win.scene.select_nodes([g.find("conv2").id])
    win.panel.setCurrentIndex(0)
    win.panel.refresh()
    win.view.minimap.refit()
    app.processEvents()
    win.grab().save(str(out / "editor_error.png"))
    win.controller.undo_stack.setClean()
    win.close()


if __name__ == "__main__":
    main()
