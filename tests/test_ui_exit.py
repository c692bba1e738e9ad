"""Quitting after a copy must not crash: the clipboard's Python-made QMimeData is handed back to Qt first."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
from PySide6.QtCore import QMimeData
from PySide6.QtWidgets import QApplication
from dlstudio.ui.main_window import MIME_NODES, release_clipboard
app = QApplication([])
md = QMimeData()
md.setData(MIME_NODES, b'{"nodes": []}')
md.setText('{"nodes": []}')
app.clipboard().setMimeData(md)
release_clipboard(app)
assert app.clipboard().text() == '{"nodes": []}'
print("clean")
"""


def test_exit_after_copy_is_clean() -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, (out.returncode, out.stderr[-2000:])
    assert out.stdout.strip() == "clean"
