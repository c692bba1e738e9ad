"""Standalone PyTorch code from a graph: a readable nn.Module file that needs no dlstudio import.

The generator reads the compiled torch.fx.GraphModule, so the generated module makes exactly the calls the
compiled one makes and has the same attribute paths (its state_dict layout matches; weights load unchanged).
Each layer's constructor comes from the node's LayerSpec kwargs when the attribute belongs to one node, else from
the module's own attributes (python_introspect); either way it is rebuilt and compared (repr and tensor shapes)
before it is written. Groups (nested GraphModules) become their own classes. Custom modules from dlstudio.nn are
inlined by source. Identifiers come from dlstudio.compiler.names, so user labels can never inject code.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import fx, nn
from torch.nn import functional as F

from ..compiler.names import Namespace, class_identifier
from ..compiler.samples import io_nodes
from ..core.errors import ExportError
from ..core.graph import ModelGraph
from .common import build_model
from .python_introspect import _equal, _init_parameters, _kwargs_from_attributes, _spec_kwargs

_HEADER_IMPORTS = ["import torch", "from torch import nn", "import torch.nn.functional as F"]
_INFIX = {
    operator.add: "+",
    operator.sub: "-",
    operator.mul: "*",
    operator.truediv: "/",
    operator.floordiv: "//",
    operator.matmul: "@",
    operator.pow: "**",
    operator.mod: "%",
}
_RESERVED_VALUES = {"self", "torch", "nn", "F", "math", "operator", "super"}


def _class_name(raw: str, fallback: str) -> str:
    return class_identifier(raw, fallback)


def _literal(value: Any, node: Callable[[fx.Node], str] | None = None) -> str:
    """Python source for a constant argument; raises ExportError for values that have no literal. `node` names
    the variable of an fx value met inside (a forward's arguments mix values and constants)."""
    if node is not None and isinstance(value, fx.Node):
        return node(value)
    if value is None or isinstance(value, (bool, int, str)) or value is Ellipsis:
        return "..." if value is Ellipsis else repr(value)
    if isinstance(value, float):
        if math.isnan(value):
            return 'float("nan")'
        if math.isinf(value):
            return 'float("inf")' if value > 0 else 'float("-inf")'
        return repr(value)
    if isinstance(value, torch.Size):
        return _literal(tuple(value))
    if isinstance(value, tuple):
        inner = ", ".join(_literal(v, node) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v, node) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v, node)}" for k, v in value.items()) + "}"
    if isinstance(value, slice):
        return f"slice({_literal(value.start, node)}, {_literal(value.stop, node)}, {_literal(value.step, node)})"
    if isinstance(value, torch.dtype):
        return str(value)  # "torch.float32"
    if isinstance(value, torch.device):
        return f"torch.device({str(value)!r})"
    if isinstance(value, torch.memory_format):
        return str(value)
    raise ExportError(f"Cannot write the value {value!r} ({type(value).__name__}) as Python source")


