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

import operator
import os
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import fx, nn

from ..compiler.oracle import BatchDependentShape
from ..compiler.report import Report, compare_outputs
from ..core.edits import AddNode, Connect
from ..core.errors import DlstudioError, ModelImportError
from ..core.graph import Edge, Node
from ..core.layout import apply_layout
from .base import Context, ImportResult, Unsupported, Value
from .torch_export_args import BatchSymbols, Const, add_aten_op, dtype_name, op_name
from .torch_export_modules import Leaf, find_leaves, make_blocks, module_path, same_module
from .torch_export_ops import MAPPERS
from .torch_export_source import branches_taken, first_line, is_data_dependent, source_files_of, user_frame

_DTYPES = {torch.float32: "float32", torch.int64: "int64", torch.bool: "bool"}


class _Restart(Exception):
    """The dynamic-batch graph has an op whose shape mixes the batch: import again at the example batch."""


class _Walker:
    def __init__(self, ep: Any, root: nn.Module | None, fixed_batch: int | None) -> None:
        self.ep = ep
        self.graph: fx.Graph = ep.graph
        self.ctx = Context(opset=0, consumers={})
        self.env: dict[fx.Node, Any] = {}
        self.symbols = BatchSymbols()
        self.fixed_batch = fixed_batch
        self.paths: dict[str, str] = {}  # dlstudio node id -> module path
        self.current_path = ""
        self.generic: dict[str, int] = {}
        self.problems: list[str] = []
        self.leaves = find_leaves(self.graph, root)
        self.done_leaves: set[str] = set()
        self.failed_leaves: set[str] = set()
        self.mapped_modules: dict[str, int] = {}
        self.batch_value: Value | None = None

    # ------------------------------------------------------------- for mappers
    def value(self, a: Any) -> Value:
        v = self.env.get(a) if isinstance(a, fx.Node) else None
        if not isinstance(v, Value):
            raise Unsupported(f"{a} is not a tensor computed from the inputs")
        return v

    def const(self, a: Any) -> Const:
        v = self.env.get(a) if isinstance(a, fx.Node) else None
        if not isinstance(v, Const):
            raise Unsupported(f"{a} is not a parameter or constant")
        return v

    def py(self, a: Any) -> Any:
        v = self.env.get(a) if isinstance(a, fx.Node) else a
        if isinstance(v, (Value, Const)):
            raise Unsupported("a tensor where a plain value is expected")
        if isinstance(v, (list, tuple)):
            return [self.py(x) for x in v]
        if isinstance(v, torch.SymInt):
            expr = self.symbols.expression(v)
            if isinstance(expr, dict):
                raise Unsupported(f"a size that follows the batch ({expr['sym']})")
            return expr
        return v

    def is_batch(self, a: Any) -> bool:
        v = self.env.get(a) if isinstance(a, fx.Node) else a
        if isinstance(v, torch.SymInt):
            try:
                return self.symbols.expression(v) == {"sym": "N"}
            except Unsupported:
                return False
        return False

    def add(
        self,
        type_name: str,
        inputs: list[Value],
        params: dict | None = None,
        weights: dict | None = None,
        label: str = "",
    ) -> Value:
        outs = self.ctx.add(type_name, inputs, params, weights=_numpy(weights), label=label or self._label(type_name))
        self.paths[outs[0].node_id] = self.current_path
        return outs[0]

    def _label(self, what: str) -> str:
        tail = self.current_path.rpartition(".")[2] if self.current_path else ""
        base = what.lower() if not tail or tail.isdigit() else f"{tail}_{what.lower()}"
        return base.replace(".", "_")

    # -------------------------------------------------------------------- walk
    def inputs(self) -> None:
        sig = self.ep.graph_signature
        consts: dict[str, tuple[torch.Tensor, bool]] = {}
        state = self.ep.state_dict
        for name, target in sig.inputs_to_parameters.items():
            consts[name] = (state[target], True)
        for name, target in sig.inputs_to_buffers.items():
            t = state[target] if target in state else self.ep.constants[target]
            consts[name] = (t, False)
        for name, target in sig.inputs_to_lifted_tensor_constants.items():
            consts[name] = (self.ep.constants[target], False)
        user = [n for n in self.graph.nodes if n.op == "placeholder" and n.name not in consts]
        for node in self.graph.nodes:
            if node.op == "placeholder" and node.name in consts:
                t, trainable = consts[node.name]
                self.env[node] = Const(t.detach(), trainable)
        for i, node in enumerate(user):
            val = node.meta.get("val")
            if not isinstance(val, torch.Tensor):
                raise ModelImportError(f"input {node.name} is not a tensor ({type(val).__name__})", [])
            if val.dtype not in _DTYPES or val.dim() == 0:
                raise ModelImportError(
                    f"input {node.name} is a {dtype_name(val.dtype)} tensor of shape {tuple(val.shape)}: dlstudio "
                    f"inputs are float32, int64 or bool with a batch dimension first",
                    [],
                )
            if i == 0:
                self.symbols.symbol = getattr(getattr(val.shape[0], "node", None), "expr", None)
            shape = tuple(int(d) for d in val.shape[1:])
            n = Node(id=self.ctx.graph.new_id("n"), type="Input", label=node.name, params={"shape": shape})
            n.params["dtype"] = _DTYPES[val.dtype]
            AddNode(n).apply(self.ctx.graph)
            from ..analysis.shapes import infer_node

            outs = infer_node(self.ctx.graph, n, self.ctx.shapes)
            assert outs is not None
            self.env[node] = Value(n.id, "out", outs[0])
            if self.batch_value is None:
                self.batch_value = self.env[node]

    def run(self) -> list[Any]:
        self.inputs()
        outputs: list[Any] = []
        for node in self.graph.nodes:
            if node.op == "output":
                outputs = list(node.args[0]) if isinstance(node.args[0], (tuple, list)) else [node.args[0]]
            elif node.op == "call_function" and node not in self.env:
                self.current_path = module_path(node)
                try:
                    self.call(node)
                except BatchDependentShape:
                    raise _Restart() from None
                except (Unsupported, DlstudioError) as exc:
                    self.problems.append(f"{_where(node)}: {exc}")
        return outputs

    def call(self, node: fx.Node) -> None:
        if any(isinstance(a, fx.Node) and a not in self.env for a in node.all_input_nodes):
            return  # downstream of a reported problem
        leaf = self.leaves.get(node)
        if leaf is not None and leaf.key not in self.done_leaves and leaf.key not in self.failed_leaves:
            if self._map_leaf(leaf):
                return
        if node.target is operator.getitem:
            base = self.env[node.args[0]]  # type: ignore[index]
            self.env[node] = base[node.args[1]]  # type: ignore[index]
            return
        val = node.meta.get("val")
        if not _has_tensor(val):
            if val is None and not node.users:
                return  # assertions and other side-effect-only calls
            self.env[node] = val  # sizes and other plain values: written into the ops that use them
            return
        tensor_args = [self.env[a] for a in node.all_input_nodes]
        if not any(isinstance(v, (Value, tuple)) for v in tensor_args) and not self._needs_batch(node):
            self.env[node] = self._fold(node)
            return
        mapper = MAPPERS.get(_name(node))
        if mapper is not None:
            try:
                self.env[node] = mapper(self, node)
                return
            except (Unsupported, DlstudioError):
                pass
        outs = add_aten_op(
            self.ctx, node, self.env, self.symbols, self.batch_value, self._label(_short(node)), self.fixed_batch
        )
        self.paths[outs[0].node_id] = self.current_path
        self.generic[_name(node)] = self.generic.get(_name(node), 0) + 1
        self.env[node] = outs[0] if isinstance(val, torch.Tensor) else tuple(outs)

    def _needs_batch(self, node: fx.Node) -> bool:
        """Whether a call without tensor inputs uses a size that follows the batch (zeros(x.size(0), 8))."""
        for a in node.all_input_nodes:
            v = self.env.get(a)
            if isinstance(v, torch.SymInt) and not isinstance(self.symbols.expression(v), int):
                return True
        return False

    def _fold(self, node: fx.Node) -> Const:
        """Compute a call on constants only (a causal mask sliced from a buffer, a weight transposed)."""

        def real(a: Any) -> Any:
            if isinstance(a, fx.Node):
                v = self.env[a]
                return v.tensor if isinstance(v, Const) else self.py(a)
            if isinstance(a, (list, tuple)):
                return type(a)(real(x) for x in a)
            return a

        trainable = any(isinstance(self.env[a], Const) and self.env[a].trainable for a in node.all_input_nodes)
        args = [real(a) for a in node.args]
        kwargs = {k: real(v) for k, v in node.kwargs.items()}
        with torch.no_grad():
            out = node.target(*args, **kwargs)  # type: ignore[operator]
        if isinstance(out, (tuple, list)):
            raise Unsupported(f"{_name(node)} on constants gives several tensors")
        return Const(out, trainable)

    def _map_leaf(self, leaf: Leaf) -> bool:
        """Replace the nodes of one catalog-class submodule call by its catalog layer. False: keep its ops."""
        members = set(leaf.nodes)
        ins: list[Value] = []
        for n in leaf.nodes:
            for a in n.all_input_nodes:
                if a in members:
                    continue
                if a not in self.env:
                    self.failed_leaves.add(leaf.key)
                    return False
                v = self.env[a]
                if isinstance(v, Value):
                    if v not in ins:
                        ins.append(v)
                elif isinstance(v, Const) and _is_own_tensor(v, leaf.module):
                    continue
                elif v is not None and not isinstance(v, (int, torch.SymInt)):
                    self.failed_leaves.add(leaf.key)  # a mask or state from outside: keep the ops
                    return False
        outs = [n for n in leaf.nodes if any(u not in members for u in n.users)]
        if not ins or len(outs) != 1 or not isinstance(outs[0].meta.get("val"), torch.Tensor):
            self.failed_leaves.add(leaf.key)
            return False
        self.current_path = leaf.path.rpartition(".")[0]
        before = set(self.ctx.graph.nodes)
        for t in leaf.types:
            try:
                params = _spec(t).from_module(leaf.module)
                if not same_module(t, params, [v.info for v in ins], leaf.module):
                    continue
                value = self.add(t, ins, params, dict(leaf.module.state_dict()), label=_leaf_label(leaf.path))
            except (Unsupported, DlstudioError):
                continue
            want = tuple(outs[0].meta["val"].shape[1:])
            if tuple(value.info.shape[1:]) != tuple(int(d) for d in want):
                self._drop(set(self.ctx.graph.nodes) - before)
                continue
            self.env[outs[0]] = value
            for n in leaf.nodes:
                self.env.setdefault(n, None)
            self.done_leaves.add(leaf.key)
            self.mapped_modules[t] = self.mapped_modules.get(t, 0) + 1
            return True
        self.failed_leaves.add(leaf.key)
        return False

    def _drop(self, node_ids: set[str]) -> None:
        g = self.ctx.graph
        for nid in node_ids:
            for e in list(g.in_edges(nid)) + list(g.out_edges(nid)):
                g._delete_edge(e)
            g._delete_node(nid)
            for key in [k for k in self.ctx.weights if k.startswith(f"{nid}.")]:
                del self.ctx.weights[key]


