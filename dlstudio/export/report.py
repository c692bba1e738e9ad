"""Kept for dlstudio/export/train_script.py, which still imports Report from here; the types live in
dlstudio/compiler/report.py (import them from there)."""

from __future__ import annotations

from ..compiler.report import Report

__all__ = ["Report"]
