"""File dialogs (open, save, save as, export, import) start in the project's folder, or in the user's documents
for an untitled project or one opened from the installed examples, never in the install's examples/ folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import EXAMPLES, studio_window

from dlstudio.io.project import Project
from dlstudio.training.quick import mlp_for
from dlstudio.ui.files import EXAMPLES_DIR, documents_folder


@pytest.fixture
def win(qtbot, tmp_path: Path):
    asked: list[tuple[str, str]] = []

    def ask(kind: str, text: str) -> str:
        asked.append((kind, text))
        return "discard" if kind == "unsaved" else ""  # every file dialog cancelled

    w = studio_window(qtbot, tmp_path, ask)
    w.asked = asked  # type: ignore[attr-defined]
    yield w
    w.controller.undo_stack.setClean()


def _folders(win) -> dict[str, Path]:
    """Open every file dialog; the folder each starts in, by kind."""
    win.asked.clear()
    win.open_dialog()
    win.save_as_dialog()
    win.import_onnx_dialog()
    for kind in ("onnx", "python", "weights", "png"):
        win.export_dialog(kind)
    out = {}
    for kind, text in win.asked:
        if kind == "unsaved":
            continue
        p = Path(text)
        out[kind] = p if kind in ("open", "import") else p.parent
    assert set(out) == {"open", "save", "import", "export:onnx", "export:python", "export:weights", "export:png"}
    return out


def test_untitled_project_dialogs_start_in_documents(win) -> None:
    assert win.project.path is None
    assert set(_folders(win).values()) == {documents_folder()}


def test_saved_project_dialogs_start_in_its_folder(win, tmp_path: Path) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    path = folder / "iris.dlstudio"
    Project(graph=mlp_for("iris", (5,)), data={"dataset": "iris"}, meta={"name": "iris"}).save(path)
    assert win.open_path(path, ask_save=False)
    assert set(_folders(win).values()) == {folder.resolve()}


def test_an_opened_example_does_not_send_dialogs_to_the_examples_folder(win) -> None:
    assert win.open_path(EXAMPLES / "perceptron.dlstudio", ask_save=False)
    folders = _folders(win)
    assert EXAMPLES_DIR.resolve() not in {f.resolve() for f in folders.values()}
    assert set(folders.values()) == {documents_folder()}


def test_export_dialog_proposes_a_file_in_the_project_folder(qtbot, tmp_path: Path) -> None:
    from dlstudio.ui.export_dialogs import ExportDialog

    path = tmp_path / "iris.dlstudio"
    project = Project(graph=mlp_for("iris", (5,)), meta={"name": "iris"})
    project.save(path)
    dlg = ExportDialog("onnx", Project.load(path))
    qtbot.addWidget(dlg)
    assert Path(dlg.path.text()) == tmp_path.resolve() / "iris.onnx"
    untitled = ExportDialog("python", Project(graph=mlp_for("iris", (5,)), meta={"name": "iris"}))
    qtbot.addWidget(untitled)
    assert Path(untitled.path.text()) == documents_folder() / "iris.py"
