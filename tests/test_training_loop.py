"""The training loop: events, stop/pause, resume equivalence, checkpoints without pickle, NaN faults, early
stopping, schedules, optimizers, losses, metrics, sanity tools."""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from dlstudio.api import Graph
from dlstudio.training.checkpoints import load_checkpoint
from dlstudio.training.config import OPTIMIZERS, SCHEDULES, TrainingConfig
from dlstudio.training.events import BatchEnd, Checkpoint, EpochEnd, EpochStarted, Failed, Finished
from dlstudio.training.loop import Trainer
from dlstudio.training.losses import LOSSES
from dlstudio.training.quick import mlp_for, mlp_graph

pytestmark = pytest.mark.usefixtures("one_torch_thread")


SMALL = {"options": {"n_samples": 200}}


def _names(events: list) -> list[str]:
    return [type(e).__name__ for e in events]


def test_events_in_order_and_metrics(tmp_path: Path) -> None:
    t = Trainer(
        mlp_for("circles", (8,)),
        {"dataset": "circles", **SMALL},
        {"epochs": 2, "batch_size": 40, "lr": 0.05},
        run_dir=tmp_path / "run",
    )
    events = list(t.run())
    names = _names(events)
    assert names[0] == "EpochStarted" and names[-1] == "Finished"
    assert names.count("EpochEnd") == 2 and names.count("Checkpoint") == 2
    # 160 training rows / 40 = 4 batches per epoch
    assert names[:6] == ["EpochStarted", "BatchEnd", "BatchEnd", "BatchEnd", "BatchEnd", "EpochEnd"]
    end = [e for e in events if isinstance(e, EpochEnd)][-1]
    for key in ("loss", "val_loss", "val_accuracy", "val_precision_macro", "val_recall_macro", "val_f1_macro", "lr"):
        assert key in end.metrics
    json.dumps([e.to_dict() for e in events])  # every event is plain JSON


def test_run_folder_layout_and_no_pickle(tmp_path: Path) -> None:
    run = tmp_path / "run"
    t = Trainer(
        mlp_for("iris", (8,)), {"dataset": "iris", "test_fraction": 0.2}, {"epochs": 2, "batch_size": 16}, run_dir=run
    )
    fin = list(t.run())[-1]
    assert isinstance(fin, Finished)
    for name in (
        "settings.json",
        "metrics.csv",
        "metrics.jsonl",
        "best.safetensors",
        "last.safetensors",
        "report.json",
        "report.md",
    ):
        assert (run / name).is_file(), name
    assert len((run / "metrics.csv").read_text().splitlines()) == 3
    assert [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()] == [1, 2]
    ck = run / "checkpoints" / "epoch_0002"
    assert sorted(p.name for p in ck.iterdir()) == [
        "best.safetensors",
        "model.safetensors",
        "optimizer.safetensors",
        "rng.safetensors",
        "state.json",
    ]
    for p in run.rglob("*"):
        if p.is_file():
            assert p.read_bytes()[:2] != b"\x80\x04", f"{p} looks like a pickle"
    report = json.loads((run / "report.json").read_text())
    assert report["test"]["confusion_matrix"] and "auc_roc" in report["test"]
    assert sum(map(sum, report["test"]["confusion_matrix"])) == 30


def _train(
    run_dir: Path | None, epochs: int = 6, stop_after: int | None = None, resume: Path | None = None, **training: object
) -> Trainer:
    cfg = {
        "epochs": epochs,
        "batch_size": 32,
        "optimizer": "SGD",
        "lr": 0.05,
        "optimizer_params": {"momentum": 0.9},
        "schedule": {"name": "CosineAnnealingLR", "warmup_epochs": 1},
        **training,
    }
    g = mlp_for("moons", (16,))
    t = Trainer(g, {"dataset": "moons", **SMALL, "augment": {"noise": 0.05}}, cfg, run_dir=run_dir, resume=resume)
    for ev in t.run():
        if stop_after is not None and isinstance(ev, EpochEnd) and ev.epoch == stop_after:
            t.stop()
        assert not isinstance(ev, Failed), ev.message
    return t


def test_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    full = _train(tmp_path / "full")
    part = _train(tmp_path / "part", stop_after=3)
    assert part.state.epoch == 3
    ck = tmp_path / "part" / "checkpoints" / "epoch_0003"
    resumed = _train(None, resume=ck)
    assert resumed.state.epoch == 6
    for k, v in full.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[k], v, rtol=0, atol=0)
    assert [h["loss"] for h in resumed.state.history] == [h["loss"] for h in full.state.history]
    # the resumed run wrote into the checkpoint's run folder, with the history rewritten to 6 epochs
    assert len((tmp_path / "part" / "metrics.jsonl").read_text().splitlines()) == 6


