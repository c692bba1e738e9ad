"""New-from-template: every project in examples/ with a live preview of its graph."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.errors import DlstudioError
from ..io.project import Project
from .analysis import make_engine
from .controller import Controller
from .files import templates
from .theme import Theme

PREVIEW_W, PREVIEW_H = 560, 320


def render_preview(project: Project, theme: Theme, size: tuple[int, int] = (PREVIEW_W, PREVIEW_H)) -> QPixmap:
    """The project's graph drawn by the canvas scene itself, fitted into an image."""
    from .canvas.scene import GraphScene

    scene = GraphScene(project.graph, Controller(project.graph), make_engine(project.graph), theme)
    scene.show_grid = False
    img = QImage(size[0], size[1], QImage.Format.Format_ARGB32_Premultiplied)
    img.fill(QColor(theme.canvas))
    painter = QPainter(img)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    src = scene.itemsBoundingRect().adjusted(-30, -30, 30, 30)
    if not src.isEmpty():  # centred, aspect kept
        k = min(size[0] / src.width(), size[1] / src.height())
        w, h = src.width() * k, src.height() * k
        scene.render(
            painter, QRectF((size[0] - w) / 2, (size[1] - h) / 2, w, h), src, Qt.AspectRatioMode.KeepAspectRatio
        )
    painter.end()
    scene.detach()
    return QPixmap.fromImage(img)


class TemplateGallery(QDialog):
    def __init__(self, parent: QWidget | None, theme: Theme, directory: Path | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New from template")
        self.theme = theme
        self.chosen: Path | None = None
        self.list = QListWidget()
        self.list.setMinimumWidth(220)
        self.preview = QLabel("No examples found")
        self.preview.setMinimumSize(PREVIEW_W, PREVIEW_H)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.about = QLabel()
        self.about.setWordWrap(True)
        right = QVBoxLayout()
        right.addWidget(self.preview)
        right.addWidget(self.about)
        row = QHBoxLayout()
        row.addWidget(self.list, 1)
        row.addLayout(right, 3)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(row)
        lay.addWidget(buttons)
        for path in templates(directory) if directory else templates():
            item = QListWidgetItem(path.stem.replace("_", " "))
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            self.list.addItem(item)
        self.list.currentItemChanged.connect(self._show)
        self.list.itemDoubleClicked.connect(lambda *_: self.accept())
        if self.list.count():
            self.list.setCurrentRow(0)

    def _show(self, item: QListWidgetItem | None, _prev: object = None) -> None:
        if item is None:
            return
        path = Path(item.data(Qt.ItemDataRole.UserRole))
        self.chosen = path
        try:
            project = Project.load(path)
        except DlstudioError as exc:
            self.preview.setText(str(exc))
            return
        self.preview.setPixmap(render_preview(project, self.theme))
        desc = project.meta.get("description") or project.meta.get("explanation") or ""
        self.about.setText(f"<b>{project.name}</b> \u00b7 {len(project.graph)} layers<br>{desc}")
