"""Report types shared by exporters and importers: what was checked, the max difference, warnings.

It lives in compiler (below both export and importers) so that either can use it without importing the other."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Report:
    """The outcome of one export or import. `max_abs_diff` maps an output name to its parity difference."""

    kind: str  # "onnx", "python", "weights", "onnx-import", "torch-import"
    path: Path | None = None
    checks: list[str] = field(default_factory=list)
    max_abs_diff: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    size_bytes: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def worst_diff(self) -> float:
        return max(self.max_abs_diff.values(), default=0.0)

    def format(self) -> str:
        """Human-readable lines for the CLI."""
        lines = [f"{self.kind}: {self.path}" if self.path else self.kind]
        if self.size_bytes:
            lines.append(f"  size: {self.size_bytes / 1024:.1f} KiB")
        if self.seconds:
            lines.append(f"  time: {self.seconds:.2f} s")
        for c in self.checks:
            lines.append(f"  checked: {c}")
        for name, d in self.max_abs_diff.items():
            lines.append(f"  max |diff| {name}: {d:.3g}")
        for w in self.warnings:
            lines.append(f"  warning: {w}")
        return "\n".join(lines)


def compare_outputs(names: list[str], expected: list[Any], got: list[Any]) -> dict[str, float]:
    """Max absolute difference per named output (numpy arrays or tensors)."""
    import numpy as np

    out: dict[str, float] = {}
    for name, a, b in zip(names, expected, got):
        a = np.asarray(a.detach().cpu().numpy() if hasattr(a, "detach") else a, dtype=np.float64)
        b = np.asarray(b.detach().cpu().numpy() if hasattr(b, "detach") else b, dtype=np.float64)
        if a.shape != b.shape:
            out[name] = float("inf")
        else:
            out[name] = float(np.max(np.abs(a - b))) if a.size else 0.0
    return out
