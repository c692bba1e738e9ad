"""ONNX export: compile, export with a dynamic batch axis and named I/O, check, compare in onnxruntime.

Exporter choice: torch 2.13 ships the TorchScript-based exporter (``dynamo=False``) and the torch.export-based
one (``dynamo=True``, needs onnxscript). The TorchScript one is about 15x faster for our small graphs and its
output loads in every onnxruntime, so it is the default; when it fails we fall back to the dynamo exporter and
say so in the report. The file is written to a temporary name and only renamed into place once onnx.checker
and the onnxruntime parity check pass: nothing is called exported until it was checked numerically.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from ..compiler.report import Report, compare_outputs
from ..compiler.samples import as_list, io_nodes, sample_inputs
from ..core.errors import ExportError
from ..core.files import atomic_path
from ..core.graph import ModelGraph
from .common import build_model

DEFAULT_OPSET = 17
EXPORTERS = ("auto", "torchscript", "dynamo")


def _unique(names: list[str], taken: set[str], fallback: str) -> list[str]:
    out = []
    for i, n in enumerate(names):
        base = n.strip() or f"{fallback}{i}"
        name, k = base, 1
        while name in taken:
            name = f"{base}_{k}"
            k += 1
        taken.add(name)
        out.append(name)
    return out


def io_names(graph: ModelGraph) -> tuple[list[str], list[str]]:
    """ONNX input/output names from the Input/Output labels (unique; ONNX allows any string)."""
    ins, outs = io_nodes(graph)
    taken: set[str] = set()
    return _unique([n.label for n in ins], taken, "input"), _unique([n.label for n in outs], taken, "output")


_NOISY_LOGGERS = ("torch.onnx", "torch.export", "torch._dynamo", "torch.fx", "onnxscript")


@contextlib.contextmanager
def _exporter_output_kept_quiet() -> Iterator[None]:
    """torch's exporters print graph dumps, opset notices and the tracebacks of errors they caught themselves, from
    C++ and through logging. None of it helps a user: the export then either succeeds or fails with our own message
    (the fallback's reason goes into the report). So the output goes to a scratch file for the length of the call."""
    loggers = [logging.getLogger(name) for name in _NOISY_LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    saved: list[int] = []
    sink = tempfile.TemporaryFile()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            saved = [os.dup(1), os.dup(2)]
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
        except OSError:  # no usable descriptors (a windowed app): keep the Python-level redirect only
            saved = []
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        for fd, dup in zip((1, 2), saved):
            os.dup2(dup, fd)
            os.close(dup)
        sink.close()
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _export_once(
    model: torch.nn.Module, args: tuple, path: str, in_names: list[str], out_names: list[str], opset: int, dynamo: bool
) -> None:
    axes = {n: {0: "batch"} for n in in_names + out_names}
    with warnings.catch_warnings(), _exporter_output_kept_quiet():
        # torch announces the legacy exporter's deprecation on every call; the choice is deliberate (see above)
        warnings.simplefilter("ignore")
        if dynamo:
            prog = torch.onnx.export(
                model,
                args,
                None,
                input_names=in_names,
                output_names=out_names,
                dynamic_axes=axes,
                opset_version=opset,
                dynamo=True,
                verbose=False,
            )
            prog.save(path)
        else:
            torch.onnx.export(
                model,
                args,
                path,
                input_names=in_names,
                output_names=out_names,
                dynamic_axes=axes,
                opset_version=opset,
                dynamo=False,
                do_constant_folding=True,
            )


def export_onnx(
    graph: ModelGraph,
    path: str | os.PathLike[str],
    *,
    opset: int = DEFAULT_OPSET,
    weights: Any = None,
    exporter: str = "auto",
    tolerance: float = 1e-4,
    seed: int = 0,
    check_batch: int = 1,
) -> Report:
    """Export `graph` to `path`. Raises ExportError when export, onnx.checker or the parity check fails.

    The parity check uses a batch size (`check_batch`) different from the export's (2) so it also proves the
    batch axis is dynamic.
    """
    import onnx
    import onnxruntime as ort

    if exporter not in EXPORTERS:
        raise ExportError(f"Unknown exporter {exporter!r}: use one of {', '.join(EXPORTERS)}")
    start = time.perf_counter()
    report = Report(kind="onnx", path=Path(path))
    model = build_model(graph, weights, seed)
    in_names, out_names = io_names(graph)
    export_args = tuple(sample_inputs(graph, batch=2, seed=seed))
    target = Path(path)
    with atomic_path(target) as tmp_path:  # renamed into place only once checker and parity passed
        tmp = str(tmp_path)
        order = (
            ["dynamo"] if exporter == "dynamo" else ["torchscript", "dynamo"] if exporter == "auto" else ["torchscript"]
        )
        errors: list[str] = []
        for choice in order:
            try:
                _export_once(model, export_args, tmp, in_names, out_names, opset, dynamo=choice == "dynamo")
                report.details["exporter"] = choice
                break
            except Exception as exc:  # any exporter failure: try the next one, keep the reason
                errors.append(f"{choice}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
                if choice == "torchscript" and len(order) > 1:
                    report.warnings.append(f"TorchScript exporter failed ({errors[-1]}); fell back to dynamo")
        else:
            raise ExportError(
                "ONNX export failed: " + "; ".join(errors) + ". Try another --opset or check the layers named above"
            )
        proto = onnx.load(tmp)
        try:
            onnx.checker.check_model(proto, full_check=True)
        except Exception as exc:
            raise ExportError(f"onnx.checker rejected the exported model: {exc}") from exc
        report.checks.append(f"onnx.checker (opset {opset}, exporter {report.details['exporter']})")
        check_args = sample_inputs(graph, batch=check_batch, seed=seed + 1)
        with torch.no_grad():
            expected = as_list(model(*check_args))
        sess = ort.InferenceSession(tmp, providers=["CPUExecutionProvider"])
        feed_names = [i.name for i in sess.get_inputs()]
        feed = {n: a.numpy() for n, a in zip(in_names, check_args) if n in feed_names}
        got = sess.run(out_names, feed)
        report.max_abs_diff = compare_outputs(out_names, expected, got)
        report.checks.append(f"onnxruntime parity on a random batch of {check_batch} (dynamic batch axis)")
        bad = {k: v for k, v in report.max_abs_diff.items() if not v <= tolerance}
        if bad:
            raise ExportError(
                "onnxruntime output differs from the compiled model: "
                + ", ".join(f"{k} max |diff| {v:.3g}" for k, v in bad.items())
                + f" (tolerance {tolerance:g}); the ONNX file was not written"
            )
    report.size_bytes = target.stat().st_size
    report.seconds = time.perf_counter() - start
    return report
