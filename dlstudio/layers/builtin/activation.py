"""Activation functions (shape-preserving, elementwise unless noted)."""
from __future__ import annotations

import random

from ...core.tensor import TensorInfo
from ..registry import register
from ..shape_rules import elementwise_macs, expect_float, require
from ..spec import LayerSpec, ParamSpec, PortSpec

X = (PortSpec("x"),)
Y = (PortSpec("y"),)


def _act_shape(name: str):
    def rule(params: dict, inputs: list) -> list[TensorInfo]:
        t = require(inputs, name, port="x")
        expect_float(t, name, port="x")
        return [t]
    return rule


def _sample_any(rng: random.Random) -> list[TensorInfo]:
    return [TensorInfo(("N",) + tuple(rng.randint(1, 6) for _ in range(rng.randint(1, 3))))]


def activation(type_name: str, explanation: str, params: tuple[ParamSpec, ...] = (), module: str | None = None,
               sample_params=None, **extra) -> None:
    register(LayerSpec(
        type=type_name, category="Activation", explanation=explanation, inputs=X, outputs=Y, params=params,
        shape=_act_shape(type_name), macs=elementwise_macs, module=module or f"torch.nn.{type_name}",
        sample=lambda rng: ((sample_params(rng) if sample_params else {p.name: p.default for p in params}),
                            _sample_any(rng)),
        **extra,
    ))


activation("ReLU", "Keeps positive values and sets negatives to zero: max(0, x). The default choice for hidden "
           "layers because it is cheap and does not saturate for positive inputs. Units whose input stays "
           "negative stop learning ('dying ReLU'); LeakyReLU avoids that.")
