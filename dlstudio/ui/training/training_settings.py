"""Training settings form: reads from and writes to the project's plain `training` dict (the same dict the project
file stores), so the settings are saved with the project."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ...training.config import OPTIMIZERS, SCHEDULES, TASKS, TrainingConfig
from ...training.defaults import describe, starting_values, with_starting_settings
from ...training.loss_table import LOSSES
from .form_fields import _combo, _dspin, _ispin, move_starting_values

if TYPE_CHECKING:
    from .data_settings import DataPanel


def cuda_devices() -> list[str]:
    """ "auto", "cpu" and each accelerator torch finds (imports torch: the studio asks its training process)."""
    from ...training.loop import accelerators

    return ["auto", "cpu", *accelerators()]


class TrainingPanel(QWidget):
    """Learning rate, epochs and batch size first (with a note on where their starting values come from), then
    task, loss, optimizer, schedule, regularisation, early stopping, device, precision, seed.

    The starting values follow the project's dataset (dlstudio.training.defaults): `follow_dataset` moves every
    value the user has not changed to the new dataset's, and keeps the ones they set."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._dataset: str | None = None
        cfg = TrainingConfig.from_dict(with_starting_settings({}, self._dataset))
        box = QGroupBox("Training settings")
        self.form = form = QFormLayout(box)
        self.task = _combo(["(from data)", *TASKS], "(from data)")
        self.loss = _combo(["(default for task)", *sorted(LOSSES)], "(default for task)")
        self.optimizer = _combo(OPTIMIZERS, cfg.optimizer)
        self.lr = _dspin(cfg.lr, 1e-8, 1e6, 1e-4, 8)
        self.schedule = _combo(SCHEDULES, cfg.schedule.name)
        self.batch_size = _ispin(cfg.batch_size, 1, 65536)
        self.epochs = _ispin(cfg.epochs, 1, 100000)
        self.defaults_note = QLabel(describe(self._dataset))
        self.defaults_note.setWordWrap(True)
        self.defaults_note.setEnabled(False)  # the palette's muted text: a note, not a setting
        self.weight_decay = _dspin(cfg.weight_decay, 0.0, 1.0, 1e-4, 6)
        self.grad_clip = _dspin(cfg.grad_clip, 0.0, 1000.0, 0.5, 3)
        self.l1 = _dspin(cfg.l1, 0.0, 1.0, 1e-5, 6)
        self.l2 = _dspin(cfg.l2, 0.0, 1.0, 1e-5, 6)
        self.patience = _ispin(cfg.early_stopping.patience, 0, 1000)
        self.patience.setSpecialValueText("off")
        # accelerators are added by add_devices() once the training process has looked (importing torch here
        # would block the window for seconds)
        self.device = _combo(["auto", "cpu"], cfg.device)
        self.amp = QCheckBox("mixed precision (GPU)")
        self.seed = _ispin(cfg.seed, 0, 2**31 - 1)
        # the three settings every run is tuned by come first, where a cramped dock still shows them
        for label, w in (
            ("Learning rate", self.lr),
            ("Epochs", self.epochs),
            ("Batch size", self.batch_size),
        ):
            form.addRow(label, w)
        form.addRow(self.defaults_note)
        for label, w in (
            ("Task", self.task),
            ("Loss", self.loss),
            ("Optimizer", self.optimizer),
            ("Schedule", self.schedule),
            ("Weight decay", self.weight_decay),
            ("L1 penalty", self.l1),
            ("L2 penalty", self.l2),
            ("Gradient clip", self.grad_clip),
            ("Early stopping patience", self.patience),
            ("Device", self.device),
            ("Precision", self.amp),
            ("Seed", self.seed),
        ):
            form.addRow(label, w)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(box)
        combos = (self.task, self.loss, self.optimizer, self.schedule, self.device)
        spins = (self.lr, self.epochs, self.batch_size, self.weight_decay, self.l1, self.l2, self.grad_clip)
        spins += (self.patience, self.seed)
        for c in combos:
            c.currentTextChanged.connect(self.changed)
        for s in spins:
            s.valueChanged.connect(self.changed)
        self.amp.toggled.connect(self.changed)
        self._inputs = (*combos, *spins, self.amp)  # silenced while a project's settings load
        self._extra: dict[str, Any] = {}

    def _starting_widgets(self) -> dict[str, QSpinBox | QDoubleSpinBox]:
        """The widgets whose starting value follows the dataset, by setting name."""
        return {"lr": self.lr, "epochs": self.epochs, "batch_size": self.batch_size, "weight_decay": self.weight_decay}

    def follow(self, data_panel: DataPanel) -> None:
        """Keep the starting values in step with the dataset the data form shows."""
        data_panel.dataset_chosen.connect(self.follow_dataset)
        self.follow_dataset(data_panel.dataset.currentText())

    def follow_dataset(self, dataset: str) -> None:
        """Another dataset is chosen: values still at the previous dataset's starting values move to this one's;
        values the user set stay. Emits `changed` once when a value moved."""
        if dataset == self._dataset:
            return
        old, new = starting_values(self._dataset), starting_values(dataset)
        self._dataset = dataset
        self.defaults_note.setText(describe(dataset))
        if move_starting_values(self._starting_widgets(), old, new):
            self.changed.emit()

    def add_devices(self, names: list[str]) -> None:
        """Offer accelerators found on this machine (cuda:N, mps) besides auto and cpu."""
        for name in names:
            if self.device.findText(name) < 0:
                self.device.addItem(name)

    def load(self, training: dict[str, Any]) -> None:
        """Show a project's training settings; what it leaves unset shows its dataset's starting values (the
        data form is loaded first and tells this form the dataset through `follow_dataset`)."""
        cfg = TrainingConfig.from_dict(with_starting_settings(training, self._dataset))
        for w in self._inputs:
            w.blockSignals(True)
        try:
            self._extra = copy.deepcopy(dict(training or {}))
            self.task.setCurrentText(cfg.task or "(from data)")
            self.loss.setCurrentText(cfg.loss or "(default for task)")
            self.optimizer.setCurrentText(cfg.optimizer)
            self.lr.setValue(cfg.lr)
            self.schedule.setCurrentText(cfg.schedule.name)
            self.batch_size.setValue(cfg.batch_size)
            self.epochs.setValue(cfg.epochs)
            self.weight_decay.setValue(cfg.weight_decay)
            self.grad_clip.setValue(cfg.grad_clip)
            self.l1.setValue(cfg.l1)
            self.l2.setValue(cfg.l2)
            self.patience.setValue(cfg.early_stopping.patience)
            if self.device.findText(cfg.device) < 0:
                self.device.addItem(cfg.device)
            self.device.setCurrentText(cfg.device)
            self.amp.setChecked(cfg.amp)
            self.seed.setValue(cfg.seed)
        finally:
            for w in self._inputs:
                w.blockSignals(False)

    def to_dict(self) -> dict[str, Any]:
        out = copy.deepcopy(self._extra)
        task = self.task.currentText()
        loss = self.loss.currentText()
        out.update(
            task=None if task.startswith("(") else task,
            loss=None if loss.startswith("(") else loss,
            optimizer=self.optimizer.currentText(),
            lr=float(self.lr.value()),
            batch_size=int(self.batch_size.value()),
            epochs=int(self.epochs.value()),
            weight_decay=float(self.weight_decay.value()),
            grad_clip=float(self.grad_clip.value()),
            l1=float(self.l1.value()),
            l2=float(self.l2.value()),
            device=self.device.currentText(),
            amp=self.amp.isChecked(),
            seed=int(self.seed.value()),
        )
        sched = out.get("schedule")
        sched = {"name": sched} if isinstance(sched, str) else dict(sched or {})
        sched["name"] = self.schedule.currentText()
        out["schedule"] = sched
        es = dict(out.get("early_stopping") or {})
        es["patience"] = int(self.patience.value())
        out["early_stopping"] = es
        return out


__all__ = ["TrainingPanel", "cuda_devices"]
