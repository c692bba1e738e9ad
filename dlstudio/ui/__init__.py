"""The studio window (PySide6). Everything Qt lives here and in dlstudio/app.py."""
from __future__ import annotations

import sys


def _pin_none_refcount() -> None:
    """Work around a PySide6 6.12 bug on Python < 3.12: every call of a Qt method that returns void drops one
    reference to None (its bindings assume None is immortal, as it is from 3.12 on). A busy editor makes
    millions of such calls and the interpreter aborts with "none_dealloc". Giving None a huge reference count
    makes it immortal in practice, which is exactly what Python 3.12 does."""
    if sys.version_info >= (3, 12):
        return
    import ctypes
    refcnt = ctypes.c_ssize_t.from_address(id(None))  # ob_refcnt is the first field of every object
    if refcnt.value < 1 << 50:
        refcnt.value += 1 << 60


_pin_none_refcount()
