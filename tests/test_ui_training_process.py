"""The studio's training process: the message protocol, arrays without pickle, and a run whose process dies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from dlstudio.io.project import Project
from dlstudio.training.events import BatchEnd, Checkpoint, EpochEnd, EpochStarted, Failed, Finished, event_from_dict
from dlstudio.training.predictions import Boundary, Predictions, load_npz, save_npz
from dlstudio.training.quick import mlp_for

ROOT = Path(__file__).resolve().parents[1]

# Bounds on waits, not expectations of speed: on a busy machine the training process (which runs below the
# window's priority) may get little CPU, so a short run can take minutes. A bound only has to tell a hang.
RUN_MS = 180_000  # a short run from Start to its end, the training process's start included
STEP_MS = 120_000  # the next thing a running run or a loader does: first batches, a pause taking hold, a preview
pytestmark = pytest.mark.timeout(480)


def test_every_event_survives_a_json_line() -> None:
    events = [
        EpochStarted(1, 3, 10, 0.01),
        BatchEnd(1, 2, 10, float("nan"), 64, 1234.5),
        EpochEnd(1, 3, {"loss": 0.5, "val_accuracy": 0.9}, 0.01, 0.2, ["rising"]),
        Checkpoint(1, "/runs/x/checkpoints/epoch_0001", True),
        Finished(3, False, True, {"loss": 0.1}, {"confusion_matrix": [[1, 0], [0, 1]]}, "/runs/x"),
        Failed("The loss became NaN", 2, 5, "n3", None),
    ]
    for e in events:
        back = event_from_dict(json.loads(json.dumps(e.to_dict())))
        assert type(back) is type(e)
        if isinstance(e, BatchEnd):
            assert np.isnan(back.loss) and back.samples == 64
        else:
            assert back == e
    with pytest.raises(ValueError, match="unknown training event"):
        event_from_dict({"event": "Exploded"})


def test_predictions_and_boundaries_cross_without_pickle(tmp_path: Path) -> None:
    p = Predictions(
        "test",
        np.random.rand(5, 1, 8, 8).astype(np.float32),
        np.arange(5),
        np.random.rand(5, 10),
        "classification",
        [str(i) for i in range(10)],
        (1, 8, 8),
    )
    back = load_npz(save_npz(p, tmp_path / "p.npz"))
    assert isinstance(back, Predictions) and back.input_shape == (1, 8, 8) and back.class_names == p.class_names
    np.testing.assert_array_equal(back.scores, p.scores)
    b = Boundary(
        3,
        np.linspace(0, 1, 4),
        np.linspace(0, 1, 5),
        np.zeros((5, 4), int),
        np.ones((5, 4)),
        np.zeros((7, 2)),
        np.arange(7),
    )
    back_b = load_npz(save_npz(b, tmp_path / "b.npz"))
    assert isinstance(back_b, Boundary) and back_b.epoch == 3
    np.testing.assert_array_equal(back_b.targets, b.targets)
    with np.load(tmp_path / "b.npz", allow_pickle=False) as z:  # plain arrays only
        assert "__meta__" in z.files


def test_the_child_speaks_json_lines_and_obeys_pause_and_stop(tmp_path: Path) -> None:
    """Drive dlstudio.training.child by hand, as the studio does: job line, then pause, resume and stop commands.
    The child confirms a pause once its loop is held, and the resume once it lets go, with the batch count."""
    project = Project(
        graph=mlp_for("circles", (8,)), data={"dataset": "circles"}, training={"epochs": 500, "batch_size": 8}
    )
    stderr = tmp_path / "stderr.txt"  # a file, not a pipe nobody reads: a chatty child cannot block on it
    with stderr.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dlstudio.training.child"],
            cwd=ROOT,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
        )
    assert proc.stdin is not None and proc.stdout is not None
    stdin = proc.stdin
    job = {"project": project.to_dict(), "run_dir": str(tmp_path / "run"), "exchange": str(tmp_path / "x")}
    kinds: list[str] = []
    events: list = []
    holds: list[tuple[str, int, int]] = []  # (message, batches it reports, batch events read before it)

    def send(line: str, *, note: bool = True) -> None:
        stdin.write(line + "\n")
        stdin.flush()
        if note:
            kinds.append(line)

    # a child that never ends would block the reading below for ever
    watchdog = threading.Timer(RUN_MS / 1000, proc.kill)
    watchdog.start()
    try:
        send(json.dumps(job), note=False)
        for line in proc.stdout:
            m = json.loads(line)
            kinds.append(m["kind"])
            if m["kind"] == "events":
                events.extend(event_from_dict(d) for d in m["events"])
                if sum(isinstance(e, BatchEnd) for e in events) >= 3 and "pause" not in kinds:
                    send("pause")
            elif m["kind"] in ("paused", "resumed"):
                holds.append((m["kind"], m["batches"], sum(isinstance(e, BatchEnd) for e in events)))
                send("resume" if m["kind"] == "paused" else "stop")
        code = proc.wait(60)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert code == 0, stderr.read_text()[-2000:]
    assert kinds[:2] == ["spare_ready", "ready"] and "boundary" not in kinds[:3]
    # held after n batches, every one of them sent first; let go with no batch run in between
    n = holds[0][1] if holds else -1
    assert holds == [("paused", n, n), ("resumed", n, n)] and n >= 3, holds
    last = events[-1]
    assert isinstance(last, Finished) and last.stopped_by_user and last.epochs_run < 500
    assert sum(isinstance(e, BatchEnd) for e in events) >= n
    assert "weights" in kinds and "predictions" in kinds
    assert list((tmp_path / "run" / "checkpoints").iterdir())  # the stop kept a checkpoint


def test_a_bad_project_is_a_setup_message_not_a_crash(tmp_path: Path) -> None:
    project = Project(graph=mlp_for("circles", (8,)), data={"dataset": "digits"}, training={"epochs": 1})
    # `dlstudio --training-process` is how a packaged studio (no `python -m`) starts the same child
    out = subprocess.run(
        [sys.executable, "-m", "dlstudio", "--training-process"],
        cwd=ROOT,
        text=True,
        capture_output=True,
        timeout=RUN_MS / 1000,
        input=json.dumps({"project": project.to_dict(), "exchange": str(tmp_path / "x")}) + "\n",
    )
    assert out.returncode == 0
    failed = [json.loads(line) for line in out.stdout.splitlines() if '"setup_failed"' in line]
    assert failed and "Input" in failed[0]["message"] and failed[0]["node_id"]


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_a_killed_training_process_fails_the_run_readably(qtbot, tmp_path: Path) -> None:
    from dlstudio.ui.training import TrainingWorkspace

    project = Project(
        graph=mlp_for("digits", (32,)), data={"dataset": "digits"}, training={"epochs": 500, "batch_size": 8}
    )
    ws = TrainingWorkspace(lambda: project, runs_root=tmp_path / "runs", isolation="process")
    qtbot.addWidget(ws, before_close_func=lambda w: w.shutdown())
    ws.load_project()
    assert ws.start()
    qtbot.waitUntil(lambda: ws.run is not None and len(ws.run.batch_loss) >= 2, timeout=STEP_MS)
    with qtbot.waitSignal(ws.run_ended, timeout=STEP_MS) as blocker:
        os.kill(ws.worker.proc.processId(), signal.SIGKILL)  # e.g. the kernel's out-of-memory killer
    last = blocker.args[0]
    assert isinstance(last, Failed) and "training process was killed" in last.message
    assert "Training failed" in ws.live.status.text() and ws.run.status == "failed"
    assert ws.worker is None and ws.start_button.isEnabled()  # the window is usable: start again
    assert ws.start()
    qtbot.waitUntil(lambda: len(ws.run.batch_loss) >= 1, timeout=STEP_MS)
    assert ws.shutdown()


def test_thread_isolation_still_trains_in_process(qtbot, tmp_path: Path) -> None:
    """isolation="thread" (DLSTUDIO_TRAIN_ISOLATION=thread) keeps the run in a QThread of the studio's process."""
    from PySide6.QtCore import QThread

    from dlstudio.training.loop import Trainer
    from dlstudio.ui.training import TrainingWorkspace

    project = Project(graph=mlp_for("circles", (8,)), data={"dataset": "circles"}, training={"epochs": 2})
    ws = TrainingWorkspace(lambda: project, runs_root=tmp_path / "runs", isolation="thread")
    qtbot.addWidget(ws, before_close_func=lambda w: w.shutdown())
    ws.load_project()
    with qtbot.waitSignal(ws.run_ended, timeout=RUN_MS) as blocker:
        assert ws.start()
        assert isinstance(ws.worker, QThread)
    assert isinstance(blocker.args[0], Finished) and isinstance(ws.trainer, Trainer)
    qtbot.waitUntil(lambda: ws.predictions is not None and ws.results.boundary is not None, timeout=STEP_MS)
    assert ws.trained_weights() is not None


