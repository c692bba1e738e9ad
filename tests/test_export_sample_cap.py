"""Export parity checks run on small random batches and refuse, with a message, inputs too large to allocate."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import dlstudio as dls
from dlstudio.cli import run_cli
from dlstudio.compiler.samples import MAX_SAMPLE_VALUES, SampleTooLargeError, check_sample_size, sample_inputs


def _huge_project(tmp_path: Path) -> Path:
    g = dls.Graph()
    x = g.input("pixels", (100000, 100000))
    g.output("y", g.add("ReLU", x, label="act"))
    return dls.Project(graph=g, meta={"name": "huge"}).save(tmp_path / "huge.dlstudio")


@pytest.mark.parametrize("flag, suffix", [("--python", ".py"), ("--onnx", ".onnx")])
def test_export_of_a_huge_input_refuses_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture, flag: str, suffix: str
) -> None:
    path = _huge_project(tmp_path)
    target = tmp_path / f"out{suffix}"
    start = time.perf_counter()
    assert run_cli(["export", str(path), flag, str(target)]) == 1
    assert time.perf_counter() - start < 30  # refused up front, not after trying to fill tens of gigabytes
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert "Input 'pixels' has shape (100000, 100000)" in captured.err
    assert "make the Input shape smaller" in captured.err
    assert not target.exists() and not target.with_suffix(".safetensors").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["huge.dlstudio"]  # no temporary file left either


def test_parity_batches_are_small_and_the_cap_is_checked_before_allocating() -> None:
    g = dls.Graph()
    g.output("y", g.add("ReLU", g.input("x", (3, 8, 8))))
    assert [tuple(t.shape) for t in sample_inputs(g, batch=2)] == [(2, 3, 8, 8)]
    side = int((MAX_SAMPLE_VALUES // 2) ** 0.5) + 1  # two samples of side x side just over the cap
    big = dls.Graph()
    big.output("y", big.add("ReLU", big.input("x", (side, side))))
    check_sample_size(big, batch=1)
    with pytest.raises(SampleTooLargeError, match="batch of 2"):
        sample_inputs(big, batch=2)
