"""`dlstudio check` and `dlstudio layers`, run in-process through the CLI frame."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import dlstudio as dls
from dlstudio.cli import run_cli
from dlstudio.core.edits import SetParam
from dlstudio.layers import all_specs


def save_project(path: Path, *, broken: bool = False, softmax: bool = False, dataset: str = "iris") -> Path:
    g = dls.Graph()
    x = g.input("x", shape=(4,))
    h = g.add("Linear", x, out_features=8, label="hidden")
    h = g.add("Linear", g.add("ReLU", h), out_features=3, label="head")
    if softmax:
        h = g.add("Softmax", h)
    g.output("y", h)
    if broken:
        SetParam(g.find("hidden").id, "out_features", 0).apply(g)
    project = dls.Project(
        graph=g,
        training={
            "loss": "CrossEntropyLoss",
            "batch_size": 16,
            "optimizer": "SGD",
            "optimizer_params": {"momentum": 0.9},
        },
        data={"dataset": dataset},
    )
    return project.save(path)


def test_check_ok_project_prints_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = save_project(tmp_path / "ok.dlstudio")
    assert run_cli(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "hidden" in out and "(N, 8)" in out and "67" in out and "OK" in out
    assert "batch size 16" in out


def test_check_warnings_still_exit_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = save_project(tmp_path / "warn.dlstudio", softmax=True)
    assert run_cli(["check", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and report["warnings"] == 2
    # iris leaves 120 training rows for 67 parameters: fewer than 10 rows per parameter
    assert sorted(d["code"] for d in report["diagnostics"]) == ["double_softmax", "too_few_rows"]


def test_check_reads_class_count_from_the_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = save_project(tmp_path / "digits.dlstudio", dataset="digits")  # 10 classes, the head gives 3
    assert run_cli(["check", str(path), "--json"]) == 0
    (w,) = json.loads(capsys.readouterr().out)["diagnostics"]
    assert w["code"] == "output_units" and (w["expected"], w["got"]) == ("10", "3")


def test_check_graph_errors_exit_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = save_project(tmp_path / "bad.dlstudio", broken=True)
    assert run_cli(["check", str(path), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    (err,) = [d for d in report["diagnostics"] if d["severity"] == "error"]
    assert err["code"] == "invalid_param" and err["param"] == "out_features"
    mem = report["memory_estimate"]
    assert mem["batch_size"] == 16 and mem["optimizer"] == "sgd-momentum"
    params = report["totals"]["params"]
    assert mem["params_bytes"] == mem["grads_bytes"] == mem["optimizer_bytes"] == 4 * params


@pytest.mark.parametrize("content", [b"{not json", b'{"format": "something-else"}'])
def test_check_unusable_file_exits_two(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes) -> None:
    path = tmp_path / "broken.dlstudio"
    path.write_bytes(content)
    assert run_cli(["check", str(path)]) == 2
    assert str(path) in capsys.readouterr().err
    assert run_cli(["check", str(tmp_path / "missing.dlstudio")]) == 2


def test_layers_json_lists_every_spec(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["layers", "--json"]) == 0
    items = json.loads(capsys.readouterr().out)
    assert [i["type"] for i in items] == [s.type for s in all_specs()]
    linear = next(i for i in items if i["type"] == "Linear")
    assert linear["category"] == "Dense" and linear["explanation"]
    assert {"name": "out_features", "kind": "int", "default": 10}.items() <= linear["params"][0].items()


def test_layers_text_and_category_filter(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["layers", "--category", "activation"]) == 0
    out = capsys.readouterr().out
    assert "== Activation ==" in out and "ReLU" in out and "Linear  (torch" not in out
    assert run_cli(["layers", "Linear"]) == 0
    out = capsys.readouterr().out
    assert "out_features: int = 10 [>= 1]" in out and "1 layer type(s)" in out
    assert run_cli(["layers", "--category", "nonsense"]) == 2
    assert "Activation" in capsys.readouterr().err
    assert run_cli(["layers", "Liner"]) == 2
    assert "Linear" in capsys.readouterr().err


def test_check_rejects_an_unknown_optimizer_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = save_project(tmp_path / "ok.dlstudio")
    assert run_cli(["check", str(path), "--optimizer", "lion"]) == 2
    assert "adam" in capsys.readouterr().err
    assert run_cli(["check", str(path), "--json", "--optimizer", "adam", "--batch-size", "4"]) == 0
    mem = json.loads(capsys.readouterr().out)["memory_estimate"]
    assert (mem["optimizer"], mem["batch_size"]) == ("adam", 4)
