"""Run a training job in a child process (dlstudio.training.child) and turn its messages into the same signals
the in-process `TrainingWorker` emits, so the workspace treats both alike.

The child has its own interpreter: the trainer never waits for the GUI thread's Python and the GUI never waits
for the trainer's (see benchmarks/gui_responsiveness.py). Reading is event driven (QProcess.readyRead) in the GUI
thread; each message is one JSON line, and arrays (decision boundary, predictions, sample grids, weights) come as
files in a private exchange folder, read without pickle. One spare process (torch already imported) waits for
the next job, so pressing Start does not pay for the import.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections import deque
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QProcess, QProcessEnvironment, Signal

from ..training.events import Failed, Finished, event_from_dict
from ..training.predictions import TrainedModel, load_npz

# the training process is a batch job that never preempts the window, a little below the window's priority (see
# dlstudio.training.child); 0 gives it the full share `dlstudio train` gets on a busy machine
TRAIN_NICE = int(os.environ.get("DLSTUDIO_TRAIN_NICE", "3"))
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the folder that holds the dlstudio package


def _new_process() -> QProcess:
    proc = QProcess()
    env = QProcessEnvironment.systemEnvironment()
    path = env.value("PYTHONPATH", "")
    env.insert("PYTHONPATH", _PACKAGE_ROOT + (os.pathsep + path if path else ""))
    env.insert("PYTHONUNBUFFERED", "1")
    proc.setProcessEnvironment(env)
    proc.setProgram(sys.executable)
    # a packaged (PyInstaller) studio is its own interpreter: it runs the training process by a hidden flag
    frozen = getattr(sys, "frozen", False)
    proc.setArguments(["--training-process"] if frozen else ["-m", "dlstudio.training.child"])
    proc.start()
    return proc


class _Spares(QObject):
    """At most one idle training process, started ahead of need. Its first message also says which
    accelerators the machine has, so the studio itself need not import torch to list them."""

    devices_found = Signal(list)  # ["cuda:0", ...] (empty on a CPU-only machine)

    def __init__(self) -> None:
        super().__init__()
        self.devices: list[str] | None = None
        self.spare: QProcess | None = None
        self.warm = False  # the spare has finished its imports
        self._hooked = False

    def prepare(self) -> None:
        if self.spare is not None and self.spare.state() != QProcess.ProcessState.NotRunning:
            return
        self.warm = False
        self.spare = proc = _new_process()
        proc.readyReadStandardOutput.connect(self._on_output)
        app = QCoreApplication.instance()
        if app is not None and not self._hooked:
            app.aboutToQuit.connect(self.shutdown)
            self._hooked = True

    def _on_output(self) -> None:
        # before a job the only line a spare writes is {"kind": "spare_ready", "devices": [...]}
        if self.spare is None:
            return
        for line in bytes(self.spare.readAllStandardOutput().data()).splitlines():
            try:
                m = json.loads(line)
            except ValueError:
                continue
            if m.get("kind") == "spare_ready":
                self.warm = True
                if self.devices is None:
                    self.devices = list(m.get("devices") or [])
                    self.devices_found.emit(self.devices)

    def wait_warm(self, timeout_ms: int = 60000) -> bool:
        """Block until the spare has imported torch (benchmarks: its import must not overlap a measurement)."""
        self.prepare()
        proc = self.spare
        waited = 0
        while (
            not self.warm
            and proc is not None
            and proc.state() != QProcess.ProcessState.NotRunning
            and waited < timeout_ms
        ):
            proc.waitForReadyRead(200)
            self._on_output()
            waited += 200
        return self.warm

    def take(self) -> QProcess:
        proc, self.spare = self.spare, None
        if proc is None or proc.state() == QProcess.ProcessState.NotRunning:
            proc = _new_process()
        else:
            proc.readyReadStandardOutput.disconnect(self._on_output)
        self.warm = False
        return proc

    def shutdown(self) -> None:
        proc, self.spare = self.spare, None
        if proc is not None and proc.state() != QProcess.ProcessState.NotRunning:
            proc.closeWriteChannel()  # end of input: the spare exits on its own
            if not proc.waitForFinished(3000):
                proc.kill()
                proc.waitForFinished(1000)


SPARES = _Spares()


class TrainingProcess(QObject):
    """One run in a child process. `stop()`, `pause()` and `resume()` write a command line to the child."""

    events_emitted = Signal(list)  # Event objects, in order
    ready = Signal(dict)  # the run's facts (the child's "ready" message), before its first event
    setup_failed = Signal(str, object)  # message, node id
    boundary_ready = Signal(object)  # Boundary
    predictions_ready = Signal(object)  # Predictions
    finished = Signal()  # the process has ended and every message was delivered
    # a pause now holds the run's loop (True) or let it go (False), after this many batch events; every batch
    # event before it has been emitted already, and none runs in between
    hold_changed = Signal(bool, int)

    def __init__(self, job: dict[str, Any], graph: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.exchange = Path(tempfile.mkdtemp(prefix="dlstudio-run-"))
        self.job = {"nice": TRAIN_NICE, **job, "exchange": str(self.exchange)}
        self.graph = graph
        self.info: dict[str, Any] = {}
        self.trainer: TrainedModel | None = None
        self._paused = False
        self.held = False  # the process confirmed that a pause holds its loop (see hold_changed)
        self._ended_by_event = False
        self._reported = False
        self._start_error = ""
        self._done = False
        self._weights: str | None = None
        self._buffer = b""
        self._stderr: deque[str] = deque(maxlen=40)
        self.proc: QProcess | None = None

    # control -------------------------------------------------------------------------------------------------
    def start(self) -> None:
        proc = self.proc = SPARES.take()
        proc.setParent(self)
        proc.readyReadStandardOutput.connect(self._read)
        proc.readyReadStandardError.connect(self._read_stderr)
        proc.finished.connect(self._on_exit)
        proc.errorOccurred.connect(self._on_error)
        self._write(json.dumps(self.job))

    def _write(self, line: str) -> None:
        if self.proc is not None and self.proc.state() != QProcess.ProcessState.NotRunning:
            self.proc.write((line + "\n").encode())

    def stop(self) -> None:
        self._paused = False
        self._write("stop")

    def pause(self) -> None:
        self._paused = True
        self._write("pause")

    def resume(self) -> None:
        self._paused = False
        self._write("resume")

    @property
    def paused(self) -> bool:
        return self._paused

    def isRunning(self) -> bool:  # noqa: N802 - the QThread worker's name, so callers treat both alike
        return not self._done

    def wait(self, timeout_ms: int = 30000) -> bool:
        """Block until the process has ended and its messages were handled (window close, tests)."""
        if self._done:
            return True
        if self.proc is not None and self.proc.state() != QProcess.ProcessState.NotRunning:
            self.proc.waitForFinished(timeout_ms)
        if not self._done and self.proc is not None and self.proc.state() == QProcess.ProcessState.NotRunning:
            self._on_exit(self.proc.exitCode(), self.proc.exitStatus())
        return self._done

    # messages ------------------------------------------------------------------------------------------------
    def _read(self) -> None:
        if self.proc is None:
            return
        self._buffer += bytes(self.proc.readAllStandardOutput().data())
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            if not line.strip():
                continue
            try:
                self._handle(json.loads(line))
            except (ValueError, KeyError, OSError, TypeError) as exc:  # a damaged message: say so, keep going
                self.setup_failed.emit(f"A message from the training process could not be read: {exc}", None)

    def _read_stderr(self) -> None:
        if self.proc is not None:
            text = bytes(self.proc.readAllStandardError().data()).decode("utf-8", "replace")
            self._stderr.extend(t for t in text.splitlines() if t.strip())

    def _handle(self, m: dict[str, Any]) -> None:
        kind = m.get("kind")
        if kind == "events":
            events = [self._event(d) for d in m["events"]]
            if any(isinstance(e, (Finished, Failed)) for e in events):
                self._ended_by_event = True
            self.events_emitted.emit(events)
        elif kind == "ready":
            self.info = m
            self.ready.emit(m)
        elif kind in ("paused", "resumed"):
            self.held = kind == "paused"
            self.hold_changed.emit(self.held, int(m.get("batches", 0)))
        elif kind == "boundary":
            self.boundary_ready.emit(load_npz(Path(m["path"])))
        elif kind == "predictions":
            self.predictions_ready.emit(load_npz(Path(m["path"])))
        elif kind == "weights":
            self._weights = m["path"]
        elif kind == "setup_failed":
            self._reported = True
            self.setup_failed.emit(m["message"], m.get("node_id"))
        elif kind == "warning":
            self.setup_failed.emit(m["message"], None)

    @staticmethod
    def _event(d: dict[str, Any]) -> Any:
        event = event_from_dict(d)
        grid_path = d.get("grid_path")
        if grid_path:
            import numpy as np

            event.grid = np.load(grid_path, allow_pickle=False)  # type: ignore[attr-defined]
        return event

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and not self._done:
            detail = self.proc.errorString() if self.proc is not None else ""
            self._start_error = f"The training process could not start ({sys.executable}): {detail}"
            self._on_exit(-1, QProcess.ExitStatus.CrashExit)

    def _on_exit(self, code: int, status: QProcess.ExitStatus) -> None:
        if self._done:
            return
        self._read()
        self._read_stderr()
        if not self._ended_by_event and not self._reported:
            how = (
                "was killed (out of memory?)"
                if status == QProcess.ExitStatus.CrashExit
                else f"ended unexpectedly (exit code {code})"
            )
            tail = next((line for line in reversed(self._stderr)), "")
            message = self._start_error or f"The training process {how}" + (f": {tail}" if tail else "")
            self.events_emitted.emit([Failed(message)])
        if self._weights:
            try:
                from safetensors.numpy import load_file  # numpy: the window need not import torch for this

                self.trainer = TrainedModel(self.graph, load_file(self._weights), self.info)
            except Exception as exc:  # noqa: BLE001 - the run's own folder still has its weights
                self.setup_failed.emit(f"The trained weights could not be read back: {exc}", None)
        shutil.rmtree(self.exchange, ignore_errors=True)
        self._done = True
        self.finished.emit()
        SPARES.prepare()  # the next run starts warm; the spare's import no longer competes with this run
