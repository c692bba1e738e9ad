"""The one training engine: epochs and batches, pause and stop, non-finite detection, events, checkpoints and the
run folder. What is trained and how (supervised, reconstruction, GAN) is a small `Task` object on it:

    engine = Engine(task, cfg, run_dir="runs/x", resume=None)
    for event in engine.run():      # never raises: a fault is the last event, Failed
        ...

Resume is exact from every checkpoint, including the one a stop writes mid-epoch (epoch_0005_interrupted): a
checkpoint holds every model, optimizer and scheduler state_dict, the RNG states (torch, CUDA, numpy, python) as
they were after the last finished batch, the epoch's sample order, the number of batches done and the epoch's
running sums. Resuming restores all of it and goes on with the next batch of that order.

A checkpoint's snapshot is taken at once (the bytes of every file); the files are written by a background thread
(checkpoint_writer.py) while the next epoch trains. The engine waits for that write before the next checkpoint,
before the run's report and before a Failed event, so `last_checkpoint` always names a complete checkpoint, and
a write that failed ends the run with a Failed event that says so.
"""

from __future__ import annotations

import math
import random
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..core.errors import DlstudioError, DlstudioWarning
from .checkpoint_writer import CheckpointWriter
from .checkpoints import encode_checkpoint, load_checkpoint, set_rng_state, weights_digest
from .config import DataConfig, TrainingConfig
from .control import RunControl
from .events import BatchEnd, Checkpoint, EpochEnd, EpochStarted, Event, Failed, Finished
from .run_writer import RunWriter


class Task:
    """What the engine trains. Subclasses set `model` (every network; an nn.ModuleDict for several),
    `optimizers` and `schedulers` (name -> object with state_dict/load_state_dict) and implement the steps."""

    name = "task"
    model: nn.Module
    optimizers: dict[str, Any]
    schedulers: dict[str, Any]
    cfg: TrainingConfig
    dcfg: DataConfig
    writes_checkpoints = True  # False on the non-main ranks of a distributed run

    # ---------------------------------------------------------------- batches
    def epoch_order(self, epoch: int) -> torch.Tensor:
        """The order in which this epoch visits the training rows (drawn here, so a checkpoint can keep it)."""
        raise NotImplementedError

    def n_batches(self) -> int:
        raise NotImplementedError

    def batches(self, order: torch.Tensor, start: int) -> Iterator[Any]:
        """The epoch's batches in `order`, from batch index `start` (0-based) on."""
        raise NotImplementedError

    def step(self, batch: Any, sums: dict[str, float]) -> tuple[float, int] | None:
        """One update. Adds the batch's sums to `sums` and returns (loss shown per batch, rows), or None for a
        batch skipped alike on every rank. A non-finite loss is returned before any weight changes."""
        raise NotImplementedError

    def locate_nonfinite(self) -> tuple[str, str | None, str]:
        """After a non-finite step: (what went non-finite, graph node id or None, where in words)."""
        return "loss", None, "the loss is not finite"

    # ---------------------------------------------------------------- epochs
    @property
    def lr(self) -> float:
        return float(next(iter(self.schedulers.values())).lr)

    def start(self) -> None:
        """Called once in run(), before the first epoch (distributed set-up, wrapping)."""

    def end_epoch(self, epoch: int, sums: dict[str, float], seen: int) -> dict[str, float]:
        """The epoch's metrics from the running sums, plus validation."""
        return {k: v / max(seen, 1) for k, v in sums.items()}

    def after_epoch(self, epoch: int, metrics: dict[str, float]) -> bool:
        """Step the schedules, track the best epoch; True when early stopping says stop."""
        return False

    def epoch_events(self, epoch: int, run_dir: Path | None) -> list[Event]:
        """Events after EpochEnd (the per-epoch sample grid)."""
        return []

    def is_best(self, epoch: int) -> bool:
        return False

    def warnings(self, history: list[dict[str, float]]) -> list[str]:
        return []

    # ---------------------------------------------------------------- state and the run folder
    def extra_state(self) -> dict[str, Any]:
        """Task state a checkpoint keeps besides the state_dicts (best epoch, last sample grid, ...)."""
        return {}

    def load_extra_state(self, extra: dict[str, Any], checkpoint: dict[str, Any]) -> None:
        """The inverse of extra_state; raises TrainingConfigError for a checkpoint of another kind of run."""

    def best_state(self) -> dict[str, torch.Tensor] | None:
        return None

    def settings(self) -> dict[str, Any]:
        """What settings.json holds (plain data)."""
        return {}

    def finish(self, writer: RunWriter | None, outcome: Outcome) -> dict[str, Any]:
        """The run's end: final evaluation, weights and report into the run folder. Returns the test metrics."""
        return {}


