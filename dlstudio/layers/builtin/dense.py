"""Dense/core layers: Linear, Bilinear, Identity, Flatten, Unflatten, Reshape, Permute, Squeeze, Unsqueeze, Select."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from ...core.errors import ShapeError
from ...core.tensor import TensorInfo
from ..registry import register
from ..shape_rules import expect_float, prod, require, same_shape
from ..spec import LayerSpec, ParamSpec, PortSpec

X = (PortSpec("x"),)
Y = (PortSpec("y"),)
# Shape-only layers move any element type (int token ids included).
X_ANY = (PortSpec("x", dtype="any"),)
Y_ANY = (PortSpec("y", dtype="any"),)


# ------------------------------------------------------------------------------------------------ helpers
def _features_text(t: TensorInfo) -> str:
    return str(tuple(t.features))


def _rand_features(rng: random.Random, lo: int = 1, hi: int = 3, size: int = 5) -> TensorInfo:
    """Random per-sample dims; sometimes int64, since shape-only layers must carry token ids unchanged."""
    dtype = "int64" if rng.random() < 0.25 else "float32"
    return TensorInfo(("N",) + tuple(rng.randint(1, size) for _ in range(rng.randint(lo, hi))), dtype)


def _axis(layer: str, dim: int, rank: int, param: str = "dim", new_axis: bool = False) -> int:
    """A torch dim (batch = 0, negatives count from the end) as a positive index; refuses the batch dim.

    `new_axis`: the dim of a dimension being inserted (Unsqueeze), so `rank` positions are valid."""
    n = rank + 1 if new_axis else rank
    d = dim + n if dim < 0 else dim
    if not 0 <= d < n:
        raise ShapeError(
            f"{layer}: {param}={dim} is out of range for a {rank - 1}-D sample (dims 1..{n - 1}, "
            f"or negative from the end): pick a dim in that range",
            param=param,
        )
    if d == 0:
        raise ShapeError(
            f"{layer}: {param}={dim} is the batch dimension, which layers must keep: dims of one sample start at 1",
            param=param,
        )
    return d


def _method_emit(build: Callable[[dict, TensorInfo], tuple[str, tuple]]) -> Callable[[Any, list], list[Any]]:
    """Emit `x.<method>(*args)` so the compiled code reads like hand-written code (no wrapper module)."""

    def emit(ctx: Any, args: list) -> list[Any]:
        method, extra = build(ctx.params, ctx.inputs[0])
        return [ctx.call_method(method, (args[0], *extra))]

    return emit


def _linear_shape(params: dict, inputs: list) -> list[TensorInfo]:
    t = require(inputs, "Linear", port="x")
    expect_float(t, "Linear", port="x")
    if t.rank < 2:
        raise ShapeError(
            "Linear needs at least one feature dimension per sample but receives one number per "
            "sample: insert Unsqueeze (dim -1) before it",
            port="x",
            expected="(F,)",
            got="()",
        )
    return [t.with_shape((*t.shape[:-1], params["out_features"]))]


def _linear_params(params: dict, inputs: list) -> int:
    fin = int(require(inputs, "Linear", port="x").shape[-1])
    return fin * params["out_features"] + (params["out_features"] if params["bias"] else 0)


def _linear_macs(params: dict, inputs: list, outputs: list) -> int:
    t = require(inputs, "Linear", port="x")
    rows = prod(t.shape[1:-1]) if t.rank > 2 else 1
    return rows * int(t.shape[-1]) * params["out_features"]


register(
    LayerSpec(
        type="Linear",
        category="Dense",
        explanation=(
            "A fully connected layer: every output is a weighted sum of all inputs plus a bias. Use it for "
            "classifier heads and MLPs; in_features follows from the incoming tensor. Two Linear layers with "
            "no activation between them collapse into one, so put a non-linearity in between."
        ),
        inputs=X,
        outputs=Y,
        params=(
            ParamSpec("out_features", "int", 10, "Number of output units", min=1),
            ParamSpec("bias", "bool", True, "Learn an additive bias", advanced=True),
        ),
        shape=_linear_shape,
        param_count=_linear_params,
        macs=_linear_macs,
        module="torch.nn.Linear",
        kwargs=lambda p, i: {"in_features": int(i[0].shape[-1]), "out_features": p["out_features"], "bias": p["bias"]},
        key_params=("out_features",),
        sample=lambda rng: (
            {"out_features": rng.randint(1, 32), "bias": rng.random() < 0.7},
            [TensorInfo(("N",) + tuple(rng.randint(1, 6) for _ in range(rng.randint(0, 2))) + (rng.randint(1, 32),))],
        ),
    )
)


def _flatten_shape(params: dict, inputs: list) -> list[TensorInfo]:
    t = require(inputs, "Flatten", port="x")
    nd = t.rank
    s = params["start_dim"] % nd if params["start_dim"] < 0 else params["start_dim"]
    e = params["end_dim"] % nd if params["end_dim"] < 0 else params["end_dim"]
    if s == 0:
        raise ShapeError("Flatten must not merge the batch dimension: set start_dim to 1", param="start_dim")
    if s >= nd or e >= nd or s > e:
        raise ShapeError(
            f"Flatten dims start_dim={params['start_dim']}, end_dim={params['end_dim']} do not fit "
            f"a {nd - 1}-D input {t}",
            param="start_dim",
        )
    return [t.with_shape((*t.shape[:s], prod(t.shape[s : e + 1]), *t.shape[e + 1 :]))]


def _flatten_sample(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
    t = _rand_features(rng, 1, 4)
    start = rng.randint(1, t.rank - 1)
    end = rng.randint(start, t.rank - 1)
    return {
        "start_dim": start if rng.random() < 0.7 else start - t.rank,
        "end_dim": end if rng.random() < 0.5 else end - t.rank,
    }, [t]


register(
    LayerSpec(
        type="Flatten",
        tags=("shape_only",),
        category="Dense",
        explanation=(
            "Turns each sample's feature map into one long vector, e.g. (16, 5, 5) into (400,). Put it "
            "between the convolutional part and the Linear head. It has no weights; the batch dimension "
            "is kept."
        ),
        inputs=X_ANY,
        outputs=Y_ANY,
        params=(
            ParamSpec("start_dim", "int", 1, "First dimension to merge", advanced=True),
            ParamSpec("end_dim", "int", -1, "Last dimension to merge", advanced=True),
        ),
        shape=_flatten_shape,
        module="torch.nn.Flatten",
        sample=_flatten_sample,
    )
)


# ----------------------------------------------------------------------------------------------- Bilinear
def _bilinear_shape(params: dict, inputs: list) -> list[TensorInfo]:
    a = require(inputs, "Bilinear", 0, port="x1")
    b = require(inputs, "Bilinear", 1, port="x2")
    for t, port in ((a, "x1"), (b, "x2")):
        expect_float(t, "Bilinear", port=port)
        if t.rank < 2:
            raise ShapeError(f"Bilinear needs a feature dimension on {port}: insert Unsqueeze or Reshape", port=port)
    if a.shape[:-1] != b.shape[:-1]:
        raise ShapeError(
            f"Bilinear needs x1 and x2 to match in every dim but the last; x1 is {a} and x2 is {b}: "
            f"reshape one of them",
            port="x2",
            expected=str(a.shape[:-1]),
            got=str(b.shape[:-1]),
        )
    return [a.with_shape((*a.shape[:-1], params["out_features"]))]


def _bilinear_params(params: dict, inputs: list) -> int:
    n1, n2, out = int(inputs[0].shape[-1]), int(inputs[1].shape[-1]), params["out_features"]
    return out * n1 * n2 + (out if params["bias"] else 0)


def _bilinear_macs(params: dict, inputs: list, outputs: list) -> int:
    rows = prod(inputs[0].shape[1:-1]) if inputs[0].rank > 2 else 1
    n1, n2 = int(inputs[0].shape[-1]), int(inputs[1].shape[-1])
    return rows * params["out_features"] * (n1 * n2 + n2)


def _bilinear_sample(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
    lead = tuple(rng.randint(1, 4) for _ in range(rng.randint(0, 1)))
    return (
        {"out_features": rng.randint(1, 8), "bias": rng.random() < 0.7},
        [TensorInfo(("N", *lead, rng.randint(1, 6))), TensorInfo(("N", *lead, rng.randint(1, 6)))],
    )


register(
    LayerSpec(
        type="Bilinear",
        category="Dense",
        explanation=(
            "Combines two inputs with a learned bilinear form: each output is x1ᵀ·W·x2 plus a bias. Use it "
            "when the interaction between two feature vectors matters, e.g. scoring a pair of items. Weights "
            "grow with in1 x in2 x out_features, so keep both inputs small."
        ),
        inputs=(PortSpec("x1"), PortSpec("x2")),
        outputs=Y,
        params=(
            ParamSpec("out_features", "int", 10, "Number of output units", min=1),
            ParamSpec("bias", "bool", True, "Learn an additive bias", advanced=True),
        ),
        shape=_bilinear_shape,
        param_count=_bilinear_params,
        macs=_bilinear_macs,
        module="torch.nn.Bilinear",
        kwargs=lambda p, i: {
            "in1_features": int(i[0].shape[-1]),
            "in2_features": int(i[1].shape[-1]),
            "out_features": p["out_features"],
            "bias": p["bias"],
        },
        key_params=("out_features",),
        sample=_bilinear_sample,
    )
)


# ----------------------------------------------------------------------------------------------- Identity
register(
    LayerSpec(
        type="Identity",
        tags=("shape_only",),
        category="Dense",
        explanation=(
            "Passes its input through unchanged. Use it as a placeholder while sketching, or to name a "
            "point in the graph you want to tap or export. It computes nothing, so it never changes what "
            "the network learns."
        ),
        inputs=X_ANY,
        outputs=Y_ANY,
        params=(),
        shape=same_shape,
        module="torch.nn.Identity",
        sample=lambda rng: ({}, [_rand_features(rng)]),
    )
)


# ---------------------------------------------------------------------------------------------- Unflatten
def _target_sizes(layer: str, param: str, sizes: tuple[int, ...], total: int, what: str) -> tuple[int, ...]:
    """Resolve one -1 in `sizes` so the product equals `total`; raise a ShapeError that says how to fix."""
    if any(v == 0 or v < -1 for v in sizes):
        raise ShapeError(f"{layer}: {param} {sizes} may only hold positive sizes and one -1", param=param)
    if sizes.count(-1) > 1:
        raise ShapeError(f"{layer}: {param} {sizes} has more than one -1; only one size can be inferred", param=param)
    known = prod(v for v in sizes if v != -1)
    if -1 in sizes:
        if total % known:
            raise ShapeError(
                f"{layer} to {sizes} cannot split {total} values {what} into blocks of {known}: change {param}",
                param=param,
                expected=f"a divisor of {total}",
                got=known,
            )
        return tuple(total // known if v == -1 else v for v in sizes)
    if known != total:
        raise ShapeError(
            f"{layer} to {sizes} needs {known} values {what} but receives {total}: change {param} "
            f"so its sizes multiply to {total}, or use -1 for one size",
            param=param,
            expected=total,
            got=known,
        )
    return sizes


def _unflatten_shape(params: dict, inputs: list) -> list[TensorInfo]:
    t = require(inputs, "Unflatten", port="x")
    d = _axis("Unflatten", params["dim"], t.rank)
    sizes = _target_sizes("Unflatten", "unflattened_size", params["unflattened_size"], int(t.shape[d]), f"in dim {d}")
    return [t.with_shape((*t.shape[:d], *sizes, *t.shape[d + 1 :]))]


def _unflatten_sample(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
    sizes = tuple(rng.randint(1, 4) for _ in range(rng.randint(1, 3)))
    before = tuple(rng.randint(1, 4) for _ in range(rng.randint(0, 1)))
    after = tuple(rng.randint(1, 4) for _ in range(rng.randint(0, 1)))
    shown = tuple(-1 if i == 0 and rng.random() < 0.3 else v for i, v in enumerate(sizes))
    dim = len(before) + 1 if rng.random() < 0.7 else -(len(after) + 1)
    return {"dim": dim, "unflattened_size": shown}, [TensorInfo(("N", *before, prod(sizes), *after))]


register(
    LayerSpec(
        type="Unflatten",
        tags=("shape_only",),
        category="Dense",
        explanation=(
            "Splits one dimension into several, e.g. (784,) into (1, 28, 28), the reverse of Flatten. Use "
            "it to feed flat data such as a CSV row or a Linear output into convolutions. The sizes must "
            "multiply to the size of the split dimension; one of them may be -1 to infer it."
        ),
        inputs=X_ANY,
        outputs=Y_ANY,
        params=(
            ParamSpec("dim", "int", 1, "Dimension to split (1 = first per-sample dimension)"),
            ParamSpec("unflattened_size", "ints", (1, 28, 28), "The sizes it is split into"),
        ),
        shape=_unflatten_shape,
        module="torch.nn.Unflatten",
        key_params=("unflattened_size",),
        sample=_unflatten_sample,
    )
)


# ------------------------------------------------------------------------------------------------ Reshape
def _reshape_shape(params: dict, inputs: list) -> list[TensorInfo]:
    t = require(inputs, "Reshape", port="x")
    sizes = _target_sizes("Reshape", "shape", params["shape"], t.numel_per_sample(), "per sample")
    return [t.with_shape(("N", *sizes))]


def _reshape_call(params: dict, t: TensorInfo) -> tuple[str, tuple]:
    # the per-sample sizes are known, so -1 stands for the batch: x.reshape(-1, 7, 7)
    sizes = _target_sizes("Reshape", "shape", params["shape"], t.numel_per_sample(), "per sample")
    return "reshape", (-1, *sizes)


def _reshape_sample(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
    t = _rand_features(rng)
    n = t.numel_per_sample()
    divisors = [v for v in range(1, n + 1) if n % v == 0]
    a = rng.choice(divisors)
    shape = rng.choice([(n,), (-1,), (a, n // a), (a, -1), (-1, n // a), (1, a, n // a)])
    return {"shape": shape}, [t]


register(
    LayerSpec(
        type="Reshape",
        tags=("shape_only",),
        category="Dense",
        explanation=(
            "Gives each sample a new shape with the same number of values, e.g. (64,) into (4, 4, 4); the "
            "batch dimension is kept. Use it between dense and convolutional or sequence parts. The sizes "
            "must multiply to the incoming count; one may be -1 to infer it."
        ),
        inputs=X_ANY,
        outputs=Y_ANY,
        params=(ParamSpec("shape", "ints", (-1,), "New per-sample shape (without the batch); one -1 allowed"),),
        shape=_reshape_shape,
        emit=_method_emit(_reshape_call),
        key_params=("shape",),
        sample=_reshape_sample,
    )
)


# ------------------------------------------------------------------------------------------------ Permute
def _permute_dims(params: dict, t: TensorInfo) -> tuple[int, ...]:
    dims = params["dims"]
    n = t.rank - 1
    if len(dims) != n:
        raise ShapeError(
            f"Permute dims {dims} must list all {n} per-sample dims of {_features_text(t)} "
            f"(numbered 1..{n}): give {n} dims",
            param="dims",
            expected=n,
            got=len(dims),
        )
    norm = tuple(_axis("Permute", d, t.rank, "dims") for d in dims)
    if sorted(norm) != list(range(1, n + 1)):
        raise ShapeError(
            f"Permute dims {dims} must use each of 1..{n} exactly once, e.g. {tuple(range(n, 0, -1))} to reverse them",
            param="dims",
        )
    return norm


def _permute_shape(params: dict, inputs: list) -> list[TensorInfo]:
    t = require(inputs, "Permute", port="x")
    return [t.with_shape(("N", *(t.shape[d] for d in _permute_dims(params, t))))]


def _permute_sample(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
    t = _rand_features(rng, 1, 4)
    dims = list(range(1, t.rank))
    rng.shuffle(dims)
    if rng.random() < 0.3:
        dims = [d - t.rank for d in dims]  # negative dims count from the end
    return {"dims": tuple(dims)}, [t]


register(
    LayerSpec(
        type="Permute",
        tags=("shape_only",),
        category="Dense",
        explanation=(
            "Reorders the dimensions of each sample, e.g. dims (2, 1) turns (C, L) into (L, C); the batch "
            "stays first. Use it to switch between the channels-first layout of Conv1d and the "
            "steps-first layout of recurrent layers. Dims are numbered from 1 and every one must appear "
            "exactly once."
        ),
        inputs=X_ANY,
        outputs=Y_ANY,
        params=(ParamSpec("dims", "ints", (2, 1), "New order of the per-sample dims, numbered from 1"),),
        shape=_permute_shape,
        emit=_method_emit(lambda p, t: ("permute", (0, *_permute_dims(p, t)))),
        key_params=("dims",),
        sample=_permute_sample,
    )
)


# ------------------------------------------------------------------------------------- Squeeze/Unsqueeze
def _squeeze_dims(params: dict, t: TensorInfo) -> tuple[int, ...]:
    if params["dim"] is None:
        dims = tuple(i for i in range(1, t.rank) if t.shape[i] == 1)
        if not dims:
            raise ShapeError(f"Squeeze finds no size-1 dimension in {_features_text(t)}: remove it", port="x")
        return dims
    d = _axis("Squeeze", params["dim"], t.rank)
    if t.shape[d] != 1:
        raise ShapeError(
            f"Squeeze dim {params['dim']} has size {t.shape[d]}, not 1, in {_features_text(t)}: "
            f"pick a size-1 dim or remove Squeeze",
            param="dim",
            expected=1,
            got=t.shape[d],
        )
    return (d,)


def _squeeze_call(params: dict, t: TensorInfo) -> tuple[str, tuple]:
    dims = _squeeze_dims(params, t)
    return "squeeze", (dims[0] if len(dims) == 1 else dims,)  # x.squeeze(1) reads better than x.squeeze((1,))


def _squeeze_shape(params: dict, inputs: list) -> list[TensorInfo]:
    t = require(inputs, "Squeeze", port="x")
    drop = set(_squeeze_dims(params, t))
    return [t.with_shape(tuple(s for i, s in enumerate(t.shape) if i not in drop))]


def _squeeze_sample(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
    dims = [rng.choice([1, 1, 2, 3]) for _ in range(rng.randint(1, 3))]
    one = rng.randrange(len(dims))
    dims[one] = 1
    dim = None if rng.random() < 0.4 else rng.choice([one + 1, one - len(dims)])
    return {"dim": dim}, [TensorInfo(("N", *dims))]


register(
    LayerSpec(
        type="Squeeze",
        tags=("shape_only",),
        category="Dense",
        explanation=(
            "Removes a dimension of size 1, e.g. (1, 10) into (10,). Use it to drop a leftover channel or "
            "time axis before a head. With dim left empty it removes every size-1 per-sample dimension, "
            "never the batch, so a batch of one still keeps its batch axis."
        ),
        inputs=X_ANY,
        outputs=Y_ANY,
        params=(
            ParamSpec(
                "dim",
                "int",
                None,
                "Dimension to remove (1 = first per-sample dim); empty = all of size 1",
                nullable=True,
            ),
        ),
        shape=_squeeze_shape,
        emit=_method_emit(_squeeze_call),
        key_params=("dim",),
        sample=_squeeze_sample,
    )
)


def _unsqueeze_shape(params: dict, inputs: list) -> list[TensorInfo]:
    t = require(inputs, "Unsqueeze", port="x")
    d = _axis("Unsqueeze", params["dim"], t.rank, new_axis=True)
    return [t.with_shape((*t.shape[:d], 1, *t.shape[d:]))]


def _unsqueeze_sample(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
    t = _rand_features(rng, 0, 3)
    return {"dim": rng.choice([rng.randint(1, t.rank), -rng.randint(1, t.rank)])}, [t]


register(
    LayerSpec(
        type="Unsqueeze",
        tags=("shape_only",),
        category="Dense",
        explanation=(
            "Inserts a dimension of size 1, e.g. a grey image (28, 28) into (1, 28, 28) with dim 1. Use it "
            "to add the channel axis convolutions expect or a time axis for recurrent layers. dim counts "
            "from 1 for the first per-sample position; the batch position 0 is refused."
        ),
        inputs=X_ANY,
        outputs=Y_ANY,
        params=(
            ParamSpec(
                "dim", "int", 1, "Where the new size-1 dimension goes (1 = first per-sample position, -1 = last)"
            ),
        ),
        shape=_unsqueeze_shape,
        emit=_method_emit(lambda p, t: ("unsqueeze", (_axis("Unsqueeze", p["dim"], t.rank, new_axis=True),))),
        key_params=("dim",),
        sample=_unsqueeze_sample,
    )
)


# ------------------------------------------------------------------------------------------------- Select
def _select_index(params: dict, t: TensorInfo) -> tuple[int, int]:
    d = _axis("Select", params["dim"], t.rank)
    size = int(t.shape[d])
    i = params["index"]
    if not -size <= i < size:
        raise ShapeError(
            f"Select index {i} is out of range for dim {params['dim']} of size {size} in "
            f"{_features_text(t)}: use 0..{size - 1}, or -1 for the last",
            param="index",
            expected=f"{-size}..{size - 1}",
            got=i,
        )
    return d, i


def _select_shape(params: dict, inputs: list) -> list[TensorInfo]:
    t = require(inputs, "Select", port="x")
    d, _ = _select_index(params, t)
    return [t.with_shape(t.shape[:d] + t.shape[d + 1 :])]


def _select_sample(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
    t = _rand_features(rng, 1, 3, 6)
    d = rng.randint(1, t.rank - 1)
    size = int(t.shape[d])
    return {"dim": d if rng.random() < 0.7 else d - t.rank, "index": rng.randint(-size, size - 1)}, [t]


register(
    LayerSpec(
        type="Select",
        tags=("shape_only",),
        category="Dense",
        explanation=(
            "Takes one position along a dimension and drops that dimension; the default (dim 1, index -1) "
            "takes the last time step of a sequence (N, T, F) giving (N, F). Use it after a recurrent layer "
            "or Transformer for many-to-one tasks. Remember the step order: index 0 is the first step, so "
            "for a backward direction the summary sits at index 0."
        ),
        inputs=X_ANY,
        outputs=Y_ANY,
        params=(
            ParamSpec("dim", "int", 1, "Dimension to take from (1 = first per-sample dim, e.g. time)"),
            ParamSpec("index", "int", -1, "Position to take; negative counts from the end"),
        ),
        shape=_select_shape,
        emit=_method_emit(lambda p, t: ("select", _select_index(p, t))),
        key_params=("dim", "index"),
        sample=_select_sample,
    )
)
