"""Small form-field builders shared by the data and training settings forms."""

from __future__ import annotations

import math
from collections.abc import Mapping

from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QSpinBox


def _combo(items: list[str] | tuple[str, ...], current: str) -> QComboBox:
    box = QComboBox()
    box.addItems(list(items))
    if current in items:
        box.setCurrentText(current)
    return box


class _TrimmedSpin(QDoubleSpinBox):
    """Shows 0.003, not 0.00300000: the decimals are the precision kept, not digits always shown."""

    def textFromValue(self, value: float) -> str:  # noqa: N802
        text = super().textFromValue(value)
        point = self.locale().decimalPoint()
        if point in text:
            text = text.rstrip("0").rstrip(point)
        return text


def _dspin(value: float, lo: float, hi: float, step: float, decimals: int = 4) -> QDoubleSpinBox:
    s = _TrimmedSpin()
    s.setDecimals(decimals)
    s.setRange(lo, hi)
    s.setSingleStep(step)
    s.setValue(value)
    return s


def _ispin(value: int, lo: int, hi: int) -> QSpinBox:
    s = QSpinBox()
    s.setRange(lo, hi)
    s.setValue(value)
    return s


def move_starting_values(
    widgets: Mapping[str, QSpinBox | QDoubleSpinBox], old: Mapping[str, float], new: Mapping[str, float]
) -> bool:
    """Another dataset is chosen: each field still at the previous dataset's starting value moves to the new
    one's (without emitting its own change); a value the user set stays. Returns whether a value moved."""
    moved = False
    for name, w in widgets.items():
        same = math.isclose(old[name], new[name], rel_tol=1e-9, abs_tol=1e-12)
        if not same and math.isclose(w.value(), old[name], rel_tol=1e-9, abs_tol=1e-12):
            w.blockSignals(True)
            w.setValue(new[name])
            w.blockSignals(False)
            moved = True
    return moved
