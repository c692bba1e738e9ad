"""The bottom dock: diagnostics (click one to select and centre its node) and the live model summary
(layer, type, output shape, params, MACs, memory) with totals and a training-memory estimate."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSpinBox,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..core.graph import ModelGraph
from .canvas.scene import human

COLUMNS = ("Layer", "Type", "Output shape", "Params", "MACs", "Memory / sample")
NODE_ROLE = Qt.ItemDataRole.UserRole + 7


def fmt_bytes(n: float) -> str:
    for unit, div in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= div:
            return f"{n / div:.2f} {unit}"
    return f"{int(n)} B"


class SummaryModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, ...]] = []
        self.ids: list[str] = []

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.rows[index.row()][index.column()]
        if role == NODE_ROLE:
            return self.ids[index.row()]
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() >= 3:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.FontRole and self.ids[index.row()] == "":
            from PySide6.QtGui import QFont

            f = QFont()
            f.setBold(True)
            return f
        return None

    def set_rows(self, ids: list[str], rows: list[tuple[str, ...]]) -> None:
        if ids == self.ids and len(rows) == len(self.rows):
            changed = [i for i, (a, b) in enumerate(zip(self.rows, rows)) if a != b]
            self.rows = rows
            if changed:
                self.dataChanged.emit(self.index(min(changed), 0), self.index(max(changed), len(COLUMNS) - 1))
            return
        self.beginResetModel()
        self.ids, self.rows = ids, rows
        self.endResetModel()


class BottomPanel(QTabWidget):
    node_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graph: ModelGraph | None = None
        self.engine: Any = None
        self.diag_list = QListWidget()
        self.diag_list.itemClicked.connect(self._diag_clicked)
        self.diag_list.itemActivated.connect(self._diag_clicked)
        self.addTab(self.diag_list, "Diagnostics")
        page = QWidget()
        v = QVBoxLayout(page)
        v.setContentsMargins(2, 2, 2, 2)
        self.model = SummaryModel()
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.clicked.connect(lambda ix: self._row_clicked(ix))
        v.addWidget(self.table)
        bar = QHBoxLayout()
        self.totals = QLabel()
        bar.addWidget(self.totals, 1)
        bar.addWidget(QLabel("Batch size"))
        self.batch = QSpinBox(minimum=1, maximum=1 << 16, value=32)
        bar.addWidget(self.batch)
        self.optimizer = QComboBox()
        for name, key in (
            ("Adam / AdamW", "adam"),
            ("SGD + momentum", "sgd_momentum"),
            ("SGD", "sgd"),
            ("RMSprop", "rmsprop"),
        ):
            self.optimizer.addItem(name, key)
        bar.addWidget(self.optimizer)
        self.memory = QLabel()
        bar.addWidget(self.memory)
        v.addLayout(bar)
        self.addTab(page, "Summary")
        self.batch.valueChanged.connect(lambda _v: self._update_memory())
        self.optimizer.currentIndexChanged.connect(lambda _i: self._update_memory())

    def bind(self, graph: ModelGraph, engine: Any) -> None:
        self.graph, self.engine = graph, engine
        self.refresh()

    def refresh(self) -> None:
        if self.graph is None or self.engine is None:
            return
        g, eng = self.graph, self.engine
        # diagnostics: errors first
        diags = sorted(eng.diagnostics(), key=lambda d: (d.severity != "error", d.node_id or ""))
        self.diag_list.clear()
        for d in diags:
            where = g.node(d.node_id).label if d.node_id and d.node_id in g else "graph"
            extra = "".join(f" [{k} {getattr(d, k)}]" for k in ("port", "param") if getattr(d, k, None))
            mark = "\u2716" if d.severity == "error" else "\u25b2"
            item = QListWidgetItem(f"{mark}  {where}: {d.message}{extra}")
            item.setData(NODE_ROLE, d.node_id or "")
            item.setForeground(QColor("#d93025" if d.severity == "error" else "#c77700"))
            item.setToolTip(f"{d.code}: {d.message}")
            self.diag_list.addItem(item)
        if not diags and len(g):  # say so, rather than show an empty list that looks broken
            ok = QListWidgetItem("\u2714  No errors or warnings: every wire's shape fits.")
            ok.setForeground(QColor("#3fb27f"))
            ok.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.diag_list.addItem(ok)
        n_err = sum(d.severity == "error" for d in diags)
        n_warn = len(diags) - n_err
        self.setTabText(0, f"Diagnostics ({n_err} errors, {n_warn} warnings)" if diags else "Diagnostics")
        # summary rows in topological order when possible
        try:
            order = g.topological_order()
        except Exception:
            order = list(g.nodes)
        ids, rows = [], []
        for nid in order:
            node = g.node(nid)
            st = eng.stats(nid)
            outs = eng.outputs(nid)
            shape = ", ".join(str(t) for t in outs) if outs else ("?" if outs is None else "")
            act = int(getattr(st, "activation_bytes", 0) or 0)
            ids.append(nid)
            rows.append(
                (
                    node.label,
                    node.type,
                    shape,
                    f"{int(getattr(st, 'params', 0) or 0):,}",
                    human(int(getattr(st, "macs", 0) or 0)),
                    fmt_bytes(act),
                )
            )
        t = eng.totals()
        ids.append("")
        rows.append(
            (
                "Total",
                f"{len(g)} layers",
                "",
                f"{int(getattr(t, 'params', 0)):,}",
                human(int(getattr(t, "macs", 0))),
                fmt_bytes(int(getattr(t, "activation_bytes", 0))),
            )
        )
        self.model.set_rows(ids, rows)
        frozen = int(getattr(t, "frozen", 0) or 0)
        self.totals.setText(
            f"{int(getattr(t, 'params', 0)):,} parameters"
            + (f" ({frozen:,} frozen)" if frozen else "")
            + f" \u00b7 {human(int(getattr(t, 'macs', 0)))} MACs per sample"
        )
        self._update_memory()

    def _update_memory(self) -> None:
        if self.engine is None:
            return
        est = self.engine.memory_estimate(self.batch.value(), optimizer=self.optimizer.currentData())
        total = getattr(est, "total_bytes", None)
        if total is None:
            total = getattr(est, "total", 0)
        parts = [
            f"{k.split('_')[0]} {fmt_bytes(int(getattr(est, k)))}"
            for k in ("params_bytes", "grads_bytes", "optimizer_bytes", "activation_bytes", "activations_bytes")
            if hasattr(est, k)
        ]
        self.memory.setText(f"Training memory \u2248 <b>{fmt_bytes(int(total))}</b>")
        self.memory.setToolTip(" + ".join(parts) + f" at batch size {self.batch.value()}")

    def _diag_clicked(self, item: QListWidgetItem) -> None:
        nid = item.data(NODE_ROLE)
        if nid:
            self.node_activated.emit(nid)

    def _row_clicked(self, index: QModelIndex) -> None:
        nid = self.model.data(index, NODE_ROLE)
        if nid:
            self.node_activated.emit(nid)
