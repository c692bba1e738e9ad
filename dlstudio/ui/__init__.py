"""The studio window (PySide6). Everything Qt lives here and in dlstudio/app.py."""

from __future__ import annotations

import sys


def _pin_singleton_refcounts() -> None:
    """Work around PySide6 6.12 bugs on Python < 3.12, whose bindings assume immortal singletons (as 3.12 has):
    every call of a Qt method that returns void drops one reference to None, and every successful
    SignalInstance.disconnect() (pyqtgraph disconnects on each plot item added or removed) drops one reference to
    True. A busy editor makes millions of such calls and the interpreter aborts ("none_dealloc" /
    "bool_dealloc"). Giving None, True and False a huge reference count makes them immortal in practice, which
    is exactly what Python 3.12 does."""
    if sys.version_info >= (3, 12):
        return
    import ctypes

    for obj in (None, True, False):
        refcnt = ctypes.c_ssize_t.from_address(id(obj))  # ob_refcnt is the first field of every object
        if refcnt.value < 1 << 50:
            refcnt.value += 1 << 60


_pin_singleton_refcounts()


def freeze_startup_objects() -> None:
    """Move every object that exists now (modules, widgets, the layer catalog) out of the garbage collector's
    view. Python's full collections otherwise walk them all, 60-90 ms with torch and pyqtgraph loaded, which
    shows as a stutter (benchmarks/gui_responsiveness.py). Called when the window is up and again when the
    training dock has loaded its views; objects created later are collected as usual."""
    import gc

    gc.collect()
    gc.freeze()