@dataclass
class _Gen:
    graph: ModelGraph
    path_kwargs: dict[str, tuple[type, dict[str, Any]]]  # attribute path -> (class, spec kwargs)
    classes: list[str] = field(default_factory=list)  # class sources, dependencies first
    class_names: set[str] = field(default_factory=set)
    inlined: dict[str, str] = field(default_factory=dict)  # dotted module -> source (dlstudio.nn helpers)
    extra_imports: set[str] = field(default_factory=set)

    # ------------------------------------------------------------ names
    def unique_class(self, raw: str, fallback: str = "Block") -> str:
        base = _class_name(raw, fallback)
        name, i = base, 2
        while name in self.class_names:
            name = f"{base}{i}"
            i += 1
        self.class_names.add(name)
        return name

    # -------------------------------------------------------- inlining
    def inline_module(self, dotted: str) -> None:
        """Copy a dlstudio module's source (its imports hoisted) so the generated file needs no dlstudio."""
        if dotted in self.inlined:
            return
        self.inlined[dotted] = ""  # placeholder first: stops cycles
        mod = importlib.import_module(dotted)
        src = inspect.getsource(mod)
        body: list[str] = []
        tree = ast.parse(src)
        lines = src.splitlines()
        skip: set[int] = set()
        for stmt in tree.body:
            span = range(stmt.lineno - 1, stmt.end_lineno or stmt.lineno)
            if (
                isinstance(stmt, ast.Expr)
                and isinstance(getattr(stmt, "value", None), ast.Constant)
                and stmt is tree.body[0]
            ):
                skip.update(span)  # module docstring
            elif isinstance(stmt, ast.ImportFrom):
                skip.update(span)
                if stmt.module == "__future__":
                    continue
                if stmt.level or (stmt.module or "").startswith("dlstudio"):
                    base = (
                        importlib.util.resolve_name("." * stmt.level + (stmt.module or ""), mod.__package__)
                        if stmt.level
                        else stmt.module or ""
                    )
                    for alias in stmt.names:
                        target = f"{base}.{alias.name}"
                        try:
                            importlib.import_module(target)
                            self.inline_module(target)
                        except ModuleNotFoundError:
                            self.inline_module(base)
                else:
                    self.extra_imports.add(ast.get_source_segment(src, stmt) or "")
            elif isinstance(stmt, ast.Import):
                skip.update(span)
                for alias in stmt.names:
                    if alias.name.startswith("dlstudio"):
                        raise ExportError(
                            f"{dotted} imports {alias.name}; custom modules must import dlstudio "
                            f"helpers with 'from ... import' so they can be inlined"
                        )
                self.extra_imports.add(ast.get_source_segment(src, stmt) or "")
        for stmt in tree.body:
            if isinstance(stmt, (ast.ClassDef, ast.FunctionDef)):
                self.class_names.add(stmt.name)
        body = [ln for i, ln in enumerate(lines) if i not in skip]
        text = "\n".join(body).strip("\n")
        self.inlined[dotted] = f"# --- inlined from {dotted} (dlstudio custom layer) ---\n{text}\n"

    # ------------------------------------------------------ constructors
    def ctor(self, path: str, module: nn.Module) -> str:
        cls = type(module)
        if cls.__module__.startswith("dlstudio"):
            self.inline_module(cls.__module__)
            ref = cls.__name__
        elif getattr(nn, cls.__name__, None) is cls:
            ref = f"nn.{cls.__name__}"
        elif cls.__module__.startswith("torch"):
            ref = f"{cls.__module__}.{cls.__qualname__}"
        else:
            raise ExportError(
                f"Layer {path!r} is a {cls.__module__}.{cls.__qualname__}, which is neither torch "
                f"nor dlstudio.nn; it cannot be written as standalone code"
            )
        special = self.composite_ctor(path, module)
        if special is not None:
            return special
        known = self.path_kwargs.get(path)
        kwargs = dict(known[1]) if known and known[0] is cls else _kwargs_from_attributes(module)
        try:
            rebuilt = cls(**kwargs)
        except Exception as exc:
            raise ExportError(f"Layer {path!r}: cannot rebuild {cls.__name__} from {kwargs}: {exc}") from exc
        same_tensors = {k: tuple(v.shape) for k, v in rebuilt.state_dict().items()} == {
            k: tuple(v.shape) for k, v in module.state_dict().items()
        }
        if repr(rebuilt) != repr(module) or not same_tensors:
            raise ExportError(
                f"Layer {path!r}: the generated constructor {cls.__name__}({kwargs}) does not "
                f"reproduce the compiled layer ({module!r})"
            )
        sig = _init_parameters(cls)
        shown = []
        for k, v in kwargs.items():
            p = sig.get(k)
            if p is not None and p.default is not inspect.Parameter.empty and _equal(p.default, v):
                continue  # defaults hidden: the code reads like hand-written PyTorch
            shown.append(f"{k}={_literal(v)}")
        return f"{ref}({', '.join(shown)})"

    def composite_ctor(self, path: str, module: nn.Module) -> str | None:
        """Torch modules whose constructor takes a layer (or whose settings live in sub-layers)."""
        if isinstance(module, (nn.TransformerEncoder, nn.TransformerDecoder)):
            layers = list(module.layers)
            first = self.ctor(f"{path}.layers.0", layers[0])
            norm = self.ctor(f"{path}.norm", module.norm) if module.norm is not None else "None"
            if isinstance(module, nn.TransformerEncoder):
                nested = bool(getattr(module, "enable_nested_tensor", True))
                return (
                    f"nn.TransformerEncoder({first}, num_layers={len(layers)}, norm={norm}, "
                    f"enable_nested_tensor={nested})"
                )
            return f"nn.TransformerDecoder({first}, num_layers={len(layers)}, norm={norm})"
        if isinstance(module, (nn.TransformerEncoderLayer, nn.TransformerDecoderLayer)):
            act = {1: "relu", 2: "gelu"}.get(getattr(module, "activation_relu_or_gelu", 0))
            if act is None:
                act = {F.relu: "relu", F.gelu: "gelu"}.get(module.activation)  # type: ignore[arg-type]
            if act is None:
                raise ExportError(f"Layer {path!r}: only relu/gelu transformer activations can be written")
            kw: dict[str, Any] = {
                "d_model": module.self_attn.embed_dim,
                "nhead": module.self_attn.num_heads,
                "dim_feedforward": module.linear1.out_features,
                "dropout": module.dropout.p,
                "activation": act,
                "layer_norm_eps": module.norm1.eps,
                "batch_first": module.self_attn.batch_first,
                "norm_first": module.norm_first,
                "bias": module.linear1.bias is not None,
            }
            rebuilt = type(module)(**kw)
            if repr(rebuilt) != repr(module):
                raise ExportError(f"Layer {path!r}: cannot reproduce {type(module).__name__} ({module!r})")
            defaults = {
                "dim_feedforward": 2048,
                "dropout": 0.1,
                "activation": "relu",
                "layer_norm_eps": 1e-5,
                "batch_first": False,
                "norm_first": False,
                "bias": True,
            }
            shown = ", ".join(f"{k}={_literal(v)}" for k, v in kw.items() if not _equal(defaults.get(k, object()), v))
            return f"nn.{type(module).__name__}({shown})"
        return None

    # ----------------------------------------------------------- classes
    def module_class(self, gm: fx.GraphModule, prefix: str, name_hint: str, fallback: str) -> str:
        init: list[str] = []
        for child_name, child in gm.named_children():
            path = f"{prefix}{child_name}"
            if isinstance(child, fx.GraphModule):
                sub = self.module_class(child, f"{path}.", type(child).__name__, "Block")
                init.append(f"self.{child_name} = {sub}()")
            else:
                init.append(f"self.{child_name} = {self.ctor(path, child)}")
        for pname, p in gm.named_parameters(recurse=False):
            init.append(f"self.{pname} = nn.Parameter(torch.empty({_literal(tuple(p.shape))}, dtype={p.dtype}))")
        for bname, b in gm.named_buffers(recurse=False):
            init.append(f"self.register_buffer({bname!r}, torch.empty({_literal(tuple(b.shape))}, dtype={b.dtype}))")
        forward, params = self.forward_lines(gm)
        cls_name = self.unique_class(name_hint, fallback)
        lines = [f"class {cls_name}(nn.Module):", "    def __init__(self) -> None:", "        super().__init__()"]
        lines += [f"        {ln}" for ln in init]
        lines += ["", f"    def forward(self, {', '.join(params)}):"]
        lines += [f"        {ln}" for ln in forward]
        self.classes.append("\n".join(lines) + "\n")
        return cls_name

    def forward_lines(self, gm: fx.GraphModule) -> tuple[list[str], list[str]]:
        ns = Namespace(reserved=_RESERVED_VALUES)
        var: dict[fx.Node, str] = {}
        params: list[str] = []
        body: list[str] = []

        def arg(a: Any) -> str:
            return _literal(a, var.__getitem__)

        def index(a: Any) -> str:
            if isinstance(a, slice):
                parts = ["" if v is None else arg(v) for v in (a.start, a.stop, a.step)]
                return ":".join(parts[:2]) + (f":{parts[2]}" if a.step is not None else "")
            if isinstance(a, tuple):
                return ", ".join(index(v) for v in a) + ("," if len(a) == 1 else "")
            return arg(a)

        def call_args(n: fx.Node) -> str:
            items = [arg(a) for a in n.args] + [f"{k}={arg(v)}" for k, v in n.kwargs.items()]
            return ", ".join(items)

        live: set[fx.Node] = set()
        stack = [n for n in gm.graph.nodes if n.op == "output"]
        while stack:  # only what the outputs depend on (unused hidden states are not written)
            n = stack.pop()
            if n not in live:
                live.add(n)
                stack.extend(n.all_input_nodes)
        for n in gm.graph.nodes:
            if n not in live and n.op != "placeholder":
                continue
            if n.op == "output":
                body.append(f"return {arg(n.args[0])}")
                continue
            name = ns.create(n.name, "value")
            if n.op == "placeholder":
                params.append(name)
                var[n] = name
                continue
            if n.op == "call_module":
                expr = f"self.{n.target}({call_args(n)})"
            elif n.op == "get_attr":
                expr = f"self.{n.target}"
            elif n.op == "call_method":
                rest = [arg(a) for a in n.args[1:]] + [f"{k}={arg(v)}" for k, v in n.kwargs.items()]
                expr = f"{arg(n.args[0])}.{n.target}({', '.join(rest)})"
            elif n.op == "call_function":
                expr = self.function_call(n, arg, index, call_args)
            else:  # pragma: no cover - fx has no other ops
                raise ExportError(f"Unexpected fx op {n.op}")
            var[n] = name
            body.append(f"{name} = {expr}")
        return body, params

    def function_call(self, n: fx.Node, arg: Any, index: Any, call_args: Any) -> str:
        fn = n.target
        if fn in _INFIX and len(n.args) == 2 and not n.kwargs:
            return f"{arg(n.args[0])} {_INFIX[fn]} {arg(n.args[1])}"
        if fn is operator.getitem:
            return f"{arg(n.args[0])}[{index(n.args[1])}]"
        if fn is operator.neg:
            return f"-{arg(n.args[0])}"
        if fn is getattr:
            return f"{arg(n.args[0])}.{n.args[1]}"
        module = getattr(fn, "__module__", None) or ""
        qual = fx.node._get_qualified_name(fn)  # type: ignore[attr-defined]
        if module.startswith("dlstudio") or qual.startswith("dlstudio"):
            self.inline_module(module or qual.rpartition(".")[0])
            return f"{fn.__name__}({call_args(n)})"
        if qual.startswith("torch.nn.functional."):
            qual = "F." + qual[len("torch.nn.functional.") :]
        elif not qual.startswith("torch."):
            root = qual.split(".")[0]
            if root == "builtins":
                qual = qual.split(".", 1)[1]
            else:
                self.extra_imports.add(f"import {root}")
        return f"{qual}({call_args(n)})"


