"""Diagnostics and statistics records shared by the engine, the report, the CLI and the studio.

Plain frozen dataclasses: cheap to compare (the incremental engine compares old and new to decide what changed)
and easy to turn into JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from ..core.tensor import TensorInfo

Severity = Literal["error", "warning"]

# Codes, so tools and tests can match a problem without parsing its message.
UNKNOWN_TYPE = "unknown_type"
UNKNOWN_PORT = "unknown_port"
UNCONNECTED_INPUT = "unconnected_input"
TOO_MANY_INPUTS = "too_many_inputs"
CYCLE = "cycle"
SHAPE_MISMATCH = "shape_mismatch"
INVALID_PARAM = "invalid_param"
WRONG_DTYPE = "wrong_dtype"
UNREACHABLE = "unreachable"
NO_OUTPUT = "no_output"
NO_INPUT = "no_input"
GROUP_NOT_CONVEX = "group_not_convex"
GROUP_HAS_IO = "group_has_io"

ERROR_CODES = (
    UNKNOWN_TYPE,
    UNKNOWN_PORT,
    UNCONNECTED_INPUT,
    TOO_MANY_INPUTS,
    CYCLE,
    SHAPE_MISMATCH,
    INVALID_PARAM,
    WRONG_DTYPE,
    UNREACHABLE,
    NO_OUTPUT,
    NO_INPUT,
    GROUP_NOT_CONVEX,
    GROUP_HAS_IO,
)

DTYPE_BYTES = {"float32": 4, "int64": 8, "bool": 1}


@dataclass(frozen=True)
class Diagnostic:
    """One problem, pinned to a node (and port or parameter) when it has a place on the canvas."""

    severity: Severity
    code: str
    message: str
    node_id: str | None = None
    port: str | None = None
    param: str | None = None
    expected: str | None = None
    got: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def __str__(self) -> str:
        where = f"[{self.node_id}{'.' + self.port if self.port else ''}] " if self.node_id else ""
        return f"{self.severity}: {where}{self.message} ({self.code})"


@dataclass(frozen=True)
class NodeStats:
    """Per-node numbers. `params` counts trainable and frozen together; MACs are per sample."""

    node_id: str
    outputs: tuple[TensorInfo, ...] = ()
    params: int = 0
    trainable: int = 0
    frozen: int = 0
    macs: int = 0
    activation_bytes: int = 0  # bytes of this node's outputs for one sample

    def to_dict(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id,
            "outputs": [_tensor_dict(t) for t in self.outputs],
            "params": self.params,
            "trainable": self.trainable,
            "frozen": self.frozen,
            "macs": self.macs,
            "activation_bytes": self.activation_bytes,
        }


@dataclass(frozen=True)
class Totals:
    params: int = 0
    trainable: int = 0
    frozen: int = 0
    macs: int = 0
    activation_bytes: int = 0  # per sample, all nodes' outputs
    node_count: int = 0
    ok: bool = True  # no error diagnostics

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# Optimizer state per trainable parameter, in parameter-sized copies (Adam keeps two moments, momentum one).
OPTIMIZER_STATE = {
    "sgd": 0,
    "sgd-momentum": 1,
    "sgd_momentum": 1,
    "momentum": 1,
    "nesterov": 1,
    "adam": 2,
    "adamw": 2,
    "nadam": 2,
    "radam": 2,
    "adamax": 2,
    "rmsprop": 1,
    "adagrad": 1,
    "adadelta": 2,
}


@dataclass(frozen=True)
class MemoryEstimate:
    """Training memory in bytes: float32 parameters, their gradients, optimizer state and the activations kept
    for the backward pass (per-sample activation bytes x batch size). A lower bound: framework overhead and
    temporary buffers come on top."""

    batch_size: int
    optimizer: str
    params_bytes: int
    grads_bytes: int
    optimizer_bytes: int
    activation_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.params_bytes + self.grads_bytes + self.optimizer_bytes + self.activation_bytes

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["total_bytes"] = self.total_bytes
        return d


def memory_estimate(totals: Totals, batch_size: int, optimizer: str = "adam") -> MemoryEstimate:
    from ..core.errors import ParamError

    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ParamError("batch_size", f"must be a whole number >= 1, got {batch_size!r}")
    key = optimizer.strip().lower().replace(" ", "")
    if key not in OPTIMIZER_STATE:
        raise ParamError(
            "optimizer", f"unknown optimizer {optimizer!r}; use one of " + ", ".join(sorted(OPTIMIZER_STATE))
        )
    return MemoryEstimate(
        batch_size=batch_size,
        optimizer=key,
        params_bytes=4 * totals.params,
        grads_bytes=4 * totals.trainable,
        optimizer_bytes=4 * OPTIMIZER_STATE[key] * totals.trainable,
        activation_bytes=totals.activation_bytes * batch_size,
    )


def _tensor_dict(t: TensorInfo) -> dict[str, Any]:
    return {"shape": list(t.shape), "dtype": t.dtype}


def tensor_dict(t: TensorInfo | None) -> dict[str, Any] | None:
    return None if t is None else _tensor_dict(t)


def human_bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


def human_count(n: int) -> str:
    if n < 10_000:
        return str(n)
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:.1f}{suffix}"
    return str(n)  # pragma: no cover


__all__ = [
    "Diagnostic",
    "NodeStats",
    "Totals",
    "MemoryEstimate",
    "memory_estimate",
    "human_bytes",
    "human_count",
    "tensor_dict",
]
