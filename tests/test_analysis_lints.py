"""Lint warnings from CATALOG.md's Insight section: each fires on the bad pattern, with its reason, and stays
quiet on the fixed one."""

from __future__ import annotations

import pytest

import dlstudio as dls
from dlstudio.analysis.lints import normalize_loss, training_facts
from dlstudio.analysis.report import check_graph


def head(*layers: tuple[str, dict], features: int = 4, units: int = 3) -> tuple[dls.Graph, list[str]]:
    """Input -> Linear(units) -> layers... -> Output; returns the graph and the ids in order."""
    g = dls.Graph()
    x = g.input("x", shape=(features,))
    h = g.add("Linear", x, out_features=units, label="fc")
    ids = [x.node_id, h.node_id]
    for type_name, params in layers:
        h = g.add(type_name, h, **params)
        ids.append(h.node_id)
    ids.append(g.output("y", h).node_id)
    return g, ids


def warnings(g: dls.Graph, **kw) -> list:
    r = check_graph(g, **kw)
    assert r.ok, r.errors
    return r.warnings


def codes(g: dls.Graph, **kw) -> list[str]:
    return [d.code for d in warnings(g, **kw)]


def test_two_linear_layers_collapse() -> None:
    g, ids = head(("Dropout", {}), ("Linear", {"out_features": 2}))
    (w,) = warnings(g)
    assert w.code == "linear_collapse" and w.node_id == ids[3]
    assert "Linear 'fc'" in w.message and "ReLU" in w.message
    fixed, _ = head(("ReLU", {}), ("Linear", {"out_features": 2}))
    assert codes(fixed) == []


def test_softmax_before_cross_entropy_and_double_softmax() -> None:
    g, ids = head(("Softmax", {}))
    (w,) = warnings(g, training={"loss": "CrossEntropyLoss"})
    assert w.code == "double_softmax" and w.node_id == ids[-1] and "logits" in w.message
    assert codes(g, training={"loss": "MSELoss"}) == ["activation_on_regression"]
    assert codes(g) == []  # no loss known: a Softmax head is fine
    g2, ids2 = head(("Softmax", {}), ("Softmax", {}))
    (w2,) = warnings(g2)
    assert w2.code == "double_softmax" and w2.node_id == ids2[3]


def test_softmax_before_nll_suggests_logsoftmax() -> None:
    g, _ = head(("Softmax", {}))
    assert codes(g, loss="NLLLoss") == ["softmax_before_nll"]
    g2, _ = head(("LogSoftmax", {}))
    assert codes(g2, loss="NLLLoss") == []


def test_sigmoid_before_bce_with_logits() -> None:
    g, ids = head(("Sigmoid", {}), units=1)
    (w,) = warnings(g, training={"loss": {"name": "BCEWithLogitsLoss"}})
    assert w.code == "sigmoid_before_bce_logits" and w.node_id == ids[-1] and "BCELoss" in w.message
    assert codes(g, loss="BCELoss") == []


def test_output_units_differ_from_class_count() -> None:
    g, ids = head(units=7)
    (w,) = warnings(g, loss="cross_entropy", num_classes=10)
    assert w.code == "output_units" and (w.expected, w.got) == ("10", "7")
    assert "set out_features of Linear 'fc' to 10" in w.message
    assert codes(g, loss="cross_entropy", num_classes=7) == []
    assert codes(g, training={"loss": "CrossEntropyLoss"}, data={"class_names": list("abcdefghij")}) == ["output_units"]


def test_activation_on_regression_output() -> None:
    g, ids = head(("ReLU", {}), units=1)
    (w,) = warnings(g, loss="mse")
    assert w.code == "activation_on_regression" and w.node_id == ids[-1]
    plain, _ = head(units=1)
    assert codes(plain, loss="mse") == []


def test_step_has_zero_gradient() -> None:
    g, ids = head(("Step", {}))
    (w,) = warnings(g)
    assert w.code == "step_zero_gradient" and w.node_id == ids[2] and "zero gradient" in w.message


