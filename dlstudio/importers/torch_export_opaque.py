"""Opaque module calls: catalog-class submodules exported as one call each instead of being traced into.

torch.export traces through every submodule's forward. Library code sometimes cannot be traced
(nn.TransformerEncoder compares the values of its mask to detect a causal one: data-dependent control flow), and
a module that maps onto one catalog layer needs none of its inside anyway. When the plain export fails inside
such modules (found in the traceback), the importer swaps each of them for an `OpaqueCall` wrapper whose
forward is a single custom operator, `dlstudio::module_call(key, tensors)`, registered with torch.library:
- its fake (shape) kernel runs the real module once on zeros of the example's concrete sizes and returns
  tensors of the same sizes, the symbolic batch put back where an output size equals it;
- the walk maps each such call straight onto the catalog layer (torch_export_walk), reading parameters and
  weights from the module object.
The wrapped module is held outside the module tree, so torch.export neither lifts nor fakes its parameters.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.utils._pytree as pytree
from torch import nn

from .torch_export_modules import catalog_types


@dataclass
class OpaqueCallSite:
    """One traced call of a wrapped module: the module, where it sits, and the call's non-tensor structure."""

    module: nn.Module
    path: str
    in_spec: Any
    in_leaves: list[Any]  # non-tensor arguments as given; None where a tensor goes
    out_spec: Any = None
    out_is_tensor: list[bool] = field(default_factory=list)

    def named_arguments(self) -> dict[str, Any]:
        """Non-tensor keyword arguments of the call (is_causal=True, need_weights=False...)."""
        args, kwargs = pytree.tree_unflatten(self.in_leaves, self.in_spec)
        return {k: v for k, v in kwargs.items() if not isinstance(v, torch.Tensor)}


CALL_SITES: dict[str, OpaqueCallSite] = {}


def _rebuild_args(site: OpaqueCallSite, tensors: list[torch.Tensor]) -> tuple[tuple, dict]:
    it = iter(tensors)
    leaves = [next(it) if x is _TENSOR else x for x in site.in_leaves]
    args, kwargs = pytree.tree_unflatten(leaves, site.in_spec)
    return args, kwargs


_TENSOR = object()  # placeholder for a tensor argument in OpaqueCallSite.in_leaves