def test_the_device_list_comes_from_the_training_process(qtbot, tmp_path: Path) -> None:
    """The studio does not import torch to list devices: the spare process reports them when it is ready."""
    from dlstudio.ui.process_worker import SPARES
    from dlstudio.ui.training import TrainingWorkspace

    project = Project(graph=mlp_for("circles", (8,)), data={"dataset": "circles"})
    ws = TrainingWorkspace(lambda: project, runs_root=tmp_path / "runs", isolation="process")
    qtbot.addWidget(ws, before_close_func=lambda w: w.shutdown())
    assert SPARES.wait_warm(STEP_MS) and SPARES.devices is not None  # [] on this CPU-only machine
    items = [ws.training_panel.device.itemText(i) for i in range(ws.training_panel.device.count())]
    assert items[:2] == ["auto", "cpu"] and items[2:] == SPARES.devices
    SPARES.devices_found.emit(["cuda:0", "cuda:1"])  # what a two-GPU machine's spare reports
    items = [ws.training_panel.device.itemText(i) for i in range(ws.training_panel.device.count())]
    assert items == ["auto", "cpu", "cuda:0", "cuda:1"]


def test_a_studio_run_leaves_torch_out_of_the_window_process(tmp_path: Path) -> None:
    """Open the training workspace, train, get the results: the window's own process never imports torch (its
    import and a compile would freeze the window for a second or two), until Try it or an export needs it."""
    script = f"""
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
sys.path.insert(0, {str(ROOT)!r})
import dlstudio.ui
from PySide6.QtCore import QEventLoop
from PySide6.QtWidgets import QApplication
app = QApplication([])
from dlstudio.io.project import Project
from dlstudio.training.quick import mlp_for
from dlstudio.ui.training import TrainingWorkspace
from dlstudio.ui.process_worker import SPARES
project = Project(graph=mlp_for("circles", (8,)), data={{"dataset": "circles"}}, training={{"epochs": 2}})
ws = TrainingWorkspace(lambda: project, runs_root={str(tmp_path)!r})
ws.load_project()
loop = QEventLoop()
ws.run_ended.connect(lambda e: loop.quit())
assert ws.start()
loop.exec()
assert type(ws.last_event).__name__ == "Finished", ws.live.status.text()
while ws.results.pending:
    app.processEvents()
assert ws.predictions is not None and ws.results.boundary is not None and ws.trainer is not None
print("TORCH", "torch" in sys.modules)
ws.tabs.setCurrentWidget(ws.try_it)     # Try it needs the model here: now torch loads
print("TORCH", "torch" in sys.modules, ws.try_it.outputs is not None)
SPARES.shutdown()
"""
    limit = 2 * RUN_MS / 1000  # a studio start and a whole run
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=limit)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "TORCH False" in out.stdout and "TORCH True True" in out.stdout, out.stdout


def test_a_training_process_that_cannot_start_fails_the_run_readably(qtbot, tmp_path: Path, monkeypatch) -> None:
    from dlstudio.ui import process_worker
    from dlstudio.ui.training import TrainingWorkspace

    project = Project(graph=mlp_for("circles", (8,)), data={"dataset": "circles"}, training={"epochs": 1})
    ws = TrainingWorkspace(lambda: project, runs_root=tmp_path / "runs", isolation="process")
    qtbot.addWidget(ws, before_close_func=lambda w: w.shutdown())
    process_worker.SPARES.shutdown()
    monkeypatch.setattr(process_worker.sys, "executable", str(tmp_path / "no-such-python"))
    with qtbot.waitSignal(ws.run_ended, timeout=STEP_MS) as blocker:
        assert ws.start()
    last = blocker.args[0]
    assert isinstance(last, Failed) and "could not start" in last.message and "no-such-python" in last.message
    assert ws.worker is None and ws.start_button.isEnabled()
    monkeypatch.undo()
    process_worker.SPARES.shutdown()  # the spare started after the failure used the missing program too
