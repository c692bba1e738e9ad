"""Generative training: autoencoder and super-resolution reconstruction, GAN mode (BCE and hinge, label
smoothing, fixed-noise sample grids), the GAN project layout, weights, the CLI verb and config errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import dlstudio as dls
from dlstudio.cli import run_cli
from dlstudio.core.edits import GroupNodes
from dlstudio.core.errors import TrainingConfigError
from dlstudio.training.generative import (
    GANTrainer,
    GenerativeConfig,
    ReconstructionTrainer,
    SamplesSaved,
    generative_mode,
    image_grid,
    make_generative_trainer,
    split_graph,
    write_png,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _events(trainer) -> list:
    events = list(trainer.run())
    assert type(events[-1]).__name__ == "Finished", getattr(events[-1], "message", events[-1])
    return events


def _of(events: list, name: str) -> list:
    return [e for e in events if type(e).__name__ == name]


def _tiny_gan(gan_loss: str = "bce", **generative) -> dls.Project:
    """A dense GAN on the 8x8 digits: small enough to train for real in a test."""
    g = dls.Graph()
    z = g.input("noise", shape=(16,))
    h = g.add("ReLU", g.add("Linear", z, out_features=64, label="g_fc1"))
    first = h.node_id
    h = g.add("Tanh", g.add("Linear", h, out_features=64, label="g_fc2"))
    ids = list(g.nodes)
    GroupNodes(g.new_id("g"), "generator", tuple(ids[ids.index(first) - 1 :])).apply(g)
    g.output("fake", h)
    x = g.input("image", shape=(64,))
    d = g.add("LeakyReLU", g.add("Linear", x, out_features=64, label="d_fc1"), negative_slope=0.2)
    g.output("score", g.add("Linear", d, out_features=1, label="d_fc2"))
    gen = {
        "mode": "gan",
        "gan_loss": gan_loss,
        "generator": {"input": "noise", "output": "fake"},
        "discriminator": {"input": "image", "output": "score"},
        "samples": 9,
        **generative,
    }
    return dls.Project(
        graph=g,
        meta={"name": "tiny_gan"},
        data={"dataset": "digits"},
        training={
            "generative": gen,
            "optimizer": "Adam",
            "lr": 0.002,
            "optimizer_params": {"betas": [0.5, 0.999]},
            "batch_size": 64,
            "epochs": 3,
        },
    )


# ------------------------------------------------------------------------------------------------ modes
def test_mode_follows_the_training_section():
    assert generative_mode({"task": "multiclass"}) is None
    # a plain reconstruction task stays with the supervised Trainer; the mode must be asked for
    assert generative_mode({"task": "reconstruction"}) is None
    assert generative_mode({"generative": {"mode": "gan"}}) == "gan"
    for name in ("dense_autoencoder", "conv_autoencoder"):
        assert generative_mode(dls.Project.load(EXAMPLES / f"{name}.dlstudio").training) == "autoencoder"
    assert generative_mode(dls.Project.load(EXAMPLES / "super_resolution.dlstudio").training) == "super_resolution"
    assert generative_mode(dls.Project.load(EXAMPLES / "dcgan.dlstudio").training) == "gan"


@pytest.mark.parametrize(
    "generative, field",
    [
        ({"mode": "diffusion"}, "training.generative.mode"),
        ({"mode": "gan", "gan_loss": "wasserstein"}, "training.generative.gan_loss"),
        ({"mode": "gan", "label_smoothing": 0.7}, "training.generative.label_smoothing"),
        ({"mode": "gan", "d_steps": 0}, "training.generative.d_steps"),
        ({"mode": "autoencoder", "noise": 0.1}, "training.generative.noise"),
    ],
)
def test_bad_generative_settings_name_the_field(generative: dict, field: str) -> None:
    with pytest.raises(TrainingConfigError) as info:
        GenerativeConfig.from_training({"generative": generative})
    assert field in str(info.value)


# ------------------------------------------------------------------------------------------------ autoencoder
def test_autoencoder_mode_reconstruction_error_falls_and_grids_are_saved(tmp_path: Path) -> None:
    project = dls.Project.load(EXAMPLES / "dense_autoencoder.dlstudio")
    trainer = make_generative_trainer(project, run_dir=tmp_path / "run", epochs=6)
    assert isinstance(trainer, ReconstructionTrainer)
    events = _events(trainer)
    val = [e.metrics["val_loss"] for e in _of(events, "EpochEnd")]
    assert len(val) == 6 and val[-1] < 0.7 * val[0], val
    grids = _of(events, "SamplesSaved")
    assert [g.epoch for g in grids] == list(range(1, 7))
    assert all(g.kind == "reconstructions" and Path(g.path).is_file() for g in grids)
    # two rows (inputs, reconstructions) of 16 8x8 images with 2-pixel gaps, grey
    assert grids[0].grid.shape == (2 * 10 + 2, 16 * 10 + 2, 1) and grids[0].grid.dtype == np.uint8
    assert grids[-1].change > 0
    # the input row is the data itself and stays put; the reconstructions move
    assert np.array_equal(grids[0].grid[:12], grids[-1].grid[:12])
    assert not np.array_equal(grids[0].grid[12:], grids[-1].grid[12:])
    assert json.loads(json.dumps(grids[0].to_dict()))["kind"] == "reconstructions"
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == list(range(1, 7))
    # the weights are node-keyed: the project compiles with them and reproduces the trained model
    project.path = tmp_path / "ae.dlstudio"
    model = project.compile(weights=tmp_path / "run" / "last.safetensors")
    x = torch.rand(4, 64)
    trainer.model.eval()
    assert torch.allclose(model.eval()(x), trainer.model(x))


def test_super_resolution_mode_pools_the_target_and_reports_the_bilinear_baseline() -> None:
    project = dls.Project.load(EXAMPLES / "super_resolution.dlstudio")
    trainer = make_generative_trainer(project, epochs=3, max_batches=6)
    events = _events(trainer)
    ends = _of(events, "EpochEnd")
    assert all("val_bilinear_loss" in e.metrics for e in ends)
    assert ends[-1].metrics["val_loss"] < ends[0].metrics["val_loss"]
    assert len(_of(events, "BatchEnd")) == 18  # 3 epochs capped at 6 batches
    low = trainer._degrade(trainer.x_train[:2])
    assert low.shape == (2, 1, 14, 14)
    assert torch.allclose(low[0, 0, 0, 0], trainer.x_train[0, 0, :2, :2].mean())


def test_autoencoder_input_shape_mismatch_is_a_config_error() -> None:
    project = dls.Project.load(EXAMPLES / "super_resolution.dlstudio")
    project.training["generative"] = {"mode": "autoencoder"}  # without pooling the data is 28x28, not 14x14
    with pytest.raises(TrainingConfigError, match="low_res"):
        make_generative_trainer(project)


# ------------------------------------------------------------------------------------------------ GAN
@pytest.mark.parametrize("gan_loss", ["bce", "hinge"])
def test_gan_mode_alternates_updates_with_finite_losses_and_changing_samples(gan_loss: str, tmp_path: Path) -> None:
    project = _tiny_gan(gan_loss)
    trainer = make_generative_trainer(project, run_dir=tmp_path / "run")
    assert isinstance(trainer, GANTrainer)
    g0 = [p.detach().clone() for p in trainer.generator.parameters()]
    d0 = [p.detach().clone() for p in trainer.discriminator.parameters()]
    events = _events(trainer)
    ends = _of(events, "EpochEnd")
    assert len(ends) == 3
    for e in ends:
        assert all(math.isfinite(e.metrics[k]) for k in ("d_loss", "g_loss", "d_real", "d_fake"))
    # both networks were updated
    assert all(not torch.equal(a, b) for a, b in zip(g0, trainer.generator.parameters()))
    assert all(not torch.equal(a, b) for a, b in zip(d0, trainer.discriminator.parameters()))
    grids = _of(events, "SamplesSaved")
    assert [g.kind for g in grids] == ["samples"] * 3
    assert grids[0].change == 0 and grids[1].change > 0 and grids[2].change > 0
    assert ends[-1].metrics["sample_change"] == pytest.approx(grids[-1].change, rel=1e-5)
    assert grids[0].grid.shape == (3 * 10 + 2, 3 * 10 + 2, 1)  # 9 samples of 8x8 in a 3x3 grid
    assert all(Path(g.path).is_file() for g in grids)
    # the fixed noise makes the grid reproducible: the same generator gives the same samples
    with torch.no_grad():
        trainer.generator.eval()
        assert torch.equal(trainer._generate(trainer.fixed_noise), trainer._generate(trainer.fixed_noise))
    # one weights file holds both networks, keyed by node id, and loads into the whole project graph
    model = project.compile(weights=tmp_path / "run" / "last.safetensors")
    z, x = torch.randn(5, 16), torch.rand(5, 64)
    fake, score = model.eval()(z, x)
    assert torch.allclose(fake, trainer._generate(z)) and torch.allclose(score.flatten(), trainer._score(x))


def test_gan_losses_and_one_sided_label_smoothing() -> None:
    trainer = make_generative_trainer(_tiny_gan("bce", label_smoothing=0.1))
    real, fake = torch.tensor([3.0]), torch.tensor([-30.0])
    # smoothed real labels (0.9): a confident discriminator still pays on real images; fakes cost ~0 here
    p = 1 / (1 + math.exp(-3.0))
    expected = -(0.9 * math.log(p) + 0.1 * math.log(1 - p))
    assert trainer.d_loss(real, fake).item() == pytest.approx(expected, rel=1e-4)
    assert trainer.g_loss(torch.tensor([0.0])).item() == pytest.approx(math.log(2), rel=1e-5)
    hinge = make_generative_trainer(_tiny_gan("hinge"))
    assert hinge.d_loss(torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])).item() == pytest.approx(0.25 + 0.5)
    assert hinge.g_loss(torch.tensor([1.0, 3.0])).item() == pytest.approx(-2.0)


def test_gan_data_is_rescaled_to_the_generators_tanh_range() -> None:
    trainer = make_generative_trainer(_tiny_gan())
    assert trainer.tanh and trainer.x_train.min() >= -1 and trainer.x_train.min() < -0.9
    kept = make_generative_trainer(_tiny_gan(rescale="none"))
    assert kept.x_train.min() >= 0


def test_dcgan_template_trains_a_step_and_saves_a_colour_grid(tmp_path: Path) -> None:
    project = dls.Project.load(EXAMPLES / "dcgan.dlstudio")
    project.training["batch_size"] = 4
    project.training["generative"]["samples"] = 4
    trainer = make_generative_trainer(project, run_dir=tmp_path / "run", epochs=2, max_batches=1)
    events = _events(trainer)
    grids = _of(events, "SamplesSaved")
    assert grids[0].grid.shape == (2 * 66 + 2, 2 * 66 + 2, 3)
    assert grids[1].change > 0
    assert all(math.isfinite(v) for e in _of(events, "EpochEnd") for v in e.metrics.values())


def test_split_graph_keeps_each_network_with_its_group() -> None:
    graph = dls.Project.load(EXAMPLES / "dcgan.dlstudio").graph
    gen, disc = split_graph(graph, "noise"), split_graph(graph, "image")
    assert set(gen.nodes) | set(disc.nodes) == set(graph.nodes) and not set(gen.nodes) & set(disc.nodes)
    assert [g.label for g in gen.groups.values()] == ["generator"]
    assert [g.label for g in disc.groups.values()] == ["discriminator"]


def test_gan_errors_name_what_to_fix() -> None:
    shared = _tiny_gan()
    g = shared.graph
    fake = dls.api.Ref(g, g.find("tanh").id, "y")
    image = dls.api.Ref(g, g.find("image").id, "out")
    g.add("Add", fake, image, label="join")  # the two networks are no longer separate parts
    with pytest.raises(TrainingConfigError, match="share node"):
        make_generative_trainer(shared)
    wrong = _tiny_gan()
    wrong.training["generative"]["discriminator"] = {"input": "pixels", "output": "score"}
    with pytest.raises(Exception, match="pixels"):
        make_generative_trainer(wrong)
    small = _tiny_gan()
    small.data = {"dataset": "iris"}  # 4 features, the discriminator reads 64
    with pytest.raises(TrainingConfigError, match="image"):
        make_generative_trainer(small)


def test_stop_ends_a_gan_run_with_finished() -> None:
    trainer = make_generative_trainer(_tiny_gan())
    events = []
    for ev in trainer.run():
        events.append(ev)
        if type(ev).__name__ == "BatchEnd":
            trainer.stop()
    assert type(events[-1]).__name__ == "Finished" and events[-1].stopped_by_user
    assert len(_of(events, "BatchEnd")) == 1


# ------------------------------------------------------------------------------------------------ CLI, images
def test_cli_trains_a_gan_project_headless(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = _tiny_gan()
    project.training["epochs"] = 2
    path = project.save(tmp_path / "tiny_gan.dlstudio")
    assert run_cli(["train", str(path), "--json", "--run-dir", str(tmp_path / "run")]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    kinds = [d["event"] for d in lines]
    assert kinds.count("SamplesSaved") == 2 and kinds[-1] == "Finished"
    assert len(lines[-1]["weights_sha256"]) == 64
    assert sorted(p.name for p in (tmp_path / "run" / "samples").iterdir()) == ["epoch_0001.png", "epoch_0002.png"]
    assert run_cli(["train", str(path), "--resume", str(tmp_path / "run")]) == 2


def test_image_grid_and_png_round_trip(tmp_path: Path) -> None:
    imgs = torch.linspace(-1, 1, 2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    grid = image_grid(imgs, nrow=2, pad=1, value_range=(-1, 1))
    assert grid.shape == (4 + 2, 2 * 5 + 3, 3)
    assert grid[0, 0].tolist() == [255, 255, 255]  # padding is white
    assert grid[1, 1, 0] == 0  # the darkest value maps to 0
    image = pytest.importorskip("PIL.Image")
    for pixels in (grid, image_grid(torch.rand(3, 64), nrow=3)):
        path = write_png(tmp_path / "grid.png", pixels)
        with image.open(path) as im:
            back = np.asarray(im)
        assert np.array_equal(back.reshape(pixels.shape), pixels)
    assert isinstance(SamplesSaved(1, None, "samples", 0.0, grid).to_dict()["change"], float)


def test_make_trainer_and_evaluate_know_generative_projects(tmp_path: Path) -> None:
    from dlstudio.training.project import make_trainer, train_project

    project = dls.Project.load(EXAMPLES / "dense_autoencoder.dlstudio")
    assert isinstance(make_trainer(project, use_run_dir=False), ReconstructionTrainer)
    assert isinstance(make_trainer(_tiny_gan(), use_run_dir=False), GANTrainer)
    from dlstudio.core.errors import DataError

    with pytest.raises(DataError, match="not a checkpoint folder"):  # generative runs resume too (see below)
        make_trainer(project, resume=tmp_path)
    project.training["epochs"] = 1
    assert type(train_project(project, use_run_dir=False)).__name__ == "Finished"
    assert run_cli(["evaluate", str(EXAMPLES / "dense_autoencoder.dlstudio")]) == 2


def test_a_fault_during_training_is_a_failed_event_naming_the_epoch() -> None:
    project = dls.Project.load(EXAMPLES / "dense_autoencoder.dlstudio")
    project.training["loss"] = "BCELoss"
    trainer = make_generative_trainer(project, epochs=1, max_batches=1)
    trainer.x_train = trainer.x_train * 3  # targets outside [0, 1]: BCELoss refuses them
    last = list(trainer.run())[-1]
    assert type(last).__name__ == "Failed" and last.epoch == 1 and "(epoch 1, batch 1)" in last.message


def test_the_studio_worker_helpers_accept_generative_trainers() -> None:
    from dlstudio.ui.workers import collect_predictions, is_two_d

    for trainer in (
        make_generative_trainer(_tiny_gan()),
        make_generative_trainer(dls.Project.load(EXAMPLES / "dense_autoencoder.dlstudio")),
    ):
        assert is_two_d(trainer) is False
        assert collect_predictions(trainer) is None


@pytest.mark.timeout(480)  # its wait below is a bound for a busy machine, not an expected time
def test_the_studio_training_workspace_runs_a_gan_project(qtbot, tmp_path: Path) -> None:
    """make_trainer hands the studio a GANTrainer; the workspace trains it to the end and its Samples tab
    shows the fixed-noise grid of the last epoch."""
    from dlstudio.training.events import Finished
    from dlstudio.ui.training import TrainingWorkspace

    project = _tiny_gan()
    project.training["epochs"] = 2
    ws = TrainingWorkspace(lambda: project, runs_root=tmp_path / "runs")
    qtbot.addWidget(ws, before_close_func=lambda w: w.shutdown())  # a failed test must not leave a run going
    ws.load_project()
    assert ws.start()
    with qtbot.waitSignal(ws.run_ended, timeout=180_000):  # the training process may get little CPU
        pass
    # every event of the run was delivered before run_ended: nothing is left to wait for
    assert isinstance(ws.last_event, Finished) and ws.last_event.epochs_run == 2
    assert math.isfinite(ws.last_event.final_metrics["g_loss"])
    assert len(list((Path(ws.last_event.run_dir) / "samples").glob("*.png"))) == 2
    assert ws.samples.epoch == 2 and ws.tabs.currentWidget() is ws.samples
    pix = ws.samples.image.pixmap()
    assert pix is not None and not pix.isNull() and pix.width() > 0
    assert "epoch 2" in ws.samples.caption.text()


# ------------------------------------------------------------------------------------------------ resume
@pytest.mark.parametrize("kind", ["gan", "autoencoder"])
def test_a_resumed_generative_run_ends_like_an_uninterrupted_one(tmp_path: Path, kind: str) -> None:
    """Checkpoints hold the model, every optimizer and schedule, RNG, history and the last sample grid: stop
    after epoch 2, resume to 4, and the weights, metrics and sample changes equal a straight 4-epoch run."""

    def project() -> dls.Project:
        if kind == "gan":
            return _tiny_gan()
        return dls.Project.load(EXAMPLES / "dense_autoencoder.dlstudio")

    straight = make_generative_trainer(project(), run_dir=tmp_path / "straight", epochs=4, max_batches=5)
    full = _events(straight)
    first = make_generative_trainer(project(), run_dir=tmp_path / "split", epochs=2, max_batches=5)
    part = _events(first)
    ckpts = _of(part, "Checkpoint")
    assert [c.epoch for c in ckpts] == [1, 2] and all(Path(c.path, "state.json").is_file() for c in ckpts)
    resumed = make_generative_trainer(project(), epochs=4, max_batches=5, resume=ckpts[-1].path)
    assert resumed.run_dir == tmp_path / "split"  # continues in the checkpoint's own run folder
    rest = _events(resumed)
    assert [e.epoch for e in _of(rest, "EpochEnd")] == [3, 4]
    assert resumed.weights_digest() == straight.weights_digest()
    assert _of(rest, "EpochEnd")[-1].metrics == _of(full, "EpochEnd")[-1].metrics
    assert _of(rest, "SamplesSaved")[0].change == _of(full, "SamplesSaved")[2].change
    rows = [json.loads(line) for line in (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]


def test_resume_refuses_a_checkpoint_of_another_mode(tmp_path: Path) -> None:
    ae = make_generative_trainer(
        dls.Project.load(EXAMPLES / "dense_autoencoder.dlstudio"), run_dir=tmp_path / "ae", epochs=1, max_batches=2
    )
    ckpt = _of(_events(ae), "Checkpoint")[-1].path
    gan = make_generative_trainer(_tiny_gan(), epochs=2, max_batches=2, resume=ckpt)
    last = list(gan.run())[-1]
    assert type(last).__name__ == "Failed" and "not a checkpoint of a gan run" in last.message
