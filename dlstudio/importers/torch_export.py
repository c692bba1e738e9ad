"""PyTorch import through torch.export: an nn.Module (or a saved .pt2 ExportedProgram) becomes an editable graph.

torch.export runs forward once with example inputs and records every PyTorch operator it calls (Python control
flow on non-tensor values is specialised: the report says which branch ran). The walk maps that graph:
- a call of a submodule whose class is a catalog layer becomes that layer (parameters via LayerSpec.from_module,
  weights copied): see torch_export_modules;
- operators with a catalog layer become it (relu -> ReLU, cat -> Concat, view -> Reshape...): torch_export_ops;
- any other operator becomes a generic AtenOp node (op name + constant arguments): torch_export_args;
- computations on parameters and buffers alone are folded into constants of the node that uses them.
The module hierarchy becomes blocks named after the attribute paths. Weights come along and the result is
checked against the original on the example inputs (random operators are compared under the same seed).

Importing a .py file executes it (`import_torch_file`): only import code you trust.
"""

from __future__ import annotations

import importlib
import io
import logging
import os
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, redirect_stderr
from pathlib import Path
from typing import Any

import torch
from torch import fx, nn

from ..compiler.report import Report
from ..core.edits import AddNode, Connect
from ..core.errors import ModelImportError
from ..core.graph import Edge, Node
from ..core.layout import READING_WIDTH, apply_layout
from .base import ImportResult, Value
from .torch_export_args import Const
from .torch_export_modules import make_blocks
from .torch_export_opaque import CALL_SITES, innermost_module_failing_in, modules_failing_in, opaque_modules
from .torch_export_source import branches_taken, first_line, is_data_dependent, source_files_of, user_frame
from .torch_export_walk import Restart, Walker


# ------------------------------------------------------------------------------------------------ entry points
def example_inputs_for(
    module: nn.Module, shapes: Sequence[Sequence[int]], dtypes: Sequence[str] | None, batch: int, seed: int
) -> tuple[torch.Tensor, ...]:
    """Random example inputs: float32 normal values; int64 indices below the smallest embedding table."""
    gen = torch.Generator().manual_seed(seed)
    tables = [m.num_embeddings for m in module.modules() if isinstance(m, nn.Embedding)]
    high = min(tables) if tables else 10
    out = []
    for i, shape in enumerate(shapes):
        dtype = dtypes[i] if dtypes and i < len(dtypes) else "float32"
        full = (batch, *(int(d) for d in shape))
        if dtype == "int64":
            out.append(torch.randint(0, high, full, generator=gen))
        elif dtype == "float32":
            out.append(torch.randn(full, generator=gen))
        else:
            raise ModelImportError(f"input dtype {dtype!r} is not supported: use float32 or int64", [])
    return tuple(out)


_NOISY_LOGGERS = ("torch.fx.experimental.symbolic_shapes", "torch._export", "torch.export", "torch._dynamo")


