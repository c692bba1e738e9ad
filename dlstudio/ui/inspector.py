"""The inspector: a form built from the selected node's ParamSpecs.

One editor per parameter kind; advanced parameters folded; derived values (inferred sizes, output shape,
parameters, MACs) read-only; invalid values refused inline with the reason. With several nodes selected, the
parameters they share edit all of them. The form blocks its own signals while it refreshes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..analysis.ports import gather_inputs
from ..core.errors import DlstudioError, ParamError, UnknownLayerError
from ..core.graph import ModelGraph
from ..layers.registry import REGISTRY
from ..layers.spec import ParamSpec, _no_params
from .canvas.scene import human
from .inspector_block import BlockActions, block_section

INT_MIN, INT_MAX = -(2**31) + 1, 2**31 - 1


class _FloatSpin(QDoubleSpinBox):
    """Shows 0.1, not 0.100000; keeps full precision underneath."""

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt override
        return f"{value:.6g}"


class ParamEditor(QWidget):
    """Wraps the editor for one parameter; `edited(value)` carries a raw value for validation."""

    edited = Signal(object)

    def __init__(self, spec: ParamSpec) -> None:
        super().__init__()
        self.spec = spec
        self.lay = QHBoxLayout(self)
        self.lay.setContentsMargins(0, 0, 0, 0)
        self.widgets: list[QWidget] = []
        self.link: QToolButton | None = None
        self.mode: QComboBox | None = None
        self.none_box: QCheckBox | None = None
        self._build()
        if spec.nullable:
            # None usually means "the layer decides" (e.g. stride = kernel_size for pooling)
            self.none_box = QCheckBox("auto")
            self.none_box.setToolTip(f"Leave {spec.name} unset (None): {spec.doc}")
            self.none_box.toggled.connect(self._none_toggled)
            self.lay.insertWidget(0, self.none_box)

    def _spin(self, is_float: bool) -> QSpinBox | QDoubleSpinBox:
        s = self.spec
        if is_float:
            w: QSpinBox | QDoubleSpinBox = _FloatSpin()
            w.setDecimals(6)
            w.setSingleStep(0.01 if (s.max or 10) <= 1 else 0.1)
            w.setRange(s.min if s.min is not None else -1e9, s.max if s.max is not None else 1e9)
            w.setStepType(QDoubleSpinBox.StepType.AdaptiveDecimalStepType)
        else:
            w = QSpinBox()
            w.setRange(int(s.min) if s.min is not None else INT_MIN, int(s.max) if s.max is not None else INT_MAX)
        w.setKeyboardTracking(False)  # one value per finished entry, arrows still step live
        w.setToolTip(s.doc)
        return w

    def _build(self) -> None:
        s = self.spec
        k = s.kind
        if k in ("int", "float"):
            w = self._spin(k == "float")
            w.valueChanged.connect(lambda v: self.edited.emit(v))
            self._add(w)
        elif k == "bool":
            w = QCheckBox()
            w.toggled.connect(lambda v: self.edited.emit(bool(v)))
            self._add(w)
        elif k == "choice":
            w = QComboBox()
            for c in s.choices:
                w.addItem(str(c), c)
            w.currentIndexChanged.connect(lambda i, w=w: self.edited.emit(w.itemData(i)))
            self._add(w)
        elif k in ("int_or_tuple", "float_or_tuple"):
            n = s.length or 2
            if s.choices:
                self.mode = QComboBox()
                self.mode.addItem("value", None)
                for c in s.choices:
                    self.mode.addItem(str(c), c)
                self.mode.currentIndexChanged.connect(self._tuple_changed)
                self._add(self.mode)
            self.spins = [self._spin(k == "float_or_tuple") for _ in range(n)]
            for sp in self.spins:
                sp.valueChanged.connect(lambda _v, sp=sp: self._spin_changed(sp))
                sp.setMinimumWidth(48)
                self._add(sp)
            self.link = QToolButton()
            self.link.setText("\u2260")
            self.link.setCheckable(True)
            self.link.toggled.connect(lambda on: self.link.setText("=" if on else "\u2260"))  # type: ignore[union-attr]
            self.link.setToolTip("Square: keep all sizes equal")
            self.link.toggled.connect(self._tuple_changed)
            self._add(self.link)
        else:  # str, ints, shape: a line edit, parsed and validated on Enter
            w = QLineEdit()
            w.setPlaceholderText("e.g. 1, 28, 28" if k in ("ints", "shape") else "")
            w.editingFinished.connect(lambda w=w: self.edited.emit(self._parse(w.text())))
            self._add(w)

    def _none_toggled(self, on: bool) -> None:
        for w in self.widgets:
            w.setEnabled(not on)
        if on:
            self.edited.emit(None)
        else:
            self.edited.emit(self.current())

    def current(self) -> Any:
        """The value the editors show now."""
        k = self.spec.kind
        w = self.widgets[0]
        if k in ("int", "float"):
            return w.value()  # type: ignore[attr-defined]
        if k == "bool":
            return w.isChecked()  # type: ignore[attr-defined]
        if k == "choice":
            return w.currentData()  # type: ignore[attr-defined]
        if k in ("int_or_tuple", "float_or_tuple"):
            if self.mode is not None and self.mode.currentData() is not None:
                return self.mode.currentData()
            vals = [sp.value() for sp in self.spins]
            return (
                vals[0] if self.link is not None and self.link.isChecked() and self.spec.length is None else tuple(vals)
            )
        return self._parse(w.text())  # type: ignore[attr-defined]

    def _add(self, w: QWidget) -> None:
        self.widgets.append(w)
        self.lay.addWidget(w, 0 if isinstance(w, (QToolButton, QComboBox)) and self.spec.kind != "choice" else 1)

    def _parse(self, text: str) -> Any:
        if self.spec.kind == "str":
            return text
        parts = [p for p in text.replace("(", " ").replace(")", " ").replace(",", " ").split() if p]
        out: list[Any] = []
        for p in parts:
            try:
                out.append(int(p))
            except ValueError:
                return text  # validation reports "expects a list of whole numbers"
        return tuple(out)

    def _spin_changed(self, sp: QWidget) -> None:
        if self.link is not None and self.link.isChecked():
            v = sp.value()  # type: ignore[attr-defined]
            for other in self.spins:
                if other is not sp and other.value() != v:
                    other.blockSignals(True)
                    other.setValue(v)
                    other.blockSignals(False)
        self._tuple_changed()

    def _tuple_changed(self, *_: Any) -> None:
        if self.mode is not None and self.mode.currentData() is not None:
            for sp in self.spins:
                sp.setEnabled(False)
            self.edited.emit(self.mode.currentData())
            return
        for sp in self.spins:
            sp.setEnabled(True)
        vals = [sp.value() for sp in self.spins]
        if self.link is not None and self.link.isChecked():
            for sp in self.spins[1:]:
                sp.blockSignals(True)
                sp.setValue(vals[0])
                sp.blockSignals(False)
            vals = [vals[0]] * len(vals)
            self.edited.emit(vals[0] if self.spec.length is None else tuple(vals))
        else:
            self.edited.emit(tuple(vals))

    def set_value(self, value: Any) -> None:
        """Show `value` without emitting (the caller blocks signals too)."""
        for w in self.widgets + ([self.none_box] if self.none_box else []):
            w.blockSignals(True)
        try:
            k = self.spec.kind
            w = self.widgets[0]
            if self.none_box is not None:
                self.none_box.setChecked(value is None)
                for x in self.widgets:
                    x.setEnabled(value is not None)
            if value is None:
                return
            if k in ("int", "float") and value is not None:
                w.setValue(value)  # type: ignore[attr-defined]
            elif k == "bool":
                w.setChecked(bool(value))  # type: ignore[attr-defined]
            elif k == "choice":
                i = w.findData(value)  # type: ignore[attr-defined]
                w.setCurrentIndex(max(i, 0))  # type: ignore[attr-defined]
            elif k in ("int_or_tuple", "float_or_tuple"):
                if isinstance(value, str) and self.mode is not None:
                    self.mode.setCurrentIndex(max(self.mode.findData(value), 0))
                    for sp in self.spins:
                        sp.setEnabled(False)
                else:
                    if self.mode is not None:
                        self.mode.setCurrentIndex(0)
                    vals = list(value) if isinstance(value, (list, tuple)) else [value] * len(self.spins)
                    for sp, v in zip(self.spins, vals):
                        sp.setEnabled(True)
                        sp.setValue(v)
                    assert self.link is not None
                    self.link.setChecked(len(set(vals)) == 1)
                    self.link.setText("=" if self.link.isChecked() else "\u2260")
            elif k in ("ints", "shape"):
                w.setText(", ".join(str(v) for v in (value or ())))  # type: ignore[attr-defined]
            else:
                w.setText("" if value is None else str(value))  # type: ignore[attr-defined]
        finally:
            for w in self.widgets + ([self.none_box] if self.none_box else []):
                w.blockSignals(False)


class Inspector(QScrollArea):
    """Shows the selection. `set_param(ids, name, value)` is the controller's method (injected)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.graph: ModelGraph | None = None
        self.engine: Any = None
        self.set_param: Callable[[list[str], str, Any], bool] = lambda ids, n, v: False
        self.rename: Callable[[str, str], bool] = lambda nid, label: False
        self.set_frozen: Callable[[list[str], bool], bool] = lambda ids, f: False
        self.end_merge: Callable[[], None] = lambda: None
        self.node_ids: list[str] = []
        self.block_id: str | None = None  # the block shown by the block section (no layer selected)
        self.block_actions = BlockActions()
        self.editors: dict[str, ParamEditor] = {}
        self.errors: dict[str, QLabel] = {}
        self.derived: QLabel | None = None
        self.frozen_box: QCheckBox | None = None
        self._refreshing = False
        self.show_nodes([])

    def bind(self, graph: ModelGraph, engine: Any) -> None:
        self.graph, self.engine = graph, engine
        self.show_nodes([])

    # ------------------------------------------------------------- build
    def show_block(self, group_id: str) -> None:
        """A selected block: its name, place in the tree, deep totals, and Open / Expand."""
        if self.graph is None or group_id not in self.graph.groups:
            self.show_nodes([])
            return
        self.node_ids = []
        self.block_id = group_id
        self.editors.clear()
        self.errors.clear()
        self.derived = None
        self.frozen_box = None
        colour = getattr(getattr(self.window(), "theme", None), "error", "#d64545")
        self.setWidget(block_section(self.graph, self.engine, group_id, self.block_actions, colour))

    def show_nodes(self, node_ids: list[str]) -> None:
        self.block_id = None
        self.node_ids = [n for n in node_ids if self.graph is not None and n in self.graph]
        self.editors.clear()
        self.errors.clear()
        self.derived = None
        self.frozen_box = None
        body = QWidget()
        lay = QVBoxLayout(body)
        if not self.node_ids or self.graph is None:
            hint = QLabel(
                "Select a layer to see and edit its parameters.\n\nDrag layers from the palette, "
                "wire outputs (right) to inputs (left). F fits the view, Ctrl+G groups."
            )
            hint.setWordWrap(True)
            hint.setEnabled(False)
            lay.addWidget(hint)
            self.setWidget(body)
            return
        nodes = [self.graph.node(n) for n in self.node_ids]
        try:
            specs = [REGISTRY.get(n.type) for n in nodes]
        except UnknownLayerError as exc:
            lay.addWidget(QLabel(str(exc)))
            self.setWidget(body)
            return
        first = specs[0]
        if len(nodes) == 1:
            title = QLineEdit(nodes[0].label)
            title.setObjectName("label_edit")
            f = title.font()
            f.setPointSizeF(f.pointSizeF() * 1.3)
            f.setBold(True)
            title.setFont(f)
            title.editingFinished.connect(lambda t=title: self.rename(self.node_ids[0], t.text()))
            lay.addWidget(title)
            sub = QLabel(f"{first.display_name} \u00b7 {first.category}")
            lay.addWidget(sub)
        else:
            types = sorted({s.type for s in specs})
            lay.addWidget(
                QLabel(
                    f"<b>{len(nodes)} layers selected</b> ({', '.join(types)})<br>"
                    "Shared parameters below edit all of them."
                )
            )
        if len({s.type for s in specs}) == 1:
            expl = QLabel(first.explanation)
            expl.setWordWrap(True)
            expl.setObjectName("explanation")
            expl.setStyleSheet("color: palette(placeholder-text); padding: 4px 0;")
            lay.addWidget(expl)
        shared = [
            p for p in first.params if all(s.has_param(p.name) and s.param(p.name).kind == p.kind for s in specs[1:])
        ]
        basic = QFormLayout()
        basic.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        lay.addLayout(basic)
        adv_box = QToolButton()
        adv_box.setText("Advanced")
        adv_box.setObjectName("advanced_toggle")
        adv_box.setCheckable(True)
        adv_box.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        adv_box.setArrowType(Qt.ArrowType.RightArrow)
        adv_box.setAutoRaise(True)
        adv_inner = QWidget()
        adv = QFormLayout(adv_inner)
        adv.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        adv_inner.setVisible(False)
        adv_box.toggled.connect(adv_inner.setVisible)
        adv_box.toggled.connect(
            lambda on, b=adv_box: b.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
        )
        for p in shared:
            ed = ParamEditor(p)
            err = QLabel()
            err.setStyleSheet("color: #d93025;")
            err.setWordWrap(True)
            err.hide()
            holder = QWidget()
            hl = QVBoxLayout(holder)
            hl.setContentsMargins(0, 0, 0, 0)
            hl.setSpacing(1)
            hl.addWidget(ed)
            hl.addWidget(err)
            label = QLabel(p.name)
            label.setToolTip(p.doc + (f" ({p.describe_range()})" if p.describe_range() else ""))
            (adv if p.advanced else basic).addRow(label, holder)
            ed.edited.connect(lambda v, name=p.name: self._edited(name, v))
            self.editors[p.name] = ed
            self.errors[p.name] = err
        if any(p.advanced for p in shared):
            lay.addWidget(adv_box)
            lay.addWidget(adv_inner)
        self.advanced_toggle = adv_box
        frozen = QCheckBox("Frozen (weights not trained)")
        frozen.setObjectName("frozen")
        self.frozen_box = frozen
        frozen.setChecked(all(n.frozen for n in nodes))
        frozen.toggled.connect(lambda v: self.set_frozen(self.node_ids, bool(v)))
        if any(s.param_count is not _no_params for s in specs):  # only layers that have weights
            lay.addWidget(frozen)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        lay.addWidget(line)
        self.derived = QLabel()
        self.derived.setObjectName("derived")
        self.derived.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.derived.setWordWrap(True)
        lay.addWidget(self.derived)
        lay.addStretch(1)
        self.setWidget(body)
        self.refresh()

    # ------------------------------------------------------------ refresh
    def refresh(self) -> None:
        """Re-read values and derived numbers from the model without emitting edits."""
        if self.block_id is not None:
            self.show_block(self.block_id)
            return
        if self.graph is None or not self.node_ids:
            return
        if any(n not in self.graph for n in self.node_ids):
            self.show_nodes([n for n in self.node_ids if n in self.graph])
            return
        self._refreshing = True
        try:
            node = self.graph.node(self.node_ids[0])
            spec = REGISTRY.get(node.type)
            for name, ed in self.editors.items():
                ed.set_value(node.params.get(name, spec.param(name).default))
            if self.frozen_box is not None:
                self.frozen_box.blockSignals(True)
                self.frozen_box.setChecked(all(self.graph.node(n).frozen for n in self.node_ids))
                self.frozen_box.blockSignals(False)
            if self.derived is not None:
                self.derived.setText(self._derived_text() if len(self.node_ids) == 1 else self._multi_text())
        finally:
            self._refreshing = False

    def _derived_text(self) -> str:
        assert self.graph is not None
        node = self.graph.node(self.node_ids[0])
        spec = REGISTRY.get(node.type)
        rows: list[tuple[str, str]] = []
        inputs = gather_inputs(self.graph, node, spec, self.engine.edge_shape)
        try:
            params = spec.resolve_params(node.params)
            # an inferred size only when inference succeeded here: no error on this node, its outputs known
            inferred = self.engine.outputs(node.id) is not None and not any(
                d.severity == "error" for d in self.engine.diagnostics_for(node.id)
            )
            if inferred and all(t is not None for t in inputs) and (inputs or not spec.inputs):
                kw = spec.torch_kwargs(params, inputs)
                for k, v in kw.items():
                    if not spec.has_param(k):
                        rows.append((k, f"{v} (inferred)"))
        except (DlstudioError, ArithmeticError, ValueError, TypeError, IndexError, KeyError, AttributeError):
            pass
        for t, port in zip(inputs, [p.name for p in spec.inputs]):
            rows.append((f"input {port}", str(t) if t is not None else "not connected"))
        outs = self.engine.outputs(node.id)
        rows.append(("output shape", ", ".join(str(t) for t in outs) if outs else "?" if outs is None else "none"))
        st = self.engine.stats(node.id)
        p = int(getattr(st, "params", 0) or 0)
        rows.append(("parameters", f"{p:,}" + (" (frozen)" if node.frozen and p else "")))
        rows.append(("MACs / sample", human(int(getattr(st, "macs", 0) or 0))))
        html = (
            "<table>"
            + "".join(f"<tr><td style='padding-right:10px'><i>{k}</i></td><td>{v}</td></tr>" for k, v in rows)
            + "</table>"
        )
        for d in self.engine.diagnostics_for(node.id):
            colour = "#d93025" if d.severity == "error" else "#e8900c"
            html += f"<p style='color:{colour}'>{d.severity}: {d.message}</p>"
        return html

    def _multi_text(self) -> str:
        total = sum(int(getattr(self.engine.stats(n), "params", 0) or 0) for n in self.node_ids)
        return f"{len(self.node_ids)} layers, {total:,} parameters in all"

    def _edited(self, name: str, value: Any) -> None:
        if self._refreshing:
            return
        err = self.errors[name]
        spec = self.editors[name].spec
        try:
            spec.validate(value)
        except ParamError as exc:
            err.setText(exc.reason)
            err.show()
            return
        err.hide()
        self.set_param(self.node_ids, name, value)
