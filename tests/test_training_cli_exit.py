"""How a `dlstudio train` process ends: a command-line run freezes the garbage collector's objects before the
interpreter exits (its final collections would walk torch's objects again), an in-process call never does (it
would keep a test process's garbage for ever), and a command-line run still leaves every file complete."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dlstudio.__main__ import main
from dlstudio.io.project import Project
from dlstudio.training.checkpoints import load_checkpoint
from dlstudio.training.quick import mlp_for

ROOT = Path(__file__).resolve().parents[1]


def _project(tmp_path: Path) -> Path:
    path = tmp_path / "p.dlstudio"
    Project(
        graph=mlp_for("moons", (8,)),
        data={"dataset": "moons", "options": {"n_samples": 100}},
        training={"epochs": 2, "batch_size": 32},
        meta={"name": "moons"},
    ).save(path)
    return path


@pytest.mark.usefixtures("one_torch_thread")
def test_an_in_process_call_leaves_the_garbage_collector_alone(tmp_path: Path) -> None:
    frozen = gc.get_freeze_count()
    assert main(["train", str(_project(tmp_path)), "--run-dir", str(tmp_path / "run"), "--json"]) == 0
    assert gc.get_freeze_count() == frozen


def test_a_command_line_call_freezes_before_returning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(sys, "argv", ["dlstudio", "layers"])
    monkeypatch.setattr(gc, "freeze", lambda: calls.append(1))
    assert main() == 0
    assert calls == [1]


@pytest.mark.slow
def test_a_command_line_train_process_leaves_its_run_complete(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1", DLSTUDIO_CACHE="off")
    proc = subprocess.run(
        [sys.executable, "-m", "dlstudio", "train", str(_project(tmp_path)), "--run-dir", str(run_dir), "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert events[-1]["event"] == "Finished"  # stdout flushed to the last line
    assert [e["path"] for e in events if e["event"] == "Checkpoint"] == [
        str(run_dir / "checkpoints" / "epoch_0001"),
        str(run_dir / "checkpoints" / "epoch_0002"),
    ]
    assert load_checkpoint(run_dir / "checkpoints" / "epoch_0002")["epoch"] == 2  # written whole before exit
    report = json.loads((run_dir / "report.json").read_text())
    assert report["last_checkpoint"] == str(run_dir / "checkpoints" / "epoch_0002")
    assert len((run_dir / "metrics.jsonl").read_text().splitlines()) == 2
    assert not list(run_dir.rglob("*.tmp"))  # no temporary file of the atomic writer left
