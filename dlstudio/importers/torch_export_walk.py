"""The walk over a torch.export graph: each call becomes a catalog layer (a catalog-class submodule call, an
operator with a catalog mapping) or a generic AtenOp; calls on parameters and buffers alone are folded into
constants of the node that uses them. See torch_export for the whole route."""

from __future__ import annotations

import operator
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import fx, nn

from ..compiler.oracle import BatchDependentShape
from ..core.edits import AddNode
from ..core.errors import DlstudioError, ModelImportError
from ..core.graph import Node
from .base import Context, Unsupported, Value
from .torch_export_args import BatchSymbols, Const, add_aten_op, dtype_name, op_name
from .torch_export_modules import Leaf, find_leaves, module_path, same_module
from .torch_export_nodes import ITEM_OPS, attribute, is_region, is_swapped, recurrent_state, region_name, state_value
from .torch_export_opaque import CALL_SITES, is_module_call
from .torch_export_ops import MAPPERS

_DTYPES = {torch.float32: "float32", torch.int64: "int64", torch.bool: "bool"}


class Restart(Exception):
    """The dynamic-batch graph has an op whose shape mixes the batch: import again at the example batch."""


class Walker:
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
        self.leaf_problems: dict[str, str] = {}  # leaf key -> why it is not its catalog layer
        self.sequence_first: list[str] = []  # paths of sequence-first modules mapped between transposes
        self.mapped_modules: dict[str, int] = {}
        self.batch_value: Value | None = None
        self.regions: list[str] = []  # no_grad / autocast regions inlined
        self.last_outputs: list[Value] = []  # every output port of the last layer added
        self.dropped_outputs: list[int] = []  # forward's outputs that are None

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

    def outputs(self) -> list[Value]:
        """Every output port of the layer added last."""
        return list(self.last_outputs)

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
        before = set(self.ctx.graph.nodes)
        try:
            outs = self.ctx.add(type_name, inputs, params, label=label or self._label(type_name))
        except (Unsupported, DlstudioError):
            self._drop(set(self.ctx.graph.nodes) - before)  # a layer that does not fit leaves nothing behind
            raise
        # torch tensors as they are, not copied (saving and compiling copy them): large models import fast
        for k, t in (weights or {}).items():
            t = torch.as_tensor(t).detach()
            self.ctx.weights[f"{outs[0].node_id}.{k}"] = t.float() if t.is_floating_point() else t
        self.paths[outs[0].node_id] = self.current_path
        self.last_outputs = outs
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
            elif node.op == "get_attr":
                self.env[node] = attribute(self.ep.graph_module, str(node.target))
            elif node.op == "call_function" and node not in self.env:
                self.current_path = module_path(node)
                try:
                    self.call(node)
                except BatchDependentShape:
                    raise Restart() from None
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
        if is_module_call(node.target):  # an opaque module call has no ops to fall back on
            why = self.leaf_problems.get(leaf.key, "") if leaf is not None else ""
            site = CALL_SITES.get(str(node.args[0]))
            what = f"{type(site.module).__name__} `{site.path}`" if site else str(node.args[0])
            raise Unsupported(f"{what} cannot be traced into and does not map onto its catalog layer{why}")
        if is_region(node):
            self._inline_region(node)
            return
        if any(is_swapped(self.env.get(a)) for a in node.all_input_nodes) and self._on_swapped(node):
            return
        if _name(node) in ITEM_OPS and isinstance(self.env.get(node.args[0]), Value):
            # `t.item()` used as a number (`y / y.abs().max().item()`): the ops that use it take the 0-d tensor
            self.env[node] = self.env[node.args[0]]  # type: ignore[index]
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
            before = set(self.ctx.graph.nodes)
            try:
                value = mapper(self, node)
                several = isinstance(value, tuple) and isinstance(val, (list, tuple)) and len(value) == len(val)
                if self._fits(value, val) or (several and all(map(self._fits, value, val))):
                    self.env[node] = value
                    return
            except (Unsupported, DlstudioError):
                pass
            self._drop(set(self.ctx.graph.nodes) - before)  # not the op's result after all: keep it generic
        before = set(self.ctx.graph.nodes)
        try:
            outs = add_aten_op(
                self.ctx, node, self.env, self.symbols, self.batch_value, self._label(_short(node)), self.fixed_batch
            )
        except (Unsupported, DlstudioError):
            self._drop(set(self.ctx.graph.nodes) - before)
            raise
        self.paths[outs[0].node_id] = self.current_path
        self.generic[_name(node)] = self.generic.get(_name(node), 0) + 1
        self.env[node] = outs[0] if isinstance(val, torch.Tensor) else tuple(outs)

    def _fits(self, value: Any, val: Any) -> bool:
        """The layer gives the op's per-sample shape and dtype, and its dimension 0 is the op's: the batch where
        the op's is the batch, not a size that merely starts like it (batch*heads in attention code)."""
        if not _same_sample_shape(value, val):
            return False
        first, got = val.shape[0], value.info.shape[0]
        if isinstance(first, torch.SymInt):
            try:
                return self.symbols.expression(first) == {"sym": "N"} and got == "N"
            except Unsupported:
                return False
        return got == int(first) or (got == "N" and self.fixed_batch == int(first))

    def _inline_region(self, node: fx.Node) -> None:
        """A region that forward ran under `torch.no_grad()` / autocast (torch.export keeps it as a subgraph
        called by a higher-order op): its ops join the graph where it was called. Grad mode does not change what
        the ops compute; the report says that the imported graph trains through the region."""
        at = next(i for i, a in enumerate(node.args) if isinstance(self.env.get(a), fx.GraphModule))  # type: ignore[arg-type]
        sub: fx.GraphModule = self.env[node.args[at]]  # type: ignore[index,assignment]
        holders = [n for n in sub.graph.nodes if n.op == "placeholder"]
        for holder, a in zip(holders, node.args[at + 1 :]):
            self.env[holder] = self.env[a] if isinstance(a, fx.Node) else a
        outer = self.current_path
        result: Any = ()
        for n in sub.graph.nodes:
            if n.op == "get_attr":
                self.env[n] = attribute(sub, str(n.target))
            elif n.op == "call_function":
                self.current_path = module_path(n) or outer
                self.call(n)
            elif n.op == "output":
                outs = n.args[0] if isinstance(n.args[0], (tuple, list)) else (n.args[0],)
                result = tuple(self.env.get(o) if isinstance(o, fx.Node) else o for o in outs)
        self.current_path = outer
        self.regions.append(f"{region_name(node)} ({outer or 'forward'})")
        self.env[node] = result

    def _on_swapped(self, node: fx.Node) -> bool:
        """An op on a recurrent layer's final state (torch: (layers*directions, N, H); the layer's h_n port: batch
        first). Indexing a layer (`h[-1]`, `h.squeeze(0)`) and moving the batch first map onto it; any other op
        gets the state in torch's layout through a transpose (which fixes the graph's batch size)."""
        x = node.args[0]
        v = self.env.get(x) if isinstance(x, fx.Node) else None
        name = _name(node)
        if is_swapped(v) and all(not is_swapped(self.env.get(a)) for a in node.all_input_nodes if a is not x):
            port = Value(v.node_id, v.port, v.info)
            rank = v.info.rank
            args = [self.py(a) for a in node.args[1:]]
            try:
                if name == "aten.select.int" and int(args[0]) % rank == 0:
                    self.env[node] = self.add("Select", [port], {"dim": 1, "index": int(args[1])})
                    return True
                if name == "aten.squeeze.dim" and int(args[0]) % rank == 0 and v.info.shape[1] == 1:
                    self.env[node] = self.add("Select", [port], {"dim": 1, "index": 0})
                    return True
                moved = (name == "aten.transpose.int" and sorted(int(a) % rank for a in args) == [0, 1]) or (
                    name == "aten.permute.default" and [int(d) % rank for d in args[0]] == [1, 0, *range(2, rank)]
                )
                if moved:
                    self.env[node] = port
                    return True
            except (Unsupported, DlstudioError, TypeError, ValueError, IndexError):
                pass
        for a in node.all_input_nodes:  # anything else: the state as torch holds it
            u = self.env.get(a)
            if is_swapped(u):
                self.env[a] = self._swap01(Value(u.node_id, u.port, u.info), f"{_short(node)}_state")
        return False

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
        causal = False
        for n in leaf.nodes:
            for a in n.all_input_nodes:
                if a in members:
                    continue
                if a not in self.env:
                    return self._leaf_failed(leaf, "")
                v = self.env[a]
                if isinstance(v, Value):
                    if v not in ins:
                        ins.append(v)
                elif isinstance(v, Const) and _is_own_tensor(v, leaf.module):
                    continue
                elif isinstance(v, Const) and _is_causal_mask(v.tensor) and "causal" in _param_names(leaf.types):
                    causal = True  # the catalog layer's causal=True makes this very mask
                elif isinstance(v, Const):
                    return self._leaf_failed(
                        leaf,
                        f"a constant tensor of shape {tuple(v.tensor.shape)} is passed to it (a mask or a state); "
                        f"the catalog layer takes no such input, only a causal (square subsequent) mask through "
                        f"its causal parameter where it has one",
                    )
                elif v is not None and not isinstance(v, (int, torch.SymInt)):
                    return self._leaf_failed(leaf, "")
        causal = causal or any(_named_args(n).get("is_causal") is True for n in leaf.nodes)
        outs = [n for n in leaf.nodes if any(u not in members for u in n.users)]
        state = recurrent_state(leaf, outs)
        if state is not None:  # (output, h_n) of an RNN/GRU/LSTM: h_n is the layer's second port
            outs = state[0]
        if not ins or len(outs) != 1 or not isinstance(outs[0].meta.get("val"), torch.Tensor):
            return self._leaf_failed(
                leaf, f"its call takes {len(ins)} computed tensor(s) and {len(outs)} of its outputs are used"
            )
        self.current_path = leaf.path.rpartition(".")[0]
        before = set(self.ctx.graph.nodes)
        seq_first = _sequence_first(leaf.module)
        if seq_first:  # the catalog layer is batch first: swap the first two dims around it
            try:
                ins = [self._swap01(v, f"{_leaf_label(leaf.path)}_batch_first") for v in ins]
            except Unsupported as exc:
                self._drop(set(self.ctx.graph.nodes) - before)
                return self._leaf_failed(leaf, f"its sequence-first input cannot be made batch first ({exc})")
        swapped = set(self.ctx.graph.nodes)
        for t in leaf.types:
            try:
                with _as_batch_first(leaf.module if seq_first else None):
                    params = _spec(t).from_module(leaf.module)
                    if causal and _spec(t).has_param("causal"):
                        params["causal"] = True
                    if not same_module(t, params, [v.info for v in ins], leaf.module):
                        continue
                value = self.add(t, ins, params, dict(leaf.module.state_dict()), label=_leaf_label(leaf.path))
            except (Unsupported, DlstudioError):
                continue
            if seq_first:
                try:
                    value = self._swap01(value, f"{_leaf_label(leaf.path)}_sequence_first")
                except Unsupported:
                    self._drop(set(self.ctx.graph.nodes) - swapped)
                    continue
            ports = list(self.last_outputs)
            want = tuple(outs[0].meta["val"].shape[1:])
            only_state = state is not None and outs[0] is state[1]
            if not only_state and tuple(value.info.shape[1:]) != tuple(int(d) for d in want):
                self._drop(set(self.ctx.graph.nodes) - swapped)
                continue
            h_n = state_value(ports, state[1]) if state is not None and not seq_first else None
            if state is not None and h_n is None:
                self._drop(set(self.ctx.graph.nodes) - swapped)
                continue
            self.env[outs[0]] = value
            if state is not None:
                self.env[state[1]] = h_n
            for n in leaf.nodes:
                self.env.setdefault(n, None)
            self.done_leaves.add(leaf.key)
            self.mapped_modules[t] = self.mapped_modules.get(t, 0) + 1
            if seq_first:
                self.sequence_first.append(leaf.path)
            return True
        self._drop(set(self.ctx.graph.nodes) - before)
        types = " or ".join(leaf.types)
        return self._leaf_failed(leaf, f" (its parameters give no {types} layer that computes the same)")

    def _leaf_failed(self, leaf: Leaf, why: str) -> bool:
        self.failed_leaves.add(leaf.key)
        self.leaf_problems[leaf.key] = f": {why}" if why and not why.startswith(" ") else why
        return False

    def _swap01(self, value: Value, label: str) -> Value:
        """A generic transpose(0, 1) node: sequence-first (L, N, ...) <-> batch-first (N, L, ...). It moves the
        graph's batch dim, so such graphs are imported at the example batch (the walk restarts)."""
        g = fx.Graph()
        x = g.placeholder("x")
        call = g.call_function(torch.ops.aten.transpose.int, (x, 0, 1))
        outs = add_aten_op(self.ctx, call, {x: value}, self.symbols, self.batch_value, label, self.fixed_batch)
        self.paths[outs[0].node_id] = self.current_path
        return outs[0]

    def _drop(self, node_ids: set[str]) -> None:
        g = self.ctx.graph
        for nid in node_ids:
            for e in list(g.in_edges(nid)) + list(g.out_edges(nid)):
                g._delete_edge(e)
            g._delete_node(nid)
            for key in [k for k in self.ctx.weights if k.startswith(f"{nid}.")]:
                del self.ctx.weights[key]