def _leaf_label(path: str) -> str:
    """`layer1.0.conv1` -> conv1; `main.3` -> main_3 (a numbered child of a Sequential)."""
    parts = path.split(".")
    return "_".join(parts[-2:]) if parts[-1].isdigit() and len(parts) > 1 else parts[-1]


def _spec(type_name: str):
    from ..layers.registry import REGISTRY

    return REGISTRY.get(type_name)


def _is_own_tensor(c: Const, module: nn.Module) -> bool:
    return any(c.tensor is t or c.tensor.data_ptr() == t.data_ptr() for t in module.state_dict().values())


def _has_tensor(val: Any) -> bool:
    if isinstance(val, torch.Tensor):
        return True
    return isinstance(val, (list, tuple)) and any(isinstance(v, torch.Tensor) for v in val)


def _name(node: fx.Node) -> str:
    try:
        return op_name(node.target)
    except Unsupported:
        return getattr(node.target, "__name__", str(node.target))


def _short(node: fx.Node) -> str:
    return _name(node).split(".")[1] if "." in _name(node) else _name(node)


def _where(node: fx.Node) -> str:
    path = module_path(node)
    return f"{_name(node)} ({node.name}{' in ' + path if path else ''})"


def _numpy(weights: dict | None) -> dict | None:
    if not weights:
        return weights
    return {k: (v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else v) for k, v in weights.items()}


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


