"""Composition root for the studio window (Qt is imported only here and in dlstudio.ui)."""

from __future__ import annotations

import sys


def run_studio(args: list[str]) -> int:
    try:
        from .ui.main_window import launch
    except ImportError as exc:
        print(f"The studio window is not available: {exc}", file=sys.stderr)
        return 2
    return launch(args)
