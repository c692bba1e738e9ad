"""After training: confusion matrix heatmap, per-class precision/recall/F1, ROC curves, predicted-vs-true
scatter, a prediction gallery (mistakes first), the decision boundary of 2-D datasets (live during training),
and "Try it" (a test sample or a digit drawn with the mouse). Metrics are NumPy (dlstudio.training.metrics, checked
against sklearn by its tests): importing sklearn in the window froze it for a second after every first run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ...training.metrics import confusion_counts, per_class_scores, roc_auc, roc_curve_points
from ..workers import Boundary, Predictions


def _probabilities(p: Predictions) -> np.ndarray:
    s = np.asarray(p.scores, dtype=np.float64)
    if s.ndim == 1 or s.shape[1] == 1:
        pos = s.reshape(-1)
        return np.stack([1 - pos, pos], 1)
    return s.reshape(len(s), -1)


def _names(p: Predictions, n: int) -> list[str]:
    names = list(p.class_names or [])
    return [names[i] if i < len(names) else str(i) for i in range(n)]


def _image_of(x: np.ndarray) -> QImage | None:
    """A grey or colour QImage of one sample laid out (C, H, W) or (H, W), C = 1 or 3; None when it is not an
    image. Values are stretched to the sample's own range (inputs are usually scaled)."""
    a = np.asarray(x, dtype=np.float32)
    colour = a.ndim == 3 and a.shape[0] == 3
    if a.ndim == 3 and a.shape[0] == 1:
        a = a[0]
    if colour:
        a = a.transpose(1, 2, 0)  # (H, W, 3) for Qt
    elif a.ndim != 2:
        return None
    if min(a.shape[:2]) < 4:
        return None
    lo, hi = float(a.min()), float(a.max())
    g = np.ascontiguousarray(((a - lo) / (hi - lo + 1e-9) * 255).astype(np.uint8))
    h, w = g.shape[:2]
    if colour:
        img = QImage(g.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    else:
        img = QImage(g.data, w, h, w, QImage.Format.Format_Grayscale8)
    return img.copy()  # own the pixels: `g` goes away


class ResultsView(QTabWidget):
    """Fills its tabs from one Predictions object; the boundary tab updates from Boundary objects."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.predictions: Predictions | None = None
        self.summary = QLabel("Train a model to see its results here.")
        self.summary.setWordWrap(True)
        # confusion matrix
        self.cm_plot = pg.PlotWidget(title="Confusion matrix (rows: true, columns: predicted)")
        # cells not kept square: in a short dock square cells left no room for the class names under them
        self.cm_plot.setAspectLocked(False)
        self.cm_plot.invertY(True)
        self.cm_plot.setLabel("bottom", "predicted")
        self.cm_plot.setLabel("left", "true")
        self.cm_image = pg.ImageItem()
        self.cm_image.setColorMap(pg.colormap.get("viridis"))
        self.cm_plot.addItem(self.cm_image)
        self.cm_texts: list[pg.TextItem] = []
        self.confusion: np.ndarray | None = None
        cm_page = QWidget()
        cl = QVBoxLayout(cm_page)
        cl.addWidget(self.summary)
        cl.addWidget(self.cm_plot)
        self.addTab(cm_page, "Confusion matrix")
        # per-class table
        self.per_class = QTableWidget(0, 4)
        self.per_class.setHorizontalHeaderLabels(["precision", "recall", "F1", "support"])
        self.addTab(self.per_class, "Per class")
        # ROC
        self.roc_plot = pg.PlotWidget(title="ROC (one vs rest)")
        self.roc_plot.setLabel("bottom", "false positive rate")
        self.roc_plot.setLabel("left", "true positive rate")
        self.roc_plot.plot([0, 1], [0, 1], pen=pg.mkPen("#999", style=Qt.PenStyle.DashLine))
        self.roc_curves: list[Any] = []
        self.roc_label = QLabel()
        self.roc_label.setWordWrap(True)
        self.roc_page = roc_page = QWidget()
        rl = QVBoxLayout(roc_page)
        rl.addWidget(self.roc_label)
        rl.addWidget(self.roc_plot)
        self.addTab(roc_page, "ROC")
        # regression scatter
        self.scatter_plot = pg.PlotWidget(title="Predicted vs true")
        self.scatter_plot.setLabel("bottom", "true")
        self.scatter_plot.setLabel("left", "predicted")
        self.scatter_points = pg.ScatterPlotItem(size=5, brush=pg.mkBrush(31, 119, 180, 150), pen=None)
        self.scatter_plot.addItem(self.scatter_points)
        self.scatter_diagonal = self.scatter_plot.plot(pen=pg.mkPen("#999", style=Qt.PenStyle.DashLine))
        self.addTab(self.scatter_plot, "Predicted vs true")
        # gallery
        self.gallery = QWidget()
        self.gallery_grid = QGridLayout(self.gallery)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.gallery)
        self.addTab(scroll, "Gallery")
        self.gallery_count = 0
        # decision boundary
        self.boundary_plot = pg.PlotWidget(title="Decision boundary")
        self.boundary_image = pg.ImageItem()
        self.boundary_points = pg.ScatterPlotItem(size=6, pen=pg.mkPen("k", width=0.5))
        self.boundary_plot.addItem(self.boundary_image)
        self.boundary_plot.addItem(self.boundary_points)
        self.boundary: Boundary | None = None
        self.addTab(self.boundary_plot, "Decision boundary")
        self._pending_boundary: Boundary | None = None
        self._steps: list[Callable[[], None]] = []
        self._step_timer = QTimer(self, interval=0, timeout=self._next_step)

    # ------------------------------------------------------------------------------------------ predictions
    def show_predictions(self, p: Predictions) -> None:
        """Fill the views one per event-loop turn, so the GUI thread never blocks for long."""
        self.predictions = p
        steps = [self._regression] if p.kind == "regression" else [self._confusion, self._per_class, self._roc]
        self._steps = [lambda f=f: f(p) for f in (*steps, self._gallery)]
        if p.kind != "regression":
            k = _probabilities(p).shape[1]
            missing = (k * k if k <= 20 else 0) - len(self.cm_texts)
            self._steps[:0] = [self._grow_texts] * max(0, -(-missing // 25))
        self._step_timer.start()

    def clear(self) -> None:
        """Forget the shown results (another project was opened)."""
        self._steps = []
        self._step_timer.stop()
        self.predictions = None
        self.confusion = None
        self.summary.setText("Train a model to see its results here.")
        self.cm_image.clear()
        for t in self.cm_texts:
            t.setText("")
        for axis in ("bottom", "left"):
            self.cm_plot.getAxis(axis).setTicks(None)
        self.per_class.setRowCount(0)
        for c in self.roc_curves:  # a pool, reused by the next results
            c.setData([], [])
        self.roc_label.setText("")
        self.scatter_points.clear()
        self.scatter_diagonal.setData([], [])
        while self.gallery_grid.count():
            item = self.gallery_grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.gallery_count = 0
        self._pending_boundary = None
        self.boundary = None
        self.boundary_image.clear()
        self.boundary_points.clear()
        self.boundary_plot.setTitle("Decision boundary")

    @property
    def pending(self) -> bool:
        """True while views are still being filled from the last predictions."""
        return bool(self._steps)

    def _next_step(self) -> None:
        if self._steps:
            self._steps.pop(0)()
        if not self._steps:
            self._step_timer.stop()

    def _grow_texts(self, count: int = 25) -> None:
        for _ in range(count):
            t = pg.TextItem("", anchor=(0.5, 0.5))
            self.cm_plot.addItem(t)
            self.cm_texts.append(t)

    def _confusion(self, p: Predictions) -> None:
        prob = _probabilities(p)
        y = np.asarray(p.y).reshape(-1).astype(int)
        pred = prob.argmax(1)
        labels = list(range(prob.shape[1]))
        names = _names(p, len(labels))
        cm = confusion_counts(y, pred, len(labels))
        self.confusion = cm
        acc = float(np.mean(y == pred)) if len(y) else float("nan")
        self.summary.setText(f"{p.split.title()} split: {len(y)} samples, accuracy {acc:.3f}")
        self.cm_image.setImage(cm.T.astype(float), levels=(0, max(int(cm.max()), 1)))
        # a fixed pool of text items, reused: adding/removing plot items is slow and churns signal connections
        n = len(labels) if len(labels) <= 20 else 0
        if len(self.cm_texts) < n * n:
            self._grow_texts(n * n - len(self.cm_texts))
        hi = cm.max() or 1
        for k, t in enumerate(self.cm_texts):
            i, j = divmod(k, n) if n else (0, 0)
            if k < n * n:
                t.setText(str(cm[i, j]), color="k" if cm[i, j] > 0.6 * hi else "w")
                t.setPos(j + 0.5, i + 0.5)
            else:
                t.setText("")
        ax_ticks = [[(i + 0.5, n) for i, n in enumerate(names)]]
        self.cm_plot.getAxis("bottom").setTicks(ax_ticks)
        self.cm_plot.getAxis("left").setTicks(ax_ticks)

    def _per_class(self, p: Predictions) -> None:
        prob = _probabilities(p)
        y = np.asarray(p.y).reshape(-1).astype(int)
        pred = prob.argmax(1)
        labels = list(range(prob.shape[1]))
        names = _names(p, len(labels))
        cm = confusion_counts(y, pred, len(labels))
        pr, rc, f1 = per_class_scores(cm)
        sup = cm.sum(axis=1)
        t = self.per_class
        t.setRowCount(len(labels))
        t.setVerticalHeaderLabels(names)
        for i in range(len(labels)):
            for j, v in enumerate((f"{pr[i]:.3f}", f"{rc[i]:.3f}", f"{f1[i]:.3f}", str(int(sup[i])))):
                t.setItem(i, j, QTableWidgetItem(v))

    def _roc(self, p: Predictions) -> None:
        prob = _probabilities(p)
        y = np.asarray(p.y).reshape(-1).astype(int)
        labels = list(range(prob.shape[1]))
        names = _names(p, len(labels))
        classes = [1] if prob.shape[1] == 2 else labels
        while len(self.roc_curves) < len(classes):
            self.roc_curves.append(self.roc_plot.plot())
        aucs = []
        for c, curve in enumerate(self.roc_curves):
            k = classes[c] if c < len(classes) else -1
            yk = (y == k).astype(int)
            if k < 0 or yk.min() == yk.max():  # ROC needs both classes present
                curve.setData([], [])
                continue
            fpr, tpr = roc_curve_points(yk, prob[:, k])
            aucs.append(f"{names[k]}: {roc_auc(yk.astype(bool), prob[:, k]):.3f}")
            curve.setData(fpr, tpr, pen=pg.mkPen(pg.intColor(k, hues=max(len(labels), 2)), width=2))
        self.roc_label.setText("AUC (one vs rest)  " + "   ".join(aucs))
        self.setTabEnabled(self.indexOf(self.scatter_plot), False)
        for w in (self.roc_page, self.per_class):
            self.setTabEnabled(self.indexOf(w), True)

    def _regression(self, p: Predictions) -> None:
        y = np.asarray(p.y, dtype=float).reshape(len(p.y), -1)[:, 0]
        s = np.asarray(p.scores, dtype=float).reshape(len(p.scores), -1)[:, 0]
        self.scatter_points.setData(y, s)
        lo, hi = float(min(y.min(), s.min())), float(max(y.max(), s.max()))
        self.scatter_diagonal.setData([lo, hi], [lo, hi])
        spread = float(((y - y.mean()) ** 2).sum()) if len(y) > 1 else 0.0
        r2 = 1.0 - float(((y - s) ** 2).sum()) / spread if spread > 0 else float("nan")
        mae = float(np.abs(y - s).mean()) if len(y) else float("nan")
        self.summary.setText(f"{p.split.title()} split: {len(y)} samples, MAE {mae:.4g}, R2 {r2:.3f}")
        self.confusion = None
        self.setTabEnabled(self.indexOf(self.scatter_plot), True)
        for w in (self.roc_page, self.per_class):
            self.setTabEnabled(self.indexOf(w), False)
        self.setCurrentWidget(self.scatter_plot)

    def _gallery(self, p: Predictions, limit: int = 48) -> None:
        while self.gallery_grid.count():
            item = self.gallery_grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.gallery_count = 0
        if p.kind == "regression" or _image_of(p.x[0]) is None:
            self.gallery_grid.addWidget(QLabel("The gallery shows image datasets."), 0, 0)
            return
        prob = _probabilities(p)
        pred = prob.argmax(1)
        y = np.asarray(p.y).reshape(-1).astype(int)
        names = _names(p, prob.shape[1])
        order = np.argsort((pred == y).astype(int) * 2 - prob.max(1), kind="stable")[:limit]  # mistakes first
        # 16 cells per event-loop turn: building many labels at once would stall the GUI thread
        self._steps[:0] = [
            lambda c=c: self._gallery_cells(p, order, pred, y, names, c, c + 16) for c in range(0, len(order), 16)
        ]

    def _gallery_cells(
        self,
        p: Predictions,
        order: np.ndarray,
        pred: np.ndarray,
        y: np.ndarray,
        names: list[str],
        start: int,
        stop: int,
    ) -> None:
        for k in range(start, min(stop, len(order))):
            i = order[k]
            img = _image_of(p.x[i])
            assert img is not None
            cell = QLabel()
            cell.setPixmap(QPixmap.fromImage(img).scaled(56, 56))
            ok = pred[i] == y[i]
            cell.setToolTip(f"sample {i}")
            text = QLabel(f"pred {names[pred[i]]}\ntrue {names[y[i]]}")
            text.setStyleSheet("color: #1a7f37;" if ok else "color: #b00020; font-weight: bold;")
            box = QWidget()
            bl = QVBoxLayout(box)
            bl.setContentsMargins(2, 2, 2, 2)
            bl.addWidget(cell)
            bl.addWidget(text)
            self.gallery_grid.addWidget(box, k // 8, k % 8)
            self.gallery_count += 1

    # ------------------------------------------------------------------------------------- decision boundary
    def set_boundary(self, b: Boundary) -> None:
        """Store the newest grid; `repaint()` draws it (the workspace calls it from its timer)."""
        self._pending_boundary = b

    def repaint(self) -> None:
        b = self._pending_boundary
        if b is None:
            return
        self._pending_boundary = None
        self.boundary = b
        n = int(max(b.labels.max(), b.targets.max() if len(b.targets) else 0)) + 1
        colours = np.array([pg.intColor(k, hues=max(n, 2)).getRgb()[:3] for k in range(n)], dtype=np.float32)
        # blend each cell's class colour with white by confidence: pale near the boundary
        alpha = np.clip((b.confidence - 1.0 / n) / (1 - 1.0 / n + 1e-9), 0, 1)[..., None] * 0.45
        rgb = colours[b.labels] * alpha + 255 * (1 - alpha)
        self.boundary_image.setImage(rgb.transpose(1, 0, 2).astype(np.uint8), levels=(0, 255))
        dx = (b.xs[-1] - b.xs[0]) / max(len(b.xs) - 1, 1)
        dy = (b.ys[-1] - b.ys[0]) / max(len(b.ys) - 1, 1)
        self.boundary_image.setRect(
            float(b.xs[0] - dx / 2), float(b.ys[0] - dy / 2), float(dx * len(b.xs)), float(dy * len(b.ys))
        )
        brushes = [pg.mkBrush(pg.intColor(int(c), hues=max(n, 2))) for c in b.targets]
        self.boundary_points.setData(b.points[:, 0], b.points[:, 1], brush=brushes)
        self.boundary_plot.setTitle(f"Decision boundary after epoch {b.epoch}")


class DrawPad(QWidget):
    """A 28x28 canvas drawn with the mouse (thick white strokes on black, like the digits)."""

    drawn = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedSize(196, 196)
        self.image = QImage(196, 196, QImage.Format.Format_Grayscale8)
        self.image.fill(0)
        self._last: QPointF | None = None

    def clear(self) -> None:
        self.image.fill(0)
        self.update()
        self.drawn.emit()

    def stroke(self, points: list[tuple[float, float]]) -> None:
        """Draw a polyline in widget coordinates (what a mouse drag does; also used by tests)."""
        p = QPainter(self.image)
        p.setPen(QPen(QColor("white"), 18, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            p.drawLine(QPointF(x0, y0), QPointF(x1, y1))
        p.end()
        self.update()
        self.drawn.emit()

    def mousePressEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        self._last = e.position()

    def mouseMoveEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        if self._last is not None:
            pos = e.position()
            self.stroke([(self._last.x(), self._last.y()), (pos.x(), pos.y())])
            self._last = pos

    def mouseReleaseEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        self._last = None

    def paintEvent(self, e: QPaintEvent) -> None:  # noqa: N802
        QPainter(self).drawImage(0, 0, self.image)

    def array(self, size: int) -> np.ndarray:
        """The drawing scaled to size x size, values in [0, 1]."""
        small = self.image.scaled(
            size, size, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
        small = small.convertToFormat(QImage.Format.Format_Grayscale8)
        bpl = small.bytesPerLine()
        buf = np.frombuffer(small.constBits(), dtype=np.uint8).reshape(size, bpl)[:, :size]
        return buf.astype(np.float32) / 255.0


class TryIt(QWidget):
    """Feed a held-out sample, or a drawn digit for 1xHxW digit models, and see the model's outputs."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.predict: Callable[[np.ndarray], np.ndarray] | None = None
        self.predictions: Predictions | None = None
        self.index = QSpinBox()
        self.index.setPrefix("sample ")
        self.index.valueChanged.connect(self.show_sample)
        self.sample_label = QLabel()
        self.sample_label.setMinimumSize(112, 112)
        self.pad = DrawPad()
        self.pad.drawn.connect(self.run_drawing)
        clear = QPushButton("Clear drawing")
        clear.clicked.connect(self.pad.clear)
        self.result = QLabel("Train a model first.")
        self.result.setWordWrap(True)
        self.bars_plot = pg.PlotWidget(title="Model output")
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.7, brush="#1f77b4")
        self.bars_plot.addItem(self.bars)
        self.outputs: np.ndarray | None = None
        left_box = QWidget()
        left = QVBoxLayout(left_box)
        left.addWidget(self.index)
        left.addWidget(self.sample_label)
        left.addWidget(QLabel("Or draw a digit:"))
        left.addWidget(self.pad)
        left.addWidget(clear)
        left.addStretch(1)
        # scrolled: the sample and the drawing pad would otherwise set the whole training dock's minimum height
        left_scroll = QScrollArea()
        left_scroll.setWidget(left_box)
        left_scroll.setWidgetResizable(True)
        left_scroll.setFrameShape(QFrame.Shape.NoFrame)
        left_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        left_scroll.setMinimumWidth(left_box.sizeHint().width() + 16)
        right = QVBoxLayout()
        right.addWidget(self.result)
        right.addWidget(self.bars_plot)
        lay = QHBoxLayout(self)
        lay.addWidget(left_scroll)
        lay.addLayout(right, 1)

    def set_model(self, predict: Callable[[np.ndarray], np.ndarray], p: Predictions | None) -> None:
        self.predict = predict
        self.predictions = p
        drawable = p is not None and len(p.input_shape) == 3 and p.input_shape[0] == 1 and p.kind != "regression"
        self.pad.setEnabled(drawable)
        if p is not None:
            self.index.setRange(0, len(p.x) - 1)
            self.show_sample(self.index.value())

    def clear(self) -> None:
        """No model (another project was opened)."""
        self.predict = None
        self.predictions = None
        self.outputs = None
        self.sample_label.clear()
        self.pad.clear()
        self.result.setText("Train a model first.")
        self.bars.setOpts(x=[], height=[])
        self.bars_plot.getAxis("bottom").setTicks(None)

    def show_sample(self, i: int) -> None:
        p = self.predictions
        if p is None or self.predict is None or not 0 <= i < len(p.x):
            return
        img = _image_of(p.x[i])
        if img is not None:
            self.sample_label.setPixmap(QPixmap.fromImage(img).scaled(112, 112))
        else:
            self.sample_label.setText(", ".join(f"{v:.3g}" for v in np.asarray(p.x[i]).reshape(-1)[:8]))
        true = np.asarray(p.y[i]).reshape(-1)
        self._show(self.predict(p.x[i : i + 1])[0], f"true: {self._label(true)}")

    def run_drawing(self) -> None:
        p = self.predictions
        if self.predict is None or p is None or not self.pad.isEnabled():
            return
        _, h, w = p.input_shape
        x = self.pad.array(h)[None, None]
        if w != h:
            x = np.resize(x, (1, 1, h, w))
        self._show(self.predict(x.astype(np.float32))[0], "your drawing")

    def _label(self, value: np.ndarray) -> str:
        p = self.predictions
        if p is None or p.kind == "regression":
            return ", ".join(f"{v:.4g}" for v in value)
        k = int(value[0])
        names = p.class_names or []
        return names[k] if k < len(names) else str(k)

    def _show(self, out: np.ndarray, what: str) -> None:
        out = np.asarray(out, dtype=float).reshape(-1)
        self.outputs = out
        p = self.predictions
        if p is not None and p.kind != "regression":
            prob = out if len(out) > 1 else np.array([1 - out[0], out[0]])
            k = int(prob.argmax())
            names = _names(p, len(prob))
            self.result.setText(f"{what}: predicted <b>{names[k]}</b> ({prob[k]:.1%})")
            self.bars.setOpts(x=np.arange(len(prob)), height=prob)
            self.bars_plot.getAxis("bottom").setTicks([[(i, n) for i, n in enumerate(names)]])
        else:
            self.result.setText(f"{what}: output " + ", ".join(f"{v:.4g}" for v in out))
            self.bars.setOpts(x=np.arange(len(out)), height=out)
