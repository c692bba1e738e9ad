"""Runs belong to their project: an untitled project's runs move beside it with its first save; the Runs tab lists
a project's runs after reopening (settings, curves, final metrics, weights); opening another project shows its
runs and clears the previous one's results, Try it and samples."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import studio_window

from dlstudio.io.project import Project
from dlstudio.training.events import Finished
from dlstudio.training.quick import mlp_for

pytestmark = pytest.mark.timeout(420)


@pytest.fixture
def win(qtbot, tmp_path: Path, monkeypatch):
    from dlstudio.ui import run_weights

    monkeypatch.setattr(run_weights, "UNTITLED_RUNS", tmp_path / "untitled-runs")
    answers: dict[str, str] = {}
    w = studio_window(qtbot, tmp_path, lambda kind, text: answers.get(kind, "discard" if kind == "unsaved" else ""))
    w.answers = answers  # type: ignore[attr-defined]
    yield w
    if w.training is not None:
        w.training.shutdown()
    w.controller.undo_stack.setClean()


def _iris(epochs: int = 4) -> Project:
    return Project(
        graph=mlp_for("iris", (8,)),
        data={"dataset": "iris"},
        training={"epochs": epochs, "lr": 0.01, "batch_size": 16},
        meta={"name": "iris"},
    )


def _train(qtbot, win) -> Finished:
    ws = win.training_workspace()
    with qtbot.waitSignal(ws.run_ended, timeout=240000) as blocker:
        assert win.start_training()
    assert isinstance(blocker.args[0], Finished), blocker.args[0]
    qtbot.waitUntil(lambda: not ws.results.pending, timeout=10000)
    return blocker.args[0]


def test_untitled_runs_move_with_the_first_save_and_come_back_on_reopen(qtbot, win, tmp_path: Path) -> None:
    win.set_project(_iris())
    event = _train(qtbot, win)
    ws = win.training
    first = Path(event.run_dir)
    assert first.parent == tmp_path / "untitled-runs"  # untitled: a temporary folder
    # keep the best weights while untitled: written beside the project with its first save
    ws.keep_bar.keep_best.click()
    assert ws.pending_keep is not None and "when you save" in ws.keep_bar.text.text()
    target = tmp_path / "work" / "iris.dlstudio"
    target.parent.mkdir()
    win.answers["save"] = str(target)
    assert win.save()
    moved = tmp_path / "work" / "runs" / first.name
    assert moved.is_dir() and not first.exists()
    assert (moved / "best.safetensors").is_file() and (moved / "report.json").is_file()
    assert win.project.saved_weights == tmp_path / "work" / "iris.safetensors"
    assert ws.runs.runs[0].run_dir == str(moved)
    # a second run of the saved project goes beside it directly
    second = Path(_train(qtbot, win).run_dir)
    assert second.parent == tmp_path / "work" / "runs"

    # another project: no stale runs, results, Try it or samples
    ws.tabs.setCurrentWidget(ws.try_it)
    assert ws.try_it.predict is not None
    assert ws.results.confusion is not None
    ws.samples.show_grid(SimpleNamespace(grid=np.zeros((8, 8, 1), np.uint8), epoch=1, kind="samples", change=0.0))
    other = Project(graph=mlp_for("wine", (8,)), data={"dataset": "wine"}, meta={"name": "wine"})
    other.save(tmp_path / "other" / "wine.dlstudio")
    assert win.open_path(other.path)
    assert ws.runs.runs == [] and ws.runs.table.rowCount() == 0
    assert ws.results.confusion is None and ws.results.per_class.rowCount() == 0
    assert ws.results.cm_image.image is None
    assert ws.try_it.predict is None and ws.try_it.predictions is None
    assert ws.samples._pixmap is None and ws.samples.image.pixmap().isNull()
    assert not ws.keep_bar.isVisible()
    assert len(ws.live.val_curve.getData()[0] or []) == 0
    none = ws.open_export("onnx")  # the other project has no runs: the dialog offers none of the iris runs
    qtbot.addWidget(none)
    assert [none.weights_box.itemData(i) for i in range(none.weights_box.count())] == ["seed"]

    # reopen: the Runs tab lists both runs, read from their folders
    assert win.open_path(target)
    names = [r.name for r in ws.runs.runs]
    assert names == [moved.name, second.name]
    assert ws.runs.table.rowCount() == 2
    rec = ws.runs.runs[0]
    assert rec.status == "finished" and rec.settings["lr"] == pytest.approx(0.01) and rec.settings["epochs"] == 4
    assert [h["epoch"] for h in rec.history] == [1, 2, 3, 4] and "val_loss" in rec.history[-1]  # curves
    assert "val_accuracy" in rec.final and "loss" in rec.final  # final metrics
    assert (Path(rec.run_dir) / "best.safetensors").is_file()  # weights
    assert ws.runs.table.item(0, 1).text() == "finished"
    assert ws.runs.table.item(0, 5).text() == "4/4"
    assert len(ws.live.val_curve.getData()[0]) == 4  # the newest run's curves
    ws.runs.set_checked(0, True)  # overlays work on runs read back
    assert ws.runs.checked_runs() == [rec]
    # and the export dialog offers the newest of them
    dlg = ws.open_export("onnx")
    qtbot.addWidget(dlg)
    assert [dlg.weights_box.itemData(i) for i in range(dlg.weights_box.count())] == ["run", "project", "seed"]
    assert second.name in dlg.weights_box.itemText(0)


def test_a_fresh_window_lists_the_runs_of_the_project_it_opens(qtbot, win, tmp_path: Path) -> None:
    project = _iris(3)
    project.save(tmp_path / "iris.dlstudio")
    assert win.open_path(project.path)
    event = _train(qtbot, win)
    from dlstudio.ui.main_window import MainWindow

    w2 = MainWindow(settings=win.settings, recovery_dir=tmp_path / "r2")
    qtbot.addWidget(w2)
    assert w2.open_path(tmp_path / "iris.dlstudio", ask_save=False)
    ws = w2.training_workspace()
    assert [r.run_dir for r in ws.runs.runs] == [event.run_dir]
    assert ws.runs.runs[0].final and len(ws.runs.runs[0].history) == 3
    # File > Export without the panel open reads the runs from disk as well
    from dlstudio.ui.run_weights import default_weights, saved_runs

    assert default_weights(w2.project, saved_runs(w2.project)).kind == "run"
    w2.training.shutdown()
