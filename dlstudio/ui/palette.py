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


def rank(text: str, type_name: str, display_name: str, haystack: str, meta: str = "") -> tuple[int, int] | None:
    """How well a layer matches a search, lower first, or None when some word is missing from its name,
    category, tags and explanation. Name matches come first: exact, then prefix, then substring, then
    names that contain every word; then matches in the category or tags; then in the explanation only.
    The second number prefers an earlier position of the query in the name."""
    q = text.lower().strip()
    words = q.split()
    if not words or not all(w in haystack for w in words):
        return None
    names = {type_name.lower(), display_name.lower()}
    compact = q.replace(" ", "")
    for n in names:
        if n in (q, compact):
            return (0, 0)
    for n in names:
        if n.startswith(q) or n.startswith(compact):
            return (1, 0)
    at = [n.find(compact) for n in names if compact in n]
    if at:
        return (2, min(at))
    if all(any(w in n for n in names) for w in words):
        return (3, 0)
    if all(any(w in n for n in names) or w in meta.lower() for w in words):
        return (4, 0)
    return (5, 0)


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
        self._meta: dict[str, str] = {}  # category and tags
        self._order: dict[str, list[str]] = {}  # category -> type names as registered
        self._flat: list[tuple[QTreeWidgetItem, QTreeWidgetItem | None]] = []
        self.populate()
        self.search.textChanged.connect(self.filter)
        self.tree.itemDoubleClicked.connect(self._double_clicked)

    def populate(self) -> None:
        self._flat = []
        self.tree.clear()
        self.items.clear()
        self._order.clear()
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
                self._order.setdefault(category, []).append(spec.type)
                self._meta[spec.type] = " ".join((category, *spec.tags)).lower()
                self._texts[spec.type] = " ".join(
                    (spec.type, spec.display_name, category, spec.explanation, " ".join(spec.tags))
                ).lower()
            head.setExpanded(True)

    def filter(self, text: str) -> list[str]:
        """Shows only entries matching every word of `text`, ranked (see `rank`) in one flat list while
        searching, by category otherwise; returns the visible type names in the order shown."""
        words = text.lower().split()
        self._restore_categories()
        if not words:
            visible: list[str] = []
            for i in range(self.tree.topLevelItemCount()):
                head = self.tree.topLevelItem(i)
                head.setHidden(False)
                for j in range(head.childCount()):
                    head.child(j).setHidden(False)
                    visible.append(head.child(j).data(0, TYPE_ROLE))
            self.tree.setRootIsDecorated(True)
            return visible
        scored = []
        for t, item in self.items.items():
            score = rank(text, t, item.text(0), self._texts[t], self._meta[t])
            if score is not None:
                scored.append((score, len(item.text(0)), item.text(0).lower(), t))
        scored.sort()
        for i in range(self.tree.topLevelItemCount()):
            self.tree.topLevelItem(i).setHidden(True)
        self._flat = []
        for _s, _n, _l, t in scored:
            item = self.items[t]
            head = item.parent()
            if head is not None:
                head.removeChild(item)
            self._flat.append((item, head))
            self.tree.addTopLevelItem(item)
        self.tree.setRootIsDecorated(False)
        if scored:
            self.tree.setCurrentItem(self.items[scored[0][3]])
        return [t for *_, t in scored]

    def _restore_categories(self) -> None:
        """Put the entries a search listed flat back under their categories, in their original order."""
        flat = getattr(self, "_flat", [])
        if not flat:
            return
        for item, _head in flat:
            self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(item))
        for item, head in flat:
            if head is not None:
                head.addChild(item)
        self._flat = []
        for i in range(self.tree.topLevelItemCount()):
            head = self.tree.topLevelItem(i)
            order = self._order.get(head.text(0), [])
            kids = [head.takeChild(0) for _ in range(head.childCount())]
            kids.sort(key=lambda c: order.index(c.data(0, TYPE_ROLE)) if c.data(0, TYPE_ROLE) in order else 0)
            head.addChildren(kids)
            head.setExpanded(True)

    def _double_clicked(self, item: QTreeWidgetItem, _col: int) -> None:
        t = item.data(0, TYPE_ROLE)
        if t:
            self.add_requested.emit(t)
