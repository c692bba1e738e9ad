"""PyTorch import by torch.fx tracing, the older route: `dlstudio import` and dls.import_torch use torch.export
(dlstudio.importers.torch_export), which follows more models; this one stays for `dlstudio diff`'s model.py:Class
sources and as a fallback. It traces an nn.Module and maps its calls onto catalog layers, weights included.

call_module nodes map by class: a LayerSpec whose `module` is that torch class gets its parameters read back
with LayerSpec.from_module, and the layer the compiler would build
from them must have the same repr and tensor shapes as the original, or the module is reported. call_function
and call_method nodes map through small tables (operator.add -> Add, torch.cat -> Concat, x.view -> Reshape...).
Every unsupported part is listed in one ModelImportError naming its module path or function.

Importing a .py file executes it (`import_torch_file`): only import code you trust.
"""

from __future__ import annotations

import importlib.util
import inspect
import operator
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn

from ..compiler.report import Report, compare_outputs
from ..core.errors import DlstudioError, ModelImportError
from ..core.layout import READING_WIDTH, apply_layout
from ..layers.registry import REGISTRY
from .base import Context, ImportResult, Unsupported, Value

_BATCH = object()  # the value of x.size(0) / x.shape[0]: stands for the batch in view/reshape


def _spec_for_class(cls: type) -> list[str]:
    """Catalog types built from this class, or from a dlstudio.nn class with the same name and source (the
    copies that Python export inlines into generated files)."""
    from ..compiler.build import resolve_dotted

    out = []
    for spec in REGISTRY.all():
        if spec.module:
            try:
                target = resolve_dotted(spec.module)
            except (ImportError, AttributeError):
                continue
            if target is cls or (spec.module.startswith("dlstudio.") and _same_source(target, cls)):
                out.append(spec.type)
    return out


def _same_source(a: type, b: type) -> bool:
    if a.__name__ != b.__name__:
        return False
    try:
        return inspect.getsource(a) == inspect.getsource(b)
    except (OSError, TypeError):
        return False


