"""Every zoo template loads, checks clean, has valid data/training settings and trains briefly (small ones to a
stated quality, big ones a few steps on a few images; the generative ones in test_zoo_generative.py). The exports
of every example, the templates included, are tested once each: tests/test_export_onnx.py and
tests/test_export_python.py."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from examples_matrix import ALL, TRAINED_IN_ZOO_GENERATIVE, load, params, zoo_names

import dlstudio as dls
from dlstudio.training.config import DataConfig, TrainingConfig
from dlstudio.training.data.builtin import BUILTINS
from dlstudio.training.generative import GenerativeConfig, generative_mode
from dlstudio.training.loop import Trainer

pytestmark = pytest.mark.usefixtures("one_torch_thread")


ZOO = zoo_names()
# the issue's list, by the file that covers each entry
ISSUE_TEMPLATES = {
    "Perceptron": "perceptron",
    "MLP": "mlp_digits",
    "deep MLP": "deep_mlp",
    "LeNet-5": "lenet5",
    "AlexNet-style": "alexnet_small",
    "TinyVGG": "tiny_vgg",
    "ResNet-18": "resnet18_cifar",
    "MobileNetV2": "mobilenetv2_cifar",
    "Inception-style": "inception_small",
    "DenseNet-style": "densenet_small",
    "RNN/LSTM/GRU classifier": "gru_sequence",
    "time-series forecaster": "lstm_forecaster",
    "Embedding+LSTM text classifier": "lstm_sequence",
    "Transformer encoder classifier": "transformer_classifier",
    "dense autoencoder": "dense_autoencoder",
    "convolutional autoencoder": "conv_autoencoder",
    "DCGAN": "dcgan",
    "super-resolution": "super_resolution",
}


def test_every_issue_template_has_a_project_file():
    assert set(ISSUE_TEMPLATES.values()) <= set(ALL)
    assert set(ZOO) <= set(ALL)


@pytest.mark.parametrize("name", params(ZOO))
def test_template_loads_checks_and_has_settings(name: str) -> None:
    project = load(name)
    assert project.meta["name"] == name
    assert len(project.meta["description"]) > 40 and len(project.meta["explanation"]) > 400
    report = dls.check(project.graph)
    assert report.errors == [], [str(d) for d in report.errors]
    dcfg = DataConfig.from_dict(project.data)
    tcfg = TrainingConfig.from_dict(project.training)
    assert dcfg.dataset in BUILTINS
    # full training settings, not only a hint
    assert {"optimizer", "lr", "batch_size", "epochs"} <= set(project.training)
    if generative_mode(project.training):
        GenerativeConfig.from_training(project.training)
    else:
        assert tcfg.task is not None
    model = dls.compile(project.graph, seed=0)
    assert report.totals.params == sum(p.numel() for p in model.parameters())


# ------------------------------------------------------------------------------------------------ brief training
# small templates train with their own settings (fewer epochs where noted) to a stated validation quality
QUALITY = {
    "perceptron": ({}, "val_accuracy", 0.95),
    "deep_mlp": ({"epochs": 40}, "val_accuracy", 0.9),
    "tiny_vgg": ({"epochs": 4}, "val_accuracy", 0.85),
    "gru_sequence": ({"epochs": 8}, "val_accuracy", 0.8),
    "lstm_forecaster": ({"epochs": 8}, "val_r2", 0.8),
    "transformer_classifier": ({"epochs": 10}, "val_accuracy", 0.8),
}


@pytest.mark.train
@pytest.mark.parametrize("name", params(sorted(QUALITY)))
def test_small_template_trains_to_its_quality(name: str) -> None:
    project = load(name)
    overrides, metric, bar = QUALITY[name]
    training = {**project.training, **overrides}
    trainer = Trainer(project.graph, project.data, training)
    events = list(trainer.run())
    last = events[-1]
    assert type(last).__name__ == "Finished", getattr(last, "message", last)
    history = trainer.state.history
    assert history[-1]["loss"] < history[0]["loss"]
    assert last.final_metrics[metric] >= bar, (metric, last.final_metrics)


def _brief_steps(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, lr: float
) -> tuple[float, float]:
    """A few Adam steps on one small batch in train mode; the loss before and after on the same batch."""
    loss_fn = torch.nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = []
    for _ in range(steps + 1):
        loss = loss_fn(model(x), y)
        losses.append(float(loss.detach()))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return losses[0], losses[-1]


# the big templates: a few training steps each, below
BRIEF_STEPS = ("alexnet_small", "inception_small", "densenet_small", "resnet18_cifar", "mobilenetv2_cifar")


def test_every_template_trains_in_some_test():
    assert set(QUALITY) | set(BRIEF_STEPS) | set(TRAINED_IN_ZOO_GENERATIVE) == set(ZOO)


@pytest.mark.train
@pytest.mark.parametrize("name", params(BRIEF_STEPS))
def test_big_template_takes_training_steps_on_its_data(name: str) -> None:
    """The real pipeline (data, binding, compiled model) with a few steps on 8 images; the quality runs are in
    examples/zoo_benchmark.py."""
    project = load(name)
    trainer = Trainer(project.graph, project.data, {**project.training, "epochs": 1})
    xb, yb = trainer.train_set.x[:8], trainer.train_set.y[:8]
    model = copy.deepcopy(trainer.model)
    before = [p.detach().clone() for p in model.parameters()]
    first, last = _brief_steps(model, xb, yb, steps=4, lr=1e-3)
    assert math.isfinite(first) and math.isfinite(last)
    assert last < first
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()) if a.dim() > 1)
