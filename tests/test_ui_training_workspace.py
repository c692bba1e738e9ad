"""The studio's training workspace (pytest-qt): choose a dataset, train, curves, pause/resume, stop, results,
faults, Try it, export dialogs."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from dlstudio.io.project import Project
from dlstudio.training.events import BatchEnd, Failed, Finished
from dlstudio.training.quick import mlp_for

# Bounds on waits, not expectations of speed: on a busy machine the training process (which runs below the
# window's priority) may get little CPU, so a short run can take minutes. A bound only has to tell a hang.
RUN_MS = 180_000  # a short run from Start to its end, the training process's start included
STEP_MS = 120_000  # the next thing a running run or a loader does: first batches, a pause taking hold, a preview
pytestmark = pytest.mark.timeout(480)


def _workspace(qtbot, project: Project, tmp_path: Path, **kw):
    from dlstudio.ui.training import TrainingWorkspace

    ws = TrainingWorkspace(lambda: project, runs_root=tmp_path / "runs", **kw)
    qtbot.addWidget(ws, before_close_func=lambda w: w.shutdown())  # a failed test must not leave a thread
    ws.load_project()
    return ws


def _finish(qtbot, ws, timeout: int = RUN_MS):
    if ws.worker is not None:
        with qtbot.waitSignal(ws.run_ended, timeout=timeout):
            pass
    qtbot.waitUntil(lambda: not ws.results.pending, timeout=STEP_MS)  # results views fill over a few turns
    return ws.last_event


def test_choose_dataset_train_two_epochs_results_and_onnx_export(qtbot, tmp_path: Path) -> None:
    import onnxruntime as ort

    project = Project(graph=mlp_for("digits_8x8", (32,)))
    ws = _workspace(qtbot, project, tmp_path)
    ws.data_panel.dataset.setCurrentText("digits_8x8")  # choose a dataset in the form
    ws.data_panel.test_fraction.setValue(0.2)
    ws.training_panel.epochs.setValue(2)
    ws.training_panel.lr.setValue(0.01)
    ws.training_panel.batch_size.setValue(64)
    assert project.data["dataset"] == "digits_8x8" and project.training["epochs"] == 2  # saved with the project
    assert "1x8x8" in ws.data_panel.description.text() or "8x8" in ws.data_panel.description.text()
    from dlstudio.ui.training.workspace import REPAINT_EARLY_MS, REPAINT_MS

    painted: list[tuple[float, bool]] = []  # when each repaint ran, and whether it was the run's final one
    repaint = ws.live.repaint

    def timed_repaint(final: bool = False) -> bool:
        painted.append((time.perf_counter(), final))
        return repaint(final=final)

    ws.live.repaint = timed_repaint
    repaints_before = ws.live.repaints
    assert ws.start()
    assert not ws.start_button.isEnabled() and ws.stop_button.isEnabled()
    ready: list[tuple[dict, str, int]] = []  # the run's facts, the metric plot's title then, epochs drawn then
    ws.worker.ready.connect(
        lambda facts: ready.append((facts, ws.live.metric_plot.plotItem.titleLabel.text, len(run_record.history)))
    )
    run_record = ws.run
    last = _finish(qtbot, ws)
    repaints = ws.live.repaints - repaints_before
    # the training process said what it trains before its first epoch, and the metric plot was laid out for it
    assert len(ready) == 1 and ready[0][0]["task_kind"] == "classification" and ready[0][0]["has_validation"]
    assert ready[0][1:] == ("accuracy: validation (orange)", 0)
    assert isinstance(last, Finished) and last.epochs_run == 2
    run = ws.run
    batches = int(np.ceil(ws.trainer.train_rows / 64))
    assert len(run.batch_loss) == 2 * batches
    xs, ys = ws.live.train_curve.getData()
    assert list(xs) == [1, 2] and np.all(np.isfinite(ys))
    assert len(ws.live.batch_curve.getData()[0]) == 2 * batches
    assert len(ws.live.val_curve.getData()[0]) == 2
    # the loss axis runs from 0 to just above the largest loss (it is not re-laid out for every new minimum)
    lo, hi = ws.live.loss_plot.getViewBox().viewRange()[1]
    assert lo == 0 and max(run.batch_loss) <= hi <= 1.06 * max(max(run.batch_loss), max(ys))
    ws.live.log_scale.setChecked(True)  # a log axis follows the data
    assert ws.live.loss_plot.getViewBox().autoRangeEnabled()[1]
    ws.live.log_scale.setChecked(False)
    assert ws.live.loss_plot.getViewBox().viewRange()[1][0] == 0
    # repaints follow the clock, not the batches: until the final one, no two come closer than a repaint interval
    # less the early margin. A lower bound the code enforces, so a slow machine only spaces them more
    assert 0 < repaints < len(run.batch_loss)
    times = [t for t, final in painted if not final]
    gaps_ms = [(b - a) * 1000 for a, b in zip(times, times[1:])]
    assert all(g >= REPAINT_MS - REPAINT_EARLY_MS - 2 for g in gaps_ms), gaps_ms
    assert run.status == "finished" and "finished" in ws.live.status.text()
    # the confusion matrix appears and agrees with the engine's test report
    cm = ws.results.confusion
    assert cm is not None and cm.shape == (10, 10)
    assert cm.tolist() == last.test_metrics["confusion_matrix"]
    assert ws.results.per_class.rowCount() == 10
    assert ws.results.gallery_count > 0
    assert ws.runs.table.rowCount() == 1 and ws.runs.table.item(0, 1).text() == "finished"
    # Try it: a test sample, then a drawn digit
    # Try it: the model is built when its tab is shown (the studio itself loads torch only then)
    assert ws.try_it.predict is None
    ws.tabs.setCurrentWidget(ws.try_it)
    assert ws.try_it.predict is not None
    ws.try_it.index.setValue(3)
    out = ws.try_it.outputs
    assert out is not None and out.shape == (10,) and abs(out.sum() - 1) < 1e-4
    ws.try_it.pad.stroke([(90, 30), (100, 100), (95, 170)])
    assert "your drawing" in ws.try_it.result.text()
    assert ws.try_it.pad.array(8).shape == (8, 8) and ws.try_it.pad.array(8).max() > 0.5
    # ONNX export through the dialog, with the trained weights: verified, and same predictions
    dlg = ws.open_export("onnx")
    qtbot.addWidget(dlg)
    target = tmp_path / "out" / "model.onnx"
    report = dlg.export_to(target)
    assert report is not None and target.is_file(), dlg.output.toPlainText()
    assert "VERIFIED" in dlg.output.toPlainText() and report.worst_diff <= 1e-4
    assert dlg.open_button.isEnabled()
    p = ws.predictions
    sess = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    logits = sess.run(None, {sess.get_inputs()[0].name: p.x[:20].astype(np.float32)})[0]
    assert (logits.argmax(1) == p.scores[:20].argmax(1)).all()


def test_pause_resume_stop_keeps_a_checkpoint(qtbot, tmp_path: Path) -> None:
    project = Project(
        graph=mlp_for("digits", (32,)), data={"dataset": "digits"}, training={"epochs": 200, "batch_size": 8}
    )
    ws = _workspace(qtbot, project, tmp_path, isolation="process")  # the process acknowledges a pause (below)
    assert ws.start()
    qtbot.waitUntil(lambda: ws.run is not None and len(ws.run.batch_loss) >= 3, timeout=STEP_MS)
    # the training process confirms when a pause holds its loop and when it lets go, with the batch count then;
    # the third number is how many batch events the workspace had received when the message arrived
    holds: list[tuple[bool, int, int]] = []
    ws.worker.hold_changed.connect(lambda held, n: holds.append((held, n, len(ws.run.batch_loss))))
    ws.toggle_pause()
    assert ws.pause_button.text() == "Resume" and ws.worker.paused
    qtbot.waitUntil(lambda: len(holds) == 1, timeout=STEP_MS)
    held, n, received = holds[0]
    assert held and ws.worker.held and received == n >= 3  # every batch before the pause arrived first
    ws.toggle_pause()
    qtbot.waitUntil(lambda: len(holds) == 2, timeout=STEP_MS)
    assert holds[1] == (False, n, n) and not ws.worker.held  # paused: no batch ran, none arrived meanwhile
    qtbot.waitUntil(lambda: len(ws.run.batch_loss) > n + 5, timeout=STEP_MS)
    ws.stop()
    last = _finish(qtbot, ws)
    assert isinstance(last, Finished) and last.stopped_by_user
    assert ws.run.status == "stopped"
    ckpts = list(Path(last.run_dir, "checkpoints").iterdir())
    assert ckpts and any(Path(c, "state.json").is_file() for c in ckpts)
    assert ws.start_button.isEnabled() and not ws.stop_button.isEnabled()


def test_nan_run_shows_message_and_marks_node(qtbot, tmp_path: Path) -> None:
    g = mlp_for("sine", (16,))
    project = Project(
        graph=g,
        data={"dataset": "sine", "options": {"n_samples": 200}},
        training={"epochs": 3, "optimizer": "SGD", "lr": 1e6},
    )
    ws = _workspace(qtbot, project, tmp_path)
    marked: list[str] = []
    ws.node_failed.connect(marked.append)
    assert ws.start()
    last = _finish(qtbot, ws)
    assert isinstance(last, Failed)
    assert marked and marked[0] == last.node_id and g.node(marked[0]).type == "Linear"
    text = ws.live.status.text()
    assert "Training failed" in text and "learning rate" in text and repr(g.node(marked[0]).label) in text
    assert ws.run.status == "failed"
    # the workspace stays usable: a sane learning rate trains
    ws.training_panel.lr.setValue(0.01)
    ws.training_panel.optimizer.setCurrentText("Adam")
    ws.training_panel.epochs.setValue(1)
    assert ws.start()
    assert isinstance(_finish(qtbot, ws), Finished)


def test_data_graph_misfit_names_the_input_node(qtbot, tmp_path: Path) -> None:
    g = mlp_for("circles", (8,))  # 2 features, but digits has 64
    project = Project(graph=g, data={"dataset": "digits"}, training={"epochs": 1})
    ws = _workspace(qtbot, project, tmp_path)
    marked: list[str] = []
    ws.node_failed.connect(marked.append)
    assert ws.start()
    assert _finish(qtbot, ws) is None
    assert "Training failed" in ws.live.status.text()
    assert marked and g.node(marked[0]).type == "Input"


def test_graph_edits_during_a_run_do_not_reach_it(qtbot, tmp_path: Path) -> None:
    from dlstudio.core.edits import SetParam

    g = mlp_for("moons", (16,))
    project = Project(graph=g, data={"dataset": "moons"}, training={"epochs": 4, "batch_size": 16})
    ws = _workspace(qtbot, project, tmp_path)
    assert ws.start()
    fc = g.find("fc1")
    SetParam(fc.id, "out_features", 3).apply(g)  # edit the live graph mid-run
    last = _finish(qtbot, ws)
    assert isinstance(last, Finished)
    assert ws.run_project.graph.node(fc.id).params["out_features"] == 16
    assert g.node(fc.id).params["out_features"] == 3
    # 2-D dataset: the decision boundary updated once per epoch, over the training points
    b = ws.results.boundary
    assert b is not None and b.epoch == 4 and b.labels.shape == (70, 70)
    assert set(np.unique(b.labels)) <= {0, 1} and len(b.points) > 0


def test_regression_results_and_run_overlay(qtbot, tmp_path: Path) -> None:
    project = Project(
        graph=mlp_for("sine", (16,)), data={"dataset": "sine", "test_fraction": 0.2}, training={"epochs": 2}
    )
    ws = _workspace(qtbot, project, tmp_path)
    for _ in range(2):
        assert ws.start()
        assert isinstance(_finish(qtbot, ws), Finished)
    r = ws.results
    assert r.isTabEnabled(r.indexOf(r.scatter_plot)) and not r.isTabEnabled(r.indexOf(r.roc_page))
    assert "R2" in r.summary.text() and r.confusion is None
    assert ws.runs.table.rowCount() == 2
    ws.runs.set_checked(0, True)
    ws.runs.set_checked(1, True)
    assert len(ws.live.overlays) == 2
    xs, _ = ws.live.overlays[0].getData()
    assert list(xs) == [1, 2]


def test_settings_round_trip_through_the_forms(qtbot, tmp_path: Path) -> None:
    training = {
        "optimizer": "SGD",
        "lr": 0.05,
        "batch_size": 16,
        "epochs": 7,
        "optimizer_params": {"momentum": 0.9},
        "l2": 1e-4,
        "schedule": {"name": "StepLR", "step_size": 3},
        "early_stopping": {"patience": 2},
        "seed": 5,
    }
    data = {"dataset": "moons", "options": {"n_samples": 300}, "split": "stratified", "val_fraction": 0.3}
    project = Project(graph=mlp_for("moons", (8,)), data=dict(data), training=dict(training))
    ws = _workspace(qtbot, project, tmp_path)
    assert ws.training_panel.optimizer.currentText() == "SGD" and ws.training_panel.patience.value() == 2
    t = ws.training_panel.to_dict()
    assert t["optimizer_params"] == {"momentum": 0.9} and t["schedule"] == {"name": "StepLR", "step_size": 3}
    assert t["l2"] == pytest.approx(1e-4) and t["l1"] == 0.0
    d = ws.data_panel.to_dict()
    assert d["options"] == {"n_samples": 300} and d["split"] == "stratified" and d["val_fraction"] == 0.3
    ws.training_panel.lr.setValue(0.2)
    assert project.training["lr"] == pytest.approx(0.2) and project.training["seed"] == 5
    ws.data_panel.dataset.setCurrentText("circles")
    assert project.data["dataset"] == "circles" and "options" not in project.data


def test_export_dialogs_python_with_script_weights_and_diagram(qtbot, tmp_path: Path) -> None:
    from dlstudio.ui.export_dialogs import ExportDialog

    project = Project(graph=mlp_for("iris", (8,)), data={"dataset": "iris"}, training={"epochs": 1})
    dlg = ExportDialog("python", project)
    qtbot.addWidget(dlg)
    dlg.train_script.setChecked(True)
    rep = dlg.export_to(tmp_path / "py" / "iris_model.py")
    assert rep is not None, dlg.output.toPlainText()
    assert (tmp_path / "py" / "train_iris_model.py").is_file()
    assert (tmp_path / "py" / "iris_model.safetensors").is_file()
    assert "max |diff|" in dlg.output.toPlainText()
    w = ExportDialog("weights", project)
    qtbot.addWidget(w)
    assert w.export_to(tmp_path / "w.safetensors") is not None and (tmp_path / "w.safetensors").stat().st_size > 0
    for kind in ("png", "svg"):
        d = ExportDialog(kind, project)
        qtbot.addWidget(d)
        assert d.export_to(tmp_path / f"diagram.{kind}") is not None and (tmp_path / f"diagram.{kind}").is_file()
    bad = ExportDialog("png", project)
    qtbot.addWidget(bad)
    assert bad.export_to(tmp_path / "diagram.gif") is None and "Export failed" in bad.output.toPlainText()


def test_batch_events_reach_the_gui_as_queued_signals(qtbot, tmp_path: Path) -> None:
    """The worker emits from its own thread; receivers run in the GUI thread."""
    import threading

    from dlstudio.training.project import make_trainer
    from dlstudio.ui.workers import TrainingWorker

    project = Project(graph=mlp_for("circles", (8,)), data={"dataset": "circles"}, training={"epochs": 1})
    seen: list[tuple[object, int]] = []
    w = TrainingWorker(lambda: make_trainer(project, use_run_dir=False))
    w.events_emitted.connect(lambda es: seen.extend((e, threading.get_ident()) for e in es))
    with qtbot.waitSignal(w.finished, timeout=RUN_MS):
        w.start()
    # queued signals arrive in order: the last event list was delivered before `finished`
    assert any(isinstance(e, BatchEnd) for e, _ in seen) and isinstance(seen[-1][0], Finished)
    assert {t for _, t in seen} == {threading.get_ident()}
    assert w.wait(STEP_MS)
    w.deleteLater()


def test_resume_from_a_checkpoint_continues_the_epochs(qtbot, tmp_path: Path) -> None:
    project = Project(graph=mlp_for("circles", (8,)), data={"dataset": "circles"}, training={"epochs": 2})
    ws = _workspace(qtbot, project, tmp_path)
    assert ws.start()
    first = _finish(qtbot, ws)
    assert isinstance(first, Finished)
    ckpt = sorted(Path(first.run_dir, "checkpoints").iterdir())[-1]
    ws.training_panel.epochs.setValue(4)
    assert ws.start(resume_from=ckpt)
    last = _finish(qtbot, ws)
    assert isinstance(last, Finished) and last.epochs_run == 4
    assert [h["epoch"] for h in ws.run.history] == [3, 4]  # only the new epochs arrive as events
    assert ws.run.name.startswith("resume") and len(ws.runs.runs) == 2


def test_csv_column_picker_and_training(qtbot, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = ["size,colour,noise,label"]
    for _ in range(200):
        size = rng.normal()
        colour = rng.choice(["red", "blue"])
        rows.append(f"{size:.4f},{colour},{rng.normal():.4f},{int(size > 0)}")
    path = tmp_path / "table.csv"
    path.write_text("\n".join(rows) + "\n")
    from dlstudio.training.quick import mlp_graph

    project = Project(graph=mlp_graph((3,), (8,), 2), training={"epochs": 2})
    ws = _workspace(qtbot, project, tmp_path)
    dp = ws.data_panel
    dp.dataset.setCurrentText("csv")
    dp.path.setText(str(path))
    dp._csv_columns()  # what Browse... does after picking the file
    assert dp.target.currentText() == "label" and dp.columns.rowCount() == 4
    assert dp.preview_table.rowCount() == 20 and dp.preview_table.isVisibleTo(dp)
    from PySide6.QtCore import Qt

    dp.columns.item(2, 0).setCheckState(Qt.CheckState.Unchecked)  # drop "noise"
    dp.columns.item(1, 1).setCheckState(Qt.CheckState.Checked)  # one-hot "colour"
    d = dp.to_dict()
    assert d["features"] == ["size", "colour"] and d["categorical"] == ["colour"] and d["target"] == "label"
    assert ws.start()
    last = _finish(qtbot, ws)
    assert isinstance(last, Finished), ws.live.status.text()  # size + 2 one-hot columns = 3 inputs
    assert project.data["categorical"] == ["colour"]


def test_live_view_hint_eta_and_log_scale(qtbot) -> None:
    from dlstudio.training.events import EpochEnd, EpochStarted
    from dlstudio.ui.training.live import LivePlots, RunRecord

    live = LivePlots()
    qtbot.addWidget(live)
    run = RunRecord("r", {"epochs": 4})
    live.start(run, 4)
    live.on_event(EpochStarted(1, 4, 10, 1e-3))
    for b in range(1, 6):
        live.on_event(BatchEnd(1, b, 10, 1.0 / b, b * 32, 320.0))
    live.repaint()
    # 35 batches left at 0.1 s each (32 samples at 320 samples/s)
    assert "ETA 4 s" in live.rate.text() and "320 samples/s" in live.rate.text()
    assert live.batch_curve.getData()[0][-1] == pytest.approx(0.5)
    warn = "validation loss rose for 3 epochs while training loss fell"
    live.on_event(EpochEnd(4, 4, {"loss": 0.1, "val_loss": 0.9, "lr": 1e-3}, 1e-3, 1.0, [warn]))
    live.repaint()
    assert live.hint.isVisibleTo(live) and warn in live.hint.text()
    live.log_scale.setChecked(True)
    assert live.loss_plot.getPlotItem().ctrl.logYCheck.isChecked()
    repaints = live.repaints
    live.repaint()  # nothing new: no repaint
    assert live.repaints == repaints


def test_an_image_folder_run_fills_the_results_views(qtbot, tmp_path: Path) -> None:
    from PIL import Image

    from dlstudio.api import Graph

    root = tmp_path / "images"
    for k, name in enumerate(["cats", "dogs"]):
        (root / name).mkdir(parents=True)
        for i in range(10):
            Image.fromarray(np.full((10, 12, 3), 40 + 20 * (i % 3) + 140 * k, dtype=np.uint8)).save(
                root / name / f"{i}.png"
            )
    g = Graph()
    g.output("y", g.add("Linear", g.add("Flatten", g.input("image", (3, 8, 8))), out_features=2))
    project = Project(
        graph=g,
        data={"dataset": "imagefolder", "path": str(root), "split": "stratified", "val_fraction": 0.3},
        training={"epochs": 8, "lr": 0.05, "batch_size": 4},
    )
    ws = _workspace(qtbot, project, tmp_path)
    # the data panel previews the folder: a colour grid and the classes with their image counts
    assert ws.data_panel.preview_label.text() == "Preview: 20 images in 2 classes: cats (10), dogs (10)"
    ws.data_panel.path.setText(str(tmp_path / "nowhere"))
    ws.data_panel.show_preview()
    assert "Preview unavailable" in ws.data_panel.preview_label.text()
    ws.data_panel.path.setText(str(root))
    ws.data_panel.show_preview()
    assert ws.start()
    last = _finish(qtbot, ws)
    assert isinstance(last, Finished), ws.live.status.text()
    p = ws.predictions
    assert p is not None and p.x.shape == (6, 3, 8, 8) and p.class_names == ["cats", "dogs"]
    assert ws.results.confusion is not None and ws.results.confusion.sum() == 6
    assert ws.results.gallery_count > 0


def test_builtin_previews_load_off_the_gui_thread_and_stale_ones_are_dropped(qtbot) -> None:
    from dlstudio.training.data.builtin import load_builtin
    from dlstudio.ui.training.settings import DataPanel

    dp = DataPanel()  # starts loading the default dataset's preview at once
    qtbot.addWidget(dp)
    assert dp.dataset.currentText() == "digits" and dp.stale_previews_dropped == 0
    dp.dataset.setCurrentText("iris")  # before the digits preview can have been delivered: it is stale
    qtbot.waitUntil(lambda: dp.preview_label.text() == "Preview: 150 samples", timeout=STEP_MS)
    dp.dataset.setCurrentText("digits_28x28")  # changed again before this one has loaded
    dp.dataset.setCurrentText("circles")
    n = len(load_builtin("circles").x)
    qtbot.waitUntil(lambda: dp.preview_label.text() == f"Preview: {n} samples", timeout=STEP_MS)
    # both stale loads (digits, digits_28x28) have been delivered and dropped, whichever order they came in
    qtbot.waitUntil(lambda: dp.stale_previews_dropped == 2, timeout=STEP_MS)
    assert dp.preview_label.text() == f"Preview: {n} samples"
    dp.dataset.setCurrentText("iris")  # cached: shown at once
    assert dp.preview_label.text() == "Preview: 150 samples"
