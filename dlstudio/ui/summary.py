"""The bottom dock: diagnostics (click one to select and centre its node) and the live model summary
(layer, type, output shape, params, MACs, memory) with totals and a training-memory estimate."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor, QShowEvent
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
    """One row per layer plus a Total row. Rows are formatted when the view asks for them (only the rows on
    screen), so a refresh of a 10,000-layer model costs the order check, not 10,000 formatted rows."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.graph: ModelGraph | None = None
        self.engine: Any = None
        self.total: tuple[str, ...] = ()
        self._formatted: dict[int, tuple[str, ...]] = {}
        self.formatted_count = 0  # rows formatted so far (tests check that a refresh formats only what is shown)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.ids)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def row(self, r: int) -> tuple[str, ...]:
        """The texts of row `r`, formatted on first use after each refresh."""
        cached = self._formatted.get(r)
        if cached is None:
            cached = self._format(self.ids[r]) if self.ids[r] else self.total
            self._formatted[r] = cached
            self.formatted_count += 1
        return cached

    def _format(self, nid: str) -> tuple[str, ...]:
        g, eng = self.graph, self.engine
        if g is None or eng is None or nid not in g:  # removed since the last refresh; the next one drops it
            return ("",) * len(COLUMNS)
        node = g.node(nid)
        st = eng.stats(nid)
        outs = eng.outputs(nid)
        shape = ", ".join(str(t) for t in outs) if outs else ("?" if outs is None else "")
        return (
            node.label,
            node.type,
            shape,
            f"{int(getattr(st, 'params', 0) or 0):,}",
            human(int(getattr(st, "macs", 0) or 0)),
            fmt_bytes(int(getattr(st, "activation_bytes", 0) or 0)),
        )

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self.ids):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.row(index.row())[index.column()]
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

    def set_rows(self, graph: ModelGraph, engine: Any, ids: list[str], total: tuple[str, ...]) -> None:
        """Show layers `ids` (then the Total row). The same order keeps the view (scroll, selection) and only
        repaints; another order resets it."""
        same = ids == self.ids and graph is self.graph
        if not same:
            self.beginResetModel()
        self.graph, self.engine, self.ids, self.total = graph, engine, ids, total
        self._formatted.clear()
        if same:
            if ids:
                self.dataChanged.emit(self.index(0, 0), self.index(len(ids) - 1, len(COLUMNS) - 1))
        else:
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
        self.summary_page = page
        self._summary_stale = False
        self.summary_refreshes = 0  # table refreshes done (tests check that hidden refreshes wait)
        self._order: list[str] | None = None
        self.currentChanged.connect(lambda _i: self._show_summary_if_stale())
        self.batch.valueChanged.connect(lambda _v: self._update_memory())
        self.optimizer.currentIndexChanged.connect(lambda _i: self._update_memory())

    def bind(self, graph: ModelGraph, engine: Any) -> None:
        if self.graph is not None:
            for signal in self._structure_signals(self.graph):
                signal.disconnect(self._structure_changed)
        self.graph, self.engine = graph, engine
        for signal in self._structure_signals(graph):
            signal.connect(self._structure_changed)
        self._order = None
        self.refresh()

    @staticmethod
    def _structure_signals(graph: ModelGraph) -> tuple[Any, ...]:
        return (graph.node_added, graph.node_removed, graph.edge_added, graph.edge_removed)

    def _structure_changed(self, *_: Any) -> None:
        self._order = None  # the layer order is recomputed at the next table refresh, not per wire

    def refresh(self) -> None:
        """Diagnostics now; the summary table only while it can be seen (else when it is next shown)."""
        if self.graph is None or self.engine is None:
            return
        self._refresh_diagnostics()
        self._summary_stale = True
        if self.currentWidget() is self.summary_page and self.isVisible():
            self._refresh_summary()

    def _show_summary_if_stale(self) -> None:
        if self._summary_stale and self.currentWidget() is self.summary_page and self.isVisible():
            self._refresh_summary()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        self._show_summary_if_stale()

    def _refresh_diagnostics(self) -> None:
        assert self.graph is not None and self.engine is not None
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

    def _layer_order(self) -> list[str]:
        """Topological order when possible, cached until a layer or wire is added or removed."""
        assert self.graph is not None
        if self._order is None:
            try:
                self._order = self.graph.topological_order()
            except Exception:
                self._order = list(self.graph.nodes)
        return self._order

    def _refresh_summary(self) -> None:
        assert self.graph is not None and self.engine is not None
        g, eng = self.graph, self.engine
        self._summary_stale = False
        self.summary_refreshes += 1
        t = eng.totals()
        total = (
            "Total",
            f"{len(g)} layers",
            "",
            f"{int(getattr(t, 'params', 0)):,}",
            human(int(getattr(t, "macs", 0))),
            fmt_bytes(int(getattr(t, "activation_bytes", 0))),
        )
        self.model.set_rows(g, eng, [*self._layer_order(), ""], total)
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
