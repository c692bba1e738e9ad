"""The studio's training process: one run of the event iterator in its own Python process.

Training in the studio's own process shares one interpreter lock with the GUI thread: every repaint stalls the
trainer's Python between torch calls, and every batch stalls the GUI. A child process has its own interpreter, so
the trainer uses every core at full speed and the window stays responsive (benchmarks/gui_responsiveness.py).

Protocol (text, one JSON object per line, no pickle):
  stdin   first line: the job {"project": <project file dict>, "project_path", "run_dir", "resume", "exchange",
          "live_boundary", "flush_s" (seconds between event messages, default 0.1), "nice"}; then commands "pause",
          "resume", "stop". End of input (the studio went away) stops the run, which still writes its checkpoint.
  stdout  {"kind": "spare_ready", "devices": ["cuda:0", ...]}   imports done, waiting for the job
          {"kind": "ready", ...what the studio needs to know about the run}
          {"kind": "events", "events": [event.to_dict(), ...]}   events grouped, at most one message per flush_s
                                                                  (the run's end at once, none held longer)
          {"kind": "boundary" | "predictions" | "samples", "path": file in the exchange folder}
          {"kind": "weights", "path"}                             the trained weights after Finished
          {"kind": "paused" | "resumed", "batches": n}            a pause now holds the loop / let it go, after n
                                                                  batch events (all of them sent before this line)
          {"kind": "setup_failed", "message", "node_id"}          the run could not start (a typed error's text)
Anything else the run prints goes to stderr, which the studio keeps for a crash message.

The process starts before a job exists (torch imported, waiting on stdin), so the studio keeps one spare ready and
a run starts without paying for the import.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any


def _protocol_stream() -> IO[str]:
    """A private copy of stdout for the protocol; fd 1 and sys.stdout then point at stderr, so a stray print
    (ours or a library's) cannot corrupt the stream."""
    proto = os.fdopen(os.dup(1), "w", buffering=1 << 16, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return proto


def _plain(value: Any) -> Any:
    """json.dumps fallback for numpy scalars and arrays in metrics."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class _Channel:
    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        line = json.dumps(message, default=_plain)  # NaN stays NaN: both ends are Python's json
        with self.lock:
            self.stream.write(line + "\n")
            self.stream.flush()


class _EventBatcher:
    """Groups the run's events into at most one message per `flush_s`: each message wakes the window, and a fast
    run ends several epochs a second. The end of a run goes at once; anything else held for `flush_s` (an
    epoch's end before a slow first batch) is sent by a timer thread, so no event waits for the next one."""

    def __init__(self, channel: _Channel, flush_s: float) -> None:
        self.channel, self.flush_s = channel, flush_s
        self.pending: list[dict[str, Any]] = []
        self.sent_at = time.perf_counter()
        self.closed = False
        self.cond = threading.Condition()
        threading.Thread(target=self._send_when_due, name="dlstudio-events", daemon=True).start()

    def add(self, message: dict[str, Any], at_once: bool = False) -> None:
        with self.cond:
            self.pending.append(message)
            if at_once or time.perf_counter() - self.sent_at >= self.flush_s:
                self._send()
            elif len(self.pending) == 1:
                self.cond.notify()  # the timer thread starts counting for this one

    def flush(self) -> None:
        with self.cond:
            self._send()

    def close(self) -> None:
        with self.cond:
            self._send()
            self.closed = True
            self.cond.notify()

    def _send(self) -> None:  # with self.cond held
        if self.pending:
            self.channel.send({"kind": "events", "events": self.pending})
            self.pending = []
            self.sent_at = time.perf_counter()

    def _send_when_due(self) -> None:
        with self.cond:
            while not self.closed:
                if not self.pending:
                    self.cond.wait()
                    continue
                wait = self.sent_at + self.flush_s - time.perf_counter()
                if wait > 0:
                    self.cond.wait(wait)
                else:
                    self._send()


class _Commands:
    """Reads "pause"/"resume"/"stop" from stdin on a daemon thread; commands that arrive before the trainer
    exists are applied when it does."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.trainer: Any = None
        self.stopped = False
        self.paused = False
        self.lock = threading.Lock()
        threading.Thread(target=self._read, name="dlstudio-commands", daemon=True).start()

    def attach(self, trainer: Any) -> None:
        with self.lock:
            self.trainer = trainer
            if self.paused:
                trainer.pause()
            if self.stopped:
                trainer.stop()

    def _apply(self, command: str) -> None:
        with self.lock:
            if command == "stop":
                self.stopped = True
            elif command in ("pause", "resume"):
                self.paused = command == "pause"
            t = self.trainer
            if t is None:
                return
            if command == "stop":
                t.stop()
            elif command == "pause":
                t.pause()
            elif command == "resume":
                t.unpause()

    def _read(self) -> None:
        for line in self.stream:
            self._apply(line.strip())
        self._apply("stop")  # end of input: the studio closed or died; stop at the next batch


def _yield_to_the_window(nice: int) -> None:
    """Every thread of this process (and those it starts later: torch's pool inherits) becomes a batch job a
    little below the window's priority. Linux's SCHED_BATCH does not preempt the window's thread when it wakes and
    runs the torch threads in longer slices; the studio's nice 3 (DLSTUDIO_TRAIN_NICE) gives the window the edge
    when both want a core without starving the run on a busy machine, as nice 5 did (benchmarks/
    gui_responsiveness.py: 0.85x of `dlstudio train` at nice 5 alone, 1.3x at nice 3 as a batch job, load 8-12 on
    2 cores). Linux sets both per thread, so each thread is set."""
    tasks = Path("/proc/self/task")
    for tid in [int(t.name) for t in tasks.iterdir()] if tasks.is_dir() else [0]:
        try:
            if hasattr(os, "SCHED_BATCH"):
                os.sched_setscheduler(tid, os.SCHED_BATCH, os.sched_param(0))
            if nice > 0:
                os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + nice)
        except OSError:  # not allowed here, or the thread has ended: the run goes on at normal priority
            pass


def run_job(job: dict[str, Any], channel: _Channel, commands: _Commands) -> int:
    from ..core.errors import DlstudioError
    from ..io.project import project_from_text
    from .events import BatchEnd, EpochEnd, Failed, Finished
    from .predictions import collect_predictions, decision_boundary, is_two_d, save_npz
    from .project import make_trainer, run_facts

    _yield_to_the_window(int(job.get("nice") or 0))
    try:
        exchange = Path(job["exchange"])
        exchange.mkdir(parents=True, exist_ok=True)
        project = project_from_text(json.dumps(job["project"]).encode(), job.get("project_path") or "<studio>")
        project.path = Path(job["project_path"]) if job.get("project_path") else None
        trainer = make_trainer(
            project, run_dir=job.get("run_dir"), resume=job.get("resume"), use_run_dir=job.get("run_dir") is not None
        )
    except DlstudioError as exc:
        channel.send({"kind": "setup_failed", "message": str(exc), "node_id": getattr(exc, "node_id", None)})
        return 0
    except Exception as exc:  # noqa: BLE001 - still a message in the studio's panel, not a dead process
        channel.send({"kind": "setup_failed", "message": f"{type(exc).__name__}: {exc}", "node_id": None})
        return 0
    commands.attach(trainer)
    two_d = bool(job.get("live_boundary", True)) and trainer.kind != "generative" and is_two_d(trainer)
    channel.send({"kind": "ready", **run_facts(trainer), "threads": _threads()})
    batcher = _EventBatcher(channel, float(job.get("flush_s", 0.1)))
    batches = 0

    def on_hold(held: bool) -> None:
        # called by the loop itself (this thread) where a pause blocks it: no batch runs between the two messages
        batcher.flush()
        channel.send({"kind": "paused" if held else "resumed", "batches": batches})

    trainer.on_hold = on_hold
    for event in trainer.run():
        message = event.to_dict()
        batches += isinstance(event, BatchEnd)
        grid = getattr(event, "grid", None)
        if grid is not None:  # a generative run's image grid: too big for a JSON line
            import numpy as np

            path = exchange / f"samples_{event.epoch:04d}.npy"
            np.save(path, np.asarray(grid), allow_pickle=False)
            message["grid_path"] = str(path)
        batcher.add(message, at_once=isinstance(event, (Finished, Failed)) or commands.paused)
        if isinstance(event, EpochEnd) and two_d:
            batcher.flush()  # the epoch's events before its boundary
            path = save_npz(decision_boundary(trainer, event.epoch), exchange / f"boundary_{event.epoch:04d}.npz")
            channel.send({"kind": "boundary", "path": str(path)})
        if isinstance(event, Finished):
            from .checkpoints import save_weights

            weights = save_weights(trainer.model, exchange / "weights.safetensors")
            channel.send({"kind": "weights", "path": str(weights)})
            try:
                preds = collect_predictions(trainer) if trainer.kind != "generative" else None
            except Exception as exc:  # noqa: BLE001 - results are optional; the run itself finished
                channel.send({"kind": "warning", "message": f"Results could not be computed: {exc}"})
                preds = None
            if preds is not None:
                channel.send({"kind": "predictions", "path": str(save_npz(preds, exchange / "predictions.npz"))})
    batcher.close()
    return 0


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def _warm_up() -> None:
    import torch

    from . import generative, loop, predictions, project  # noqa: F401

    # an optimizer's first construction imports torch._dynamo (~1 s): pay it now, not when the job arrives
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])


def main() -> int:
    channel = _Channel(_protocol_stream())
    _warm_up()  # the slow imports happen while the process waits as the studio's spare
    from .loop import accelerators

    channel.send({"kind": "spare_ready", "devices": accelerators()})
    line = sys.stdin.readline()
    if not line.strip():
        return 0  # the studio closed its spare without a job
    try:
        job = json.loads(line)
    except ValueError as exc:
        channel.send({"kind": "setup_failed", "message": f"the training job is not JSON: {exc}", "node_id": None})
        return 0
    commands = _Commands(sys.stdin)
    code = run_job(job, channel, commands)
    channel.stream.flush()
    sys.stderr.flush()
    # every file of the run is written and closed; skip the interpreter's teardown (torch's takes ~1 s), so
    # the studio's Start button comes back as soon as the run is over
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
