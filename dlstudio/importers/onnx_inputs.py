"""The ONNX import's graph inputs: which dim of an input is its batch, sizes for the dims a file leaves free, and
the ONNX shape of a value whose port is batch-first but whose ONNX tensor holds the batch elsewhere."""

from __future__ import annotations

from typing import Any

from .base import Value


def named_batch_dim(tt: Any) -> int:
    """The dim of a time-major input that the file names as its batch ([12, 'batch', 6]): the first dim is fixed
    and exactly one later one is a symbol with "batch" in its name. 0 otherwise."""
    dims = list(tt.shape.dim) if tt.HasField("shape") else []
    if len(dims) < 2 or not dims[0].HasField("dim_value"):
        return 0
    named = [i for i, d in enumerate(dims) if i and not d.HasField("dim_value") and "batch" in d.dim_param.lower()]
    free = [i for i, d in enumerate(dims) if not d.HasField("dim_value")]
    return named[0] if len(named) == 1 and free == named else 0


def shown_dims(tt: Any) -> list[Any]:
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in tt.shape.dim]


def onnx_shape(v: Value, batch: int) -> tuple[int, ...]:
    """The ONNX tensor's shape for a value whose port runs a batch of `batch`, views of recurrent outputs
    included (Value.layout)."""
    rest = tuple(int(d) for d in v.info.shape[1:])
    if v.layout == "seq_first":
        return (rest[0], batch, *rest[1:])
    if v.layout.startswith("batch_at:"):
        at = int(v.layout.split(":", 1)[1])
        return (*rest[:at], batch, *rest[at:])
    if v.layout.startswith("batch_in:"):  # the port (N, ..., H at `at`, ...) of an ONNX dim N*H
        at = int(v.layout.split(":")[1])
        return (*rest[:at], batch * rest[at], *rest[at + 1 :])
    if v.layout in ("rnn_y0", "rnn_y1", "rnn_y0_t"):
        seq, width = rest[0], rest[1]
        hidden = width // v.dirs
        return {
            "rnn_y0": (seq, v.dirs, batch, hidden),
            "rnn_y1": (batch, seq, v.dirs, hidden),
            "rnn_y0_t": (seq, batch, v.dirs, hidden),
        }[v.layout]
    return (batch, *rest)


def default_sizes(dims: list[int | None], elem_type: int) -> list[int]:
    """Per-sample sizes for an input whose file leaves some free: 3 channels and 224x224 pixels for images
    (channels first, or last when the last size is a small fixed one), 128 for other sizes (sequence lengths)."""
    rank = len(dims)
    channels_last = rank == 4 and dims[3] is not None and dims[3] <= 4 and dims[1] is None
    out = []
    for i, d in enumerate(dims[1:], start=1):
        if d is not None:
            out.append(int(d))
        elif rank in (4, 5) and elem_type != 7 and i == 1 and not channels_last:
            out.append(3)
        elif rank == 4 and elem_type != 7:
            out.append(224)
        elif rank == 5 and elem_type != 7:
            out.append(16 if i == 2 else 112)
        else:
            out.append(128)
    return out
