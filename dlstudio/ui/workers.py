"""Run the training engine's event iterator off the GUI thread.

`TrainingWorker` is a QThread: it builds the Trainer (data loading and compiling can take a while, so that also
happens off the GUI thread), iterates `Trainer.run()` and forwards every event as a queued signal. Receivers only
store the events; views repaint from a timer (10-20 Hz), never once per batch. Work that must touch the model
while it trains (the live decision boundary, the final predictions for the results views) runs here, in the
thread that owns the model, between events.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QThread, Signal


@dataclass
class Predictions:
    """Model outputs on one split, for the results views (numpy only, safe to hand to the GUI thread)."""

    split: str                      # "test" or "validation"
    x: np.ndarray
    y: np.ndarray
    scores: np.ndarray              # class probabilities (N, C), positive-class probability (N,), or values
    kind: str                       # "classification", "binary", "regression"
    class_names: list[str] | None
    input_shape: tuple[int, ...] = field(default_factory=tuple)


@dataclass
class Boundary:
    """Class probabilities over a grid covering a 2-D dataset, plus the training points."""

    epoch: int
    xs: np.ndarray                  # (W,) grid x coordinates
    ys: np.ndarray                  # (H,) grid y coordinates
    labels: np.ndarray              # (H, W) predicted class
    confidence: np.ndarray          # (H, W) probability of the predicted class
    points: np.ndarray              # (N, 2) training inputs
    targets: np.ndarray             # (N,) training classes


def _scores(trainer: Any, out: Any) -> Any:
    from ..training.losses import scores_of
    if trainer.kind == "regression":
        return out
    return scores_of(trainer.loss_name, out)


def predict(trainer: Any, x: Any) -> np.ndarray:
    """Scores of the trainer's model on a batch tensor (eval mode, no grad), in chunks."""
    import torch
    model = trainer.model
    was = model.training
    model.eval()
    outs = []
    try:
        with torch.no_grad():
            for i in range(0, len(x), 1024):
                xb = x[i:i + 1024].to(trainer.device)
                outs.append(_scores(trainer, trainer._pick(model(xb)).float()).cpu())
    finally:
        model.train(was)
    return torch.cat(outs).numpy() if outs else np.zeros((0,))


def collect_predictions(trainer: Any) -> Predictions | None:
    """Outputs on the test split (else the validation split); None for image folders or no held-out data."""
    for name, split in (("test", trainer.test_set), ("validation", trainer.val_set)):
        if split is not None and split.x is not None and len(split):
            scores = predict(trainer, split.x)
            kind = "regression" if trainer.kind == "regression" else \
                "binary" if trainer.kind == "binary" else "classification"
            return Predictions(name, split.x.cpu().numpy(), split.y.cpu().numpy(), scores, kind,
                               list(trainer.class_names) if trainer.class_names else None,
                               tuple(split.x.shape[1:]))
    return None


def is_two_d(trainer: Any) -> bool:
    s = trainer.train_set
    return (s.x is not None and s.x.dim() == 2 and s.x.shape[1] == 2 and s.x.is_floating_point()
            and trainer.kind != "regression")


def decision_boundary(trainer: Any, epoch: int, steps: int = 70, max_points: int = 600) -> Boundary:
    """Predicted class and confidence over a steps x steps grid that covers the training inputs."""
    import torch
    x = trainer.train_set.x.cpu()
    y = trainer.train_set.y.cpu()
    lo, hi = x.min(0).values.numpy(), x.max(0).values.numpy()
    pad = (hi - lo) * 0.1 + 1e-6
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], steps, dtype=np.float32)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], steps, dtype=np.float32)
    gx, gy = np.meshgrid(xs, ys)
    grid = torch.from_numpy(np.stack([gx.ravel(), gy.ravel()], 1))
    s = predict(trainer, grid)
    if s.ndim == 1 or s.shape[1] == 1:   # binary head: one positive-class probability
        p = s.reshape(-1)
        s = np.stack([1 - p, p], 1)
    labels = s.argmax(1).reshape(steps, steps)
    conf = s.max(1).reshape(steps, steps)
    return Boundary(epoch, xs, ys, labels, conf, x[:max_points].numpy(), y[:max_points].numpy().reshape(-1))


