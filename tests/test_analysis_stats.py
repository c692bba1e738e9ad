"""Statistics: per-node parameters (trainable vs frozen), MACs, activation bytes and totals, checked against the
notes' worked example and against the compiled torch module."""

from __future__ import annotations

import pytest

import dlstudio as dls
from dlstudio.analysis.diagnostics import memory_estimate
from dlstudio.analysis.report import check_graph
from dlstudio.core.edits import SetFrozen
from dlstudio.core.errors import ParamError


def test_worked_example_3_5_2_has_32_parameters() -> None:
    g = dls.Graph()
    x = g.input("x", shape=(3,))
    h = g.add("Linear", x, out_features=5)
    y = g.add("Linear", g.add("ReLU", h), out_features=2)
    g.output("y", y)
    r = check_graph(g)
    assert r.stats[h.node_id].params == 15 + 5 and r.stats[y.node_id].params == 10 + 2
    assert r.totals.params == 32 == sum(p.numel() for p in dls.compile(g).parameters())
    assert r.stats[h.node_id].macs == 15 and r.stats[y.node_id].macs == 10
    assert r.stats[h.node_id].activation_bytes == 5 * 4


def lenet_like() -> tuple[dls.Graph, dict[str, str]]:
    g = dls.Graph()
    x = g.input("image", shape=(1, 28, 28))
    c1 = g.add("Conv2d", x, out_channels=6, kernel_size=5, padding=2)
    h = g.add("MaxPool2d", g.add("ReLU", c1), kernel_size=2)
    c2 = g.add("Conv2d", h, out_channels=16, kernel_size=5)
    h = g.add("Flatten", g.add("ReLU", c2))
    f1 = g.add("Linear", h, out_features=84)
    g.output("logits", g.add("Linear", g.add("ReLU", f1), out_features=10))
    return g, {"c1": c1.node_id, "c2": c2.node_id, "f1": f1.node_id}


def test_totals_match_the_compiled_module_and_frozen_nodes() -> None:
    g, ids = lenet_like()
    SetFrozen(ids["c1"], True).apply(g)
    r = check_graph(g)
    model = dls.compile(g)
    assert r.totals.params == sum(p.numel() for p in model.parameters())
    assert r.totals.trainable == sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert r.totals.frozen == r.stats[ids["c1"]].frozen == 6 * 25 + 6 and r.stats[ids["c1"]].trainable == 0
    # Conv2d MACs: output elements x (in_channels x kernel area)
    assert r.stats[ids["c1"]].macs == 6 * 28 * 28 * 25
    assert r.stats[ids["c2"]].macs == 16 * 10 * 10 * 6 * 25
    # activation bytes per sample: every node's outputs in float32, the input included
    acts = sum(4 * info.numel_per_sample() for outs in r.shapes.values() for info in outs or [])
    assert (
        r.totals.activation_bytes
        == acts
        == 4 * (28 * 28 + 2 * 6 * 28 * 28 + 6 * 14 * 14 + 3 * 16 * 10 * 10 + 2 * 84 + 10)
    )
    assert r.totals.node_count == len(g) and r.totals.ok


def test_memory_estimate_by_optimizer() -> None:
    g, _ = lenet_like()
    t = check_graph(g).totals
    adam = memory_estimate(t, 64, "Adam")
    assert adam.params_bytes == 4 * t.params and adam.grads_bytes == 4 * t.trainable
    assert adam.optimizer_bytes == 2 * 4 * t.trainable and adam.activation_bytes == 64 * t.activation_bytes
    assert memory_estimate(t, 64, "sgd").optimizer_bytes == 0
    assert memory_estimate(t, 64, "SGD-momentum").optimizer_bytes == 4 * t.trainable
    assert memory_estimate(t, 1, "adam").total_bytes < adam.total_bytes
    with pytest.raises(ParamError, match="optimizer"):
        memory_estimate(t, 8, "lion")
    with pytest.raises(ParamError, match="batch_size"):
        memory_estimate(t, 0)


def test_report_table_and_dict() -> None:
    g, ids = lenet_like()
    r = check_graph(g)
    table = r.format_table()
    assert "Conv2d" in table and "(N, 6, 28, 28)" in table and f"{r.totals.params:,}" in table
    d = r.to_dict()
    assert d["ok"] is True and d["totals"]["params"] == r.totals.params
    row = next(n for n in d["nodes"] if n["id"] == ids["c1"])
    assert row["outputs"] == [{"shape": ["N", 6, 28, 28], "dtype": "float32"}] and row["params"] == 156