@pytest.mark.parametrize("n,expected", [(3, 0), (4, 1), (6, 1)])
def test_deep_sigmoid_tanh_stack(n: int, expected: int) -> None:
    layers: list[tuple[str, dict]] = []
    for i in range(n):
        layers += [("Sigmoid" if i % 2 else "Tanh", {}), ("Linear", {"out_features": 3})]
    g, ids = head(*layers)
    found = [w for w in warnings(g) if w.code == "vanishing_gradient"]
    assert len(found) == expected
    if expected:
        assert found[0].node_id == ids[2 + 2 * 3]  # anchored at the 4th activation


def test_relu_breaks_a_saturating_stack() -> None:
    layers = (
        [("Sigmoid", {}), ("Linear", {"out_features": 3})] * 2
        + [("ReLU", {}), ("Linear", {"out_features": 3})]
        + [("Tanh", {}), ("Linear", {"out_features": 3})] * 2
    )
    g, _ = head(*layers)
    assert "vanishing_gradient" not in codes(g)


def test_dropout_right_before_output() -> None:
    g, ids = head(("Dropout", {}))
    (w,) = warnings(g)
    assert w.code == "dropout_before_output" and w.node_id == ids[-1]


def test_too_few_training_rows() -> None:
    g, _ = head()  # 4*3+3 = 15 parameters
    (w,) = warnings(g, num_rows=100)
    assert w.code == "too_few_rows" and w.node_id is None and "100 rows" in w.message and "15" in w.message
    assert codes(g, data={"num_rows": 150}) == []


def test_loss_names_normalize() -> None:
    assert normalize_loss("CrossEntropyLoss") == normalize_loss("cross_entropy") == "crossentropy"
    assert normalize_loss("torch.nn.BCEWithLogitsLoss") == "bcewithlogits"
    assert normalize_loss("MSELoss") == "mse" and normalize_loss("SmoothL1Loss") == "huber"
    f = training_facts({"loss": "NLLLoss", "num_classes": 3}, {"rows": 50})
    assert (f.loss, f.num_classes, f.num_rows) == ("nll", 3, 50)


def test_reconstruction_head_may_squash_to_pixels() -> None:
    g, _ = head(("Sigmoid", {}))
    assert codes(g, training={"loss": "MSELoss"}) == ["activation_on_regression"]
    assert codes(g, training={"loss": "MSELoss", "task": "reconstruction"}) == []


def test_facts_from_a_config_object() -> None:
    class Info:  # the training engine's TaskInfo has these attribute names
        task = "multiclass"
        loss = "CategoricalCrossEntropyLoss"
        n_classes = 10

    f = training_facts(Info())
    assert (f.loss, f.num_classes, f.task) == ("crossentropy", 10, "multiclass")
    g, _ = head(("Softmax", {}), units=10)
    assert codes(g, training=Info()) == ["double_softmax"]


def test_project_facts_use_the_training_engine_defaults() -> None:
    from dlstudio.training.facts import project_lint_facts as project_facts

    g, _ = head(units=10)
    f = project_facts(dls.Project(graph=g, data={"dataset": "digits"}))  # no loss given: the task's default
    assert (f.loss, f.num_classes, f.task) == ("crossentropy", 10, "multiclass")
    f = project_facts(dls.Project(graph=g, data={"dataset": "diabetes"}, training={"loss": "L1Loss"}))
    assert (f.loss, f.task) == ("l1", "regression")


def test_binary_head_needs_one_unit() -> None:
    g, _ = head(units=2)
    (w,) = warnings(g, loss="BCEWithLogitsLoss", num_classes=2)
    assert w.code == "output_units" and (w.expected, w.got) == ("1", "2") and "positive class" in w.message
    one, _ = head(units=1)
    assert codes(one, loss="BCEWithLogitsLoss", num_classes=2) == []
    assert codes(g, training={"loss": "BCELoss", "task": "multilabel"}, num_classes=2) == []


def test_project_facts_count_builtin_training_rows() -> None:
    from dlstudio.training.facts import project_lint_facts as project_facts

    g, _ = head(units=3)
    f = project_facts(dls.Project(graph=g, data={"dataset": "iris", "val_fraction": 0.2}))
    assert f.num_rows == 120 and f.num_classes == 3
    f = project_facts(dls.Project(graph=g, data={"dataset": "blobs", "options": {"n_samples": 101, "centers": 4}}))
    assert (f.num_rows, f.num_classes) == (int(101 * 0.8), 4)  # the default validation fraction is 0.2
    bad = dls.Project(graph=g, data={"dataset": "moons", "options": {"n_samples": "many"}})
    assert project_facts(bad).num_rows is None and project_facts(bad).num_classes == 2  # the loader says why


