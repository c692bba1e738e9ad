"""Dense/core layers: Linear, Bilinear, Identity, Flatten, Unflatten, Reshape, Permute, Squeeze, Unsqueeze, Select."""
from __future__ import annotations

import random

from ...core.errors import ShapeError
from ...core.tensor import TensorInfo
from ..registry import register
from ..shape_rules import expect_float, prod, require
from ..spec import LayerSpec, ParamSpec, PortSpec

X = (PortSpec("x"),)
Y = (PortSpec("y"),)


def _linear_shape(params: dict, inputs: list) -> list[TensorInfo]:
    t = require(inputs, "Linear")
    expect_float(t, "Linear")
    if t.rank < 2:
        raise ShapeError("Linear needs at least one feature dimension", port="x")
    return [t.with_shape((*t.shape[:-1], params["out_features"]))]


def _linear_params(params: dict, inputs: list) -> int:
    fin = int(require(inputs, "Linear").shape[-1])
    return fin * params["out_features"] + (params["out_features"] if params["bias"] else 0)


def _linear_macs(params: dict, inputs: list, outputs: list) -> int:
    t = require(inputs, "Linear")
    rows = prod(t.shape[1:-1]) if t.rank > 2 else 1
    return rows * int(t.shape[-1]) * params["out_features"]


register(LayerSpec(
    type="Linear", category="Dense",
    explanation=("A fully connected layer: every output is a weighted sum of all inputs plus a bias. Use it for "
                 "classifier heads and MLPs; in_features follows from the incoming tensor. Two Linear layers with "
                 "no activation between them collapse into one, so put a non-linearity in between."),
    inputs=X, outputs=Y,
    params=(ParamSpec("out_features", "int", 10, "Number of output units", min=1),
            ParamSpec("bias", "bool", True, "Learn an additive bias", advanced=True)),
    shape=_linear_shape, param_count=_linear_params, macs=_linear_macs,
    module="torch.nn.Linear",
    kwargs=lambda p, i: {"in_features": int(i[0].shape[-1]), "out_features": p["out_features"], "bias": p["bias"]},
    key_params=("out_features",),
    sample=lambda rng: ({"out_features": rng.randint(1, 32), "bias": rng.random() < 0.7},
                        [TensorInfo(("N",) + tuple(rng.randint(1, 6) for _ in range(rng.randint(0, 2)))
                                    + (rng.randint(1, 32),))]),
))


def _flatten_shape(params: dict, inputs: list) -> list[TensorInfo]:
    t = require(inputs, "Flatten")
    nd = t.rank
    s = params["start_dim"] % nd if params["start_dim"] < 0 else params["start_dim"]
    e = params["end_dim"] % nd if params["end_dim"] < 0 else params["end_dim"]
    if s == 0:
        raise ShapeError("Flatten must not merge the batch dimension: set start_dim to 1", param="start_dim")
    if s >= nd or e >= nd or s > e:
        raise ShapeError(f"Flatten dims start_dim={params['start_dim']}, end_dim={params['end_dim']} do not fit "
                         f"a {nd - 1}-D input {t}", param="start_dim")
    return [t.with_shape((*t.shape[:s], prod(t.shape[s:e + 1]), *t.shape[e + 1:]))]


register(LayerSpec(
    type="Flatten", category="Dense",
    explanation=("Turns each sample's feature map into one long vector, e.g. (16, 5, 5) into (400,). Put it "
                 "between the convolutional part and the Linear head. It has no weights; the batch dimension "
                 "is kept."),
    inputs=X, outputs=Y,
    params=(ParamSpec("start_dim", "int", 1, "First dimension to merge", advanced=True),
            ParamSpec("end_dim", "int", -1, "Last dimension to merge", advanced=True)),
    shape=_flatten_shape, module="torch.nn.Flatten",
    sample=lambda rng: ({"start_dim": 1, "end_dim": -1},
                        [TensorInfo(("N",) + tuple(rng.randint(1, 5) for _ in range(rng.randint(1, 3))))]),
))
