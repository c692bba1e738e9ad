"""Conformance against ONNX's own backend test data (../shared/testdata/onnx, read in place, never copied).

For every test folder: import model.onnx (graph inputs after the first are frozen to their test values when the
model takes weights as inputs), compile, run input_N.pb and compare with output_N.pb (rtol 1e-3, atol 1e-4).
Every test the importer supports must pass; prints supported / passed / total per folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "testdata" / "onnx"
# Floors, not targets: what the importer supported when this test was written. A drop is a regression.
MIN_SUPPORTED = {"pytorch-converted": 68, "node": 118}

pytestmark = pytest.mark.skipif(
    not DATA.is_dir(),
    reason=f"ONNX conformance data not found at {DATA} (it lives beside the repository in ../shared/testdata/onnx)",
)


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


@pytest.mark.parametrize("folder", ["pytorch-converted", "node"])
def test_conformance(folder: str) -> None:
    cases = sorted(p for p in (DATA / folder).iterdir() if (p / "model.onnx").is_file())
    supported, failures = 0, []
    for case in cases:
        ok, failure = _run_case(case)
        supported += ok
        if failure:
            failures.append(f"{case.name}: {failure}")
    passed = supported - len(failures)
    print(f"\n{folder}: supported {supported} / passed {passed} / total {len(cases)}")
    assert not failures, "imported but wrong:\n" + "\n".join(failures)
    assert supported >= MIN_SUPPORTED[folder]