def _named_args(node: fx.Node) -> dict[str, Any]:
    """The call's arguments by their schema names (attention's is_causal flag, say); an opaque module call's
    keyword arguments."""
    if is_module_call(node.target):
        site = CALL_SITES.get(str(node.args[0]))
        return site.named_arguments() if site else {}
    schema = getattr(node.target, "_schema", None)
    names = [a.name for a in schema.arguments] if schema is not None else []
    return {**dict(zip(names, node.args)), **node.kwargs}


def _param_names(types: list[str]) -> set[str]:
    return {p.name for t in types for p in _spec(t).params}


def _is_causal_mask(t: torch.Tensor) -> bool:
    """A square mask hiding the future: True or -inf above the diagonal, False or 0 elsewhere."""
    if t.dim() != 2 or t.shape[0] != t.shape[1] or t.shape[0] < 2:
        return False
    upper = torch.ones(t.shape, dtype=torch.bool).triu(1)
    if t.dtype == torch.bool:
        return bool(torch.equal(t, upper))
    return bool(torch.isneginf(t[upper]).all() and (t[~upper] == 0).all())


def _sequence_first(module: nn.Module) -> bool:
    """A recurrent/attention module (or one holding them) built with batch_first=False."""
    return any(getattr(m, "batch_first", True) is False for m in module.modules())


