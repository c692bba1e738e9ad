"""The trained model is one click away: after a run the window offers to keep its weights, and every export route
(File > Export, Train > Export, `dlstudio export`) uses the newest run's best weights when they are newer than the
project's, names them, and lets the user pick otherwise.

The acceptance check: iris trained in the studio, exported to ONNX through the dialog, scores in onnxruntime on
the validation split (prepared as the run prepared it) what the run scored at the epoch whose weights went out.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from conftest import studio_window
from PySide6.QtCore import Qt

from dlstudio.io.project import Project
from dlstudio.training.events import Finished
from dlstudio.training.quick import mlp_for
from dlstudio.training.runs import project_runs, read_run

pytestmark = pytest.mark.timeout(420)


@pytest.fixture
def win(qtbot, tmp_path: Path):
    answers: dict[str, str] = {}
    w = studio_window(qtbot, tmp_path, lambda kind, text: answers.get(kind.split(":")[0], ""))
    w.answers = answers  # type: ignore[attr-defined]
    yield w
    if w.training is not None:
        w.training.shutdown()
    w.controller.undo_stack.setClean()


def _iris(tmp_path: Path) -> Project:
    p = Project(
        graph=mlp_for("iris", (8,)),
        data={"dataset": "iris"},
        training={"epochs": 100, "lr": 0.01, "batch_size": 32, "seed": 3},
        meta={"name": "iris"},
    )
    p.save(tmp_path / "iris.dlstudio")
    return p


def _train(qtbot, win) -> Finished:
    ws = win.training_workspace()
    with qtbot.waitSignal(ws.run_ended, timeout=240000) as blocker:
        assert win.start_training()
    event = blocker.args[0]
    assert isinstance(event, Finished), event
    return event


def _validation_split(run_dir: Path):
    """The run's validation rows, prepared (split, scaled) by the trainer's own code from its recorded settings."""
    from dlstudio.training.config import DataConfig
    from dlstudio.training.data.binding import load_data
    from dlstudio.training.data.prepare import prepare

    run = read_run(run_dir)
    assert run is not None
    dcfg = DataConfig.from_dict(run.settings["data"])
    graph = Project.load(run_dir.parent.parent / "iris.dlstudio").graph
    splits = prepare(load_data(dcfg, graph, run_dir.parent.parent), dcfg, int(run.settings["training"]["seed"]))
    assert splits.scaler == run.settings["scaler"]  # the same preparation as the run's
    assert splits.val is not None
    return splits.val.x.astype(np.float32), np.asarray(splits.val.y).reshape(-1)


def _onnx_accuracy(path: Path, x: np.ndarray, y: np.ndarray) -> float:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    return float((out.argmax(1) == y).mean())


def test_iris_trained_in_the_studio_exports_what_the_run_scored(qtbot, win, tmp_path: Path) -> None:
    assert win.open_path(_iris(tmp_path).path, ask_save=False)
    event = _train(qtbot, win)
    ws = win.training
    run = read_run(event.run_dir)
    assert run is not None and run.which == "best"
    best = next(h for h in run.history if h["epoch"] == run.epoch())
    assert best["val_accuracy"] >= 0.9, run.history[-1]
    # the offer to keep the weights: a bar in the panel, not a modal dialog
    assert ws.keep_bar.isVisible() and ws.keep_bar.keep_best.isVisible()
    assert f"best: epoch {run.epoch()}, val_accuracy" in ws.keep_bar.text.text()
    # Train > Export: the dialog offers the run's best weights first and names them
    dlg = ws.open_export("onnx")
    qtbot.addWidget(dlg)
    assert dlg.choice is not None and dlg.choice.kind == "run"
    label = dlg.weights_box.currentText()
    assert run.name in label and f"best epoch {run.epoch()}" in label and "val_accuracy" in label
    assert [dlg.weights_box.itemData(i) for i in range(dlg.weights_box.count())] == ["run", "seed"]
    target = tmp_path / "out" / "iris.onnx"
    dlg.path.setText(str(target))
    qtbot.mouseClick(dlg.export_button, Qt.MouseButton.LeftButton)
    text = dlg.output.toPlainText()
    assert target.is_file() and "VERIFIED" in text, text
    assert text.startswith(f"Weights: newest run {run.name}, best epoch {run.epoch()}, val_accuracy")
    x, y = _validation_split(Path(event.run_dir))
    acc = _onnx_accuracy(target, x, y)
    assert abs(acc - best["val_accuracy"]) <= 1e-6, (acc, best)
    # File > Export ONNX (scripted: the file name is the only question) takes the same weights
    win.answers["export"] = str(tmp_path / "file-menu.onnx")
    win._actions["ONNX model (.onnx)..."].trigger()
    assert _onnx_accuracy(tmp_path / "file-menu.onnx", x, y) == acc
    assert run.name in win.statusBar().currentMessage()
    # ... unless the user picks otherwise: the seeded initialisation is the untrained model
    dlg.choose("seed")
    dlg.export_to(tmp_path / "seed.onnx")
    assert dlg.output.toPlainText().startswith("Weights: seeded initialisation")
    assert _onnx_accuracy(tmp_path / "seed.onnx", x, y) < best["val_accuracy"]


def test_keep_weights_writes_the_sidecar_and_the_cli_follows_the_newest(qtbot, win, tmp_path: Path, capsys) -> None:
    from dlstudio.__main__ import main as cli

    project = _iris(tmp_path)
    project.training["epochs"] = 10
    project.save()
    assert win.open_path(project.path, ask_save=False)
    event = _train(qtbot, win)
    ws = win.training
    run = read_run(event.run_dir)
    assert run is not None
    assert win.project.saved_weights is None
    qtbot.mouseClick(ws.keep_bar.keep_best, Qt.MouseButton.LeftButton)
    sidecar = win.project.saved_weights
    assert sidecar is not None and "Kept" in ws.keep_bar.text.text()
    # the sidecar holds the run's best weights: the project's weights now, so exports default to them
    dlg = ws.open_export("python")
    qtbot.addWidget(dlg)
    assert dlg.choice is not None and dlg.choice.kind == "project"
    assert [dlg.weights_box.itemData(i) for i in range(dlg.weights_box.count())] == ["run", "project", "seed"]
    a, b = tmp_path / "a.onnx", tmp_path / "b.onnx"
    assert cli(["export", str(project.path), "--onnx", str(a)]) == 0
    # a newer run: the scripted path takes its weights (newer than the sidecar) and says so
    time.sleep(0.05)
    capsys.readouterr()
    newer = _train(qtbot, win)
    assert cli(["export", str(project.path), "--onnx", str(b), "--weights-from", "auto"]) == 0
    name = Path(newer.run_dir).name
    assert capsys.readouterr().out.startswith(f"weights: newest run {name}, best epoch ")
    assert [r.name for r in project_runs(tmp_path / "runs", "iris")][-1] == name
    assert cli(["export", str(project.path), "--onnx", str(b), "--weights-from", "project"]) == 0
    assert capsys.readouterr().out.startswith("weights: project weights")
    assert a.read_bytes() == b.read_bytes()


def test_the_keep_weights_bar_follows_a_theme_switch(qtbot, qapp) -> None:
    from PySide6.QtGui import QPalette

    from dlstudio.ui.theme import THEMES, apply_app_theme
    from dlstudio.ui.training.runs import KeepWeightsBar

    before = qapp.palette()
    bar = KeepWeightsBar()
    qtbot.addWidget(bar)
    try:
        apply_app_theme(qapp, THEMES["dark"])
        bar.show_message("Kept the run's best weights.")
        qapp.processEvents()
        for theme in ("light", "dark", "light"):  # the bar was shown (and polished) in the other theme
            apply_app_theme(qapp, THEMES[theme])
            qapp.processEvents()
            for role in (QPalette.ColorRole.Button, QPalette.ColorRole.ButtonText):
                assert bar.dismiss.palette().color(role) == qapp.palette().color(role), (theme, role)
            assert bar.text.palette().color(QPalette.ColorRole.WindowText) == qapp.palette().color(
                QPalette.ColorRole.WindowText
            )
    finally:
        qapp.setPalette(before)