def generate_python(
    graph: ModelGraph, *, class_name: str = "Model", weights_file: str | None = None, title: str = ""
) -> str:
    """The source text of a standalone module defining `class_name` and `load_model(weights_path)`."""
    model = build_model(graph, None, 0)
    gen = _Gen(graph, _spec_kwargs(graph, model))
    gen.class_names.update({"load_model", "main"})
    root_name = gen.module_class(model, "", class_name, "Model")
    ins, _ = io_nodes(graph)
    example = ", ".join(
        f"torch.randn(2, *{_literal(tuple(int(d) for d in n.params.get('shape', ())))})"
        if n.params.get("dtype") != "int64"
        else f"torch.zeros(2, *{_literal(tuple(int(d) for d in n.params.get('shape', ())))}, dtype=torch.long)"
        for n in ins
    )
    extra = sorted({i for i in gen.extra_imports if i and "__future__" not in i} - set(_HEADER_IMPORTS))
    title_line = f"# Source: {title!r}\n" if title else ""
    # the weights file is looked up beside the generated module, wherever it is moved together with it
    default_w = (
        f"os.path.join(os.path.dirname(os.path.abspath(__file__)), {weights_file!r})" if weights_file else "None"
    )
    parts = [
        '"""Generated by dlstudio: a standalone PyTorch model (needs torch; safetensors to load weights)."""\n'
        + title_line
        + "\n".join(["import os", "import sys", *extra, *_HEADER_IMPORTS]),
        *[src for src in gen.inlined.values() if src],
        *gen.classes,
        f"DEFAULT_WEIGHTS = {default_w}\n",
        f"def load_model(weights_path: str | None = DEFAULT_WEIGHTS) -> {root_name}:\n"
        f'    """Build the model; load a state_dict-layout .safetensors file when one is given."""\n'
        f"    model = {root_name}()\n"
        f"    if weights_path:\n"
        f"        from safetensors.torch import load_file\n"
        f"        model.load_state_dict(load_file(weights_path))\n"
        f"    return model.eval()\n",
        'if __name__ == "__main__":\n'
        "    model = load_model(sys.argv[1] if len(sys.argv) > 1 else None)\n"
        "    with torch.no_grad():\n"
        f"        out = model({example})\n"
        "    print([tuple(t.shape) for t in (out if isinstance(out, tuple) else (out,))])\n",
    ]
    text = "\n\n".join(p.rstrip("\n") + "\n" for p in parts)
    ast.parse(text)  # a generator bug must never write a broken file
    return text