@contextmanager
def _as_batch_first(module: nn.Module | None) -> Iterator[None]:
    """Within the block the module reads as batch first (its parameters are the same either way)."""
    flipped = [m for m in module.modules() if getattr(m, "batch_first", True) is False] if module else []
    for m in flipped:
        m.batch_first = True
    try:
        yield
    finally:
        for m in flipped:
            m.batch_first = False


def _leaf_label(path: str) -> str:
    """`layer1.0.conv1` -> conv1; `main.3` -> main_3 (a numbered child of a Sequential)."""
    parts = path.split(".")
    return "_".join(parts[-2:]) if parts[-1].isdigit() and len(parts) > 1 else parts[-1]


def _spec(type_name: str):
    from ..layers.registry import REGISTRY

    return REGISTRY.get(type_name)


def _is_own_tensor(c: Const, module: nn.Module) -> bool:
    return any(c.tensor is t or c.tensor.data_ptr() == t.data_ptr() for t in module.state_dict().values())


def _same_sample_shape(value: Any, val: Any) -> bool:
    """A catalog layer stands for an op only when it gives the op's per-sample shape and dtype."""
    if not isinstance(value, Value) or not isinstance(val, torch.Tensor) or val.dim() == 0:
        return False
    want = tuple(int(d) if not isinstance(d, torch.SymInt) else -1 for d in val.shape[1:])
    got = tuple(int(d) if isinstance(d, int) else -1 for d in value.info.shape[1:])
    return want == got and value.info.dtype == _DTYPES.get(val.dtype)


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
    if is_module_call(node.target):
        return "module call"
    path = module_path(node)
    return f"{_name(node)} ({node.name}{' in ' + path if path else ''})"