def _export(module: nn.Module, args: tuple, dynamic: bool) -> Any:
    """torch.export.export, non-strict (it runs forward as Python, so more models export); the batch (dimension 0
    of every input) is symbolic when `dynamic`."""
    from torch.export import Dim

    shapes = None
    if dynamic:
        batch = Dim("batch", min=1, max=1 << 16)
        shapes = tuple({0: batch} if isinstance(a, torch.Tensor) and a.dim() else None for a in args)
    return torch.export.export(module, args, dynamic_shapes=shapes, strict=False)


def _export_error(module: nn.Module, exc: BaseException) -> ModelImportError:
    name = type(module).__name__
    where = user_frame(exc, source_files_of(module))
    at = f" at {where[0]} line {where[1]}: `{where[2]}`" if where else ""
    if is_data_dependent(exc):
        return ModelImportError(
            f"Cannot import {name}: its forward has data-dependent control flow{at}. torch.export follows one "
            f"path through forward and cannot decide a branch or size that depends on tensor values; rewrite it "
            f"with torch.where / torch.cond, or move it out of forward. (torch: {first_line(exc, 200)})",
            [f"data-dependent control flow{at}"],
        )
    return ModelImportError(f"Cannot export {name} with torch.export{at}: {type(exc).__name__}: {first_line(exc)}", [])