@contextmanager
def _quiet_torch() -> Iterator[None]:
    """torch.export logs warnings and graph dumps on failures; the import reports them in its own words."""
    loggers = [logging.getLogger(name) for name in _NOISY_LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the model's own deprecation warnings, once per trace
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _export(module: nn.Module, args: tuple, dynamic: bool, strict: bool = False) -> Any:
    """torch.export.export, non-strict by default (it runs forward as Python, so more models export); the batch
    (dimension 0 of every input) is symbolic when `dynamic`."""
    from torch.export import Dim

    shapes = None
    if dynamic:
        batch = Dim("batch", min=1, max=1 << 16)
        shapes = tuple({0: batch} if isinstance(a, torch.Tensor) and a.dim() else None for a in args)
    with redirect_stderr(io.StringIO()):  # torch prints a partial graph on failure; the error says it better
        return functional(torch.export.export(module, args, dynamic_shapes=shapes, strict=strict))


def functional(program: Any) -> Any:
    """The program without in-place operators. torch.export keeps `x.relu_()` or `h += 1` as mutations;
    functionalizing (run_decompositions with an empty table: ops are kept, only mutations are rewritten) makes
    every op a new value, which is what a graph of layers is. Programs without mutations are left alone."""
    mutating = any(
        n.op == "call_function" and getattr(getattr(n.target, "_schema", None), "is_mutable", False)
        for n in program.graph.nodes
    )
    return program.run_decompositions({}) if mutating else program


def _preload_export() -> None:
    try:
        importlib.import_module("torch.export._trace")
    except Exception:  # the export itself will report any real problem
        pass


def _twice(a: Any) -> Any:
    return torch.cat([a, a]) if isinstance(a, torch.Tensor) and a.dim() else a


class _TryFixedBatch(Exception):
    """The export with a symbolic batch failed for a reason other than data-dependent control flow."""


def _export_for_import(module: nn.Module, args: tuple, dynamic: bool) -> Any:
    """The plain export; when tracing fails inside catalog-class submodules, the export with those as opaque
    calls (library code such as nn.TransformerEncoder's mask check cannot always be traced, and the walk needs
    none of it: torch_export_opaque); for other failures, the strict (TorchDynamo) export."""
    try:
        return _export(module, args, dynamic)
    except Exception as exc:  # torch.export raises many types; each becomes one readable message
        plain = exc
    opaque: list[str] = []
    failure = plain
    # tracing failed inside catalog-class modules (library code comparing tensor values): export those as
    # opaque calls, one more each time the next failure is inside another one
    while is_data_dependent(failure) and len(opaque) < 64:
        more = [p for p in modules_failing_in(module, failure) if p not in opaque]
        if not more:
            break
        opaque += more
        try:
            with opaque_modules(module, opaque):
                ep = _export(module, args, dynamic)
            ep.dlstudio_opaque = list(opaque)  # for the report
            return ep
        except Exception as exc:
            failure = exc
            if dynamic and not is_data_dependent(exc):
                raise _TryFixedBatch() from None
    if dynamic and not is_data_dependent(plain):
        raise _TryFixedBatch() from None
    if is_data_dependent(failure):
        raise _export_error(module, failure, innermost_module_failing_in(module, failure)) from None
    try:  # the other tracer (TorchDynamo) gets through some Python the non-strict one does not
        return _export(module, args, dynamic, strict=True)
    except Exception:
        raise _export_error(module, plain) from None


def _export_error(module: nn.Module, exc: BaseException, inside: tuple[str, str] | None = None) -> ModelImportError:
    name = type(module).__name__
    where = user_frame(exc, source_files_of(module))
    at = f" at {where[0]} line {where[1]}: `{where[2]}`" if where else ""
    if inside is not None:  # library code of a submodule the catalog has no layer for
        at += f", inside {inside[1]} `{inside[0]}` (no catalog layer stands for it, so it must be traced)"
    if is_data_dependent(exc):
        return ModelImportError(
            f"Cannot import {name}: its forward has data-dependent control flow{at}. torch.export follows one "
            f"path through forward and cannot decide a branch or size that depends on tensor values; rewrite it "
            f"with torch.where / torch.cond, or move it out of forward. (torch: {first_line(exc, 200)})",
            [f"data-dependent control flow{at}"],
        )
    hint = ""
    if _packed_sequence_in(exc):
        hint = (
            ". Packed sequences (pack_padded_sequence) cannot be exported: give the recurrent layer the padded "
            "batch (and mask the padding afterwards) to import this model"
        )
    return ModelImportError(
        f"Cannot export {name} with torch.export{at}: {type(exc).__name__}: {first_line(exc)}{hint}", []
    )


def _packed_sequence_in(exc: BaseException) -> bool:
    """Whether a frame of the failure held a PackedSequence (torch.export has no symbolic form for one)."""
    from torch.nn.utils.rnn import PackedSequence

    tb = exc.__traceback__
    while tb is not None:
        if any(isinstance(v, PackedSequence) for v in tb.tb_frame.f_locals.values()):
            return True
        tb = tb.tb_next
    return False


def _problems_error(name: str, problems: list[str]) -> ModelImportError:
    return ModelImportError(
        f"Cannot import {name}: {len(problems)} part(s) could not be mapped; nothing was written.\n  "
        + "\n  ".join(problems[:20])
        + (f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""),
        problems,
    )


def _walk(ep: Any, root: nn.Module | None, fixed_batch: int | None, name: str) -> tuple[Walker, list[str]]:
    walker = Walker(ep, root, fixed_batch)
    outputs = walker.run()
    if walker.problems:
        raise _problems_error(name, walker.problems)
    out_names: list[str] = []
    g = walker.ctx.graph
    values = [walker.env.get(o) if isinstance(o, fx.Node) else o for o in outputs]
    if any(v is None for v in values) and any(v is not None for v in values):
        # (logits, None): a part that this call does not compute (a loss without targets, a cache)
        walker.dropped_outputs = [i for i, v in enumerate(values) if v is None]
        values = [v for v in values if v is not None]
    for i, v in enumerate(values):
        if isinstance(v, Value) and v.layout == "seq_first":  # a recurrent layer's state returned as it is
            v = walker._swap01(Value(v.node_id, v.port, v.info), f"output_{i}_state")
        if not isinstance(v, Value):
            what = "a constant that does not depend on the inputs" if isinstance(v, Const) else type(v).__name__
            if isinstance(v, (int, float, torch.SymInt, torch.SymFloat)):
                what = f"a Python number ({type(v).__name__}); return tensors only"
            walker.problems.append(f"output {i}: is not a tensor computed from the inputs ({what})")
            continue
        label = "output" if len(values) == 1 else f"output_{i}"
        node = Node(id=g.new_id("n"), type="Output", label=label)
        AddNode(node).apply(g)
        Connect(Edge(v.node_id, v.port, node.id, "x", 0)).apply(g)
        out_names.append(label)
    if walker.problems:
        raise _problems_error(name, walker.problems)
    return walker, out_names


def _as_tensors(out: Any) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in _as_tensors(o)]
    if isinstance(out, dict):
        return [t for o in out.values() for t in _as_tensors(o)]
    return []


