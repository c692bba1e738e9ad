"""Writing a run folder (layout in runs.py) from plain dicts: settings.json at the start, one metrics row per
epoch, weights and report.json / report.md at the end. Every whole file goes through the atomic writer; the
metrics files grow by appended lines (rewritten whole on resume)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from ..core.files import atomic_write_text


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
    if isinstance(v, (list, tuple)):
        return [_num(x) for x in v]
    return v


def dump_json(obj: Any) -> str:
    return json.dumps(_num(obj), indent=2, sort_keys=True, default=_clean) + "\n"


class RunWriter:
    def __init__(self, run_dir: Path, enabled: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.enabled = enabled  # False on the non-main ranks of a distributed run
        self.columns: list[str] | None = None

    def start(self, settings: dict[str, Any]) -> None:
        if self.enabled:
            self.write_json("settings.json", settings)

    def write_json(self, name: str, data: dict[str, Any], *, sync_folder: bool = True) -> Path:
        """`sync_folder=False` when another write into the run folder follows and fsyncs it for both."""
        path = self.run_dir / name
        if self.enabled:
            atomic_write_text(path, dump_json(data), sync_folder=sync_folder)
        return path

    def write_text(self, name: str, text: str, *, sync_folder: bool = True) -> Path:
        path = self.run_dir / name
        if self.enabled:
            atomic_write_text(path, text, sync_folder=sync_folder)
        return path

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
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.run_dir / "metrics.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(_num(row), sort_keys=True) + "\n")
        path = self.run_dir / "metrics.csv"
        buf = io.StringIO()
        out = csv.writer(buf, lineterminator="\n")
        if self.columns is None:
            if path.is_file() and path.stat().st_size:
                with open(path, encoding="utf-8") as fh:
                    self.columns = next(csv.reader(fh))
            else:
                self.columns = ["epoch", *sorted(k for k in row if k != "epoch")]
                out.writerow(self.columns)
        out.writerow([row.get(c, "") for c in self.columns])
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(buf.getvalue())
