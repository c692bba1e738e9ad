"""`dlstudio check PROJECT [--json]`: diagnostics and a summary table for a project file.

Exit codes: 0 no errors (warnings allowed), 1 the graph has errors, 2 the file cannot be used.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..analysis.lints import TrainingFacts

HELP = "check a project: shapes, diagnostics, lint warnings, parameters and MACs per layer"
DESCRIPTION = HELP + ". Exit code 0: no errors (warnings allowed); 1: the graph has errors; 2: the file cannot be used."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", help="a .dlstudio project file")
    parser.add_argument("--json", action="store_true", help="print a JSON report instead of the table")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        metavar="N",
        help="also estimate training memory for this batch size (default: the project's, or 32)",
    )
    parser.add_argument(
        "--optimizer", default=None, help="optimizer for the memory estimate (default: the project's, or adam)"
    )


def _setting(section: dict, *names: str) -> object:
    for n in names:
        v = section.get(n)
        if isinstance(v, dict):
            v = v.get("name") or v.get("type")
        if v is not None:
            return v
    return None


def task_facts(project: Any) -> TrainingFacts:
    """What the lints need to know about the task. A project without data settings is judged by what its training
    section says; otherwise the training engine completes it: built-in datasets from their declared metadata
    (nothing is loaded), CSV/NumPy tables by reading them (numpy only). Image folders are not scanned (that would
    import torch), so the lints that need their class count are skipped."""
    from ..analysis.lints import training_facts

    if not project.data:
        return training_facts(project.training, project.data)
    from ..training.facts import project_lint_facts

    return project_lint_facts(project, read_tables=True, read_folders=False)


def run(args: argparse.Namespace) -> int:
    from ..analysis.report import check_graph
    from ..core.errors import DlstudioError, ProjectFileError
    from ..io.project import Project

    try:
        project = Project.load(args.project)
    except ProjectFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = check_graph(project.graph, facts=task_facts(project))
    training = project.training if isinstance(project.training, dict) else {}
    batch = args.batch_size or _setting(training, "batch_size")
    optimizer = args.optimizer or _setting(training, "optimizer")
    extra = training.get("optimizer_params")
    if (
        isinstance(optimizer, str)
        and optimizer.lower() == "sgd"
        and isinstance(extra, dict)
        and (extra.get("momentum") or 0) > 0
    ):
        optimizer = "sgd-momentum"  # momentum keeps one buffer per parameter
    batch = batch if isinstance(batch, int) and not isinstance(batch, bool) and batch > 0 else 32
    try:
        memory = report.memory_estimate(batch, optimizer if isinstance(optimizer, str) else "adam")
    except DlstudioError as exc:
        if args.optimizer:  # the user asked for it on the command line: say what is wrong
            print(f"error: {exc}", file=sys.stderr)
            return 2
        memory = report.memory_estimate(batch, "adam")  # an optimizer only the trainer knows
    if args.json:
        out = report.to_dict()
        out["project"] = str(project.path)
        out["memory_estimate"] = memory.to_dict()
        emit(json.dumps(out, indent=2, sort_keys=True))
    else:
        from ..analysis.diagnostics import human_bytes

        emit(
            "\n".join(
                [
                    f"{project.path}: {project.name}",
                    report.format_table(),
                    f"training memory at batch size {memory.batch_size} with {memory.optimizer}: "
                    f"~{human_bytes(memory.total_bytes)} (parameters {human_bytes(memory.params_bytes)}, gradients "
                    f"{human_bytes(memory.grads_bytes)}, optimizer state {human_bytes(memory.optimizer_bytes)}, "
                    f"activations {human_bytes(memory.activation_bytes)})",
                    "OK" if report.ok else f"FAILED: {len(report.errors)} error(s)",
                ]
            )
        )
    return 0 if report.ok else 1


def emit(text: str) -> None:
    """Print; when the reader has gone (`dlstudio check x | head`), stop quietly instead of a traceback."""
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
