"""The run folder:

<run>/settings.json        data + training settings as resolved, the graph, binding, scaler, versions
<run>/metrics.csv          one row per epoch (same as metrics.jsonl)
<run>/metrics.jsonl
<run>/checkpoints/epoch_0003/{model,optimizer,rng}.safetensors + state.json (+ best.safetensors)
<run>/best.safetensors     weights of the best epoch (by early_stopping.monitor)
<run>/last.safetensors     weights at the end
<run>/report.json, report.md   final report: epochs, best epoch, final and test metrics
"""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ..core.files import atomic_write_text
from .checkpoints import save_weights

if TYPE_CHECKING:
    from .loop import Trainer


def _dump(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, default=_clean) + "\n"


def _clean(v: Any) -> Any:
    if isinstance(v, (tuple, set)):
        return list(v)
    return str(v)


def _num(v: Any) -> Any:
    """JSON has no NaN/Inf: write them as null."""
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return None
    if isinstance(v, dict):
        return {k: _num(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_num(x) for x in v]
    return v


class RunWriter:
    def __init__(self, run_dir: Path, enabled: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.enabled = enabled
        self.columns: list[str] | None = None

    def start(self, t: Trainer) -> None:
        if not self.enabled:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        settings = {
            "data": t.dcfg.to_dict(),
            "training": t.cfg.to_dict(),
            "graph": t.graph.to_dict(),
            "binding": {
                "input": t.binding.input_node.label,
                "output": t.binding.output_node.label,
                "task": t.task,
                "loss": t.loss_name,
                "n_classes": t.binding.n_classes,
            },
            "class_names": t.class_names,
            "scaler": t.splits.scaler,
            "rows": {
                "train": len(t.train_set),
                "val": len(t.val_set) if t.val_set else 0,
                "test": len(t.test_set) if t.test_set else 0,
            },
            "device": str(t.device),
            "world_size": t.dist.world_size,
            "torch": torch.__version__,
            "meta": t.project_meta,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        atomic_write_text(self.run_dir / "settings.json", _dump(_num(settings)))

    def rewrite_history(self, history: list[dict[str, float]]) -> None:
        """On resume: the files hold exactly the epochs the checkpoint has seen."""
        if not self.enabled:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for name in ("metrics.csv", "metrics.jsonl"):
            (self.run_dir / name).unlink(missing_ok=True)
        self.columns = None
        for row in history:
            self.epoch(row)

    def epoch(self, row: dict[str, float]) -> None:
        if not self.enabled:
            return
        with open(self.run_dir / "metrics.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(_num(row), sort_keys=True) + "\n")
        path = self.run_dir / "metrics.csv"
        if self.columns is None:
            if path.is_file() and path.stat().st_size:
                with open(path, encoding="utf-8") as fh:
                    self.columns = next(csv.reader(fh))
            else:
                self.columns = ["epoch", *sorted(k for k in row if k != "epoch")]
                path.write_text(",".join(self.columns) + "\n", encoding="utf-8")
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow([row.get(c, "") for c in self.columns])
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(buf.getvalue())

    def finish(
        self,
        t: Trainer,
        test: dict[str, Any],
        stopped_early: bool,
        stopped_user: bool,
        val: dict[str, Any] | None = None,
    ) -> None:
        if not self.enabled:
            return
        save_weights(t.model, self.run_dir / "last.safetensors")
        if t.state.best_state is not None:
            save_weights(t.state.best_state, self.run_dir / "best.safetensors")
        final = dict(t.state.history[-1]) if t.state.history else {}
        report = {
            "epochs_run": t.state.epoch,
            "epochs": t.cfg.epochs,
            "best_epoch": t.state.best_epoch,
            "monitor": t._monitor(),
            "best_value": t.state.best_value,
            "stopped_early": stopped_early,
            "stopped_by_user": stopped_user,
            "final": final,
            "validation": val or {},
            "test": test,
            "task": t.task,
            "loss": t.loss_name,
            "last_checkpoint": t.last_checkpoint,
        }
        atomic_write_text(self.run_dir / "report.json", _dump(_num(report)))
        lines = [
            f"# Training report: {t.project_meta.get('name', t.run_dir.name if t.run_dir else 'run')}",
            "",
            f"- task: {t.task}, loss: {t.loss_name}, optimizer: {t.cfg.optimizer} (lr {t.cfg.lr:g})",
            f"- epochs run: {t.state.epoch} of {t.cfg.epochs}"
            + (" (stopped early)" if stopped_early else "")
            + (" (stopped by user)" if stopped_user else ""),
            f"- best epoch: {t.state.best_epoch} ({t._monitor()} = {t.state.best_value})",
            "",
            "| metric | final epoch |",
            "|---|---|",
        ]
        lines += [f"| {k} | {v:.6g} |" for k, v in final.items() if k != "epoch" and isinstance(v, (int, float))]
        scalars = {k: v for k, v in test.items() if isinstance(v, (int, float))}
        if scalars:
            lines += ["", "| test metric | value |", "|---|---|"]
            lines += [f"| {k} | {v:.6g} |" for k, v in scalars.items()]
        atomic_write_text(self.run_dir / "report.md", "\n".join(lines) + "\n")
