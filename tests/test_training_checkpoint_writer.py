"""Checkpoints written from a background thread: the snapshot is the state at the checkpoint (training goes on
meanwhile), a failed write ends the run with a Failed event that names the folder, the run waits for the write
in flight before its report, and the folder is fsynced before state.json marks the checkpoint complete."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import torch

from dlstudio.compiler.build import compile_graph
from dlstudio.training import checkpoint_writer, checkpoints
from dlstudio.training.checkpoint_writer import CheckpointWriteError, CheckpointWriter
from dlstudio.training.checkpoints import load_checkpoint, weights_digest
from dlstudio.training.events import Checkpoint, EpochStarted, Failed, Finished
from dlstudio.training.loop import Trainer
from dlstudio.training.quick import mlp_for

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _trainer(run_dir: Path, epochs: int = 3) -> Trainer:
    training = {"epochs": epochs, "batch_size": 32, "optimizer": "Adam", "lr": 0.01}
    data = {"dataset": "moons", "options": {"n_samples": 200}}
    return Trainer(mlp_for("moons", (16,)), data, training, run_dir=run_dir)


def _slow_writes(monkeypatch: pytest.MonkeyPatch, seconds: float) -> list[str]:
    """Each checkpoint write starts `seconds` late (a slow disk); returns the folders in the order written."""
    real = checkpoints.write_checkpoint_files
    written: list[str] = []

    def slow(folder: Path, files: list[tuple[str, bytes]]) -> Path:
        time.sleep(seconds)
        out = real(folder, files)
        written.append(Path(folder).name)
        return out

    monkeypatch.setattr(checkpoint_writer, "write_checkpoint_files", slow)
    return written


def test_checkpoint_holds_the_state_of_its_epoch_while_training_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = _slow_writes(monkeypatch, 0.2)
    trainer = _trainer(tmp_path / "r")
    digests: dict[str, str] = {}
    in_flight_at_next_epoch = []
    events = []
    for ev in trainer.run():
        events.append(ev)
        if isinstance(ev, Checkpoint):
            digests[ev.path] = trainer.weights_digest()  # the weights as they were at the checkpoint
        if isinstance(ev, EpochStarted) and digests:
            # the previous checkpoint is still being written while this epoch trains
            in_flight_at_next_epoch.append(not (Path(list(digests)[-1]) / "state.json").exists())
    assert isinstance(events[-1], Finished)
    assert written == ["epoch_0001", "epoch_0002", "epoch_0003"]
    assert any(in_flight_at_next_epoch)  # the write really ran in the background
    assert len(digests) == 3
    for path, digest in digests.items():
        ck = load_checkpoint(Path(path))  # complete: the run waited for the last write before Finished
        net = compile_graph(mlp_for("moons", (16,)), seed=0)
        net.load_state_dict(ck["model"])
        assert weights_digest(net) == digest
    assert trainer.last_checkpoint == str(tmp_path / "r" / "checkpoints" / "epoch_0003")
    report = (tmp_path / "r" / "report.json").read_text()
    assert "epoch_0003" in report


def test_a_failed_background_write_ends_the_run_with_a_message_naming_the_folder(tmp_path: Path) -> None:
    run_dir = tmp_path / "r"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / "epoch_0002").write_text("a file where the checkpoint folder must go")
    events = list(_trainer(run_dir, epochs=4).run())
    fail = events[-1]
    assert isinstance(fail, Failed)
    assert "could not write the checkpoint" in fail.message and "epoch_0002" in fail.message
    assert fail.last_checkpoint == str(run_dir / "checkpoints" / "epoch_0001")  # the last complete one
    assert load_checkpoint(Path(fail.last_checkpoint))["epoch"] == 1
    # the failure surfaced at the next checkpoint: epoch 3 trained, epoch 4 did not start
    assert max(ev.epoch for ev in events if isinstance(ev, EpochStarted)) == 3


def test_a_failed_last_write_fails_the_run_before_its_report(tmp_path: Path) -> None:
    run_dir = tmp_path / "r"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / "epoch_0002").write_text("in the way")
    events = list(_trainer(run_dir, epochs=2).run())
    assert isinstance(events[-1], Failed) and "epoch_0002" in events[-1].message
    assert not (run_dir / "report.json").exists()


def test_stopping_iteration_early_still_finishes_the_write_in_flight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _slow_writes(monkeypatch, 0.2)
    run = _trainer(tmp_path / "r").run()
    for ev in run:
        if isinstance(ev, Checkpoint):
            folder = Path(ev.path)
            break
    run.close()  # the caller walks away with the write in flight
    assert (folder / "state.json").is_file()
    assert load_checkpoint(folder)["epoch"] == 1


def test_writer_raises_a_failure_at_the_next_submit_and_keeps_the_last_good_folder(tmp_path: Path) -> None:
    files = checkpoints.encode_checkpoint(
        model=torch.nn.Linear(2, 1), optimizers={}, schedulers={}, epoch=1, extra={"history": []}
    )
    writer = CheckpointWriter()
    writer.submit(tmp_path / "a", files)
    writer.wait()
    assert writer.done == tmp_path / "a" and (tmp_path / "a" / "state.json").is_file()
    (tmp_path / "b").write_text("not a folder")
    writer.submit(tmp_path / "b", files)
    with pytest.raises(CheckpointWriteError, match="could not write the checkpoint .*b: FileExistsError"):
        writer.submit(tmp_path / "c", files)
    assert writer.done == tmp_path / "a"
    assert writer.pending is None and not (tmp_path / "c").exists()
    assert writer.settle() is None  # nothing in flight any more


def test_folder_is_fsynced_once_before_state_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real_write = checkpoints.atomic_write_bytes

    def write(target: Path, data: bytes, *, sync_folder: bool = True) -> Path:
        calls.append(f"{Path(target).name}{'' if sync_folder else ' (no folder fsync)'}")
        return real_write(target, data, sync_folder=sync_folder)

    monkeypatch.setattr(checkpoints, "atomic_write_bytes", write)
    monkeypatch.setattr(checkpoints, "fsync_folder", lambda folder: calls.append(f"fsync {Path(folder).name}"))
    opt = torch.optim.Adam(torch.nn.Linear(2, 1).parameters())
    checkpoints.save_checkpoint(
        tmp_path / "ck",
        model=torch.nn.Linear(2, 1),
        optimizers={"optimizer": opt.state_dict()},
        schedulers={},
        epoch=1,
        extra={"history": [{"epoch": 1, "loss": float("inf")}]},
    )
    assert calls == [
        f"fsync {tmp_path.name}",  # the new folder's entry in its parent
        "model.safetensors (no folder fsync)",
        "optimizer.safetensors (no folder fsync)",
        "rng.safetensors (no folder fsync)",
        "fsync ck",
        "state.json",  # last, with its own folder fsync
    ]
    assert load_checkpoint(tmp_path / "ck")["extra"]["history"][0]["loss"] == float("inf")


def test_writer_thread_is_not_a_daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The interpreter waits for a non-daemon thread at exit, so a pending checkpoint is finished, not cut."""
    seen: list[bool] = []

    def record(folder: Path, files: list[tuple[str, bytes]]) -> None:
        seen.append(threading.current_thread().daemon)

    monkeypatch.setattr(checkpoint_writer, "write_checkpoint_files", record)
    writer = CheckpointWriter()
    writer.submit(tmp_path / "x", [("state.json", b"{}")])
    writer.wait()
    assert seen == [False]
