"""The layer palette: every registered LayerSpec by category, filtered by a search over name, category and
explanation. Drag an entry onto the canvas, or double-click to add it at the view centre."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QDrag, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from ..layers.registry import REGISTRY
from .canvas.view import MIME_LAYER
from .theme import category_colour

TYPE_ROLE = Qt.ItemDataRole.UserRole + 1


class _Tree(QTreeWidget):
    def startDrag(self, actions: Qt.DropAction) -> None:  # noqa: N802
        item = self.currentItem()
        type_name = item.data(0, TYPE_ROLE) if item is not None else None
        if not type_name:
            return
        drag = QDrag(self)
        drag.setMimeData(layer_mime(type_name))
        drag.setPixmap(_drag_pixmap(item.text(0), item.icon(0)))
        drag.exec(Qt.DropAction.CopyAction)


def _drag_pixmap(text: str, icon: QIcon) -> QPixmap:
    """A small card in the layer's category colour that follows the mouse while dragging."""
    colour = icon.pixmap(10, 10).toImage().pixelColor(5, 5)
    pix = QPixmap(150, 28)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setBrush(colour)
    p.setPen(colour.darker(130))
    p.drawRoundedRect(1, 1, 148, 26, 6, 6)
    p.setPen(QColor("#ffffff"))
    p.drawText(pix.rect(), Qt.AlignmentFlag.AlignCenter, text)
    p.end()
    return pix


def layer_mime(type_name: str) -> QMimeData:
    md = QMimeData()
    md.setData(MIME_LAYER, type_name.encode("utf-8"))
    md.setText(type_name)
    return md


class Palette(QWidget):
    add_requested = Signal(str)  # double-click: add at the view centre

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.search = QLineEdit(placeholderText="Search layers (name, category, what it does)")
        self.search.setClearButtonEnabled(True)
        self.tree = _Tree()
        self.tree.setHeaderHidden(True)
        self.tree.setDragEnabled(True)
        self.tree.setRootIsDecorated(True)
        self.tree.setIndentation(12)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.search)
        lay.addWidget(self.tree)
        self.items: dict[str, QTreeWidgetItem] = {}
        self._texts: dict[str, str] = {}
        self.populate()
        self.search.textChanged.connect(self.filter)
        self.tree.itemDoubleClicked.connect(self._double_clicked)

    def populate(self) -> None:
        self.tree.clear()
        self.items.clear()
        for category, specs in REGISTRY.by_category().items():
            if not specs:
                continue
            pix = QPixmap(10, 10)
            pix.fill(category_colour(category))
            icon = QIcon(pix)
            head = QTreeWidgetItem([category])
            head.setFlags(Qt.ItemFlag.ItemIsEnabled)
            head.setForeground(0, QBrush(category_colour(category)))
            f = head.font(0)
            f.setBold(True)
            head.setFont(0, f)
            self.tree.addTopLevelItem(head)
            for spec in specs:
                item = QTreeWidgetItem([spec.display_name])
                item.setIcon(0, icon)
                item.setData(0, TYPE_ROLE, spec.type)
                item.setToolTip(0, f"<b>{spec.display_name}</b> ({category})<br>{spec.explanation}")
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled)
                head.addChild(item)
                self.items[spec.type] = item
                self._texts[spec.type] = " ".join(
                    (spec.type, spec.display_name, category, spec.explanation, " ".join(spec.tags))
                ).lower()
            head.setExpanded(True)

    def filter(self, text: str) -> list[str]:
        """Shows only entries matching every word of `text`; returns the visible type names."""
        words = text.lower().split()
        visible: list[str] = []
        for i in range(self.tree.topLevelItemCount()):
            head = self.tree.topLevelItem(i)
            any_shown = False
            for j in range(head.childCount()):
                child = head.child(j)
                t = child.data(0, TYPE_ROLE)
                show = all(w in self._texts[t] for w in words)
                child.setHidden(not show)
                if show:
                    visible.append(t)
                    any_shown = True
            head.setHidden(not any_shown)
            if words and any_shown:
                head.setExpanded(True)
        return visible

    def _double_clicked(self, item: QTreeWidgetItem, _col: int) -> None:
        t = item.data(0, TYPE_ROLE)
        if t:
            self.add_requested.emit(t)