def test_checkpoint_round_trip_keeps_optimizer_state(tmp_path: Path) -> None:
    t = _train(tmp_path / "r", epochs=2, optimizer="Adam", lr=0.01, optimizer_params={"betas": [0.8, 0.99]})
    ck = load_checkpoint(tmp_path / "r" / "checkpoints" / "epoch_0002")
    opt = t.optimizer.state_dict()
    assert ck["optimizer"]["param_groups"][0]["betas"] == (0.8, 0.99) or list(
        ck["optimizer"]["param_groups"][0]["betas"]
    ) == [0.8, 0.99]
    for pid, st in opt["state"].items():
        for name, v in st.items():
            torch.testing.assert_close(ck["optimizer"]["state"][pid][name], v)


def test_stop_and_pause_between_batches() -> None:
    t = Trainer(mlp_for("circles", (8,)), {"dataset": "circles", **SMALL}, {"epochs": 50, "batch_size": 8})
    gen = t.run()
    seen = 0
    for ev in gen:
        if isinstance(ev, BatchEnd):
            seen += 1
            if seen == 3:
                t.pause()
                timer = threading.Timer(0.2, t.unpause)
                timer.start()
            if seen == 5:
                t.stop()
    fin = ev
    assert isinstance(fin, Finished) and fin.stopped_by_user and fin.epochs_run == 0
    assert seen == 5


def test_nan_loss_names_epoch_batch_and_first_node(tmp_path: Path) -> None:
    g = mlp_for("sine", (16,))
    t = Trainer(g, {"dataset": "sine", **SMALL}, {"epochs": 3, "optimizer": "SGD", "lr": 1e6}, run_dir=tmp_path / "run")
    events = list(t.run())
    fail = events[-1]
    assert isinstance(fail, Failed)
    assert fail.epoch is not None and fail.batch is not None
    assert f"epoch {fail.epoch}, batch {fail.batch}" in fail.message
    node = g.node(fail.node_id)  # weights blow up until some layer's output overflows
    assert node.type == "Linear"
    assert f"Linear '{node.label}'" in fail.message and "learning rate" in fail.message
    assert fail.last_checkpoint is None or Path(fail.last_checkpoint, "state.json").is_file()


def test_nan_in_a_middle_node_is_found() -> None:
    g = mlp_for("sine", (4, 4))
    t = Trainer(g, {"dataset": "sine", **SMALL}, {"epochs": 1})
    with torch.no_grad():
        getattr(t.model, t.node_paths[g.find("fc2").id]).bias[0] = float("inf")
    fail = list(t.run())[-1]
    assert isinstance(fail, Failed) and fail.node_id == g.find("fc2").id and fail.batch == 1


@pytest.mark.slow
def test_exception_from_the_model_becomes_failed() -> None:
    t = Trainer(mlp_for("circles", (8,)), {"dataset": "circles", **SMALL}, {"epochs": 1})

    def boom(*args: object) -> None:
        raise RuntimeError("disk on fire")

    t.model.register_forward_pre_hook(boom)
    fail = list(t.run())[-1]
    assert isinstance(fail, Failed) and "disk on fire" in fail.message and fail.epoch == 1


def test_early_stopping_restores_best(tmp_path: Path) -> None:
    t = Trainer(
        mlp_for("circles", (8,)),
        {"dataset": "circles", **SMALL},
        {"epochs": 200, "lr": 0.05, "early_stopping": {"patience": 3, "min_delta": 0.5}},
        run_dir=tmp_path / "r",
    )
    fin = list(t.run())[-1]
    assert isinstance(fin, Finished) and fin.stopped_early and fin.epochs_run == 4
    from safetensors.torch import load_file

    best = load_file(str(tmp_path / "r" / "best.safetensors"))
    for k, v in t.model.state_dict().items():
        torch.testing.assert_close(best[k], v)


