"""Who deletes a Qt object: Qt (its parent) or Python (its wrapper). Getting this wrong crashed the studio on quit.

The crash ("QObject: shared QObject was deleted directly", then "malloc_consolidate(): unaligned fastbin chunk
detected" or a segfault) came from two facts together:

1. A widget added to a layout that is not yet installed on a widget (``row = QHBoxLayout(); row.addWidget(b)``,
   the layout added to the window's layout later) gets its Qt parent only when the outer layout is installed.
   PySide never learns of that parent, so its wrapper still says "Python owns this object".
2. At interpreter exit PySide deletes every object whose wrapper Python owns, one by one in hash order
   (``destroyQCoreApplication``). Deleting such a button frees the lambdas connected to its signals; when one of
   them held the last reference to the button's dialog (``clicked.connect(lambda: self.export_to(...))``), the
   dialog is deleted from Python in the middle of the button's destructor, and deletes the half-destroyed
   button a second time.

pyqtgraph does the same with the texts of its axes and labels (``QGraphicsTextItem(self)``): Python owns them
although they are child items, and a scene that clears itself can meet them twice.

So: `adopt_children` hands every Qt-parented object back to its parent (PySide's own ``setParent`` with the
parent it already has, which changes nothing in Qt), and `tear_down` deletes the windows from the top while the
application still runs, holding every wrapper meanwhile, so that parents delete their children in Qt's order
before PySide's exit sweep and no Python reference count reaches zero in the middle of it.
"""

from __future__ import annotations

import gc

import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, QObject
from PySide6.QtWidgets import QApplication, QGraphicsView, QWidget


def adopt_children(root: QObject) -> None:
    """Let Qt own every descendant of `root` that has a Qt parent but a Python-owned wrapper. Cheap (one walk
    over the object tree); call it after building a widget tree.

    PySide's ``findChildren`` already records the Qt parent of each object it returns (its wrapper stops owning
    it); whatever still claims Python ownership after that is handed over with ``setParent``."""
    for child in root.findChildren(QObject):
        parent = child.parent()
        if parent is None or not shiboken6.ownedByPython(child):
            continue
        if isinstance(child, QWidget):
            if isinstance(parent, QWidget):
                child.setParent(parent, child.windowFlags())  # the same parent and flags: Qt keeps it shown
        else:
            child.setParent(parent)


def tear_down(app: QApplication) -> None:
    """Delete the top-level widgets (and, through them, everything they parent) while the application is still
    alive, then run the deferred deletions and a garbage collection. Call after ``app.exec()`` returns.

    Every wrapper is held while Qt deletes: a destructor that frees a signal's lambda must not free the last
    reference to a Python-owned object that Qt is about to delete too (pyqtgraph's axis and label texts are
    such objects, inside a scene that is clearing itself). The wrappers are released one by one afterwards."""
    held = shiboken6.getAllValidWrappers()
    windows = [w for w in app.topLevelWidgets() if shiboken6.isValid(w) and w.parent() is None]
    for widget in windows:
        widget.close()
    for widget in windows:
        # graphics views first, each on its own: a pyqtgraph scene destroyed inside its window's cascade crashed
        # in a plot's layout (seen with the Results and Live plots after a run); alone it is destroyed cleanly
        for view in widget.findChildren(QGraphicsView) if shiboken6.isValid(widget) else []:
            if shiboken6.isValid(view):
                shiboken6.delete(view)
    for widget in windows:
        if shiboken6.isValid(widget):
            shiboken6.delete(widget)  # C++ delete: each child's wrapper is invalidated before its parent's
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    del held, windows
    gc.collect()
