"""`dlstudio train` / `dlstudio evaluate`: accuracy bars with the real settings, bad input before training,
Ctrl+C, and data-parallel training with 2 CPU processes under torchrun."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dlstudio.cli import run_cli
from dlstudio.io.project import Project
from dlstudio.training.quick import mlp_for, mlp_graph

pytestmark = pytest.mark.usefixtures("one_torch_thread")


ROOT = Path(__file__).resolve().parents[1]

# (dataset, hidden layers, training settings, metric, bar)
BARS = [
    ("digits", (64,), {"epochs": 20, "lr": 0.003}, "val_accuracy", 0.95),
    ("iris", (16,), {"epochs": 60, "lr": 0.01, "batch_size": 16}, "val_accuracy", 0.93),
    ("circles", (16, 16), {"epochs": 40, "lr": 0.01}, "val_accuracy", 0.95),
    ("sine", (32, 32), {"epochs": 60, "lr": 0.01}, "val_r2", 0.9),
]


def _project(path: Path, dataset: str, hidden: tuple[int, ...], training: dict, data: dict | None = None) -> Path:
    Project(
        graph=mlp_for(dataset, hidden),
        data={"dataset": dataset, **(data or {})},
        training=training,
        meta={"name": dataset},
    ).save(path)
    return path


def _json_events(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


@pytest.mark.train
@pytest.mark.parametrize("dataset,hidden,training,metric,bar", BARS, ids=[b[0] for b in BARS])
def test_cli_accuracy_bars(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    dataset: str,
    hidden: tuple[int, ...],
    training: dict,
    metric: str,
    bar: float,
) -> None:
    proj = _project(tmp_path / f"{dataset}.dlstudio", dataset, hidden, training)
    code = run_cli(["train", str(proj), "--json", "--run-dir", str(tmp_path / "run")])
    events = _json_events(capsys.readouterr().out)
    assert code == 0
    fin = events[-1]
    assert fin["event"] == "Finished"
    assert fin["final_metrics"][metric] >= bar, fin["final_metrics"]
    assert (tmp_path / "run" / "report.md").is_file()


def test_cli_progress_bar_and_evaluate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proj = _project(tmp_path / "iris.dlstudio", "iris", (8,), {"epochs": 3, "lr": 0.01}, {"test_fraction": 0.2})
    assert run_cli(["train", str(proj), "--run-dir", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    assert "epoch 3/3" in err and "val_accuracy" in err and "finished after 3 epoch(s)" in err
    assert run_cli(["evaluate", str(proj), "--weights", str(tmp_path / "run" / "last.safetensors"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"train", "val", "test"} and "confusion_matrix" in result["test"]
    ck = tmp_path / "run" / "checkpoints" / "epoch_0003"
    assert run_cli(["evaluate", str(proj), "--weights", str(ck), "--split", "val"]) == 0
    assert "val (30 rows)" in capsys.readouterr().out


def test_cli_bad_input_fails_before_training(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "d.csv"
    csv.write_text("a,b,label\n1,2,0\n3,4,1\n")
    Project(
        graph=mlp_graph((2,), (4,), 2),
        data={"dataset": "csv", "path": "d.csv", "features": ["a", "c"], "target": "label"},
        training={"epochs": 1},
    ).save(tmp_path / "p.dlstudio")
    assert run_cli(["train", str(tmp_path / "p.dlstudio"), "--run-dir", str(tmp_path / "run")]) == 2
    assert "no column 'c'" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    Project(graph=mlp_graph((2,), (4,), 2), data={"dataset": "circles"}, training={"loss": "Hinge"}).save(
        tmp_path / "q.dlstudio"
    )
    assert run_cli(["train", str(tmp_path / "q.dlstudio")]) == 2
    assert "training.loss: unknown loss 'Hinge'" in capsys.readouterr().err


def test_cli_csv_project_trains(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = ["x1,x2,colour,label"] + [
        f"{i % 7},{(i * 3) % 5},{'red' if i % 2 else 'blue'},{'yes' if i % 7 > 3 else 'no'}" for i in range(80)
    ]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    Project(
        graph=mlp_graph((4,), (16,), 2),
        data={"dataset": "csv", "path": "t.csv", "target": "label", "categorical": ["colour"]},
        training={"epochs": 30, "lr": 0.03},
    ).save(tmp_path / "p.dlstudio")
    assert run_cli(["train", str(tmp_path / "p.dlstudio"), "--json", "--run-dir", str(tmp_path / "r")]) == 0
    fin = _json_events(capsys.readouterr().out)[-1]
    assert fin["final_metrics"]["val_accuracy"] > 0.9


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"
    return env


@pytest.mark.slow
def test_ctrl_c_saves_a_checkpoint_and_exits_cleanly(tmp_path: Path) -> None:
    proj = _project(tmp_path / "d.dlstudio", "digits", (32,), {"epochs": 500, "batch_size": 16})
    run = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dlstudio", "train", str(proj), "--json", "--run-dir", str(run)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if '"EpochEnd"' in line:
            proc.send_signal(signal.SIGINT)
            break
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    fin = _json_events(out)[-1]
    assert fin["event"] == "Finished" and fin["stopped_by_user"]
    saved = sorted(p.name for p in (run / "checkpoints").iterdir())
    # interrupted mid-epoch: an extra "_interrupted" checkpoint; between epochs the epoch checkpoint suffices
    assert saved[0] == "epoch_0001" and set(saved) <= {"epoch_0001", "epoch_0001_interrupted", "epoch_0002"}
    assert (run / "last.safetensors").is_file() and (run / "report.json").is_file()
    resumed = subprocess.run(
        [
            sys.executable,
            "-m",
            "dlstudio",
            "train",
            str(proj),
            "--json",
            "--epochs",
            str(fin["epochs_run"] + 1),
            "--resume",
            str(run / "checkpoints" / saved[0]),
        ],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert _json_events(resumed.stdout)[-1]["epochs_run"] == fin["epochs_run"] + 1


@pytest.mark.slow
def test_distributed_two_cpu_processes(tmp_path: Path) -> None:
    proj = _project(tmp_path / "c.dlstudio", "circles", (16,), {"epochs": 4, "lr": 0.02, "batch_size": 32})
    env = {**_env(), "DLSTUDIO_DIST_TIMEOUT": "60"}  # a rank left waiting fails within a minute, with its stderr
    cmd = [sys.executable, "-m", "dlstudio", "train", str(proj), "--nproc", "2", "--json", "--device", "cpu"]
    for attempt in (1, 2):
        run_dir = tmp_path / f"run{attempt}"
        try:
            res = subprocess.run(
                [*cmd, "--run-dir", str(run_dir)], capture_output=True, text=True, env=env, timeout=100
            )
        except subprocess.TimeoutExpired:
            # seen once on a machine loaded far past its cores: gloo's start-up stalled; one more try, then fail
            assert attempt == 1, "two torchrun runs of 4 small epochs each took over 100 s"
            continue
        break
    assert res.returncode == 0, res.stderr[-3000:]
    events = _json_events(res.stdout)
    finished = {e["rank"]: e for e in events if e["event"] == "Finished"}
    assert set(finished) == {0, 1}
    assert finished[0]["weights_sha256"] == finished[1]["weights_sha256"]
    losses = [e["metrics"]["loss"] for e in events if e["event"] == "EpochEnd" and e["rank"] == 0]
    assert len(losses) == 4 and losses[-1] < losses[0]
    # each rank trained on half of every batch: 800 train rows / 32 = 25 steps of 16 rows per rank
    batches = [e for e in events if e["event"] == "BatchEnd" and e["rank"] == 1 and e["epoch"] == 1]
    assert len(batches) == 25 and batches[-1]["samples"] == 400
    assert (run_dir / "last.safetensors").is_file()


def test_cli_sanity_tools(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proj = _project(tmp_path / "d.dlstudio", "digits", (32,), {"epochs": 1})
    assert run_cli(["train", str(proj), "--sanity", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["overfit_one_batch"]["passed"] and 1e-6 < out["lr_range_test"]["suggested_lr"] < 1
    assert not (tmp_path / "runs").exists()
