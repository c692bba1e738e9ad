"""Training and results in the studio: data and training settings, live plots, runs, results views, Try it.

`TrainingWorkspace(project_provider, parent)` is the one widget the window embeds."""

from __future__ import annotations

from .workspace import TrainingWorkspace

__all__ = ["TrainingWorkspace"]
