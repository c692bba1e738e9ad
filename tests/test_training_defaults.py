"""A new project learns with the settings it starts with: per-dataset starting values (dlstudio.training.defaults)
reach a sensible score on each built-in table and 2-D set within seconds, the studio's training form shows the
same values (learning rate, epochs and batch size first) and follows the chosen dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dlstudio.io.project import Project
from dlstudio.training.defaults import starting_values, with_starting_settings
from dlstudio.training.events import Finished
from dlstudio.training.quick import mlp_for, mlp_graph

ROOT = Path(__file__).resolve().parents[1]


def _digits_example():
    return Project.load(ROOT / "examples" / "mlp_digits.dlstudio").graph  # the project the studio opens with


# (dataset, the model a user builds for it, metric, bar): iris is the drag-and-drop 4-5-3 MLP
NEW_PROJECTS = [
    ("iris", lambda: mlp_graph((4,), (5,), 3), "val_accuracy", 0.9),
    ("wine", lambda: mlp_for("wine", (16,)), "val_accuracy", 0.9),
    ("digits", _digits_example, "val_accuracy", 0.95),
    ("moons", lambda: mlp_for("moons", (16,)), "val_accuracy", 0.95),
    ("circles", lambda: mlp_for("circles", (16,)), "val_accuracy", 0.95),
    ("diabetes", lambda: mlp_for("diabetes", (16,)), "val_r2", 0.4),
]


def _least_squares_r2(dataset: str) -> float:
    """Validation R^2 of ordinary least squares (NumPy) on the trainer's split and scaling, through the same data
    pipeline and the same starting data settings: the best any linear fit of the target reaches there."""
    from dlstudio.training.config import DataConfig
    from dlstudio.training.data.builtin import load_builtin
    from dlstudio.training.data.prepare import prepare

    splits = prepare(load_builtin(dataset), DataConfig.from_dict({"dataset": dataset}))
    (xt, yt), (xv, yv) = (
        (np.c_[np.asarray(s.x, np.float64), np.ones(len(s.x))], np.asarray(s.y, np.float64).ravel())
        for s in (splits.train, splits.val)
    )
    coef = np.linalg.lstsq(xt, yt, rcond=None)[0]
    return float(1.0 - np.sum((yv - xv @ coef) ** 2) / np.sum((yv - yv.mean()) ** 2))


@pytest.mark.train
@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.parametrize("dataset,graph,metric,bar", NEW_PROJECTS, ids=[p[0] for p in NEW_PROJECTS])
def test_a_new_project_learns_with_the_settings_it_starts_with(dataset, graph, metric, bar) -> None:
    from dlstudio.training.loop import Trainer

    trainer = Trainer(graph(), {"dataset": dataset}, {})  # a new project sets nothing: the defaults decide
    start = starting_values(dataset)
    assert (trainer.cfg.lr, trainer.cfg.epochs, trainer.cfg.batch_size) == (
        start["lr"],
        start["epochs"],
        start["batch_size"],
    )
    last = list(trainer.run())[-1]
    assert isinstance(last, Finished), last
    assert last.final_metrics[metric] >= bar, (dataset, last.final_metrics)
    if metric == "val_r2":  # and the MLP fits at least what the best straight line does on the same rows
        assert last.final_metrics[metric] >= _least_squares_r2(dataset) - 0.03, last.final_metrics


def test_project_settings_win_over_the_starting_values() -> None:
    from dlstudio.training.config import resolve_configs

    _, cfg = resolve_configs({"dataset": "iris"}, {"lr": 0.5, "epochs": 3})
    assert (cfg.lr, cfg.epochs, cfg.batch_size) == (0.5, 3, starting_values("iris")["batch_size"])
    _, cfg = resolve_configs({"dataset": "digits_28x28"}, {})  # images keep the general defaults
    assert (cfg.lr, cfg.epochs, cfg.batch_size) == (1e-3, 10, 32)
    assert with_starting_settings({"weight_decay": 0.0}, "diabetes")["weight_decay"] == 0.0
    # diabetes validates on a quarter of its 442 rows unless the project says otherwise
    dcfg, _ = resolve_configs({"dataset": "diabetes"}, {})
    assert dcfg.val_fraction == 0.25
    assert resolve_configs({"dataset": "diabetes", "val_fraction": 0.1}, {})[0].val_fraction == 0.1
    assert resolve_configs({"dataset": "iris"}, {})[0].val_fraction == 0.2


def test_training_form_starts_with_lr_epochs_batch_and_follows_the_dataset(qtbot, tmp_path: Path) -> None:
    from PySide6.QtWidgets import QFormLayout

    from dlstudio.ui.training import TrainingWorkspace

    project = Project()  # File > New
    ws = TrainingWorkspace(lambda: project, runs_root=tmp_path, isolation="thread")
    qtbot.addWidget(ws)
    ws.load_project()
    panel = ws.training_panel
    form = panel.form
    labels = [
        form.itemAt(row, QFormLayout.ItemRole.LabelRole).widget().text()
        for row in range(3)  # the first three rows of the training form
    ]
    assert labels == ["Learning rate", "Epochs", "Batch size"]
    # and that form is what the dock shows first: the Training tab, before the Data tab
    tabs = ws.settings_tabs
    assert [tabs.tabText(i) for i in range(tabs.count())] == ["Training", "Data"]
    assert tabs.currentIndex() == 0 and tabs.widget(0).widget() is panel
    assert form.itemAt(3, QFormLayout.ItemRole.SpanningRole).widget() is panel.defaults_note

    def shown() -> dict:
        t = panel.to_dict()
        return {k: t[k] for k in ("lr", "epochs", "batch_size", "weight_decay")}

    first = ws.data_panel.dataset.currentText()
    assert shown() == starting_values(first)  # the form shows what the engine would train with
    assert first in panel.defaults_note.text() and "per-dataset" in panel.defaults_note.text()

    ws.data_panel.dataset.setCurrentText("iris")  # a new project on iris
    assert shown() == starting_values("iris") and project.training["lr"] == starting_values("iris")["lr"]
    assert "iris" in panel.defaults_note.text()

    panel.epochs.setValue(77)  # the user's own value stays when the dataset changes; untouched ones follow
    ws.data_panel.dataset.setCurrentText("diabetes")
    expected = {**starting_values("diabetes"), "epochs": 77}
    assert shown() == expected and {k: project.training[k] for k in expected} == expected

    assert project.data["val_fraction"] == 0.25 and ws.data_panel.val_fraction.value() == 0.25

    ws.data_panel.dataset.setCurrentText("digits_28x28")  # no per-dataset values: the general defaults
    assert shown() == {**starting_values("digits_28x28"), "epochs": 77}
    assert "general defaults" in panel.defaults_note.text()
    assert project.data["val_fraction"] == 0.2

    ws.data_panel.val_fraction.setValue(0.3)  # a user's validation fraction stays on diabetes too
    ws.data_panel.dataset.setCurrentText("diabetes")
    assert project.data["val_fraction"] == 0.3
