"""The inspector's block section: a selected block's name (editable), where it sits in the block tree, what is
inside it (layers and blocks at every depth, parameters, MACs, problems), and buttons to open it or expand it in
place."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from .canvas.text import human


class BlockActions:
    """What the block section's controls do (the window binds them to the controller and the view)."""

    def __init__(self) -> None:
        self.rename: Callable[[str, str], object] = lambda gid, label: None
        self.open: Callable[[str], object] = lambda gid: None
        self.toggle: Callable[[str], object] = lambda gid: None


def block_section(graph: Any, engine: Any, group_id: str, actions: BlockActions, error_colour: str) -> QWidget:
    grp = graph.group(group_id)
    deep = graph.group_nodes_deep(group_id)
    inner = graph.group_descendants(group_id)
    params = sum(int(getattr(engine.stats(n), "params", 0) or 0) for n in deep)
    macs = sum(int(getattr(engine.stats(n), "macs", 0) or 0) for n in deep)
    errors = sum(1 for n in deep if any(d.severity == "error" for d in engine.diagnostics_for(n)))
    body = QWidget()
    lay = QVBoxLayout(body)
    title = QLineEdit(grp.label)
    title.setObjectName("block_label_edit")
    f = title.font()
    f.setPointSizeF(f.pointSizeF() * 1.3)
    f.setBold(True)
    title.setFont(f)
    title.editingFinished.connect(lambda: actions.rename(group_id, title.text()))
    lay.addWidget(title)
    path = " \u203a ".join(["Model", *(graph.group(g).label for g in graph.group_path(group_id))])
    where = QLabel(f"Block \u00b7 {path}")
    where.setObjectName("block_path")
    where.setWordWrap(True)
    lay.addWidget(where)
    counts = [f"{len(deep)} layers", f"{len(grp.node_ids)} directly in it"]
    direct = graph.child_groups(group_id)
    if inner:  # direct child blocks, as the card counts them, and the total at every depth when it differs
        deeper = f" ({len(inner)} at every depth)" if len(inner) != len(direct) else ""
        counts.append(f"{len(direct)} block{'s' * (len(direct) != 1)} in it{deeper}")
    stats = QLabel(
        f"{', '.join(counts)}<br>{params:,} parameters ({human(params)}) \u00b7 {human(macs)} MACs"
        + (f"<br><span style='color:{error_colour}'>{errors} layer(s) inside have errors</span>" if errors else "")
    )
    stats.setObjectName("block_stats")
    stats.setWordWrap(True)
    lay.addWidget(stats)
    row = QHBoxLayout()
    open_b = QPushButton("Open")
    open_b.setObjectName("block_open")
    open_b.setToolTip("Show its inside as its own view (double-click or Enter on the card; Escape goes back up)")
    open_b.clicked.connect(lambda: actions.open(group_id))
    toggle = QPushButton("Expand in place" if grp.collapsed else "Collapse")
    toggle.setObjectName("block_toggle")
    toggle.setToolTip("Ctrl+E")
    toggle.clicked.connect(lambda: actions.toggle(group_id))
    row.addWidget(open_b)
    row.addWidget(toggle)
    row.addStretch(1)
    lay.addLayout(row)
    lay.addStretch(1)
    return body


__all__ = ["BlockActions", "block_section"]
