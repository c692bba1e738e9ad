"""The analysis engine the window observes: `dlstudio.analysis.engine.AnalysisEngine`, which subscribes to
the graph's signals and re-checks only what an edit touched."""

from __future__ import annotations

from typing import Any

from ..core.graph import ModelGraph


def make_engine(graph: ModelGraph) -> Any:
    from ..analysis.engine import AnalysisEngine

    return AnalysisEngine(graph)
