"""Thread-safe stop and pause flags shared by every trainer: the studio's worker thread sets them, the training
loop checks them between batches."""
from __future__ import annotations

import threading


class RunControl:
    """Mixin: call `_init_control()` in __init__; the loop calls `_wait_if_paused()` between batches."""

    def _init_control(self) -> None:
        self._stop = threading.Event()
        self._resume_flag = threading.Event()
        self._resume_flag.set()

    def stop(self) -> None:
        """Ask the loop to stop at the next batch boundary (also releases a pause)."""
        self._stop.set()
        self._resume_flag.set()

    def pause(self) -> None:
        self._resume_flag.clear()

    def unpause(self) -> None:
        self._resume_flag.set()

    @property
    def paused(self) -> bool:
        return not self._resume_flag.is_set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def _wait_if_paused(self) -> bool:
        """Block while paused; True when a stop was asked."""
        if not self._resume_flag.is_set():   # fast path: one attribute read per batch when running
            while not self._resume_flag.wait(0.05):
                pass
        return self._stop.is_set()
