"""The analysis engine the window observes: `dlstudio.analysis.engine.AnalysisEngine`, which subscribes to
the graph's signals and re-checks only what an edit touched."""

from __future__ import annotations

from typing import Any

from ..core.graph import ModelGraph


def make_engine(graph: ModelGraph, facts: Any = None) -> Any:
    """`facts`: the lints' TrainingFacts (see `project_facts`); None lints without knowing the task."""
    from ..analysis.engine import AnalysisEngine

    return AnalysisEngine(graph, facts=facts)


def project_facts(project: Any) -> Any:
    """What the lints know about the project's task, the same way `dlstudio check` gets it: the training engine
    answers from the data settings (built-in datasets from their declared metadata). The user's files are not
    read here: this runs on every settings edit, on the GUI thread."""
    from ..training.facts import project_lint_facts

    return project_lint_facts(project)