class _Tracer(fx.Tracer):
    """Keeps catalog custom modules (dlstudio.nn, or generated copies of them) whole when their parameters can be
    read back; everything else is traced through as usual."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        if not type(m).__module__.startswith("torch"):
            for t in _spec_for_class(type(m)):
                spec = REGISTRY.get(t)
                if all(hasattr(m, p.name) for p in spec.params):
                    return True
        return super().is_leaf_module(m, module_qualified_name)


_FUNCTIONS: dict[Any, str] = {
    torch.relu: "ReLU",
    F.relu: "ReLU",
    torch.sigmoid: "Sigmoid",
    F.sigmoid: "Sigmoid",
    torch.tanh: "Tanh",
    F.tanh: "Tanh",
    F.silu: "SiLU",
    F.gelu: "GELU",
    F.mish: "Mish",
    F.softsign: "Softsign",
    F.selu: "SELU",
}
_METHODS = {"relu": "ReLU", "sigmoid": "Sigmoid", "tanh": "Tanh"}
_BINARY = {
    operator.add: "Add",
    torch.add: "Add",
    operator.mul: "Multiply",
    torch.mul: "Multiply",
    operator.sub: "Subtract",
    torch.sub: "Subtract",
}


class _Importer:
    def __init__(self, root: nn.Module, gm: fx.GraphModule) -> None:
        self.root = root
        self.gm = gm
        self.ctx = Context(opset=0, consumers={})
        self.env: dict[fx.Node, Any] = {}
        self.problems: list[str] = []

    def value(self, a: Any) -> Value:
        v = self.env.get(a) if isinstance(a, fx.Node) else None
        if not isinstance(v, Value):
            raise Unsupported(f"argument {a} is not a tensor produced by a mapped layer")
        return v

    # ---------------------------------------------------------------- modules
    def call_module(self, n: fx.Node) -> Any:
        mod = self.gm.get_submodule(str(n.target))
        if isinstance(mod, (nn.ReLU6, nn.Hardtanh)) and type(mod) in (nn.ReLU6, nn.Hardtanh):
            # ReLU6 is Hardtanh(0, 6) in the catalog
            return self.ctx.add(
                "Hardtanh",
                [self.value(n.args[0])],
                {"min_val": float(mod.min_val), "max_val": float(mod.max_val)},
                label=str(n.target).replace(".", "_"),
            )[0]
        types = _spec_for_class(type(mod))
        if not types:
            raise Unsupported(f"{type(mod).__name__} has no catalog layer")
        x = self.value(n.args[0])
        extra = [self.value(a) for a in n.args[1:]]
        last: Exception | None = None
        for t in types:
            before = set(self.ctx.graph.nodes)
            try:
                params = REGISTRY.get(t).from_module(mod)
                outs = self.ctx.add(t, [x, *extra], params, label=str(n.target).replace(".", "_"))
                self._check_rebuild(outs[0].node_id, mod)
            except (Unsupported, DlstudioError) as exc:
                last = exc
                for nid in set(self.ctx.graph.nodes) - before:
                    self._drop(nid)
                continue
            for k, v in mod.state_dict().items():
                self.ctx.weights[f"{outs[0].node_id}.{k}"] = v.detach().cpu().clone()
            if isinstance(mod, (nn.LSTM, nn.GRU, nn.RNN)):
                return ("recurrent", outs[0])
            return outs[0] if len(outs) == 1 else tuple(outs)
        raise Unsupported(str(last) if last else f"{type(mod).__name__} does not map")

    def _drop(self, node_id: str | None) -> None:
        g = self.ctx.graph
        if node_id and node_id in g:
            for e in list(g.in_edges(node_id)) + list(g.out_edges(node_id)):
                g._delete_edge(e)
            g._delete_node(node_id)

    def _check_rebuild(self, node_id: str, mod: nn.Module) -> None:
        """The layer the compiler builds from these parameters must equal the original (repr and tensor
        shapes): compile the node alone, fed by Inputs of the same shapes."""
        from ..compiler.build import compile_graph
        from ..layers.builder import Graph

        node = self.ctx.graph.node(node_id)
        g = Graph()
        ins = [
            g.input(f"in{i}", tuple(int(d) for d in t.shape[1:]), t.dtype)
            for i, t in enumerate(self.ctx.shapes.inputs[node_id])
            if t is not None
        ]
        try:
            ref = g.add(node.type, *ins, **node.params)
            g.output("y", ref)
            compiled = compile_graph(g, seed=0)
            built = compiled.get_submodule(compiled.node_paths[ref.node_id])
        except DlstudioError as exc:
            raise Unsupported(f"{type(mod).__name__} cannot be rebuilt by the catalog {node.type}: {exc}") from None
        same = _plain_repr(built) == _plain_repr(mod) and {
            k: tuple(v.shape) for k, v in built.state_dict().items()
        } == {k: tuple(v.shape) for k, v in mod.state_dict().items()}
        if not same:
            raise Unsupported(f"{mod!r} cannot be reproduced by the catalog {node.type} (got {built!r})")

    # -------------------------------------------------------------- functions
    def call_function(self, n: fx.Node) -> Any:
        fn = n.target
        if fn is operator.getitem:
            base = self.env.get(n.args[0])
            idx = n.args[1]
            if isinstance(base, tuple) and len(base) == 2 and base[0] == "recurrent":
                if idx == 0:
                    return base[1]
                raise Unsupported("the hidden state of a recurrent layer is used (only its output sequence maps)")
            if isinstance(base, tuple) and isinstance(idx, int):
                return base[idx]
            if (
                isinstance(base, Value)
                and isinstance(idx, tuple)
                and isinstance(idx[-1], int)
                and all(i == slice(None) for i in idx[:-1])
                and len(idx) >= 2
            ):
                return self.ctx.add("Select", [base], {"dim": len(idx) - 1, "index": idx[-1]}, label=n.name)[0]
            if base is _SHAPE and idx == 0:
                return _BATCH
            raise Unsupported(f"indexing {idx!r}")
        if fn in _BINARY:
            a, b = n.args[0], n.args[1]
            return self.ctx.add(_BINARY[fn], [self.value(a), self.value(b)], label=n.name)[0]
        if fn in _FUNCTIONS:
            if len(n.args) > 1 or any(k not in ("inplace",) for k in n.kwargs):
                raise Unsupported(f"{fn.__name__} with extra arguments")
            return self.ctx.add(_FUNCTIONS[fn], [self.value(n.args[0])], label=n.name)[0]
        if fn is torch.cat:
            vals = [self.value(v) for v in n.args[0]]
            dim = n.kwargs.get("dim", n.args[1] if len(n.args) > 1 else 0)
            return self._dim_layer("Concat", vals, dim)
        if fn is torch.flatten:
            start = n.kwargs.get("start_dim", n.args[1] if len(n.args) > 1 else 0)
            end = n.kwargs.get("end_dim", n.args[2] if len(n.args) > 2 else -1)
            return self.ctx.add("Flatten", [self.value(n.args[0])], {"start_dim": start, "end_dim": end}, label=n.name)[
                0
            ]
        if fn in (F.softmax, F.log_softmax, torch.softmax, torch.log_softmax):
            dim = n.kwargs.get("dim", n.args[1] if len(n.args) > 1 else None)
            if dim is None:
                raise Unsupported("softmax without an explicit dim")
            layer = "Softmax" if fn in (F.softmax, torch.softmax) else "LogSoftmax"
            return self._dim_layer(layer, [self.value(n.args[0])], dim)
        if fn in (F.max_pool2d, F.avg_pool2d):
            x = self.value(n.args[0])
            names = ["kernel_size", "stride", "padding"]
            params = {k: v for k, v in zip(names, n.args[1:])}
            params.update({k: v for k, v in n.kwargs.items() if k in names + ["ceil_mode"]})
            if params.get("stride") is None:
                params.pop("stride", None)
            return self.ctx.add("MaxPool2d" if fn is F.max_pool2d else "AvgPool2d", [x], params, label=n.name)[0]
        if fn is F.adaptive_avg_pool2d:
            return self.ctx.add("AdaptiveAvgPool2d", [self.value(n.args[0])], {"output_size": n.args[1]}, label=n.name)[
                0
            ]
        if fn is F.dropout:
            return self.value(n.args[0])  # functional dropout follows self.training; the traced model is eval
        name = getattr(fn, "__name__", str(fn))
        raise Unsupported(f"function {getattr(fn, '__module__', '')}.{name} has no catalog layer")

    def _dim_layer(self, layer: str, vals: list[Value], dim: int) -> Value:
        rank = vals[0].info.rank
        d = dim + rank if dim < 0 else dim
        if d == 0:
            raise Unsupported(f"{layer} over the batch dimension")
        return self.ctx.add(layer, vals, {"dim": d}, label=layer.lower())[0]

    # ----------------------------------------------------------------- methods
    def call_method(self, n: fx.Node) -> Any:
        m = str(n.target)
        if m == "size" or (m == "shape"):
            if n.args[1:] == (0,):
                return _BATCH
            if len(n.args) == 1:
                return _SHAPE
            raise Unsupported(f"x.size{n.args[1:]} (only the batch size x.size(0) is supported)")
        if m == "contiguous":
            return self.value(n.args[0])
        x = self.value(n.args[0])
        args = n.args[1:]
        if m in _METHODS and not args:
            return self.ctx.add(_METHODS[m], [x], label=n.name)[0]
        if m in ("view", "reshape"):
            dims = list(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else list(args)
            dims = [self.env.get(d, d) if isinstance(d, fx.Node) else d for d in dims]
            if not dims or not (dims[0] is _BATCH or dims[0] == -1):
                raise Unsupported(f"x.{m}({dims}) does not keep the batch first (use x.size(0) or -1 first)")
            feats = [int(d) for d in dims[1:]]
            if -1 in feats and dims[0] == -1:
                raise Unsupported(f"x.{m}({dims}) has two -1 sizes")
            return self.ctx.add("Reshape", [x], {"shape": feats or [-1]}, label=n.name)[0]
        if m == "flatten":
            start = n.kwargs.get("start_dim", args[0] if args else 0)
            return self.ctx.add("Flatten", [x], {"start_dim": start}, label=n.name)[0]
        if m == "permute":
            dims = list(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else list(args)
            if dims[0] != 0:
                raise Unsupported(f"permute{tuple(dims)} moves the batch dimension")
            return self.ctx.add("Permute", [x], {"dims": tuple(dims[1:])}, label=n.name)[0]
        if m == "transpose":
            a, b = (d + x.info.rank if d < 0 else d for d in args[:2])
            if 0 in (a, b):
                raise Unsupported("transpose with the batch dimension")
            dims = list(range(x.info.rank))
            dims[a], dims[b] = dims[b], dims[a]
            return self.ctx.add("Permute", [x], {"dims": tuple(dims[1:])}, label=n.name)[0]
        if m == "select" and len(args) == 2:
            return self.ctx.add("Select", [x], {"dim": int(args[0]), "index": int(args[1])}, label=n.name)[0]
        if m in ("squeeze", "unsqueeze") and len(args) == 1:
            return self.ctx.add(m.capitalize(), [x], {"dim": int(args[0])}, label=n.name)[0]
        if m == "mean" and (set(n.kwargs) <= {"dim"}) and len(args) <= 1:
            dims = n.kwargs.get("dim", args[0] if args else None)
            spatial = tuple(range(2, x.info.rank))
            if (
                dims is not None
                and tuple(sorted(d % x.info.rank for d in (dims if isinstance(dims, (tuple, list)) else [dims])))
                == spatial
            ):
                return self.ctx.add("GlobalAvgPool", [x], label=n.name)[0]
        raise Unsupported(f"method x.{m}(...) has no catalog layer")


_SHAPE = object()


def _trace(module: nn.Module) -> fx.GraphModule:
    tracer = _Tracer()
    graph = tracer.trace(module)
    return fx.GraphModule(tracer.root, graph, type(module).__name__)


def _plain_repr(mod: nn.Module) -> str:
    """repr without in-place flags: an in-place activation computes the same values in an imported graph."""
    return repr(mod).replace(", inplace=True", "").replace("inplace=True", "")


def import_torch(
    module: nn.Module,
    input_shapes: Sequence[Sequence[int]],
    *,
    dtypes: Sequence[str] | None = None,
    check: bool = True,
    tolerance: float = 1e-5,
    input_names: Sequence[str] | None = None,
    seed: int = 0,
) -> ImportResult:
    """Trace `module` (one input shape per forward argument, without the batch) and map it onto the catalog."""
    start = time.perf_counter()
    module = module.eval()
    try:
        gm = _trace(module)
    except Exception as exc:  # torch.fx raises TraceError, TypeError, NotImplementedError...
        raise ModelImportError(
            f"Cannot trace {type(module).__name__} with torch.fx: {exc}. Data-dependent control "
            f"flow (if/for on tensor values) cannot be traced; move it out of forward",
            [],
        ) from None
    gm.graph.eliminate_dead_code()  # e.g. an unused hidden state: `out, _ = self.lstm(x)`
    imp = _Importer(module, gm)
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    if len(placeholders) != len(input_shapes):
        raise ModelImportError(
            f"{type(module).__name__}.forward takes {len(placeholders)} input(s) but "
            f"{len(input_shapes)} shape(s) were given: give one --input-shape per input",
            [],
        )
    from ..analysis.shapes import infer_node
    from ..core.edits import AddNode
    from ..core.graph import Node

    for i, (ph, shape) in enumerate(zip(placeholders, input_shapes)):
        dtype = dtypes[i] if dtypes and i < len(dtypes) else "float32"
        label = input_names[i] if input_names and i < len(input_names) else ph.name
        node = Node(
            id=imp.ctx.graph.new_id("n"),
            type="Input",
            label=label,
            params={"shape": tuple(int(d) for d in shape), "dtype": dtype},
        )
        AddNode(node).apply(imp.ctx.graph)
        outs = infer_node(imp.ctx.graph, node, imp.ctx.shapes)
        imp.env[ph] = Value(node.id, "out", outs[0])
    outputs: list[Any] = []
    for n in gm.graph.nodes:
        if n.op == "placeholder":
            continue
        if n.op == "output":
            outputs = list(n.args[0]) if isinstance(n.args[0], (tuple, list)) else [n.args[0]]
            continue
        if any(isinstance(a, fx.Node) and a not in imp.env for a in n.all_input_nodes):
            continue  # downstream of a reported problem
        where = f"module '{n.target}'" if n.op == "call_module" else f"{n.op} '{n.name}'"
        try:
            handler: Callable[[fx.Node], Any] = (
                getattr(imp, n.op) if n.op in ("call_module", "call_function", "call_method") else None
            )  # type: ignore[assignment]
            if handler is None:
                raise Unsupported(f"{n.op} of {n.target} (parameters used directly in forward)")
            imp.env[n] = handler(n)
        except Unsupported as exc:
            imp.problems.append(f"{where}: {exc}")
        except DlstudioError as exc:
            imp.problems.append(f"{where}: {exc}")
    from ..core.edits import Connect
    from ..core.graph import Edge

    out_names: list[str] = []
    if not imp.problems:
        for i, o in enumerate(outputs):
            v = imp.env.get(o)
            if not isinstance(v, Value):
                imp.problems.append(f"output {i}: is not a tensor computed by mapped layers")
                continue
            name = "output" if len(outputs) == 1 else f"output_{i}"
            node = Node(id=imp.ctx.graph.new_id("n"), type="Output", label=name)
            AddNode(node).apply(imp.ctx.graph)
            Connect(Edge(v.node_id, v.port, node.id, "x", 0)).apply(imp.ctx.graph)
            out_names.append(name)
    if imp.problems:
        raise ModelImportError(
            f"Cannot import {type(module).__name__}: {len(imp.problems)} unsupported part(s); "
            f"nothing was written.\n  " + "\n  ".join(imp.problems),
            imp.problems,
        )
    apply_layout(imp.ctx.graph, max_width=READING_WIDTH)
    report = Report(kind="torch-import")
    report.details.update(nodes=len(imp.ctx.graph), module=type(module).__name__)
    result = ImportResult(
        imp.ctx.graph, dict(imp.ctx.weights), report, [n.label for n in imp.ctx.graph.nodes_of_type("Input")], out_names
    )
    if check:
        from ..compiler.samples import as_list, sample_inputs

        args = sample_inputs(result.graph, batch=3, seed=seed)
        with torch.no_grad():
            expected = as_list(module(*args))
            got = as_list(result.compile()(*args))
        report.max_abs_diff = compare_outputs(out_names, expected, got)
        report.checks.append("imported graph vs the original module on a random batch of 3")
        bad = {k: v for k, v in report.max_abs_diff.items() if not v <= tolerance}
        if bad:
            raise ModelImportError(
                "The imported graph does not reproduce the module: "
                + ", ".join(f"{k} max |diff| {v:.3g}" for k, v in bad.items()),
                [],
            )
    report.seconds = time.perf_counter() - start
    return result


def load_module_class(path: str | os.PathLike[str], class_name: str) -> type:
    """Load `class_name` from a Python file. THIS EXECUTES THE FILE: only use it on code you trust."""
    p = Path(path)
    if not p.is_file():
        raise ModelImportError(f"{p}: no such Python file", [])
    name = f"_dlstudio_user_model_{abs(hash(str(p.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, p)
    if spec is None or spec.loader is None:
        raise ModelImportError(f"{p}: cannot be loaded as a Python module", [])
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
    except Exception as exc:  # the user's file failed: report it with its own message
        sys.modules.pop(name, None)
        raise ModelImportError(f"{p}: running the file failed: {type(exc).__name__}: {exc}", []) from None
    cls = getattr(mod, class_name, None)
    if not (inspect.isclass(cls) and issubclass(cls, nn.Module)):
        found = [
            k for k, v in vars(mod).items() if inspect.isclass(v) and issubclass(v, nn.Module) and v.__module__ == name
        ]
        raise ModelImportError(f"{p}: no nn.Module class {class_name!r} (found: {', '.join(found) or 'none'})", [])
    return cls


def import_torch_file(
    path: str | os.PathLike[str], class_name: str, input_shapes: Sequence[Sequence[int]], **options: Any
) -> ImportResult:
    """`model.py:ClassName`: load (executing the file), instantiate without arguments, trace and map."""
    cls = load_module_class(path, class_name)
    try:
        module = cls()
    except TypeError as exc:
        raise ModelImportError(
            f"{class_name}() needs constructor arguments ({exc}); give them defaults or "
            f"import from Python with dls.import_torch(module, shapes)",
            [],
        ) from None
    result = import_torch(module, input_shapes, **options)
    result.report.path = Path(path)
    return result
