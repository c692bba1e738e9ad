"""Conformance against ONNX's own backend test data (../shared/testdata/onnx, read in place, never copied).

Every test folder is its own test (`-k node/test_relu`): import model.onnx (graph inputs after the first are frozen
to their test values when the model takes weights as inputs), compile, run input_N.pb and compare with output_N.pb
(rtol 1e-3, atol 1e-4). A model the importer supports must pass; one it does not must be refused with a
ModelImportError. Per suite, a floor on how many are supported, and the counts supported / passed / total printed.

The data is found at $DLSTUDIO_SHARED/testdata/onnx, by default ../shared beside the repository. Where it is missing
the tests skip, naming the path, and `-ra` prints the reason in the summary; under CI (the CI or
DLSTUDIO_REQUIRE_SHARED environment variable set) they fail instead, so CI never passes without running them.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import pytest
import torch

SHARED = Path(os.environ.get("DLSTUDIO_SHARED") or Path(__file__).resolve().parents[1].parent / "shared")
DATA = SHARED / "testdata" / "onnx"
SUITES = ("pytorch-converted", "node")
# Floors, not targets: what the importer supported when this test was written. A drop is a regression.
MIN_SUPPORTED = {"pytorch-converted": 81, "node": 292}
MISSING = (
    f"ONNX conformance data not found at {DATA} (../shared/testdata/onnx beside the repository; "
    "set DLSTUDIO_SHARED to the folder that holds testdata/onnx)"
)


def _cases(suite: str) -> list[Path]:
    return sorted(p for p in (DATA / suite).iterdir() if (p / "model.onnx").is_file())


def _case_params() -> list:
    if not DATA.is_dir():  # one placeholder, so the reason shows once in the summary
        return [pytest.param(None, id="data-missing")]
    return [pytest.param(case, id=f"{suite}/{case.name}") for suite in SUITES for case in _cases(suite)]


def _require_data() -> None:
    if DATA.is_dir():
        return
    if os.environ.get("CI") or os.environ.get("DLSTUDIO_REQUIRE_SHARED"):
        pytest.fail(f"{MISSING}; CI must run the conformance tests")
    pytest.skip(MISSING)


@functools.cache
def _run_case(case: Path) -> tuple[bool, str]:
    """(supported, failure text or '')."""
    import onnx
    from onnx import numpy_helper

    from dlstudio.core.errors import ModelImportError
    from dlstudio.importers.onnx import convert

    model = onnx.load(str(case / "model.onnx"))
    data = case / "test_data_set_0"
    ins = [numpy_helper.to_array(onnx.load_tensor(str(p))) for p in sorted(data.glob("input_*.pb"))]
    outs = [numpy_helper.to_array(onnx.load_tensor(str(p))) for p in sorted(data.glob("output_*.pb"))]
    inits = {i.name for i in model.graph.initializer}
    names = [i.name for i in model.graph.input if i.name not in inits]
    try:
        try:
            result = convert(model)
        except ModelImportError:
            if len(names) < 2:
                raise
            result = convert(model, constants=dict(zip(names[1:], ins[1:])))
    except ModelImportError:
        return False, ""
    feed = [torch.from_numpy(np.array(a)) for n, a in zip(names, ins) if n in result.input_names]
    with torch.no_grad():
        got = result.compile()(*feed)
    got = list(got) if isinstance(got, (tuple, list)) else [got]
    if len(got) != len(outs):
        return True, f"{len(got)} outputs, expected {len(outs)}"
    for i, (g, o) in enumerate(zip(got, outs)):
        g = g.numpy()
        if g.shape != o.shape:
            return True, f"output {i}: shape {g.shape}, expected {o.shape}"
        if not np.allclose(g, o, rtol=1e-3, atol=1e-4):
            return True, f"output {i}: max |diff| {float(np.max(np.abs(g - o))):.3g}"
    return True, ""


def _outcome(case: Path) -> tuple[bool, str]:
    """_run_case, with a crash counted as unsupported: the case's own test reports it."""
    try:
        return _run_case(case)
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"


@pytest.mark.parametrize("case", _case_params())
def test_conformance_case(case: Path | None) -> None:
    _require_data()
    assert case is not None
    _supported, failure = _run_case(case)
    assert not failure, f"imported but wrong: {failure}"


@pytest.mark.parametrize("suite", SUITES)
def test_conformance_supported_floor(suite: str) -> None:
    """How many of the suite's models import (each is checked by its own test above): no fewer than the floor."""
    _require_data()
    cases = _cases(suite)
    results = [_outcome(case) for case in cases]
    supported = sum(ok for ok, _ in results)
    passed = sum(ok and not failure for ok, failure in results)
    print(f"\n{suite}: supported {supported} / passed {passed} / total {len(cases)}")
    assert supported >= MIN_SUPPORTED[suite], f"{suite}: {supported} supported, the floor is {MIN_SUPPORTED[suite]}"
