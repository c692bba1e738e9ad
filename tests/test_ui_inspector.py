"""The inspector builds a working form for every registered layer type, and each editor round-trips its
parameter's default value without creating an edit (the form never feeds back into the model)."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox  # noqa: E402

import dlstudio as dls  # noqa: E402
from dlstudio.layers.registry import all_specs  # noqa: E402
from dlstudio.ui.analysis import make_engine  # noqa: E402
from dlstudio.ui.controller import Controller  # noqa: E402
from dlstudio.ui.inspector import Inspector  # noqa: E402


def test_form_for_every_layer_type(qtbot):
    g = dls.Graph()
    ids = {}
    for spec in all_specs():
        ids[spec.type] = g.add(spec.type, label=f"{spec.type.lower()}_node").node_id
    engine = make_engine(g)
    ctl = Controller(g, engine=engine)
    insp = Inspector()
    qtbot.addWidget(insp)
    insp.bind(g, engine)
    insp.set_param = ctl.set_param
    kinds_seen = set()
    for spec in all_specs():
        insp.show_nodes([ids[spec.type]])
        assert set(insp.editors) == {p.name for p in spec.params}, spec.type
        for p in spec.params:
            ed = insp.editors[p.name]
            kinds_seen.add(p.kind)
            w = ed.widgets[0]
            expected = {
                "int": QSpinBox,
                "float": QDoubleSpinBox,
                "bool": QCheckBox,
                "choice": QComboBox,
                "str": QLineEdit,
                "shape": QLineEdit,
                "ints": QLineEdit,
            }.get(p.kind)
            if expected is not None:
                assert isinstance(w, expected), (spec.type, p.name, p.kind, type(w))
        # the explanation is shown, and refreshing emits no edit
        assert spec.explanation in insp.widget().findChild(type(insp.derived), "explanation").text()
        insp.refresh()
    assert ctl.undo_stack.count() == 0
    assert {"int", "bool", "choice"} <= kinds_seen


def test_tuple_editor_square_link(qtbot):
    g = dls.Graph()
    x = g.input("x", (3, 32, 32))
    conv = g.add("Conv2d", x, out_channels=8, kernel_size=3)
    engine = make_engine(g)
    ctl = Controller(g, engine=engine)
    insp = Inspector()
    qtbot.addWidget(insp)
    insp.bind(g, engine)
    insp.set_param = ctl.set_param
    insp.show_nodes([conv.node_id])
    ed = insp.editors["kernel_size"]
    assert ed.link is not None and ed.link.isChecked()  # (3, 3) is square
    ed.spins[0].setValue(5)  # linked: both follow
    assert [s.value() for s in ed.spins] == [5, 5]
    assert g.node(conv.node_id).params["kernel_size"] in (5, (5, 5))
    ed.link.setChecked(False)
    ed.spins[1].setValue(1)
    assert g.node(conv.node_id).params["kernel_size"] == (5, 1)
    engine.refresh()
    assert str(engine.outputs(conv.node_id)[0]) == "(N, 8, 28, 32)"


def test_inferred_size_only_when_it_could_be_inferred(qtbot):
    """A Conv2d fed a flat vector is an error: the inspector shows the error, not an 'inferred' in_channels
    computed from the wrong input; once the input fits, the inferred size appears."""
    g = dls.Graph()
    x = g.input("x", (4,))
    conv = g.add("Conv2d", x, out_channels=8, kernel_size=3, label="conv")
    g.output("y", conv)
    engine = make_engine(g)
    engine.refresh()
    insp = Inspector()
    qtbot.addWidget(insp)
    insp.bind(g, engine)
    insp.show_nodes([conv.node_id])
    text = insp.derived.text()
    assert "error" in text
    assert "(inferred)" not in text
    good = dls.Graph()
    x = good.input("x", (3, 16, 16))
    conv = good.add("Conv2d", x, out_channels=8, kernel_size=3, label="conv")
    good.output("y", conv)
    engine = make_engine(good)
    engine.refresh()
    insp.bind(good, engine)
    insp.show_nodes([conv.node_id])
    assert "in_channels" in insp.derived.text() and "3 (inferred)" in insp.derived.text()