def _compile_with_weights(result: ImportResult) -> nn.Module:
    """The compiled graph with the imported weights. Built on the meta device and then filled, so that a large
    model is not randomly initialised first, unless it holds buffers that no weights file carries."""
    from ..compiler.build import compile_graph
    from ..compiler.weights import load_weights

    with torch.device("meta"):
        model = compile_graph(result.graph, seed=None)
    if set(dict(model.named_buffers())) - set(model.state_dict()):
        return result.compile()  # non-persistent buffers are made by the constructors: build for real
    model = model.to_empty(device="cpu")
    load_weights(model, result.graph, result.weights, strict=True)
    return model.eval()


def _max_diffs(names: list[str], expected: list[torch.Tensor], got: list[torch.Tensor]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, a, b in zip(names, expected, got):
        if a.shape != b.shape:
            out[name] = float("inf")
        elif a.numel() == 0:
            out[name] = 0.0
        elif a.dtype == torch.bool or b.dtype == torch.bool:
            out[name] = float((a != b).any())
        else:  # NaN where the original has NaN, and infinities of the same sign, count as equal
            a, b = a.double(), b.double()
            same = (a == b) | (torch.isnan(a) & torch.isnan(b))
            out[name] = float(torch.where(same, torch.zeros_like(a), (a - b).abs()).nan_to_num(nan=float("inf")).max())
    if len(got) != len(expected):
        out["outputs"] = float("inf")
    return out


def _finish(
    walker: Walker,
    out_names: list[str],
    reference: Any,
    args: tuple,
    report: Report,
    times: dict[str, float],
    check: bool,
    tolerance: float,
    seed: int,
) -> ImportResult:
    t = time.perf_counter()
    g = walker.ctx.graph
    blocks = make_blocks(g, walker.paths)
    apply_layout(g, max_width=READING_WIDTH)
    times["layout"] = time.perf_counter() - t
    inputs = [n.label for n in g.nodes_of_type("Input")]
    result = ImportResult(g, dict(walker.ctx.weights), report, inputs, out_names)
    report.details.update(nodes=len(g), blocks=blocks)
    if walker.mapped_modules:
        report.details["modules mapped to catalog layers"] = dict(sorted(walker.mapped_modules.items()))
    if walker.mapped_modules:
        mapped = ", ".join(f"{k} x{v}" for k, v in sorted(walker.mapped_modules.items()))
        report.checks.append(f"submodules imported as catalog layers: {mapped}")
    if walker.generic:
        report.details["kept as PyTorch ops (AtenOp)"] = dict(sorted(walker.generic.items()))
        kept = ", ".join(f"{k} x{v}" for k, v in sorted(walker.generic.items()))
        report.warnings.append(
            f"{sum(walker.generic.values())} operation(s) have no catalog layer and were kept as PyTorch ops "
            f"(badged 'imported op'; replace them with catalog layers to edit them): {kept}"
        )
    opaque = getattr(walker.ep, "dlstudio_opaque", None)
    if opaque:
        report.checks.append(
            "not traced into (tracing failed inside; each imported as one call of its catalog layer): "
            + ", ".join(opaque)
        )
    if walker.sequence_first:
        report.checks.append(
            "sequence-first modules imported as the batch-first catalog layer between transpose(0, 1) ops: "
            + ", ".join(walker.sequence_first)
        )
    if walker.dropped_outputs:
        report.warnings.append(
            f"forward returns None at output position(s) {walker.dropped_outputs} for this input; the graph's "
            f"outputs are the tensors only"
        )
    if walker.regions:
        report.warnings.append(
            "code that forward ran under torch.no_grad() or autocast is part of the graph like the rest (the "
            "imported graph computes the same, in float32, and trains through it): " + ", ".join(walker.regions)
        )
    if walker.fixed_batch:
        report.warnings.append(
            f"some operations mix the batch dimension with other sizes: the graph is fixed to batch "
            f"{walker.fixed_batch} (train and run it with that batch size)"
        )
    if check:
        t = time.perf_counter()
        model = _compile_with_weights(result)
        times["weights"] = time.perf_counter() - t
        t = time.perf_counter()
        with torch.no_grad():
            if callable(reference):
                torch.manual_seed(seed)  # random operators (randn_like...) draw the same numbers in both runs
                reference = _as_tensors(reference(*args))
            torch.manual_seed(seed)
            got = _as_tensors(model(*args))
        times["parity"] = time.perf_counter() - t
        report.max_abs_diff = _max_diffs(out_names, reference, got)
        report.checks.append(f"imported graph vs the original on the example input (batch {args[0].shape[0]})")
        random_ops = sorted(k for k in walker.generic if any(w in k for w in ("rand", "bernoulli", "normal")))
        if random_ops:
            report.checks.append(
                f"random operators ({', '.join(random_ops)}) compared under one seed; they draw new numbers "
                f"in every training step and run, as in the original"
            )
        bad = {k: v for k, v in report.max_abs_diff.items() if not v <= tolerance}
        if bad:
            raise ModelImportError(
                "The imported graph does not reproduce the model: "
                + ", ".join(f"{k} max |diff| {v:.3g}" for k, v in bad.items())
                + "; nothing was written",
                [],
            )
    report.details["seconds"] = {k: round(v, 3) for k, v in times.items()}
    return result


def import_module(module: nn.Module, example_inputs: Sequence[torch.Tensor], **options: Any) -> ImportResult:
    """Export `module` with torch.export on `example_inputs` (batch first) and map it onto the catalog.
    Options: check (compare with the original, default True), tolerance (1e-5), input_names, seed."""
    with _quiet_torch():
        return _import_module(module, example_inputs, **options)


def _import_module(
    module: nn.Module,
    example_inputs: Sequence[torch.Tensor],
    *,
    check: bool = True,
    tolerance: float = 1e-5,
    input_names: Sequence[str] | None = None,
    seed: int = 0,
) -> ImportResult:
    start = time.perf_counter()
    name = type(module).__name__
    scripted = [p or name for p, m in module.named_modules() if isinstance(m, torch.jit.ScriptModule)]
    if scripted:
        raise ModelImportError(
            f"Cannot import {name}: {', '.join(scripted[:5])} is a TorchScript module (torch.jit.script/trace), "
            f"which torch.export cannot trace; import the plain nn.Module instead",
            [],
        )
    module = module.eval()
    args = tuple(example_inputs)
    report = Report(kind="torch-import")
    report.details["module"] = name
    times: dict[str, float] = {}
    t = time.perf_counter()
    # torch.export's own modules take seconds to import the first time: import them while forward runs
    preload = threading.Thread(target=_preload_export, name="dlstudio-preload-export", daemon=True)
    preload.start()
    try:
        with torch.no_grad():
            torch.manual_seed(seed)
            reference: list[Any] = []
            branches = branches_taken(source_files_of(module), lambda: reference.extend(_as_tensors(module(*args))))
    except Exception as exc:  # the user's forward failed on the example: say where
        where = user_frame(exc, source_files_of(module))
        at = f" at {where[0]} line {where[1]}: `{where[2]}`" if where else ""
        ints = [int(a.max()) for a in args if isinstance(a, torch.Tensor) and a.dtype == torch.int64 and a.numel()]
        values = (
            f"; the int64 example inputs hold random values 0..{max(ints)} (below the smallest embedding table, "
            f"else 10): pass example tensors with dls.import_torch(module, (x, ...)) when forward needs others"
            if ints
            else ""
        )
        raise ModelImportError(
            f"{name}.forward fails on the example input{at}: {type(exc).__name__}: {first_line(exc)}. Check "
            f"--input-shape / --input-dtype (one per forward argument, without the batch){values}",
            [],
        ) from None
    finally:
        preload.join()
    times["reference"] = time.perf_counter() - t  # the original's forward, branches recorded: parity's reference
    result = None
    for dynamic in (True, False):
        t = time.perf_counter()
        # torch.export treats a size of 1 as a constant: export a batch of 1 as two copies
        export_args = tuple(_twice(a) for a in args) if dynamic and int(args[0].shape[0]) == 1 else args
        try:
            ep = _export_for_import(module, export_args, dynamic)
        except _TryFixedBatch:
            continue  # a model that fixes its batch size: export it at the example batch
        times["export"] = times.get("export", 0.0) + time.perf_counter() - t
        t = time.perf_counter()
        try:
            walker, out_names = _walk(ep, module, None if dynamic else int(args[0].shape[0]), name)
        except Restart:
            continue
        times["map"] = time.perf_counter() - t
        result = _finish(walker, out_names, reference, args, report, times, check, tolerance, seed)
        break
    CALL_SITES.clear()  # opaque call sites hold the modules: not needed once the graph is built
    if result is None:
        raise ModelImportError(f"Cannot import {name}: no export of it could be mapped", [])
    if branches:
        report.details["branches followed"] = branches
        report.warnings.append(
            "torch.export follows the branches the example input takes; the graph holds only those: "
            + "; ".join(branches)
        )
    for node, label in zip(result.graph.nodes_of_type("Input"), input_names or ()):
        result.graph._set_label(node.id, result.graph.unique_label(label))
    result.input_names = [n.label for n in result.graph.nodes_of_type("Input")]
    report.seconds = time.perf_counter() - start
    return result


def import_program(program: Any, *, check: bool = True, tolerance: float = 1e-5, seed: int = 0) -> ImportResult:
    """An ExportedProgram (torch.export.export / torch.export.load) mapped onto the catalog; the check runs it
    on its own example inputs."""
    with _quiet_torch():
        return _import_program(program, check=check, tolerance=tolerance, seed=seed)


def _import_program(program: Any, *, check: bool, tolerance: float, seed: int) -> ImportResult:
    start = time.perf_counter()
    report = Report(kind="torch-import")
    examples = getattr(program, "example_inputs", None)
    args = tuple(examples[0]) if examples else ()
    if check and not args:
        raise ModelImportError("the ExportedProgram carries no example inputs: import it with check=False", [])
    times: dict[str, float] = {"export": 0.0}
    fixed: int | None = None
    for _ in range(2):
        t = time.perf_counter()
        try:
            walker, out_names = _walk(program, None, fixed, "the exported program")
        except Restart:
            fixed = int(args[0].shape[0]) if args else 1
            continue
        times["map"] = time.perf_counter() - t
        result = _finish(walker, out_names, program.module(), args, report, times, check, tolerance, seed)
        report.seconds = time.perf_counter() - start
        return result
    raise ModelImportError("Cannot import the exported program: its shapes depend on the batch size", [])


def import_pt2(path: str | os.PathLike[str], **options: Any) -> ImportResult:
    """A .pt2 file written by torch.export.save."""
    p = Path(path)
    if not p.is_file():
        raise ModelImportError(f"{p}: no such file", [])
    try:
        program = functional(torch.export.load(str(p)))
    except Exception as exc:  # a truncated or foreign file
        raise ModelImportError(
            f"{p}: not a torch.export program saved with torch.export.save ({type(exc).__name__}: {first_line(exc)})",
            [],
        ) from None
    result = import_program(program, **options)
    result.report.path = p
    return result


def _is_shapes(inputs: Any) -> bool:
    return isinstance(inputs, (list, tuple)) and all(
        isinstance(s, (list, tuple)) and all(isinstance(d, int) and not isinstance(d, bool) for d in s) for s in inputs
    )


def import_torch(
    module: nn.Module,
    inputs: Any,
    *,
    dtypes: Sequence[str] | None = None,
    batch: int = 2,
    seed: int = 0,
    **options: Any,
) -> ImportResult:
    """`inputs`: example tensors (one per forward argument, batch first), or per-sample shapes without the batch
    (random inputs of `batch` samples are made, float32 unless `dtypes` says int64)."""
    if not isinstance(module, nn.Module):
        raise ModelImportError(f"import_torch needs an nn.Module, got {type(module).__name__}", [])
    if isinstance(inputs, torch.Tensor):
        inputs = (inputs,)
    if _is_shapes(inputs):
        args = example_inputs_for(module, inputs, dtypes, batch, seed)
    elif isinstance(inputs, (list, tuple)) and all(isinstance(t, torch.Tensor) for t in inputs):
        args = tuple(inputs)
    else:
        raise ModelImportError(
            "example inputs must be tensors (batch first) or per-sample shapes such as [(1, 28, 28)]", []
        )
    if not args:
        raise ModelImportError("give at least one example input (one per forward argument)", [])
    return import_module(module, args, seed=seed, **options)


def import_torch_file(
    path: str | os.PathLike[str],
    class_name: str,
    input_shapes: Sequence[Sequence[int]],
    *,
    init: dict[str, Any] | None = None,
    **options: Any,
) -> ImportResult:
    """`model.py:ClassName`: load the file (THIS EXECUTES IT), build ClassName(**init) and import it."""
    from .python_file import load_module_class

    cls = load_module_class(path, class_name)
    try:
        module = cls(**(init or {}))
    except Exception as exc:  # the user's constructor: its own message, and how to pass arguments
        raise ModelImportError(
            f"{class_name}(**{init or {}}) failed: {type(exc).__name__}: {first_line(exc)}; give constructor "
            f"arguments with --init '{{\"name\": value}}' (JSON)",
            [],
        ) from None
    result = import_torch(module, input_shapes, **options)
    result.report.path = Path(path)
    return result
