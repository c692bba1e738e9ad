"""Data and training settings forms. Each reads from and writes to the project's plain `data` / `training` dicts
(the same dicts the project file stores), so the settings are saved with the project.

The forms live in data_settings.py and training_settings.py; this module keeps the names importable from here."""

from __future__ import annotations

from .data_settings import USER_SOURCES, DataPanel, folder_grid
from .form_fields import _combo as _combo
from .form_fields import _dspin as _dspin
from .form_fields import _ispin as _ispin
from .form_fields import _TrimmedSpin as _TrimmedSpin
from .training_settings import TrainingPanel, cuda_devices

__all__ = ["USER_SOURCES", "DataPanel", "TrainingPanel", "cuda_devices", "folder_grid"]
