"""Composition root for the studio window (Qt is imported only here and in dlstudio.ui)."""

from __future__ import annotations

import sys


def run_studio(args: list[str]) -> int:
    from .system_deps import gui_start_problem  # imports no Qt: names missing system libraries before Qt aborts

    problem = gui_start_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    try:
        from .ui.main_window import launch
    except ImportError as exc:
        print(f"The studio window is not available: {exc}", file=sys.stderr)
        return 2
    return launch(args)