class TrainingWorker(QThread):
    """One run. `factory()` builds the Trainer inside the thread; `stop()`, `pause()` and `resume()` are safe
    from any thread. Signals are delivered queued to receivers in the GUI thread.

    Batch events are sent in groups at most every `flush_s` seconds (any other event flushes at once): each
    queued signal wakes the GUI thread and makes the two threads trade the GIL, which at hundreds of batches a
    second costs the training thread a noticeable share of its speed."""

    events_emitted = Signal(list)         # dlstudio.training.events.Event objects, in order
    setup_failed = Signal(str, object)    # message, node id (a data/graph misfit names the Input/Output node)
    boundary_ready = Signal(object)       # Boundary, after each epoch of a 2-D classification run
    predictions_ready = Signal(object)    # Predictions, after the run finished

    def __init__(self, factory: Callable[[], Any], parent: Any = None, *, live_boundary: bool = True,
                 nice: int = int(os.environ.get("DLSTUDIO_TRAIN_NICE", "0")), flush_s: float = 0.05) -> None:
        super().__init__(parent)
        self.flush_s = flush_s
        self.nice = nice
        self._factory = factory
        self._lock = threading.Lock()
        self._stop_requested = False
        self._pause_requested = False
        self.trainer: Any = None
        self.live_boundary = live_boundary

    # control -------------------------------------------------------------------------------------------------
    def stop(self) -> None:
        with self._lock:
            self._stop_requested = True
            if self.trainer is not None:
                self.trainer.stop()

    def pause(self) -> None:
        with self._lock:
            self._pause_requested = True
            if self.trainer is not None:
                self.trainer.pause()

    def resume(self) -> None:
        with self._lock:
            self._pause_requested = False
            if self.trainer is not None:
                self.trainer.unpause()

    @property
    def paused(self) -> bool:
        return self._pause_requested

    # the thread ----------------------------------------------------------------------------------------------
    def run(self) -> None:  # noqa: D401 - QThread override
        from ..core.errors import DlstudioError
        if self.nice and hasattr(os, "setpriority"):
            # a slightly lower priority for this thread only: the GUI thread wins the CPU when both want it
            try:
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.nice)
            except OSError:
                pass
        from ..training.events import BatchEnd, EpochEnd, Finished
        try:
            trainer = self._factory()
        except DlstudioError as exc:
            self.setup_failed.emit(str(exc), getattr(exc, "node_id", None))
            return
        except Exception as exc:  # noqa: BLE001 - anything else is still shown in the panel, not raised
            self.setup_failed.emit(f"{type(exc).__name__}: {exc}", None)
            return
        with self._lock:
            self.trainer = trainer
            if self._stop_requested:
                trainer.stop()
            if self._pause_requested:
                trainer.pause()
        two_d = self.live_boundary and is_two_d(trainer)
        pending: list[Any] = []
        last_flush = time.perf_counter()
        try:
            for event in trainer.run():
                pending.append(event)
                now = time.perf_counter()
                # flush at once when paused: the loop blocks before its next event, and the view should be current
                if not isinstance(event, BatchEnd) or now - last_flush >= self.flush_s or self._pause_requested:
                    self.events_emitted.emit(pending)
                    pending, last_flush = [], now
                if isinstance(event, EpochEnd) and two_d:
                    self.boundary_ready.emit(decision_boundary(trainer, event.epoch))
                if isinstance(event, Finished):
                    try:
                        preds = collect_predictions(trainer)
                    except Exception as exc:  # noqa: BLE001 - results are optional; the run itself finished
                        self.setup_failed.emit(f"Results could not be computed: {exc}", None)
                        preds = None
                    if preds is not None:
                        self.predictions_ready.emit(preds)
        finally:
            if pending:
                self.events_emitted.emit(pending)
            # keep the trained model for "Try it" and exports, drop the data loaders' references
            with self._lock:
                self._factory = lambda: None
