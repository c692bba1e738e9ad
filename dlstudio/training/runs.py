"""The run folder:

<run>/settings.json        data + training settings as resolved, the graph, binding, scaler, versions
<run>/metrics.csv          one row per epoch (same as metrics.jsonl)
<run>/metrics.jsonl
<run>/checkpoints/epoch_0003/{model,optimizer,rng}.safetensors + state.json (+ best.safetensors)
<run>/best.safetensors     weights of the best epoch (by early_stopping.monitor)
<run>/last.safetensors     weights at the end
<run>/report.json, report.md   final report: epochs, best epoch, final and test metrics

run_writer.RunWriter writes it; `read_run(folder)` reads one back (torch-free) and `project_runs(runs_dir, name)`
lists a project's runs, oldest first; `newest_finished(...)` is the run whose weights the export routes offer first.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


# ------------------------------------------------------------------------------------------ reading runs back
def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_history(run_dir: Path) -> list[dict[str, Any]]:
    """The per-epoch rows of metrics.jsonl (a damaged line is skipped)."""
    rows: list[dict[str, Any]] = []
    try:
        lines = (Path(run_dir) / "metrics.jsonl").read_text("utf-8").splitlines()
    except OSError:
        return rows
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def graph_signature(graph: dict[str, Any]) -> str:
    """What decides whether weights fit a graph: node ids, types and params, and the wiring (not positions,
    labels or groups)."""
    nodes = sorted(
        (str(n.get("id")), str(n.get("type")), json.dumps(n.get("params", {}), sort_keys=True))
        for n in graph.get("nodes", [])
    )
    edges = sorted(json.dumps(e, sort_keys=True) for e in graph.get("edges", []))
    return json.dumps([nodes, edges])


@dataclass
class RunInfo:
    """One run folder read back: settings, report (None while unfinished or after a crash) and history."""

    path: Path
    settings: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def finished(self) -> bool:
        return self.report is not None

    @property
    def status(self) -> str:
        r = self.report
        if r is None:
            return "unfinished"
        return "stopped" if r.get("stopped_by_user") else "early stop" if r.get("stopped_early") else "finished"

    @property
    def which(self) -> str | None:
        """ "best" or "last": the weights this run offers (the best epoch's when it kept them)."""
        for which in ("best", "last"):
            if (self.path / f"{which}.safetensors").is_file():
                return which
        return None

    def weights_file(self, which: str | None = None) -> Path | None:
        which = which or self.which
        if which is None:
            return None
        p = self.path / f"{which}.safetensors"
        return p if p.is_file() else None

    @property
    def mtime(self) -> float:
        p = self.weights_file() or (self.path / "report.json")
        try:
            return p.stat().st_mtime
        except OSError:
            return 0.0

    def epoch(self, which: str | None = None) -> int | None:
        r = self.report or {}
        which = which or self.which
        value = r.get("best_epoch") if which == "best" else r.get("epochs_run")
        return int(value) if isinstance(value, (int, float)) else None

    def metric(self, which: str | None = None) -> tuple[str, float] | None:
        """The validation metric at the epoch whose weights are offered: accuracy, R^2 or loss."""
        epoch = self.epoch(which)
        row = next((h for h in self.history if h.get("epoch") == epoch), None)
        if row is None and self.report:
            row = self.report.get("final") or None
        if not row:
            return None
        for key in ("val_accuracy", "val_r2", "val_mae", "val_loss", "accuracy", "loss"):
            v = row.get(key)
            if isinstance(v, (int, float)):
                return key, float(v)
        return None

    def describe(self, which: str | None = None) -> str:
        """ "run iris-20261206-0501-1, best epoch 87, val_accuracy 0.967"."""
        which = which or self.which
        bits = [f"run {self.name}"]
        epoch = self.epoch(which)
        if epoch is not None:
            bits.append(f"{which} epoch {epoch}" if which == "best" else f"last epoch {epoch}")
        m = self.metric(which)
        if m is not None:
            bits.append(f"{m[0]} {m[1]:.4g}")
        return ", ".join(bits)

    @property
    def graph_signature(self) -> str | None:
        graph = self.settings.get("graph")
        return graph_signature(graph) if isinstance(graph, dict) else None


def read_run(run_dir: str | Path) -> RunInfo | None:
    """A run folder read back, or None when it has no settings.json (not a run)."""
    path = Path(run_dir)
    settings = _read_json(path / "settings.json")
    if not settings:
        return None
    report = _read_json(path / "report.json") or None
    return RunInfo(path, settings, report, read_history(path))


def project_runs(runs_dir: str | Path, project_name: str) -> list[RunInfo]:
    """The runs of a project (folders `<name>-<stamp>-<n>` under `runs_dir`), oldest first."""
    base = Path(runs_dir)
    if not base.is_dir():
        return []
    runs = [r for p in base.glob(f"{project_name}-*") if p.is_dir() and (r := read_run(p)) is not None]
    runs.sort(key=lambda r: (str(r.settings.get("started", "")), r.name))
    return runs


def newest_finished(runs: list[RunInfo], graph: dict[str, Any] | None = None) -> RunInfo | None:
    """The newest finished run that kept weights (and, given a graph, trained that same graph)."""
    want = graph_signature(graph) if graph is not None else None
    done = [r for r in runs if r.finished and r.which is not None]
    if want is not None:
        done = [r for r in done if r.graph_signature == want]
    return max(done, key=lambda r: r.mtime, default=None)


def preferred_weights(runs: list[RunInfo], graph: dict[str, Any], sidecar: Path | None) -> RunInfo | None:
    """The run whose weights an export uses by default: the newest finished run of this graph when its weights
    are newer than the project's sidecar (None: use the sidecar, or the seeded initialisation without one)."""
    run = newest_finished(runs, graph)
    if run is None:
        return None
    if sidecar is not None and sidecar.is_file() and sidecar.stat().st_mtime >= run.mtime:
        return None
    return run


def run_state(run: RunInfo, which: str | None = None) -> dict[str, Any]:
    """A run's weights as a state_dict (the compiled module's layout), for the exporters' `weights=`."""
    from safetensors.torch import load_file

    path = run.weights_file(which)
    if path is None:
        raise FileNotFoundError(f"{run.path}: the run kept no weights (best.safetensors / last.safetensors)")
    return dict(load_file(str(path)))


def saved_runs(project: Any) -> list[RunInfo]:
    """The runs found beside a saved project (`<folder>/runs/<name>-*`), oldest first; none while untitled."""
    if project.path is None:
        return []
    return project_runs(project.path.parent / "runs", project.name)


@dataclass
class WeightsChoice:
    """One answer to "which weights does this export use", naming itself for the dialog and the report."""

    kind: str  # "run", "project", "seed" or "memory"
    label: str  # what the dialog and the report show
    run: RunInfo | None = None
    path: Path | None = None  # the sidecar, for kind "project"
    state: dict[str, Any] | None = None  # in-memory weights, for kind "memory"

    def weights(self) -> Any:
        """The exporters' `weights=` argument."""
        if self.kind == "run" and self.run is not None:
            return run_state(self.run)
        if self.kind == "project" and self.path is not None:
            return str(self.path)
        if self.kind == "memory":
            return self.state
        return None


def weight_choices(project: Any, runs: list[RunInfo] | None = None) -> tuple[list[WeightsChoice], int]:
    """The choices every export route offers for `project` (the newest finished run of its graph, its sidecar,
    the seeded initialisation) and the index of the default: the run when its weights are newer than the
    sidecar, else the sidecar, else the seeded initialisation.

    `runs`: the runs known to the caller (the studio's may still sit in the untitled folder); default: the
    saved runs beside the project file."""
    runs = saved_runs(project) if runs is None else runs
    graph = project.graph.to_dict()
    sidecar = project.saved_weights
    choices: list[WeightsChoice] = []
    newest = newest_finished(runs, graph)
    if newest is not None:
        choices.append(WeightsChoice("run", f"newest {newest.describe()}", run=newest))
    if sidecar is not None:
        stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(sidecar.stat().st_mtime))
        choices.append(WeightsChoice("project", f"project weights ({sidecar.name}, saved {stamp})", path=sidecar))
    choices.append(WeightsChoice("seed", "seeded initialisation (untrained)"))
    if preferred_weights(runs, graph, sidecar) is not None:
        return choices, 0  # the newest run's weights are newer than the project's
    kinds = [c.kind for c in choices]
    return choices, kinds.index("project") if "project" in kinds else len(choices) - 1


def default_weights(project: Any, runs: list[RunInfo] | None = None) -> WeightsChoice:
    choices, i = weight_choices(project, runs)
    return choices[i]


def export_weights(project: Any, source: str = "auto") -> tuple[Any, str]:
    """The weights a headless export of `project` uses and the words naming them (`dlstudio export`,
    `dls.export_onnx(project)`): `weight_choices`' default for "auto", else the choice of that kind ("run",
    "project" or "seed")."""
    from ..core.errors import WeightsError

    choices, i = weight_choices(project)
    if source == "auto":
        choice = choices[i]
    else:
        found = [c for c in choices if c.kind == source]
        if not found:
            if source == "run":
                where = project.path.parent / "runs" if project.path is not None else "the project's runs folder"
                raise WeightsError(f"no finished run of this graph under {where}")
            raise WeightsError(f"{project.name} has no weights file beside it (train it and keep the weights)")
        choice = found[0]
    return choice.weights(), choice.label
