"""The ONNX import's parity check: the compiled graph and onnxruntime run the same random batch and must agree
within a tolerance (a missing onnxruntime or a batch the file cannot run becomes a warning, not an error)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..compiler.report import compare_outputs
from ..core.errors import ModelImportError
from .base import ImportResult


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


_ORT_TYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(bool)": "bool",
}


def _free_cores() -> int:
    """CPU cores not busy with other work (cores minus the 1-minute load). The parity check runs its two
    forward passes on these: OpenMP threads that outnumber the free cores spin against each other and the
    other processes, which made a ResNet-50 pass 5-8x slower on a loaded 2-core machine than one thread."""
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:  # not on this platform
        return cores
    return max(1, min(cores, int(cores - load + 0.5)))


def _check(result: ImportResult, model: Any, tolerance: float, seed: int, path: Any = None) -> None:
    threads = min(_free_cores(), _torch_threads())
    before = _torch_threads()
    _set_torch_threads(threads)
    try:
        _compare(result, model, tolerance, seed, path, threads)
    finally:
        _set_torch_threads(before)


def _compiled_without_init(result: ImportResult) -> Any:
    """The compiled graph holding the imported weights, built on the meta device and then filled, so a large
    model is not randomly initialised first; built for real when a module makes tensors of its own (buffers no
    weights file carries) or does not build on the meta device."""
    import torch

    from ..compiler.build import compile_graph
    from ..compiler.weights import load_weights

    try:
        with torch.device("meta"):
            model = compile_graph(result.graph, seed=None)
        if set(dict(model.named_buffers())) - set(model.state_dict()):
            return result.compile()
        model = model.to_empty(device="cpu")
        load_weights(model, result.graph, result.weights, strict=True)
    except Exception:  # a module that needs real tensors to build, or weights that do not cover it
        return result.compile()
    return model.eval()


def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


def _set_torch_threads(n: int) -> None:
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def _compare(result: ImportResult, model: Any, tolerance: float, seed: int, path: Any, threads: int) -> None:
    import torch

    from ..compiler.samples import as_list, sample_inputs

    compiled = _compiled_without_init(result)
    # the batch the file fixes (model-zoo files often fix 1), else 2 so that ops mixing samples show up
    details = result.report.details
    batch = int(details.get("fixed_batch", details.get("file_batch", 2)))
    args = sample_inputs(result.graph, batch=batch, seed=seed)
    try:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # from the file when there is one: onnxruntime reads it faster than a serialized copy of it
        sess = ort.InferenceSession(
            str(path) if path is not None else model.SerializeToString(),
            options,
            providers=["CPUExecutionProvider"],
        )
    except Exception as exc:  # no onnxruntime, or no kernel for an op of the *original* file (old opsets)
        result.report.warnings.append(
            f"parity not checked: onnxruntime cannot load the original model ({_first_line(exc)})"
        )
        return
    types = {i.name: _ORT_TYPES.get(i.type) for i in sess.get_inputs()}
    feed_names = set(types)
    # the file's own element types (int32 ids, float64 or float16 inputs): dlstudio inputs are float32 or int64
    moved = details.get("input_batch_dims", {})  # time-major inputs: the file takes the batch at that dim
    feed = {
        n: np.moveaxis(a.numpy(), 0, moved.get(n, 0)).astype(types[n] or a.numpy().dtype)
        for n, a in zip(result.input_names, args)
        if n in types
    }
    for name in feed_names - set(feed):
        if name in result.constants:
            feed[name] = result.constants[name]
    try:
        got = sess.run(result.output_names, feed)
    except Exception as exc:  # a model with a fixed batch size: its outputs cannot be compared at this batch
        result.report.warnings.append(
            f"parity not checked: onnxruntime could not run a batch of {batch} ({_first_line(exc)})"
        )
        return
    try:
        with torch.inference_mode():
            expected = as_list(compiled(*args))
    except Exception as exc:
        raise ModelImportError(
            f"The imported graph does not run on a batch of {batch}: {_first_line(exc)}", [_first_line(exc)]
        ) from None
    result.report.max_abs_diff = compare_outputs(result.output_names, expected, got)
    result.report.checks.append(f"compiled graph vs onnxruntime on a random batch of {batch}")
    bad = {k: v for k, v in result.report.max_abs_diff.items() if not v <= tolerance}
    if bad and any(n.op_type == "QuantizeLinear" for n in model.graph.node):
        # the import is the float model the quantized one approximates: its activations are not rounded
        worst = max(bad.values())
        result.report.warnings.append(
            f"the original model rounds its activations to integers (QuantizeLinear); the imported graph is the "
            f"float model it approximates, which differs by up to {worst:.3g} on a random batch"
        )
        bad = {}
    if bad:
        raise ModelImportError(
            "The imported graph does not reproduce the ONNX model: "
            + ", ".join(f"{k} max |diff| {v:.3g}" for k, v in bad.items()),
            [],
        )