@dataclass
class Outcome:
    """How a run ended, for the task's report."""

    title: str  # the project's name, else the run folder's
    epochs_run: int
    stopped_early: bool
    stopped_by_user: bool
    history: list[dict[str, float]]
    last_checkpoint: str | None


@dataclass
class _Position:
    """Where a stopped epoch stands: its order, the batches done and its running sums."""

    epoch: int
    order: torch.Tensor
    done: int
    sums: dict[str, float] = field(default_factory=dict)
    seen: int = 0


class Engine(RunControl):
    """Runs one task: `run()` yields events; `stop()`/`pause()` from any thread take effect between batches.
    `resume` is a checkpoint folder; without `run_dir` the run goes on in the checkpoint's own run folder."""

    def __init__(
        self,
        task: Task,
        *,
        run_dir: str | Path | None = None,
        resume: str | Path | None = None,
        project_meta: dict[str, Any] | None = None,
    ) -> None:
        self.task = task
        self.cfg = task.cfg
        self._init_control()
        self._resume_ckpt = load_checkpoint(Path(resume)) if resume is not None else None
        if run_dir is None and self._resume_ckpt is not None:  # continue in the checkpoint's own run folder
            run_dir = self._resume_ckpt["folder"].parent.parent
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.writer = RunWriter(self.run_dir, enabled=task.writes_checkpoints) if self.run_dir is not None else None
        self.project_meta = dict(project_meta or {})
        self.epoch = 0  # epochs completed
        self.history: list[dict[str, float]] = []
        self._checkpoints = CheckpointWriter()
        self._position: _Position | None = None

    @property
    def last_checkpoint(self) -> str | None:
        """The last checkpoint written whole (one still being written is not counted)."""
        done = self._checkpoints.done
        return str(done) if done is not None else None

    # ------------------------------------------------------------------ checkpoints
    def _checkpoint(self, position: _Position | None = None) -> str | None:
        """Snapshot the state now and hand the files to the background writer; returns the folder."""
        if self.writer is None or not self.task.writes_checkpoints:
            return None
        extra: dict[str, Any] = {
            "task": self.task.name,
            "history": self.history,
            "task_state": self.task.extra_state(),
            "partial": position is not None,
        }
        if position is not None:
            extra["position"] = {
                "epoch": position.epoch,
                "order": position.order,
                "done": position.done,
                "sums": dict(position.sums),
                "seen": position.seen,
            }
        name = f"epoch_{self.epoch:04d}" + ("_interrupted" if position is not None else "")
        folder = self.writer.run_dir / "checkpoints" / name
        files = encode_checkpoint(
            model=self.task.model,
            optimizers={k: o.state_dict() for k, o in self.task.optimizers.items()},
            schedulers={k: s.state_dict() for k, s in self.task.schedulers.items()},
            epoch=self.epoch,
            extra=extra,
            best_state=self.task.best_state(),
        )
        self._checkpoints.submit(folder, files)  # raises if the previous write failed
        return str(folder)

    def wait_for_checkpoints(self) -> None:
        """Block until the checkpoint being written is on disk; raises CheckpointWriteError if it failed."""
        self._checkpoints.wait()

    def _restore(self, ck: dict[str, Any]) -> None:
        extra = ck["extra"]
        self.task.load_extra_state(extra.get("task_state") or {}, ck)
        self.task.model.load_state_dict(ck["model"])
        optimizers, schedulers = ck["optimizers"], ck["schedulers"]
        for name, opt in self.task.optimizers.items():
            opt.load_state_dict(optimizers[name])
        for name, sched in self.task.schedulers.items():
            sched.load_state_dict(schedulers[name])
        self.epoch = int(ck["epoch"])
        self.history = list(extra.get("history", []))
        pos = extra.get("position")
        if pos is not None:
            self._position = _Position(
                int(pos["epoch"]), pos["order"], int(pos["done"]), dict(pos["sums"]), int(pos["seen"])
            )
        set_rng_state(ck["rng_tensors"], ck["rng_meta"])
        if self.writer is not None:
            self.writer.rewrite_history(self.history)

    def weights_digest(self) -> str:
        return weights_digest(self.task.model)

    # ------------------------------------------------------------------ the loop
    def run(self) -> Iterator[Event]:
        """Yield events until the run ends; the last event is Finished or Failed (never raises)."""
        where: list[int | None] = [None, None]  # epoch, batch: for the message of an unexpected fault
        try:
            yield from self._run(where)
        except Exception as exc:  # noqa: BLE001 - any fault from data or model becomes a Failed event
            epoch, batch = where
            at = "" if epoch is None else f" (epoch {epoch}, batch {batch})" if batch else f" (epoch {epoch})"
            # our own errors are sentences for the user; anything else is named by its type
            text = str(exc) if isinstance(exc, DlstudioError) else f"{type(exc).__name__}: {exc}"
            also = self._checkpoints.settle()  # a checkpoint still in flight: finished, or named as failed too
            if also is not None:
                text += f"; {also}"
            yield Failed(f"{text}{at}", epoch, batch, None, self.last_checkpoint)
        finally:  # also when the caller stops iterating: a write in flight ends before run() returns
            lost = self._checkpoints.settle()
            if lost is not None:  # no event can be yielded any more: say it as a warning
                warnings.warn(str(lost), DlstudioWarning, stacklevel=2)

    def _run(self, where: list[int | None]) -> Iterator[Event]:
        task, cfg = self.task, self.cfg
        task.start()
        if self._resume_ckpt is not None:
            self._restore(self._resume_ckpt)
        else:
            torch.manual_seed(cfg.seed)
            np.random.seed(cfg.seed)
            random.seed(cfg.seed)
        if self.writer is not None:
            self.writer.start(
                {**task.settings(), "meta": self.project_meta, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
            )
        stopped_early = stopped_user = False
        n_batches = task.n_batches()
        step, clock, isfinite = task.step, time.perf_counter, math.isfinite
        while self.epoch < cfg.epochs and not self._stop.is_set():
            epoch = self.epoch + 1
            where[:] = [epoch, None]
            pos, self._position = self._position, None
            if pos is None or pos.epoch != epoch:
                pos = _Position(epoch, task.epoch_order(epoch), 0)
            sums, seen, start = pos.sums, pos.seen, pos.done
            yield EpochStarted(epoch, cfg.epochs, n_batches, task.lr)
            t0 = clock()
            task.model.train()
            interrupted = False
            batch = start
            for batch, data in enumerate(task.batches(pos.order, start), start + 1):
                if self._interrupted and self._wait_if_paused():  # a pause waits here, between batches
                    interrupted = True
                    break
                where[1] = batch
                result = step(data, sums)
                if result is None:
                    continue
                value, rows = result
                if not isfinite(value):
                    yield self._nonfinite(epoch, batch, value)
                    return
                seen += rows
                yield BatchEnd(epoch, batch, n_batches, value, seen, seen / max(clock() - t0, 1e-9))
            if interrupted:
                stopped_user = True
                self._checkpoint(_Position(epoch, pos.order, batch - 1, sums, seen))
                break
            where[1] = None
            metrics = task.end_epoch(epoch, sums, seen)
            lr = task.lr
            metrics["lr"] = lr
            self.epoch = epoch
            self.history.append({"epoch": epoch, **metrics})
            stop_now = task.after_epoch(epoch, metrics)
            if self.writer is not None:
                self.writer.epoch(self.history[-1])
            yield EpochEnd(epoch, cfg.epochs, metrics, lr, clock() - t0, task.warnings(self.history))
            yield from task.epoch_events(epoch, self.run_dir)
            if self.writer is not None and (epoch % cfg.checkpoint_every == 0 or epoch == cfg.epochs or stop_now):
                path = self._checkpoint()
                if path:
                    yield Checkpoint(epoch, path, best=task.is_best(epoch))
            if stop_now:
                stopped_early = True
                break
        where[:] = [None, None]
        self.wait_for_checkpoints()  # the report names the last checkpoint: it is complete by then
        stopped_user = stopped_user or self._stop.is_set()
        title = str(self.project_meta.get("name") or (self.run_dir.name if self.run_dir else "run"))
        outcome = Outcome(title, self.epoch, stopped_early, stopped_user, self.history, self.last_checkpoint)
        test = task.finish(self.writer, outcome)
        final = dict(self.history[-1]) if self.history else {}
        final.pop("epoch", None)
        yield Finished(
            self.epoch, stopped_early, stopped_user, final, test, str(self.run_dir) if self.run_dir else None
        )

    def _nonfinite(self, epoch: int, batch: int, value: float) -> Failed:
        self.wait_for_checkpoints()  # the message names the last good checkpoint
        what, node_id, where = self.task.locate_nonfinite()
        msg = (
            f"The {what} became {'NaN' if math.isnan(value) else 'Inf'} at epoch {epoch}, batch {batch}: {where}. "
            f"Try a lower learning rate (now {self.task.lr:g}), gradient clipping, or scaling the inputs; the last "
            f"good checkpoint is {self.last_checkpoint or 'none (no run folder or no epoch finished)'}"
        )
        return Failed(msg, epoch, batch, node_id, self.last_checkpoint)
