"""ONNX LSTM/GRU/RNN -> the catalog's batch-first recurrent layers.

ONNX stacks gate weights in another order than torch (LSTM i,o,f,c vs i,f,g,o; GRU z,r,h vs r,z,n); they are
reordered here. Time-major models (layout=0, what torch's exporter writes for batch_first layers) reach the
layer through Transpose views (see Value.layout in base.py) that resolve back to batch-first tensors.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Context, Unsupported, Value, handles
from .onnx_ops_common import _opt, attrs

_GATES = {"LSTM": (4, [0, 2, 3, 1]), "GRU": (3, [1, 0, 2]), "RNN": (1, [0])}  # ONNX gate blocks -> torch order


def _reorder(w: np.ndarray, gates: int, order: list[int]) -> np.ndarray:
    blocks = np.split(w, gates, axis=0)
    return np.concatenate([blocks[i] for i in order], axis=0)


@handles("LSTM", "GRU", "RNN")
def _recurrent(ctx: Context, node: Any, name: str) -> None:
    op = node.op_type
    at = attrs(node)
    layout = int(at.get("layout", 0))
    raw = ctx.raw_value(node.input[0])
    if raw.layout != ("seq_first" if layout == 0 else ""):
        raise Unsupported(
            "layout=0 (time-major) needs its input transposed from batch-first data; the batch "
            "must stay the first dimension of the model's input"
            if layout == 0
            else "its input is a time-major view"
        )
    x = Value(raw.node_id, raw.port, raw.info)
    direction = at.get("direction", "forward")
    if direction == "reverse":
        raise Unsupported("direction=reverse alone (torch runs reverse only as part of bidirectional)")
    dirs = 2 if direction == "bidirectional" else 1
    if at.get("clip") is not None or at.get("input_forget", 0):
        raise Unsupported("clip / input_forget")
    acts = [a.lower() if isinstance(a, str) else a.decode().lower() for a in at.get("activations", [])]
    default = {"LSTM": ["sigmoid", "tanh", "tanh"], "GRU": ["sigmoid", "tanh"], "RNN": ["tanh"]}[op]
    extra: dict[str, Any] = {}
    if op == "RNN" and acts and set(acts) == {"relu"}:
        extra["nonlinearity"] = "relu"
    elif acts and acts != default * dirs and acts != default:
        raise Unsupported(f"activations {acts}")
    if op == "GRU" and not at.get("linear_before_reset", 0):
        raise Unsupported("linear_before_reset=0 (torch's GRU applies the reset gate after the linear map)")
    for i, what in ((4, "sequence_lens"), (7, "peepholes P")):
        if _opt(node, i) and (i != 4 or node.input[i] not in ctx.consts):
            raise Unsupported(f"the {what} input")
    for i in (5, 6):  # initial_h, initial_c: zeros are torch's default
        if _opt(node, i):
            init = ctx.const(node.input[i], batch_ok=True)
            if np.any(init != 0):
                raise Unsupported("a non-zero initial state")
    gates, order = _GATES[op]
    w = ctx.const(node.input[1]).astype(np.float32)
    r = ctx.const(node.input[2]).astype(np.float32)
    hidden = int(at.get("hidden_size", r.shape[-1]))
    b = ctx.const(node.input[3]).astype(np.float32) if _opt(node, 3) else None
    weights: dict[str, np.ndarray] = {}
    for d in range(dirs):
        sfx = "_l0" + ("_reverse" if d else "")
        weights["weight_ih" + sfx] = _reorder(w[d], gates, order)
        weights["weight_hh" + sfx] = _reorder(r[d], gates, order)
        if b is not None:
            weights["bias_ih" + sfx] = _reorder(b[d][: gates * hidden], gates, order)
            weights["bias_hh" + sfx] = _reorder(b[d][gates * hidden :], gates, order)
    params = {
        "hidden_size": hidden,
        "num_layers": 1,
        "output": "sequence",
        "bidirectional": dirs == 2,
        "bias": b is not None,
        **extra,
    }
    y, h_n = ctx.add(op, [x], params, weights, label=name)[:2]
    outs = list(node.output) + [""] * 3
    if outs[0]:
        ctx.bind(outs[0], Value(y.node_id, y.port, y.info, "rnn_y0" if layout == 0 else "rnn_y1", dirs))
    if outs[1]:
        # dlstudio's h_n is batch-first (N, dirs, H) like ONNX layout 1; layout 0 is (dirs, N, H)
        ctx.bind(outs[1], Value(h_n.node_id, h_n.port, h_n.info, "seq_first" if layout == 0 else ""))
    if outs[2] and ctx.consumers.get(outs[2], 0):
        raise Unsupported("the final cell state Y_c is used (the catalog LSTM exposes y and h_n)")
