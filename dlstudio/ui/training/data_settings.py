"""Data settings form: reads from and writes to the project's plain `data` dict (the same dict the project file
stores), so the settings are saved with the project."""

from __future__ import annotations

import copy
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...training.config import MISSING, SCALING, SPLITS, DataConfig
from ...training.data.builtin import BUILTINS
from ...training.defaults import starting_data_values
from .form_fields import _combo, _dspin, _ispin, move_starting_values

USER_SOURCES = ("csv", "npz", "imagefolder")


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
        self._shown_dataset = cfg.dataset  # whose starting values the form shows (see _follow_starting_values)
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

    def _data_starting_widgets(self) -> dict[str, Any]:
        """The widgets whose starting value may follow the dataset, by setting name."""
        return {"val_fraction": self.val_fraction, "test_fraction": self.test_fraction}

    def _follow_starting_values(self, dataset: str) -> None:
        """Another dataset is chosen: values still at the previous dataset's starting values move to this one's
        (diabetes validates on a quarter of its rows); values the user set stay."""
        general = DataConfig()
        widgets = self._data_starting_widgets()
        old = {name: getattr(general, name) for name in widgets} | starting_data_values(self._shown_dataset)
        new = {name: getattr(general, name) for name in widgets} | starting_data_values(dataset)
        self._shown_dataset = dataset
        move_starting_values(widgets, old, new)

    def _dataset_changed(self, name: str) -> None:
        self._follow_starting_values(name)
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
            self._shown_dataset = cfg.dataset  # the loaded values are the project's: nothing to follow
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


__all__ = ["USER_SOURCES", "DataPanel", "folder_grid"]
