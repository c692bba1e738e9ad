"""Data and training settings forms. Each reads from and writes to the project's plain `data` / `training` dicts
(the same dicts the project file stores), so the settings are saved with the project."""

from __future__ import annotations

import copy
import math
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...training.config import MISSING, OPTIMIZERS, SCALING, SCHEDULES, SPLITS, TASKS, DataConfig, TrainingConfig
from ...training.data.builtin import BUILTINS
from ...training.defaults import describe, starting_values, with_starting_settings
from ...training.loss_table import LOSSES

USER_SOURCES = ("csv", "npz", "imagefolder")


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


def cuda_devices() -> list[str]:
    """ "auto", "cpu" and each accelerator torch finds (imports torch: the studio asks its training process)."""
    from ...training.loop import accelerators

    return ["auto", "cpu", *accelerators()]


def folder_grid(root: Path, cell: int = 32, cols: int = 8, rows: int = 4) -> tuple[np.ndarray, str]:
    """A (rows*cell, cols*cell, 3) uint8 grid of the first images of each class sub-folder, and a caption."""
    from PIL import Image

    from ...training.data.imagefolder import IMAGE_SUFFIXES

    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder")
    classes = sorted(d for d in root.iterdir() if d.is_dir())
    files = {d.name: sorted(p for p in d.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES) for d in classes}
    total = sum(len(v) for v in files.values())
    if not total:
        raise FileNotFoundError(f"no images in the class sub-folders of {root}")
    per_class = max(1, (cols * rows) // max(len(classes), 1))
    picked = [p for d in classes for p in files[d.name][:per_class]][: cols * rows]
    grid = np.full((rows * cell, cols * cell, 3), 255, dtype=np.uint8)
    for k, p in enumerate(picked):
        with Image.open(p) as im:
            a = np.asarray(im.convert("RGB").resize((cell, cell)))
        r, c = divmod(k, cols)
        grid[r * cell : (r + 1) * cell, c * cell : (c + 1) * cell] = a
    names = ", ".join(f"{d.name} ({len(files[d.name])})" for d in classes[:8]) + (" ..." if len(classes) > 8 else "")
    return grid, f"Preview: {total} images in {len(classes)} classes: {names}"


class DataPanel(QWidget):
    """Dataset choice with a description and a preview, split, scaling, missing values, augmentation."""

    changed = Signal()
    dataset_chosen = Signal(str)  # the dataset shown now (the training form follows it); before `changed`

    preview_loaded = Signal(object, object)  # (dataset, options) key, ArrayData or the exception; any thread

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        cfg = DataConfig()
        # built-in datasets load on a background thread (sklearn's import alone takes a second): the panel
        # shows at once and the preview follows
        self._preview_cache: dict[Any, Any] = {}
        self._preview_wanted: Any = None
        self.stale_previews_dropped = 0  # loads that finished after another dataset was chosen (not shown)
        self.preview_loaded.connect(self._on_preview_loaded, Qt.ConnectionType.QueuedConnection)
        lay = QVBoxLayout(self)
        self.form = form = QFormLayout()
        self.dataset = _combo(sorted(BUILTINS) + list(USER_SOURCES), cfg.dataset)
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.path = QLineEdit()
        self.path.setPlaceholderText("file or folder (CSV, .npz, image folder)")
        browse = QPushButton("Browse...")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path)
        row.addWidget(browse)
        self.target = QComboBox()
        self.target.setEditable(True)
        self.target.setToolTip("CSV target column (the other columns are features)")
        form.addRow("Dataset", self.dataset)
        form.addRow(self.description)
        form.addRow("Path", row)
        form.addRow("Target", self.target)
        # CSV columns: ticked = feature; "categorical" column = one-hot encode it
        self.columns = QTableWidget(0, 2)
        self.columns.setHorizontalHeaderLabels(["feature", "categorical"])
        self.columns.setMaximumHeight(150)
        self.columns.itemChanged.connect(lambda *_: self.changed.emit())
        form.addRow("CSV columns", self.columns)
        self.split = _combo(SPLITS, cfg.split)
        self.val_fraction = _dspin(cfg.val_fraction, 0.0, 0.9, 0.05, 2)
        self.test_fraction = _dspin(cfg.test_fraction, 0.0, 0.9, 0.05, 2)
        self.scaling = _combo(SCALING, cfg.scaling)
        self.missing = _combo(MISSING, cfg.missing)
        form.addRow("Split", self.split)
        form.addRow("Validation fraction", self.val_fraction)
        form.addRow("Test fraction", self.test_fraction)
        form.addRow("Scaling", self.scaling)
        form.addRow("Missing values", self.missing)
        aug = QHBoxLayout()
        self.flip = QCheckBox("flip")
        self.rotation = _dspin(0.0, 0.0, 180.0, 5.0, 0)
        self.rotation.setPrefix("rot ")
        self.shift = _ispin(0, 0, 16)
        self.shift.setPrefix("shift ")
        for w in (self.flip, self.rotation, self.shift):
            aug.addWidget(w)
        form.addRow("Augmentation", aug)
        lay.addLayout(form)
        self.preview_label = QLabel("Preview")
        lay.addWidget(self.preview_label)
        self.preview_plot = pg.PlotWidget()
        self.preview_plot.setMinimumHeight(140)
        self.preview_plot.setMaximumHeight(200)
        self.preview_table = QTableWidget()
        self.preview_table.setMinimumHeight(140)
        lay.addWidget(self.preview_plot)
        lay.addWidget(self.preview_table)
        self.preview_table.hide()
        self.dataset.currentTextChanged.connect(self._dataset_changed)
        for w in (self.split, self.scaling, self.missing):
            w.currentTextChanged.connect(self.changed)
        for w in (self.val_fraction, self.test_fraction, self.rotation):
            w.valueChanged.connect(self.changed)
        self.shift.valueChanged.connect(self.changed)
        self.flip.toggled.connect(self.changed)
        self.path.editingFinished.connect(self.changed)
        self.path.editingFinished.connect(self.show_preview)
        self.target.currentTextChanged.connect(self.changed)
        self._extra: dict[str, Any] = {}
        self._dataset_changed(self.dataset.currentText())

    # -------------------------------------------------------------------------------------------- preview
    def _browse(self) -> None:
        if self.dataset.currentText() == "imagefolder":
            path = QFileDialog.getExistingDirectory(self, "Image folder (one sub-folder per class)")
        else:
            path, _ = QFileDialog.getOpenFileName(self, "Data file", "", "Data (*.csv *.npz *.npy)")
        if path:
            self.path.setText(path)
            self.show_preview()
            self.changed.emit()

    def _csv_columns(self) -> None:
        """Fill the target picker and the preview table from the CSV header and first rows."""
        import csv

        if self.dataset.currentText() != "csv" or not self.path.text():
            return
        try:
            with open(self.path.text(), encoding="utf-8", newline="") as fh:
                rows = [r for _, r in zip(range(21), csv.reader(fh))]
        except OSError as exc:
            self.description.setText(f"Cannot read {self.path.text()}: {exc}")
            return
        if not rows:
            return
        header, body = rows[0], rows[1:]
        self.target.blockSignals(True)
        self.target.clear()
        self.target.addItems(header)
        wanted = self._extra.get("target")
        self.target.setCurrentText(wanted if wanted in header else header[-1])
        self.target.blockSignals(False)
        self._fill_columns(header)
        self._show_table(header, body)

    def _fill_columns(self, header: list[str]) -> None:
        feats = self._extra.get("features")
        cats = set(self._extra.get("categorical") or [])
        t = self.columns
        t.blockSignals(True)
        t.setRowCount(len(header))
        t.setVerticalHeaderLabels(header)
        for i, name in enumerate(header):
            for j, on in enumerate((feats is None or name in feats, name in cats)):
                item = QTableWidgetItem()
                item.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
                item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
                t.setItem(i, j, item)
        t.blockSignals(False)

    def _checked_columns(self, col: int) -> list[str]:
        t = self.columns
        return [
            t.verticalHeaderItem(i).text()
            for i in range(t.rowCount())
            if t.item(i, col) is not None and t.item(i, col).checkState() == Qt.CheckState.Checked
        ]

    def _show_table(self, header: list[str], rows: list[list[Any]]) -> None:
        self.preview_plot.hide()
        self.preview_table.show()
        t = self.preview_table
        t.clear()
        t.setColumnCount(len(header))
        t.setRowCount(len(rows))
        t.setHorizontalHeaderLabels(header)
        for i, r in enumerate(rows):
            for j, v in enumerate(r):
                t.setItem(i, j, QTableWidgetItem(f"{v:.4g}" if isinstance(v, float) else str(v)))

    def _dataset_changed(self, name: str) -> None:
        info = BUILTINS.get(name)
        user = name in USER_SOURCES
        self.path.setEnabled(user)
        self.target.setEnabled(name == "csv")
        self.form.setRowVisible(self.columns, name == "csv")
        if info is not None:
            self.description.setText(f"{info.doc}  Task: {info.task}; sample shape {tuple(info.shape)}.")
        else:
            self.description.setText(
                {
                    "csv": "A CSV table: pick the target column; the others are features.",
                    "npz": "A NumPy .npz file with arrays x and y.",
                    "imagefolder": "A folder with one sub-folder of images per class.",
                }[name]
            )
        self.show_preview()
        self.dataset_chosen.emit(name)
        self.changed.emit()

    def show_preview(self) -> None:
        """An image grid for images, a scatter for 2-D points, a line for series, a table otherwise."""
        name = self.dataset.currentText()
        info = BUILTINS.get(name)
        if name == "csv":
            self._csv_columns()
            return
        if info is None:
            self._preview_wanted = None
            try:
                self._user_preview(name, self.path.text().strip())
            except Exception as exc:  # noqa: BLE001 - a preview must never break the form
                self.preview_label.setText(f"Preview unavailable: {exc}")
            return
        options = self._extra.get("options")
        key = (name, repr(sorted((options or {}).items())))
        self._preview_wanted = key
        if key in self._preview_cache:
            self._on_preview_loaded(key, self._preview_cache[key])
            return
        self.preview_label.setText("Preview: loading...")

        def load() -> None:
            from ...training.data.builtin import load_builtin

            try:
                result: Any = load_builtin(name, options)
            except Exception as exc:  # noqa: BLE001 - shown in the label
                result = exc
            try:
                self.preview_loaded.emit(key, result)
            except RuntimeError:  # the panel was closed while its preview loaded: nothing left to show it in
                pass

        threading.Thread(target=load, name="dlstudio-preview", daemon=True).start()

    def _on_preview_loaded(self, key: Any, result: Any) -> None:
        if not isinstance(result, Exception):
            if len(self._preview_cache) >= 4:
                self._preview_cache.pop(next(iter(self._preview_cache)))
            self._preview_cache[key] = result
        if key != self._preview_wanted:  # the user picked another dataset meanwhile
            self.stale_previews_dropped += 1
            return
        if isinstance(result, Exception):
            self.preview_label.setText(f"Preview unavailable: {result}")
            return
        info = BUILTINS[key[0]]
        self._show_arrays(np.asarray(result.x), np.asarray(result.y), tuple(info.shape))

    def _user_preview(self, name: str, path: str) -> None:
        """An .npz file's arrays like a built-in dataset's; an image folder as a colour grid, a few per class."""
        plot = self.preview_plot
        plot.clear()
        self.preview_table.hide()
        plot.show()
        if not path:
            self.preview_label.setText("Preview: choose a " + ("folder" if name == "imagefolder" else "file"))
            return
        if name == "npz":
            with np.load(path, allow_pickle=False) as z:
                x, y = np.asarray(z["x"]), np.asarray(z["y"])
            self._show_arrays(x, y, tuple(x.shape[1:]))
            return
        grid, text = folder_grid(Path(path))
        self.preview_label.setText(text)
        plot.addItem(pg.ImageItem(grid.transpose(1, 0, 2)[:, ::-1], levels=(0, 255)))
        plot.setAspectLocked(True)
        plot.autoRange()

    def _show_arrays(self, x: np.ndarray, y: np.ndarray, shape: tuple[int, ...]) -> None:
        self.preview_label.setText(f"Preview: {len(x)} samples")
        plot = self.preview_plot
        plot.clear()
        self.preview_table.hide()
        plot.show()
        if x.ndim == 4 or (x.ndim == 3 and x.shape[1] > 1 and x.dtype != np.int64 and shape[-1] > 1):
            imgs = x[:32, 0] if x.ndim == 4 else x[:32]
            h, w = imgs.shape[1:3]
            grid = np.zeros((4 * h, 8 * w), dtype=np.float32)
            for k, im in enumerate(imgs):
                r, c = divmod(k, 8)
                grid[r * h : (r + 1) * h, c * w : (c + 1) * w] = im
            item = pg.ImageItem(grid.T[:, ::-1])
            plot.addItem(item)
            plot.setAspectLocked(True)
            plot.autoRange()
        elif x.ndim == 2 and x.shape[1] == 2:
            plot.setAspectLocked(False)
            classes = y.astype(int)
            brushes = [pg.intColor(int(c), hues=max(int(classes.max()) + 1, 2)) for c in classes[:800]]
            plot.addItem(pg.ScatterPlotItem(x[:800, 0], x[:800, 1], size=5, brush=brushes, pen=None))
        elif x.ndim == 2 and x.shape[1] == 1:
            plot.setAspectLocked(False)
            order = np.argsort(x[:, 0])
            plot.addItem(pg.ScatterPlotItem(x[order, 0], np.asarray(y, dtype=float).reshape(-1)[order], size=4))
        elif x.ndim == 3 and x.shape[2] == 1:
            plot.setAspectLocked(False)
            plot.plot(x[0, :, 0])
        else:
            header = [f"x{i}" for i in range(min(x.reshape(len(x), -1).shape[1], 12))] + ["target"]
            flat = x.reshape(len(x), -1)[:20, :12]
            self._show_table(
                header, [[*map(float, r), yi.item() if hasattr(yi, "item") else yi] for r, yi in zip(flat, y[:20])]
            )

    # ---------------------------------------------------------------------------------------------- dicts
    def load(self, data: dict[str, Any]) -> None:
        cfg = DataConfig.from_dict(data) if data else DataConfig()
        widgets = (
            self.dataset,
            self.split,
            self.scaling,
            self.missing,
            self.val_fraction,
            self.test_fraction,
            self.flip,
            self.rotation,
            self.shift,
            self.path,
            self.target,
        )
        for w in widgets:
            w.blockSignals(True)
        try:
            self._extra = {k: v for k, v in (data or {}).items()}
            self.dataset.setCurrentText(cfg.dataset)
            self.path.setText(cfg.path or "")
            self.target.setEditText(cfg.target or "")
            self.split.setCurrentText(cfg.split)
            self.scaling.setCurrentText(cfg.scaling)
            self.missing.setCurrentText(cfg.missing)
            self.val_fraction.setValue(cfg.val_fraction)
            self.test_fraction.setValue(cfg.test_fraction)
            self.flip.setChecked(cfg.augment.flip)
            self.rotation.setValue(cfg.augment.rotation)
            self.shift.setValue(cfg.augment.shift)
        finally:
            for w in widgets:
                w.blockSignals(False)
        self._dataset_changed(self.dataset.currentText())

    def to_dict(self) -> dict[str, Any]:
        """The form over the loaded dict: keys the form does not show (options, binding, ...) are kept."""
        out = copy.deepcopy(self._extra)
        name = self.dataset.currentText()
        out.update(
            dataset=name,
            split=self.split.currentText(),
            scaling=self.scaling.currentText(),
            missing=self.missing.currentText(),
            val_fraction=round(self.val_fraction.value(), 4),
            test_fraction=round(self.test_fraction.value(), 4),
        )
        aug = dict(out.get("augment") or {})
        aug.update(flip=self.flip.isChecked(), rotation=float(self.rotation.value()), shift=int(self.shift.value()))
        out["augment"] = aug
        if name in USER_SOURCES:
            out["path"] = self.path.text() or None
            if name == "csv" and self.target.currentText():
                target = self.target.currentText()
                out["target"] = target
                if self.columns.rowCount():
                    feats = [c for c in self._checked_columns(0) if c != target]
                    out["features"] = feats
                    out["categorical"] = [c for c in self._checked_columns(1) if c in feats]
        else:
            out.pop("path", None)
            if out.get("dataset") != (self._extra or {}).get("dataset"):
                out.pop("options", None)  # options belong to the previous dataset
        return out


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
        moved = False
        for name, w in self._starting_widgets().items():
            if math.isclose(w.value(), old[name], rel_tol=1e-9, abs_tol=1e-12):
                w.blockSignals(True)
                w.setValue(new[name])
                w.blockSignals(False)
                moved = moved or not math.isclose(old[name], new[name])
        if moved:
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


__all__ = ["DataPanel", "TrainingPanel", "cuda_devices"]
