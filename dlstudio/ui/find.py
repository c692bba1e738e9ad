"""Ctrl+F: find nodes by label, type or parameter value across every block, and jump there (entering the
block that holds a match). `find_nodes` is the search itself (no Qt); `FindBar` is the bar over the canvas."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QToolButton, QWidget

from ..core.graph import ModelGraph

MAX_RESULTS = 5000


def find_nodes(graph: ModelGraph, text: str) -> list[str]:
    """Ids of the nodes whose label, type or a parameter value contains `text` (case-insensitive), labels
    first, then types, then parameters, each in graph order. "name=value" matches that parameter only."""
    query = text.strip().lower()
    if not query:
        return []
    name, _, value = query.partition("=")
    by_label: list[str] = []
    by_type: list[str] = []
    by_param: list[str] = []
    for nid, node in graph.nodes.items():
        if value:
            v = node.params.get(name.strip())
            if v is not None and value.strip() in _text(v):
                by_param.append(nid)
            continue
        if query in node.label.lower():
            by_label.append(nid)
        elif query in node.type.lower():
            by_type.append(nid)
        elif any(query in _text(v) for v in node.params.values()):
            by_param.append(nid)
        if len(by_label) + len(by_type) + len(by_param) >= MAX_RESULTS:
            break
    return by_label + by_type + by_param


def _text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value).lower()
    return str(value).lower()


class FindBar(QWidget):
    """A search field at the top right of the canvas: typing lists the matches, Enter / Shift+Enter step
    through them (each one shown and selected), Escape closes."""

    def __init__(self, window: Any) -> None:
        super().__init__(window.view)
        self.window = window
        self.matches: list[str] = []
        self.current = -1
        self.setAutoFillBackground(True)
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 3, 6, 3)
        self.edit = QLineEdit()
        self.edit.setPlaceholderText("Find a layer: name, type or parameter value (e.g. out_features=64)")
        self.edit.setMinimumWidth(320)
        self.count = QLabel("")
        prev_b, next_b, close_b = QToolButton(), QToolButton(), QToolButton()
        prev_b.setText("\u25b2")
        next_b.setText("\u25bc")
        close_b.setText("\u2715")
        prev_b.setToolTip("Previous match (Shift+Enter)")
        next_b.setToolTip("Next match (Enter)")
        close_b.setToolTip("Close (Escape)")
        for w in (self.edit, self.count, prev_b, next_b, close_b):
            row.addWidget(w)
        self.edit.textChanged.connect(self.search)
        self.edit.returnPressed.connect(self.next)
        prev_b.clicked.connect(self.previous)
        next_b.clicked.connect(self.next)
        close_b.clicked.connect(self.close_bar)
        self.hide()

    def open_bar(self) -> None:
        self.adjustSize()
        view = self.window.view
        self.move(view.width() - self.width() - 12, 8)
        self.show()
        self.raise_()
        self.edit.setFocus()
        self.edit.selectAll()
        self.search(self.edit.text())

    def close_bar(self) -> None:
        self.hide()
        self.window.view.setFocus()

    def keyPressEvent(self, event: Any) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Escape:
            self.close_bar()
            return
        if (
            event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            and event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        ):
            self.previous()
            return
        super().keyPressEvent(event)

    def search(self, text: str) -> None:
        self.matches = find_nodes(self.window.project.graph, text)
        self.current = -1
        self._show_count()

    def _show_count(self) -> None:
        if not self.edit.text().strip():
            self.count.setText("")
        elif not self.matches:
            self.count.setText("no match")
        else:
            at = f"{self.current + 1} of " if self.current >= 0 else ""
            self.count.setText(f"{at}{len(self.matches)}")

    def next(self) -> None:
        self._step(1)

    def previous(self) -> None:
        self._step(-1)

    def _step(self, delta: int) -> None:
        if not self.matches:
            return
        self.current = (self.current + delta) % len(self.matches)
        self.window.view.jump_to(self.matches[self.current])
        self._show_count()


def install(window: Any) -> FindBar:
    """Ctrl+F on the studio window opens the find bar."""
    bar = FindBar(window)
    edit_menu = next(
        (a.menu() for a in window.menuBar().actions() if a.menu() is not None and a.text().replace("&", "") == "Edit"),
        None,
    )
    if edit_menu is not None:  # listed in Edit, where users look for it
        act = QAction("&Find layer\u2026", window)
        act.setShortcut(QKeySequence.StandardKey.Find)
        act.setStatusTip("Find layers by name, type or parameter value across every block")
        act.triggered.connect(bar.open_bar)
        edit_menu.addSeparator()
        edit_menu.addAction(act)
        window.addAction(act)
    else:
        shortcut = QShortcut(QKeySequence.StandardKey.Find, window)
        shortcut.activated.connect(bar.open_bar)
    window.find_bar = bar
    return bar


__all__ = ["FindBar", "find_nodes", "install"]
