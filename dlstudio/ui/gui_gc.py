"""Garbage collection in the GUI thread only.

Python collects reference cycles in whichever thread happens to allocate when a generation fills up. A background
thread of the studio (the dataset preview loader, a run in thread isolation) would then free every cyclic
garbage object there is, pyqtgraph plots and closed panels included, and a Qt object destroyed outside the GUI
thread crashes the process (seen: a segfault "Garbage-collecting" inside the preview loader's first import of
scikit-learn, freeing the plots of a closed training dock). pyqtgraph's GarbageCollector turns automatic
collection off and collects on a timer in the GUI thread instead."""

from __future__ import annotations

import gc
from typing import Any

_collector: Any = None


def collect_in_gui_thread(interval_s: float = 1.0) -> None:
    """From now on, collect garbage only in the GUI thread, every `interval_s` when a generation is due. Call
    from the GUI thread once the QApplication exists; calling again changes nothing."""
    global _collector
    if _collector is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        _collector = GarbageCollector(interval=interval_s)


def collect_anywhere() -> None:
    """Back to Python's automatic collection, after a full collection here (in the GUI thread)."""
    global _collector
    if _collector is not None:
        _collector.timer.stop()
        _collector = None
        gc.collect()
        gc.enable()