@pytest.mark.parametrize("name", SCHEDULES)
def test_schedules_follow_their_formula(name: str) -> None:
    sched = {"name": name, "step_size": 2, "gamma": 0.5, "decay_rate": 1.0, "patience": 0, "factor": 0.5}
    t = Trainer(
        mlp_for("xor", (4,)),
        {"dataset": "xor", "options": {"n_samples": 40}},
        {"epochs": 4, "lr": 0.1, "batch_size": 64, "optimizer": "SGD", "schedule": sched},
    )
    lrs = [e.lr for e in t.run() if isinstance(e, EpochStarted)]
    expected = {
        "constant": [0.1] * 4,
        "StepLR": [0.1, 0.1, 0.05, 0.05],
        "ExponentialLR": [0.1, 0.05, 0.025, 0.0125],
        "InverseTimeLR": [0.1, 0.05, 0.1 / 3, 0.025],
        "CosineAnnealingLR": [0.1 * (1 + math.cos(math.pi * k / 4)) / 2 for k in range(4)],
    }
    if name == "ReduceLROnPlateau":
        assert lrs[0] == 0.1 and all(b <= a for a, b in zip(lrs, lrs[1:]))
    else:
        np.testing.assert_allclose(lrs, expected[name], rtol=1e-6)


def test_warmup_ramps_linearly() -> None:
    t = Trainer(
        mlp_for("xor", (4,)),
        {"dataset": "xor", "options": {"n_samples": 40}},
        {"epochs": 4, "lr": 0.3, "batch_size": 64, "schedule": {"warmup_epochs": 2}},
    )
    lrs = [e.lr for e in t.run() if isinstance(e, EpochStarted)]
    np.testing.assert_allclose(lrs, [0.1, 0.2, 0.3, 0.3])


@pytest.mark.parametrize("opt", OPTIMIZERS)
def test_every_optimizer_lowers_the_loss(opt: str) -> None:
    lr = {"SGD": 0.2, "Adagrad": 0.1, "Adadelta": 1.0}.get(opt, 0.01)
    t = Trainer(
        mlp_for("blobs", (16,)),
        {"dataset": "blobs", "options": {"n_samples": 160}, "scaling": "standard"},
        {"epochs": 5, "lr": lr, "optimizer": opt, "batch_size": 32},
    )
    hist = [e.metrics["loss"] for e in t.run() if isinstance(e, EpochEnd)]
    assert hist[-1] < hist[0] * 0.8, hist


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_every_loss_trains(loss: str) -> None:
    info = LOSSES[loss]
    if info.kind == "regression":
        g, data = mlp_for("linear", (8,)), {"dataset": "linear", **SMALL}
    else:
        out = 1 if info.kind == "binary" else 2
        g = mlp_graph((2,), (16,), out)
        if info.head == "probs":
            g = _with_head(out, "Sigmoid")
        elif info.head == "log_probs":
            g = _with_head(out, "LogSoftmax")
        if g is None:
            pytest.skip(f"the head layer for {loss} is not registered yet")
        data = {"dataset": "moons", **SMALL}
    t = Trainer(g, data, {"epochs": 4, "lr": 0.02, "loss": loss, "batch_size": 16})
    events = list(t.run())
    assert isinstance(events[-1], Finished), events[-1]
    hist = [e.metrics["loss"] for e in events if isinstance(e, EpochEnd)]
    assert hist[-1] < hist[0]


def _with_head(out: int, act: str) -> Graph | None:
    from dlstudio.layers.registry import REGISTRY

    try:
        REGISTRY.get(act)
    except Exception:
        return None
    g = Graph()
    h = g.add("ReLU", g.add("Linear", g.input("x", (2,)), out_features=16))
    h = g.add(act, g.add("Linear", h, out_features=out))
    g.output("y", h)
    return g


def test_l1_and_class_weights_change_training() -> None:
    base = {"epochs": 2, "lr": 0.05}
    data = {"dataset": "circles", **SMALL}
    a = Trainer(mlp_for("circles", (8,)), data, base)
    b = Trainer(mlp_for("circles", (8,)), data, {**base, "l1": 0.01, "l2": 0.01})
    la = [e.metrics["loss"] for e in a.run() if isinstance(e, EpochEnd)]
    lb = [e.metrics["loss"] for e in b.run() if isinstance(e, EpochEnd)]
    assert lb[0] > la[0]  # the penalty is part of the reported training loss
    c = Trainer(mlp_for("circles", (8,)), {**data, "imbalance": "class_weights"}, base)
    assert c.loss_fn.fn.weight is not None


def test_overfitting_warning() -> None:
    from dlstudio.training.metrics import overfitting_warning

    hist = [{"loss": 1.0 - 0.1 * i, "val_loss": 0.5 + (0.1 * (i - 2) if i > 2 else 0)} for i in range(7)]
    assert "overfit" in (overfitting_warning(hist) or "")
    assert overfitting_warning([{"loss": 1, "val_loss": 1}] * 5) is None