def _run(site: OpaqueCallSite, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    args, kwargs = _rebuild_args(site, tensors)
    out = site.module(*args, **kwargs)
    leaves, spec = pytree.tree_flatten(out)
    site.out_spec = spec
    site.out_is_tensor = [isinstance(x, torch.Tensor) for x in leaves]
    if not all(isinstance(x, torch.Tensor) or x is None for x in leaves):
        raise TypeError(f"{type(site.module).__name__} returns values other than tensors")
    # a custom operator's outputs may not alias its inputs: copies
    return [x.clone() for x in leaves if isinstance(x, torch.Tensor)]


@torch.library.custom_op("dlstudio::module_call", mutates_args=())
def module_call(key: str, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    """Run the wrapped module of call site `key` on `tensors` (the call's tensor arguments, in order)."""
    with torch.no_grad():
        return _run(CALL_SITES[key], tensors)


def _hint(size: Any) -> int:
    if isinstance(size, torch.SymInt):
        return int(size.node.hint) if size.node.hint is not None else int(size.node.shape_env.size_hint(size.node.expr))
    return int(size)


@module_call.register_fake
def _module_call_fake(key: str, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    from torch._subclasses.fake_tensor import unset_fake_temporarily

    site = CALL_SITES[key]
    symbolic = {}  # concrete example size -> the symbol standing for it
    for t in tensors:
        for s in t.shape:
            if isinstance(s, torch.SymInt) and not isinstance(s.node.expr, int) and not s.node.expr.is_number:
                symbolic.setdefault(_hint(s), s)
    with unset_fake_temporarily(), torch.no_grad():
        zeros = [torch.zeros([_hint(s) for s in t.shape], dtype=t.dtype) for t in tensors]
        real = _run(site, zeros)
    device = tensors[0].device if tensors else torch.device("cpu")
    return [torch.empty([symbolic.get(s, s) for s in r.shape], dtype=r.dtype, device=device) for r in real]


class OpaqueCall(nn.Module):
    """Stands in for a submodule during export: one `dlstudio::module_call` per call."""

    def __init__(self, module: nn.Module, path: str) -> None:
        super().__init__()
        self.__dict__["wrapped"] = module  # not a submodule: export must not lift or fake its parameters
        self.path = path
        self.calls = 0

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        leaves, spec = pytree.tree_flatten((args, kwargs))
        tensors = [x for x in leaves if isinstance(x, torch.Tensor)]
        key = f"{self.path}#{self.calls}"
        self.calls += 1
        marked = [_TENSOR if isinstance(x, torch.Tensor) else x for x in leaves]
        site = OpaqueCallSite(self.wrapped, self.path, spec, marked)
        CALL_SITES[key] = site
        outs = iter(torch.ops.dlstudio.module_call(key, tensors))
        result = [next(outs) if is_tensor else None for is_tensor in site.out_is_tensor]
        return pytree.tree_unflatten(result, site.out_spec)


def outermost_catalog_modules(root: nn.Module) -> list[str]:
    """Attribute paths of the submodules whose class is a catalog layer, not nested in another such module."""
    found: list[str] = []
    for path, mod in root.named_modules():
        if not path or any(path.startswith(p + ".") for p in found):
            continue
        if catalog_types(type(mod)):
            found.append(path)
    return found


def _frames(exc: BaseException) -> Iterator[Any]:
    """The frames of an exception's traceback and of the exceptions it was raised from."""
    seen: set[int] = set()
    err: BaseException | None = exc
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        tb = err.__traceback__
        while tb is not None:
            yield tb.tb_frame
            tb = tb.tb_next
        err = err.__cause__ or err.__context__


def modules_failing_in(root: nn.Module, exc: BaseException) -> list[str]:
    """The outermost catalog-class submodules whose forward was running when tracing failed (found in the
    traceback), so that only those are exported as opaque calls."""
    by_id = {id(root.get_submodule(p)): p for p in outermost_catalog_modules(root)}
    inside = {id(m): p for p in by_id.values() for m in root.get_submodule(p).modules()}
    found: list[str] = []
    for frame in _frames(exc):
        path = inside.get(id(frame.f_locals.get("self")))
        if path is not None and path not in found:
            found.append(path)
    return found


def innermost_module_failing_in(root: nn.Module, exc: BaseException) -> tuple[str, str] | None:
    """(attribute path, class name) of the innermost submodule whose forward was running when tracing failed."""
    paths = {id(m): p for p, m in root.named_modules() if p}
    last = None
    for frame in _frames(exc):
        me = frame.f_locals.get("self")
        if id(me) in paths:
            last = (paths[id(me)], type(me).__name__)
    return last


def _set(root: nn.Module, path: str, module: nn.Module) -> None:
    parent, _, name = path.rpartition(".")
    owner = root.get_submodule(parent) if parent else root
    if isinstance(owner, (nn.Sequential, nn.ModuleList)) and name.isdigit():
        owner[int(name)] = module
    else:
        setattr(owner, name, module)


@contextmanager
def opaque_modules(root: nn.Module, paths: list[str]) -> Iterator[None]:
    """Within the block, these submodules of `root` are OpaqueCalls (restored after)."""
    originals = {p: root.get_submodule(p) for p in paths}
    CALL_SITES.clear()
    try:
        for p, m in originals.items():
            _set(root, p, OpaqueCall(m, p))
        yield
    finally:
        for p, m in originals.items():
            _set(root, p, m)


def is_module_call(target: Any) -> bool:
    return target is torch.ops.dlstudio.module_call.default
