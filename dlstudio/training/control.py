"""Thread-safe stop and pause flags shared by every trainer: the studio's worker thread sets them, the training
loop checks them between batches."""

from __future__ import annotations

import threading
from collections.abc import Callable


class RunControl:
    """Mixin: call `_init_control()` in __init__; the loop reads `_interrupted` between batches and only calls
    `_wait_if_paused()` when it is set."""

    def _init_control(self) -> None:
        self._stop = threading.Event()
        self._resume_flag = threading.Event()
        self._resume_flag.set()
        # one plain attribute read per batch while running (cheaper than two Event.is_set calls); assigning a
        # bool is atomic, so the thread that sets it needs no lock
        self._interrupted = False
        # told True when a pause actually holds the loop (no batch runs until it is let go), False when it lets
        # go; called from the loop's own thread (the studio's training process acknowledges a pause with it)
        self.on_hold: Callable[[bool], None] | None = None

    def stop(self) -> None:
        """Ask the loop to stop at the next batch boundary (also releases a pause)."""
        self._stop.set()
        self._resume_flag.set()
        self._interrupted = True

    def pause(self) -> None:
        self._resume_flag.clear()
        self._interrupted = True

    def unpause(self) -> None:
        self._resume_flag.set()
        self._interrupted = self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._resume_flag.is_set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def _wait_if_paused(self) -> bool:
        """Block while paused; True when a stop was asked."""
        if not self._resume_flag.is_set():
            hold = self.on_hold
            if hold is not None:
                hold(True)
            while not self._resume_flag.wait(0.05):
                pass
            if hold is not None:
                hold(False)
        return self._stop.is_set()