def test_metrics_agree_with_sklearn() -> None:
    from sklearn.metrics import accuracy_score, f1_score, r2_score, recall_score, roc_auc_score

    from dlstudio.training.metrics import classification_metrics, regression_metrics

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 200)
    p = rng.dirichlet([1, 1, 1], 200)
    p[np.arange(200), y] += 0.5
    m = classification_metrics(y, p, binary=False, full=True)
    assert m["f1_macro"] == pytest.approx(f1_score(y, p.argmax(1), average="macro"))
    assert m["accuracy"] == pytest.approx(accuracy_score(y, p.argmax(1)))
    assert m["recall_macro"] == pytest.approx(recall_score(y, p.argmax(1), average="macro"))
    assert m["auc_roc"] == pytest.approx(roc_auc_score(y, p / p.sum(1, keepdims=True), multi_class="ovr"))
    assert np.array(m["confusion_matrix"]).sum() == 200 and set(m["per_class"]) == {"0", "1", "2"}
    yb = rng.integers(0, 2, 100)
    sb = np.clip(yb * 0.6 + rng.uniform(0, 0.5, 100), 0, 1)
    mb = classification_metrics(yb, sb, binary=True, full=True)
    assert mb["auc_roc"] == pytest.approx(roc_auc_score(yb, sb)) and "roc_curve" in mb
    yr = rng.normal(size=(50, 1))
    assert regression_metrics(yr, yr * 0.9)["r2"] == pytest.approx(r2_score(yr, yr * 0.9))


def test_sanity_tools() -> None:
    from dlstudio.training.sanity import lr_range_test, overfit_one_batch

    t = Trainer(mlp_for("digits", (32,)), {"dataset": "digits"}, {"epochs": 1})
    before = {k: v.clone() for k, v in t.model.state_dict().items()}
    r = overfit_one_batch(t, steps=100)
    assert r.passed and r.final_loss < 0.05 * r.initial_loss, r.message
    rt = lr_range_test(t, steps=40)
    assert 1e-5 < rt.suggested_lr < 1.0 and len(rt.lrs) == len(rt.losses) >= 10
    for k, v in t.model.state_dict().items():  # the trainer's own model is untouched
        assert torch.equal(v, before[k])
    frozen = Trainer(mlp_for("digits", (32,)), {"dataset": "digits"}, {"epochs": 1, "lr": 1e-7, "optimizer": "SGD"})
    assert not overfit_one_batch(frozen, steps=5, lr=1e-7).passed


def test_task_info_for_lints() -> None:
    from dlstudio.training.data import task_info

    g = mlp_for("digits", (8,))
    info = task_info({"dataset": "digits"}, {}, g)
    assert (info.task, info.loss, info.loss_head, info.n_classes, info.expected_units, info.output_label) == (
        "multiclass",
        "CrossEntropyLoss",
        "logits",
        10,
        10,
        "y",
    )
    assert task_info({"dataset": "circles"}, {"loss": "BCELoss"}).loss_head == "probs"
    assert task_info({"dataset": "nope"}, {}).task is None


def test_config_round_trip_and_validation() -> None:
    from dlstudio.core.errors import TrainingConfigError
    from dlstudio.training.config import DataConfig

    cfg = TrainingConfig.from_dict({"optimizer": "SGD", "schedule": "StepLR", "early_stopping": {"patience": 2}})
    assert TrainingConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.resolved_loss("regression") == "MSELoss" and cfg.resolved_loss("multiclass") == "CrossEntropyLoss"
    assert cfg.resolved_loss("binary") == "BCEWithLogitsLoss"
    for bad, field in [
        ({"lr": 0}, "training.lr"),
        ({"optimizer": "Adamm"}, "training.optimizer"),
        ({"batch_size": 1.5}, "training.batch_size"),
        ({"device": "gpu"}, "training.device"),
        ({"schedule": {"name": "cosine"}}, "training.schedule.name"),
        ({"epoch": 3}, "training.epoch"),
    ]:
        with pytest.raises(TrainingConfigError) as err:
            TrainingConfig.from_dict(bad)
        assert err.value.field == field
    d = DataConfig.from_dict({"dataset": "iris", "augment": {"flip": True}})
    assert DataConfig.from_dict(d.to_dict()) == d
    with pytest.raises(TrainingConfigError, match="data.path"):
        DataConfig.from_dict({"dataset": "csv"})


