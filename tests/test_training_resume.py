"""Exact resume: a run stopped at any batch of any epoch (the stop writes epoch_XXXX_interrupted) and resumed,
possibly several times, ends with the same weights, digest and history as a run that was never stopped."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dlstudio.training.checkpoints import load_checkpoint
from dlstudio.training.events import BatchEnd, EpochEnd, Failed, Finished
from dlstudio.training.loop import Trainer
from dlstudio.training.quick import mlp_for

pytestmark = pytest.mark.usefixtures("one_torch_thread")

EPOCHS = 4


def _run(trainer: Any, stop_at: tuple[int, int] | None) -> tuple[Finished, list[float]]:
    """Run to the end or until BatchEnd(epoch, batch) == stop_at; returns Finished and the batch losses."""
    losses = []
    last = None
    for ev in trainer.run():
        last = ev
        assert not isinstance(ev, Failed), ev.message
        if isinstance(ev, BatchEnd):
            losses.append(ev.loss)
            if stop_at == (ev.epoch, ev.batch):
                trainer.stop()
    assert isinstance(last, Finished)
    return last, losses


def _interrupted(make: Callable[..., Any], run_dir: Path, stops: list[tuple[int, int]]) -> tuple[Any, list[float]]:
    """Stop at each (epoch, batch) in turn, resuming from the checkpoint the stop wrote; then run to the end."""
    trainer, losses, resume = None, [], None
    for stop in [*stops, None]:
        trainer = make(run_dir=run_dir if resume is None else None, resume=resume)
        fin, part = _run(trainer, stop)
        losses += part
        if stop is not None:
            assert fin.stopped_by_user
            resume = Path(trainer.last_checkpoint)
            epoch, batch = stop
            assert resume.name == f"epoch_{epoch - 1:04d}_interrupted"
            position = load_checkpoint(resume)["extra"]["position"]
            assert (position["epoch"], position["done"]) == (epoch, batch)
    return trainer, losses


def _supervised(**kw: Any) -> Trainer:
    training = {
        "epochs": EPOCHS,
        "batch_size": 32,
        "optimizer": "Adam",
        "lr": 0.01,
        "schedule": {"name": "CosineAnnealingLR", "warmup_epochs": 1},
    }
    data = {"dataset": "moons", "options": {"n_samples": 200}, "augment": {"noise": 0.05}}
    return Trainer(mlp_for("moons", (16,)), data, training, **kw)


# 160 training rows / 32 = 5 batches per epoch
SUPERVISED_STOPS = [[(1, 2)], [(2, 4)], [(3, 1)], [(1, 4), (2, 1), (4, 3)]]


@pytest.mark.parametrize("stops", SUPERVISED_STOPS, ids=str)
def test_supervised_resume_from_any_batch_is_exact(tmp_path: Path, stops: list[tuple[int, int]]) -> None:
    straight, straight_losses = _supervised(run_dir=tmp_path / "straight"), None
    _, straight_losses = _run(straight, None)
    resumed, losses = _interrupted(_supervised, tmp_path / "split", stops)
    assert resumed.weights_digest() == straight.weights_digest()
    assert losses == straight_losses  # every batch, in the same order, with the same random draws
    assert resumed.state.history == straight.state.history
    rows = (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()
    assert len(rows) == EPOCHS


def _gan(**kw: Any) -> Any:
    from test_zoo_generative import _tiny_gan

    from dlstudio.training.generative import make_generative_trainer

    return make_generative_trainer(_tiny_gan(), epochs=3, max_batches=4, **kw)


@pytest.mark.parametrize("stops", [[(1, 3)], [(2, 1), (3, 2)]], ids=str)
def test_gan_resume_from_any_batch_is_exact(tmp_path: Path, stops: list[tuple[int, int]]) -> None:
    straight = _gan(run_dir=tmp_path / "straight")
    fin, straight_losses = _run(straight, None)
    resumed, losses = _interrupted(_gan, tmp_path / "split", stops)
    assert resumed.weights_digest() == straight.weights_digest()
    assert losses == straight_losses
    assert resumed.history == straight.history  # d/g losses, D's outputs, the change of the fixed-noise samples


def test_a_stop_between_epochs_resumes_from_the_epoch_checkpoint(tmp_path: Path) -> None:
    straight = _supervised(run_dir=tmp_path / "straight")
    _run(straight, None)
    first = _supervised(run_dir=tmp_path / "split")
    for ev in first.run():
        if isinstance(ev, EpochEnd) and ev.epoch == 2:
            first.stop()
    assert Path(first.last_checkpoint).name == "epoch_0002"
    resumed = _supervised(resume=first.last_checkpoint)
    _run(resumed, None)
    assert resumed.weights_digest() == straight.weights_digest()
