"""Recurrent layers: RNN (Elman), LSTM, GRU. Always batch_first: one sample is a (L, features) sequence.

Each compiles to the torch module plus a few indexing calls (emit hook), so the generated code reads
`out, h = self.lstm(x); y = out.select(1, -1); h_n = h[0].transpose(0, 1)` like hand-written code.
"""

from __future__ import annotations

import random
from typing import Any

from ...core.errors import ShapeError
from ...core.tensor import TensorInfo
from ..registry import register
from ..shape_rules import expect_float, expect_rank, require
from ..spec import LayerSpec, ParamSpec, PortSpec

GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}

OUTPUTS = (
    PortSpec("y", doc="The full output sequence (L, directions*hidden_size) or the last step"),
    PortSpec(
        "h_n",
        optional=True,
        doc="Final hidden state of every layer and direction, batch first: (num_layers*directions, hidden_size)",
    ),
)


def _common_params() -> tuple[ParamSpec, ...]:
    return (
        ParamSpec("hidden_size", "int", 32, "Number of features in the hidden state", min=1),
        ParamSpec("num_layers", "int", 1, "Number of stacked recurrent layers", min=1),
        ParamSpec(
            "output",
            "choice",
            "sequence",
            "Return the full sequence (many-to-many) or only the last "
            "step (many-to-one, e.g. before a classifier head)",
            choices=("sequence", "last"),
            torch=False,
        ),
        ParamSpec("bidirectional", "bool", False, "Also run the sequence backwards and concatenate both"),
        ParamSpec(
            "dropout",
            "float",
            0.0,
            "Dropout between stacked layers (needs num_layers >= 2)",
            min=0.0,
            max=1.0,
            advanced=True,
        ),
        ParamSpec("bias", "bool", True, "Learn input and hidden biases", advanced=True),
    )


def _shape(layer: str):
    def rule(params: dict, inputs: list) -> list[TensorInfo]:
        t = require(inputs, layer, port="x")
        expect_float(t, layer, port="x")
        expect_rank(t, (3,), layer, "a sequence (L, features)", port="x")
        if params["dropout"] > 0 and params["num_layers"] == 1:
            raise ShapeError(
                f"{layer} dropout={params['dropout']} acts only between stacked layers and does "
                f"nothing with num_layers=1: set num_layers >= 2 or dropout to 0 (add a Dropout "
                f"node after it instead)",
                param="dropout",
            )
        dirs = 2 if params["bidirectional"] else 1
        h = params["hidden_size"]
        y = (t.shape[0], t.shape[1], dirs * h) if params["output"] == "sequence" else (t.shape[0], dirs * h)
        return [t.with_shape(y), t.with_shape((t.shape[0], params["num_layers"] * dirs, h))]

    return rule


def _layer_inputs(params: dict, input_size: int) -> list[int]:
    """Input width of every stacked layer: the first sees the data, the others the previous layer's output."""
    dirs = 2 if params["bidirectional"] else 1
    return [input_size] + [dirs * params["hidden_size"]] * (params["num_layers"] - 1)


def _count(layer: str):
    def count(params: dict, inputs: list) -> int:
        g, h = GATES[layer], params["hidden_size"]
        dirs = 2 if params["bidirectional"] else 1
        total = 0
        for fin in _layer_inputs(params, int(inputs[0].shape[-1])):
            # weight_ih (g*h, fin) + weight_hh (g*h, h) + bias_ih and bias_hh (g*h each)
            total += dirs * (g * h * (fin + h) + (2 * g * h if params["bias"] else 0))
        return total

    return count


def _macs(layer: str):
    def macs(params: dict, inputs: list, outputs: list) -> int:
        # estimate: the gate matrix products per time step, layer and direction; the elementwise gate
        # arithmetic (sigmoid/tanh, products) is a few operations per hidden unit and left out
        g, h = GATES[layer], params["hidden_size"]
        dirs = 2 if params["bidirectional"] else 1
        steps = int(inputs[0].shape[1])
        return steps * dirs * sum(g * h * (fin + h) for fin in _layer_inputs(params, int(inputs[0].shape[-1])))

    return macs


def _kwargs(params: dict, inputs: list) -> dict[str, Any]:
    kw = {
        "input_size": int(inputs[0].shape[-1]),
        "hidden_size": params["hidden_size"],
        "num_layers": params["num_layers"],
        "bias": params["bias"],
        "batch_first": True,
        "dropout": params["dropout"],
        "bidirectional": params["bidirectional"],
    }
    if "nonlinearity" in params:
        kw["nonlinearity"] = params["nonlinearity"]
    return kw


def _emit(layer: str):
    def emit(ctx: Any, args: list) -> list:
        result = ctx.module([args[0]])  # (output, h_n) or (output, (h_n, c_n)) for LSTM
        seq = ctx.getitem(result, 0)
        y = seq if ctx.params["output"] == "sequence" else ctx.call_method("select", (seq, 1, -1))
        h = ctx.getitem(result, 1)
        if layer == "LSTM":
            h = ctx.getitem(h, 0)
        return [y, ctx.call_method("transpose", (h, 0, 1))]  # torch returns h_n layer-first; make it batch-first

    return emit


def _sample(layer: str):
    def sample(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
        layers = rng.randint(1, 2)
        p: dict[str, Any] = {
            "hidden_size": rng.randint(1, 8),
            "num_layers": layers,
            "bidirectional": rng.random() < 0.4,
            "output": rng.choice(["sequence", "last"]),
            "dropout": rng.choice([0.0, 0.3]) if layers > 1 else 0.0,
            "bias": rng.random() < 0.8,
        }
        if layer == "RNN":
            p["nonlinearity"] = rng.choice(["tanh", "relu"])
        return p, [TensorInfo(("N", rng.randint(1, 5), rng.randint(1, 6)))]

    return sample


def _register(layer: str, explanation: str, extra: tuple[ParamSpec, ...] = ()) -> None:
    register(
        LayerSpec(
            type=layer,
            category="Recurrent",
            explanation=explanation,
            inputs=(PortSpec("x", doc="A sequence (L, features) per sample, batch first"),),
            outputs=OUTPUTS,
            params=_common_params() + extra,
            shape=_shape(layer),
            param_count=_count(layer),
            macs=_macs(layer),
            module=f"torch.nn.{layer}",
            kwargs=_kwargs,
            emit=_emit(layer),
            key_params=("hidden_size", "num_layers", "output"),
            sample=_sample(layer),
        )
    )


_register(
    "RNN",
    (
        "The simple (Elman) recurrent layer: at each step the hidden state is tanh(W x_t + U h_(t-1) + b), so it "
        "carries information along a sequence. Good for short sequences and for learning how recurrence works. "
        "Gradients vanish or explode over long sequences; use LSTM or GRU for long-range dependencies."
    ),
    (ParamSpec("nonlinearity", "choice", "tanh", "Activation of the hidden state", choices=("tanh", "relu")),),
)

_register(
    "LSTM",
    (
        "Long short-term memory: a recurrent layer with a cell state and input, forget and output gates that decide "
        "what to keep, so it learns dependencies over long sequences. The default choice for sequence "
        "classification and forecasting; output='last' gives one vector per sequence for a classifier head. With "
        "bidirectional=True the 'last' step holds only the first step of the backward pass, so consider h_n."
    ),
)

_register(
    "GRU",
    (
        "Gated recurrent unit: like LSTM but with two gates (reset, update) and no separate cell state, so it has "
        "about a quarter fewer parameters and trains faster. It performs similarly to LSTM on many tasks. Like every "
        "RNN it processes steps one after another, so long sequences are slow compared with attention."
    ),
)
