"""A tiny synchronous signal, so the headless model can be observed without Qt.

The studio bridges these to Qt signals; tests connect plain callables.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Signal:
    """Callbacks run in connection order; a callback may disconnect itself while running."""

    __slots__ = ("_slots", "_blocked")

    def __init__(self) -> None:
        self._slots: list[Callable[..., Any]] = []
        self._blocked = False

    def connect(self, slot: Callable[..., Any]) -> None:
        if slot not in self._slots:
            self._slots.append(slot)

    def disconnect(self, slot: Callable[..., Any]) -> None:
        if slot in self._slots:
            self._slots.remove(slot)

    def emit(self, *args: Any) -> None:
        if self._blocked:
            return
        for slot in list(self._slots):
            slot(*args)

    def block(self, blocked: bool = True) -> None:
        self._blocked = blocked

    def __len__(self) -> int:
        return len(self._slots)