def test_basic_epoch_metrics_use_torch_ops_and_match_full() -> None:
    data = {"dataset": "iris"}
    full = Trainer(mlp_for("iris", (8,)), data, {"epochs": 2})
    basic = Trainer(mlp_for("iris", (8,)), data, {"epochs": 2, "epoch_metrics": "basic"})
    fm = [e.metrics for e in full.run() if isinstance(e, EpochEnd)][-1]
    bm = [e.metrics for e in basic.run() if isinstance(e, EpochEnd)][-1]
    assert set(bm) == {"loss", "val_loss", "val_accuracy", "lr"}
    assert bm["val_accuracy"] == pytest.approx(fm["val_accuracy"]) and bm["val_loss"] == pytest.approx(fm["val_loss"])
    assert "val_f1_macro" in fm and "val_recall_macro" in fm


def test_embedding_lstm_on_token_sequences() -> None:
    g = Graph()
    tokens = g.input("tokens", (12,), dtype="int64")
    h = g.add("Embedding", tokens, num_embeddings=20, embedding_dim=8)
    h = g.add("LSTM", h, hidden_size=16, output="last")
    g.output("y", g.add("Linear", h, out_features=2))
    t = Trainer(g, {"dataset": "toy_text", "options": {"n_samples": 400}}, {"epochs": 6, "lr": 0.01})
    assert t.train_set.x.dtype == torch.int64
    hist = [e.metrics for e in t.run() if isinstance(e, EpochEnd)]
    assert hist[-1]["loss"] < hist[0]["loss"] and hist[-1]["val_accuracy"] > 0.7


def test_int64_input_refuses_float_data() -> None:
    from dlstudio.core.errors import BindingError

    g = Graph()
    x = g.input("tokens", (2,), dtype="int64")
    h = g.add("Embedding", x, num_embeddings=10, embedding_dim=4)
    g.output("y", g.add("Linear", g.add("Flatten", h), out_features=2))
    with pytest.raises(BindingError, match="Input 'tokens' takes int64 ids"):
        Trainer(g, {"dataset": "circles"}, {})


def test_last_good_checkpoint_stays_loadable_after_a_nan(tmp_path: Path) -> None:
    g = mlp_for("sine", (8,))
    t = Trainer(g, {"dataset": "sine", **SMALL}, {"epochs": 5}, run_dir=tmp_path / "r")
    events = []
    for ev in t.run():
        events.append(ev)
        if isinstance(ev, Checkpoint) and ev.epoch == 2:
            with torch.no_grad():
                getattr(t.model, t.node_paths[g.find("head").id]).weight.fill_(float("nan"))
    fail = events[-1]
    assert isinstance(fail, Failed) and fail.epoch == 3 and fail.batch == 1 and fail.node_id == g.find("head").id
    ck = load_checkpoint(Path(fail.last_checkpoint))
    assert ck["epoch"] == 2 and all(torch.isfinite(v).all() for v in ck["model"].values())
    resumed = Trainer(g, {"dataset": "sine", **SMALL}, {"epochs": 3}, resume=fail.last_checkpoint)
    assert isinstance(list(resumed.run())[-1], Finished)


def test_reconstruction_task_targets_the_input() -> None:
    g = Graph()
    x = g.input("x", (64,))
    h = g.add("ReLU", g.add("Linear", x, out_features=16))
    g.output("x_hat", g.add("Linear", h, out_features=64))
    t = Trainer(g, {"dataset": "digits", "scaling": "standard"}, {"task": "reconstruction", "epochs": 4, "lr": 0.01})
    torch.testing.assert_close(t.train_set.y, t.train_set.x)
    hist = [e.metrics for e in t.run() if isinstance(e, EpochEnd)]
    assert t.loss_name == "MSELoss" and hist[-1]["val_loss"] < hist[0]["val_loss"] and "val_r2" in hist[-1]


def test_frozen_nodes_keep_their_weights(tmp_path: Path) -> None:
    g = mlp_for("circles", (8,))
    g.find("fc1").frozen = True
    t = Trainer(g, {"dataset": "circles", **SMALL}, {"epochs": 2, "lr": 0.05})
    fc1 = getattr(t.model, t.node_paths[g.find("fc1").id])
    head = getattr(t.model, t.node_paths[g.find("head").id])
    before_fc1, before_head = fc1.weight.detach().clone(), head.weight.detach().clone()
    assert isinstance(list(t.run())[-1], Finished)
    assert torch.equal(fc1.weight, before_fc1) and not torch.equal(head.weight, before_head)
    # fine-tuning from saved weights: the CLI's --weights goes through initial_weights
    t.save_weights(tmp_path / "w.safetensors")
    from dlstudio.training.checkpoints import load_weights_file

    t2 = Trainer(
        mlp_for("circles", (8,)),
        {"dataset": "circles", **SMALL},
        {"epochs": 1},
        initial_weights=load_weights_file(tmp_path / "w.safetensors"),
    )
    for k, v in t.model.state_dict().items():
        assert torch.equal(t2.model.state_dict()[k], v)


