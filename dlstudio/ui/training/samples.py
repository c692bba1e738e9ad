"""The live sample grid of generative runs: GAN samples from the fixed noise, or inputs above their
reconstructions, replaced each epoch as the trainer's SamplesSaved events arrive."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

CAPTION = "A generative run (autoencoder, GAN) shows its sample grid here after each epoch."
TITLES = {"samples": "Generator samples from fixed noise", "reconstructions": "Inputs (top) and reconstructions"}


class SamplesView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = QLabel(CAPTION)
        self.caption.setWordWrap(True)
        self.image = QLabel()
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.image.setMinimumSize(160, 160)
        lay = QVBoxLayout(self)
        lay.addWidget(self.caption)
        lay.addWidget(self.image, 1)
        self._pixmap: QPixmap | None = None
        self.epoch = 0

    def clear(self) -> None:
        """No samples (another project was opened)."""
        self._pixmap = None
        self.image.clear()
        self.epoch = 0
        self.caption.setText(CAPTION)

    def show_grid(self, event: Any) -> None:
        """Show an event's grid (uint8 array H x W x C, C = 1 or 3)."""
        grid = getattr(event, "grid", None)
        if grid is None:
            return
        arr = np.ascontiguousarray(np.asarray(grid, dtype=np.uint8))
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = np.ascontiguousarray(arr[:, :, 0])
        h, w = arr.shape[:2]
        if arr.ndim == 2:
            img = QImage(arr.data, w, h, w, QImage.Format.Format_Grayscale8)
        else:
            img = QImage(arr.data, w, h, 3 * w, QImage.Format.Format_RGB888)
        self._pixmap = QPixmap.fromImage(img.copy())  # copy: the array's buffer is not kept alive
        self.epoch = int(event.epoch)
        title = TITLES.get(getattr(event, "kind", ""), "Samples")
        self.caption.setText(
            f"{title}, epoch {self.epoch} (change from the previous epoch: {float(getattr(event, 'change', 0.0)):.3f})"
        )
        self._rescale()

    def _rescale(self) -> None:
        if self._pixmap is not None:
            self.image.setPixmap(
                self._pixmap.scaled(
                    self.image.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation
                )
            )

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._rescale()