def test_a_project_without_data_settings_is_judged_by_its_training_section() -> None:
    from dlstudio.training.facts import project_lint_facts

    g, _ = head(units=3)
    assert project_lint_facts(dls.Project(graph=g)) == training_facts()
    f = project_lint_facts(dls.Project(graph=g, training={"loss": "MSELoss"}))
    assert (f.loss, f.num_classes, f.num_rows) == ("mse", None, None)


def test_user_files_are_read_only_when_asked(tmp_path) -> None:
    from dlstudio.training.facts import project_lint_facts

    (tmp_path / "t.csv").write_text("a,b,label\n" + "".join(f"{i},{i % 3},{i % 4}\n" for i in range(40)))
    g, _ = head(features=2, units=3)
    p = dls.Project(graph=g, data={"dataset": "csv", "path": "t.csv", "target": "label"})
    p.path = tmp_path / "p.dlstudio"
    assert project_lint_facts(p).num_classes is None
    f = project_lint_facts(p, read_tables=True)
    assert (f.task, f.num_classes, f.loss) == ("multiclass", 4, "crossentropy")
    folder = dls.Project(graph=g, data={"dataset": "imagefolder", "path": "imgs"})
    assert project_lint_facts(folder, read_tables=True).num_classes is None  # scanning a folder imports torch


def test_builtin_metadata_matches_the_loaded_data() -> None:
    """The facts `dlstudio check` reads without loading anything (rows, classes, task, sample shape, dtype)
    equal what loading gives, with default options and with the options that change them."""
    from dlstudio.training.data.builtin import BUILTINS, load_builtin

    cases = [(name, {}) for name in BUILTINS]
    cases += [(n, {"n_samples": 101}) for n, b in BUILTINS.items() if b.rows_option]
    cases += [("blobs", {"centers": 5, "n_samples": 250})]
    for name, options in cases:
        info, d = BUILTINS[name], load_builtin(name, options)
        assert len(d.x) == len(d.y) == info.n_rows(options), (name, options)
        assert d.task == info.task and d.n_classes == info.n_classes(options), (name, options)
        if info.n_classes(options) is not None:
            assert set(d.y.tolist()) == set(range(info.n_classes(options) or 0)), (name, options)
        if not options:
            assert d.sample_shape == info.shape and str(d.x.dtype) == info.dtype, name


def test_loss_lints_judge_only_the_bound_output() -> None:
    g = dls.Graph()
    x = g.input("x", shape=(4,))
    g.output("code", g.add("Linear", x, out_features=7))
    g.output("logits", g.add("Linear", g.add("ReLU", x), out_features=3))
    assert codes(g, loss="CrossEntropyLoss", num_classes=3) == []  # two Outputs, none named: unsure
    (w,) = warnings(g, training={"loss": "CrossEntropyLoss"}, data={"num_classes": 3, "output": "code"})
    assert w.code == "output_units" and "Output 'code'" in w.message
    assert codes(g, training={"loss": "CrossEntropyLoss"}, data={"num_classes": 3, "output": "logits"}) == []


def test_gan_projects_have_no_supervised_loss_lints() -> None:
    from dlstudio.training.facts import project_lint_facts as project_facts

    g, _ = head(units=64)
    p = dls.Project(graph=g, data={"dataset": "digits"}, training={"generative": {"mode": "gan"}})
    assert project_facts(p) == training_facts(training={"task": "generative"})
    assert project_facts(dls.Project(graph=g, data={"dataset": "digits"})).num_classes == 10


def test_linear_on_an_unflattened_feature_map() -> None:
    g = dls.Graph()
    x = g.input("img", shape=(3, 8, 8))
    c = g.add("ReLU", g.add("Conv2d", x, out_channels=4, kernel_size=3))
    fc = g.add("Linear", c, out_features=10)
    g.output("y", fc)
    (w,) = warnings(g)
    assert w.code == "linear_on_feature_map" and w.node_id == fc.node_id and "Flatten" in w.message
    seq = dls.Graph()  # (N, L, F): Linear per time step is intended
    seq.output("y", seq.add("Linear", seq.input("x", shape=(5, 7)), out_features=3))
    assert codes(seq) == []