def test_plateau_schedule_follows_the_direction_of_its_metric() -> None:
    import torch

    from dlstudio.training.config import TrainingConfig
    from dlstudio.training.optim import EpochScheduler

    for monitor, mode in (("val_loss", "min"), ("val_accuracy", "max"), ("val_mae", "min")):
        cfg = TrainingConfig.from_dict(
            {"task": "multiclass", "schedule": {"name": "ReduceLROnPlateau"}, "early_stopping": {"monitor": monitor}}
        )
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        assert EpochScheduler(opt, cfg).plateau.mode == mode


def test_epoch_scores_from_the_confusion_matrix_equal_sklearn() -> None:
    import numpy as np
    from sklearn.metrics import precision_recall_fscore_support

    from dlstudio.training.metrics import classification_metrics, confusion_counts, per_class_scores

    rng = np.random.default_rng(7)
    for k in (2, 3, 10):
        for n in (1, 5, 200):
            y = rng.integers(0, k, n)
            pred = rng.integers(0, k, n) if n > 1 else y
            p, r, f = per_class_scores(confusion_counts(y, pred, k))
            sp, sr, sf, _ = precision_recall_fscore_support(y, pred, labels=list(range(k)), zero_division=0)
            assert np.allclose(p, sp) and np.allclose(r, sr) and np.allclose(f, sf)
        scores = rng.random((50, k))
        y = rng.integers(0, k, 50)
        quick = classification_metrics(y, scores, binary=False)
        full = classification_metrics(y, scores, binary=False, full=True)
        for key in ("accuracy", "precision_macro", "recall_macro", "f1_macro"):
            assert quick[key] == pytest.approx(full[key])


def test_fused_kernels_are_picked_and_match_the_plain_update() -> None:
    """Adam/AdamW/SGD/Adagrad run torch's fused kernel unless the project says {"fused": false}; both give the same
    weights after a few steps (the same update, computed in one pass)."""
    from dlstudio.training.optim import build_optimizer

    def train(optimizer: str, params: dict) -> tuple[torch.optim.Optimizer, torch.Tensor]:
        torch.manual_seed(0)
        model = torch.nn.Linear(5, 3)
        opt = build_optimizer(model.parameters(), TrainingConfig(optimizer=optimizer, lr=0.05, optimizer_params=params))
        x = torch.randn(16, 5)
        for _ in range(5):
            opt.zero_grad()
            model(x).pow(2).mean().backward()
            opt.step()
        return opt, model.weight.detach()

    for name in ("Adam", "AdamW", "SGD", "Adagrad"):
        fused, w_fused = train(name, {})
        plain, w_plain = train(name, {"fused": False})
        assert fused.defaults["fused"] is True and not plain.defaults["fused"], name
        assert torch.allclose(w_fused, w_plain, atol=1e-6), name
    rms, _ = train("RMSprop", {})  # no fused kernel in torch: the plain implementation, no error
    assert not rms.defaults.get("fused")


def test_roc_curve_points_equal_sklearn_with_ties() -> None:
    """The results view draws ROC curves from NumPy: the same points as sklearn's roc_curve (all thresholds)."""
    from sklearn.metrics import auc, roc_curve

    from dlstudio.training.metrics import roc_auc, roc_curve_points

    rng = np.random.default_rng(0)
    for _ in range(20):
        n = int(rng.integers(5, 60))
        positive = rng.integers(0, 2, n)
        if positive.min() == positive.max():
            positive[0] = 1 - positive[0]
        scores = np.round(rng.random(n), 1)  # rounded: many ties
        fpr, tpr = roc_curve_points(positive, scores)
        ref_fpr, ref_tpr, _ = roc_curve(positive, scores, drop_intermediate=False)
        np.testing.assert_allclose(fpr, ref_fpr)
        np.testing.assert_allclose(tpr, ref_tpr)
        assert roc_auc(positive.astype(bool), scores) == pytest.approx(auc(ref_fpr, ref_tpr))