def _problems_error(name: str, problems: list[str]) -> ModelImportError:
    return ModelImportError(
        f"Cannot import {name}: {len(problems)} part(s) could not be mapped; nothing was written.\n  "
        + "\n  ".join(problems[:20])
        + (f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""),
        problems,
    )


def _walk(ep: Any, root: nn.Module | None, fixed_batch: int | None, name: str) -> tuple[_Walker, list[str]]:
    walker = _Walker(ep, root, fixed_batch)
    outputs = walker.run()
    if walker.problems:
        raise _problems_error(name, walker.problems)
    out_names: list[str] = []
    g = walker.ctx.graph
    for i, o in enumerate(outputs):
        v = walker.env.get(o) if isinstance(o, fx.Node) else o
        if not isinstance(v, Value):
            walker.problems.append(f"output {i}: is not a tensor computed from the inputs ({type(v).__name__})")
            continue
        label = "output" if len(outputs) == 1 else f"output_{i}"
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


def _finish(
    walker: _Walker,
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
    apply_layout(g)
    times["layout"] = time.perf_counter() - t
    inputs = [n.label for n in g.nodes_of_type("Input")]
    result = ImportResult(g, dict(walker.ctx.weights), report, inputs, out_names)
    report.details.update(nodes=len(g), blocks=blocks)
    if walker.mapped_modules:
        report.details["modules mapped to catalog layers"] = dict(sorted(walker.mapped_modules.items()))
    if walker.generic:
        report.details["kept as PyTorch ops (AtenOp)"] = dict(sorted(walker.generic.items()))
    if walker.fixed_batch:
        report.warnings.append(
            f"some operations mix the batch dimension with other sizes: the graph is fixed to batch "
            f"{walker.fixed_batch} (train and run it with that batch size)"
        )
    if check:
        t = time.perf_counter()
        model = result.compile()
        times["weights"] = time.perf_counter() - t
        t = time.perf_counter()
        with torch.no_grad():
            torch.manual_seed(seed)  # random operators (randn_like...) draw the same numbers in both runs
            expected = _as_tensors(reference(*args))
            torch.manual_seed(seed)
            got = _as_tensors(model(*args))
        times["parity"] = time.perf_counter() - t
        report.max_abs_diff = compare_outputs(out_names, expected, got)
        report.checks.append(f"imported graph vs the original on the example input (batch {args[0].shape[0]})")
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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the model's own deprecation warnings, once per trace
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
    module = module.eval()
    args = tuple(example_inputs)
    report = Report(kind="torch-import")
    report.details["module"] = name
    times: dict[str, float] = {}
    try:
        with torch.no_grad():
            torch.manual_seed(seed)
            branches = branches_taken(source_files_of(module), lambda: module(*args))
    except Exception as exc:  # the user's forward failed on the example: say where
        where = user_frame(exc, source_files_of(module))
        at = f" at {where[0]} line {where[1]}: `{where[2]}`" if where else ""
        raise ModelImportError(
            f"{name}.forward fails on the example input{at}: {type(exc).__name__}: {first_line(exc)}. Check "
            f"--input-shape / --input-dtype (one per forward argument, without the batch)",
            [],
        ) from None
    result = None
    for dynamic in (True, False):
        t = time.perf_counter()
        try:
            ep = _export(module, args, dynamic)
        except Exception as exc:  # torch.export raises many types; each becomes one readable message
            if dynamic and not is_data_dependent(exc):
                continue  # a model that fixes its batch size: export it at the example batch
            raise _export_error(module, exc) from None
        times["export"] = times.get("export", 0.0) + time.perf_counter() - t
        t = time.perf_counter()
        try:
            walker, out_names = _walk(ep, module, None if dynamic else int(args[0].shape[0]), name)
        except _Restart:
            continue
        times["map"] = time.perf_counter() - t
        result = _finish(walker, out_names, module, args, report, times, check, tolerance, seed)
        break
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
        except _Restart:
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
        program = torch.export.load(str(p))
    except Exception as exc:  # a truncated or foreign file
        raise ModelImportError(
            f"{p}: not a torch.export program saved with torch.export.save ({type(exc).__name__}: {first_line(exc)})",
            [],
        ) from None
    result = import_program(program, **options)
    result.report.path = p
    return result
