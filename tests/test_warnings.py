"""DlstudioWarning: a setting the run cannot apply is said out loud (the suite turns these warnings into errors,
so a run that ignores a setting without saying so fails here)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import dlstudio as dls
from dlstudio.core.errors import DlstudioWarning
from dlstudio.training.generative import ReconstructionTrainer
from dlstudio.training.loop import Trainer
from dlstudio.training.quick import mlp_for

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_mixed_precision_off_cuda_is_reported_at_the_callers_line() -> None:
    data = {"dataset": "circles", "options": {"n_samples": 60}}
    with pytest.warns(DlstudioWarning, match=r"training\.amp is on but this run trains on cpu") as caught:
        trainer = Trainer(mlp_for("circles", (4,)), data, {"epochs": 1, "amp": True}, device="cpu")
    assert not trainer.amp
    assert [Path(w.filename).name for w in caught] == [Path(__file__).name]  # points at the Trainer(...) call
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # amp off: nothing to say
        Trainer(mlp_for("circles", (4,)), data, {"epochs": 1}, device="cpu")


def test_generative_runs_name_the_supervised_settings_they_ignore() -> None:
    project = dls.Project.load(EXAMPLES / "dense_autoencoder.dlstudio")
    training = {**project.training, "epochs": 1, "l1": 1e-4, "early_stopping": {"patience": 3}}
    with pytest.warns(DlstudioWarning, match=r"ignores these training settings") as caught:
        ReconstructionTrainer(project.graph, project.data, training, device="cpu")
    (w,) = caught
    assert "training.l1" in str(w.message) and "training.early_stopping.patience" in str(w.message)
    assert "training.amp" not in str(w.message)
    assert Path(w.filename).name == Path(__file__).name
