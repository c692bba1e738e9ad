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
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QThread, Signal

from ..training.predictions import Boundary, Predictions, collect_predictions, decision_boundary, is_two_d, predict  # noqa: F401


class TrainingWorker(QThread):
    """One run. `factory()` builds the Trainer inside the thread; `stop()`, `pause()` and `resume()` are safe
    from any thread. Signals are delivered queued to receivers in the GUI thread.

    Batch events are sent in groups at most every `flush_s` seconds (any other event flushes at once): each
    queued signal wakes the GUI thread and makes the two threads trade the GIL, which at hundreds of batches a
    second costs the training thread a noticeable share of its speed."""

    events_emitted = Signal(list)  # dlstudio.training.events.Event objects, in order
    ready = Signal(dict)  # the run's facts (dlstudio.training.project.run_facts), before its first event
    setup_failed = Signal(str, object)  # message, node id (a data/graph misfit names the Input/Output node)
    boundary_ready = Signal(object)  # Boundary, after each epoch of a 2-D classification run
    predictions_ready = Signal(object)  # Predictions, after the run finished

    def __init__(
        self,
        factory: Callable[[], Any],
        parent: Any = None,
        *,
        live_boundary: bool = True,
        nice: int = int(os.environ.get("DLSTUDIO_TRAIN_NICE", "0")),
        flush_s: float = 0.05,
    ) -> None:
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
        from ..training.project import run_facts

        self.ready.emit(run_facts(trainer))
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
