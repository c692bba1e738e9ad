"""Each diagnostic: pinned to the right node/port/parameter, with the right severity and a message that says
how to fix it. Graphs are built with the dls.Graph API, or with raw edits where the API refuses the mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

import dlstudio as dls
from dlstudio.analysis.diagnostics import Diagnostic
from dlstudio.analysis.report import check_graph
from dlstudio.core.edits import AddNode, Connect, GroupNodes, SetParam
from dlstudio.core.graph import Edge, Node

ROOT = Path(__file__).resolve().parents[1]


def mlp(width: int = 5) -> tuple[dls.Graph, dict[str, str]]:
    g = dls.Graph()
    x = g.input("x", shape=(3,))
    h = g.add("Linear", x, out_features=width, label="fc1")
    a = g.add("ReLU", h, label="act")
    y = g.add("Linear", a, out_features=2, label="fc2")
    o = g.output("y", y)
    return g, {"x": x.node_id, "fc1": h.node_id, "act": a.node_id, "fc2": y.node_id, "out": o.node_id}


def only(report, code: str) -> Diagnostic:
    found = [d for d in report.diagnostics if d.code == code]
    assert len(found) == 1, f"expected one {code}, got {report.diagnostics}"
    return found[0]


def test_clean_graph_has_no_diagnostics() -> None:
    g, _ = mlp()
    r = check_graph(g)
    assert r.ok and r.diagnostics == [] and r.totals.ok
    assert r.to_dict()["errors"] == 0


def test_unknown_type_suggests_close_name() -> None:
    g, ids = mlp()
    AddNode(Node("n99", "Liner", "typo")).apply(g)
    Connect(Edge(ids["act"], "y", "n99", "x")).apply(g)
    d = only(check_graph(g), "unknown_type")
    assert d.severity == "error" and d.node_id == "n99"
    assert "'Linear'" in d.message and "typo" in d.message


def test_unconnected_required_input() -> None:
    g, ids = mlp()
    AddNode(Node("n50", "Linear", "loose", params={"out_features": 3})).apply(g)
    r = check_graph(g)
    d = only(r, "unconnected_input")
    assert (d.node_id, d.port, d.severity) == ("n50", "x", "error")
    assert "not connected" in d.message and "loose" in d.message
    assert not any(x.code == "unreachable" and x.node_id == "n50" for x in r.diagnostics)


def test_too_many_inputs_into_one_port() -> None:
    g, ids = mlp()
    Connect(Edge(ids["x"], "out", ids["act"], "x", slot=1)).apply(g)
    d = only(check_graph(g), "too_many_inputs")
    assert (d.node_id, d.port) == (ids["act"], "x")
    assert "2 are connected" in d.message and "Add or Concat" in d.message


def test_wire_into_missing_port() -> None:
    g, ids = mlp()
    Connect(Edge(ids["x"], "out", ids["fc2"], "bogus")).apply(g)
    d = only(check_graph(g), "unknown_port")
    assert (d.node_id, d.port) == (ids["fc2"], "bogus")


def test_cycle_names_the_nodes_on_it_and_keeps_the_rest() -> None:
    g, ids = mlp()
    b = g.add("ReLU", dls.Ref(g, ids["act"], "y"), label="back")
    Connect(Edge(b.node_id, "y", ids["act"], "x", slot=1)).apply(g)  # act -> back -> act
    r = check_graph(g)
    d = only(r, "cycle")
    assert d.severity == "error" and d.node_id == ids["act"]
    assert "ReLU 'act' -> ReLU 'back' -> ReLU 'act'" in d.message
    assert r.shapes[ids["fc1"]] is not None  # upstream of the loop is still inferred
    assert r.shapes[ids["fc2"]] is None


def test_shape_mismatch_expected_vs_got() -> None:
    g = dls.Graph()
    x = g.input("x", shape=(4,))
    a = g.add("Linear", x, out_features=5)
    b = g.add("Linear", x, out_features=6)
    s = g.add("Add", a, b, label="join")
    g.output("y", s)
    d = only(check_graph(g), "shape_mismatch")
    assert d.node_id == s.node_id and d.port == "inputs"
    assert d.expected == "(N, 5)" and d.got == "(N, 6)"
    assert d.message.startswith("Add 'join'") and "1x1 Conv2d" in d.message


def test_rank_mismatch_says_what_to_insert() -> None:
    g = dls.Graph()
    x = g.input("x", shape=(10,))
    c = g.add("Conv2d", x, out_channels=2, kernel_size=3)
    g.output("y", c)
    d = only(check_graph(g), "shape_mismatch")
    assert d.node_id == c.node_id and "insert" in d.message.lower()


def test_invalid_parameter_value() -> None:
    g, ids = mlp()
    SetParam(ids["fc1"], "out_features", 0).apply(g)
    r = check_graph(g)
    d = only(r, "invalid_param")
    assert (d.node_id, d.param) == (ids["fc1"], "out_features") and ">= 1" in d.message
    assert r.shapes[ids["fc2"]] is None and len(r.errors) == 1  # downstream is silent: the cause is upstream


def test_kernel_larger_than_input_is_a_parameter_problem() -> None:
    g = dls.Graph()
    x = g.input("img", shape=(1, 4, 4))
    c = g.add("Conv2d", x, out_channels=2, kernel_size=7, label="conv")
    g.output("y", c)
    d = only(check_graph(g), "invalid_param")
    assert (d.node_id, d.param) == (c.node_id, "kernel_size")
    assert d.message.startswith("Conv2d 'conv'") and "Conv2d: " not in d.message


@pytest.mark.parametrize(
    "input_dtype,layer,params",
    [
        ("int64", "Linear", {"out_features": 2}),
        ("float32", "Embedding", {"num_embeddings": 20, "embedding_dim": 4}),
    ],
)
def test_wrong_dtype(input_dtype: str, layer: str, params: dict) -> None:
    g = dls.Graph()
    x = g.input("x", shape=(6,), dtype=input_dtype)
    h = g.add(layer, x, **params)
    g.output("y", h)
    d = only(check_graph(g), "wrong_dtype")
    assert (d.node_id, d.port) == (h.node_id, "x")
    assert d.got == input_dtype and d.expected != input_dtype


def test_unreachable_from_every_input() -> None:
    g, _ = mlp()
    AddNode(Node("a1", "Linear", "orphan", params={"out_features": 2})).apply(g)
    AddNode(Node("a2", "ReLU", "after_orphan")).apply(g)
    Connect(Edge("a1", "y", "a2", "x")).apply(g)
    r = check_graph(g)
    assert [d.code for d in r.for_node("a1")] == ["unconnected_input"]
    d = only(r, "unreachable")
    assert d.node_id == "a2" and "Input" in d.message


def test_no_output_and_no_input() -> None:
    g = dls.Graph()
    g.add("Linear", g.input("x", shape=(3,)))
    assert only(check_graph(g), "no_output").node_id is None
    empty = dls.Graph()
    codes = check_graph(empty).codes()
    assert "no_output" in codes and "no_input" in codes


def test_group_not_convex_and_group_with_io() -> None:
    g = dls.Graph()
    x = g.input("x", shape=(4,))
    a = g.add("Linear", x, out_features=4, label="a")
    b = g.add("ReLU", a, label="b")
    c = g.add("Add", a, b, label="c")
    g.output("y", c)
    GroupNodes("g1", "blockA", (a.node_id, c.node_id)).apply(g)
    d = only(check_graph(g), "group_not_convex")
    assert "blockA" in d.message and "ReLU 'b'" in d.message and d.node_id == a.node_id
    GroupNodes("g2", "withinput", (x.node_id,)).apply(g)
    d2 = only(check_graph(g), "group_has_io")
    assert d2.node_id == x.node_id


def test_diagnostic_to_dict_and_frozen() -> None:
    d = Diagnostic("error", "x", "msg", "n1", port="p")
    assert d.to_dict() == {"severity": "error", "code": "x", "message": "msg", "node_id": "n1", "port": "p"}
    with pytest.raises(AttributeError):
        d.code = "y"  # type: ignore[misc]


def test_errors_sort_before_warnings() -> None:
    g, ids = mlp()
    SetParam(ids["fc1"], "out_features", -3).apply(g)
    g.add("Linear", dls.Ref(g, ids["fc2"], "y"), out_features=2)  # linear collapse warning
    sev = [d.severity for d in check_graph(g).diagnostics]
    assert sev == sorted(sev, key=["error", "warning"].index) and "warning" in sev and "error" in sev
