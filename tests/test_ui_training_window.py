"""Training from the studio window: Train menu and toolbar, the editor stays usable during a run, a failing run
selects its node, closing the window ends the run's thread."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import studio_window

from dlstudio.io.project import Project
from dlstudio.training.events import Failed, Finished
from dlstudio.training.quick import mlp_for

# Bounds on waits, not expectations of speed: on a busy machine the training process (which runs below the
# window's priority) may get little CPU, so a short run can take minutes. A bound only has to tell a hang.
RUN_MS = 180_000  # a short run from Start to its end, the training process's start included
STEP_MS = 120_000  # the next thing a running run or a loader does: first batches, a pause taking hold, a preview
pytestmark = pytest.mark.timeout(480)


@pytest.fixture
def win(qtbot, tmp_path: Path):
    w = studio_window(qtbot, tmp_path, lambda kind, text: "", size=(1200, 800))
    yield w
    if w.training is not None:
        w.training.shutdown()
    w.controller.undo_stack.setClean()


def _project(tmp_path: Path, **training) -> Project:
    p = Project(
        graph=mlp_for("digits", (16,)),
        data={"dataset": "digits"},
        training={"epochs": 2, **training},
        meta={"name": "digits"},
    )
    p.path = tmp_path / "digits.dlstudio"
    return p


def test_train_from_the_window_while_editing(qtbot, win, tmp_path: Path) -> None:
    assert win.training is None  # built on first use only
    win.set_project(_project(tmp_path))
    win.act_train.trigger()
    ws = win.training
    assert ws is not None and ws.running and win.training_dock.isVisible()
    assert ws.training_panel.epochs.value() == 2  # the forms show the project's settings
    # the editor stays usable: add a layer and undo it while the run goes on
    with qtbot.waitSignal(ws.run_ended, timeout=RUN_MS) as blocker:
        nid = win.add_at_centre("ReLU")
        assert nid in win.project.graph
        win.undo()
        assert nid not in win.project.graph
    assert isinstance(blocker.args[0], Finished)
    assert Path(blocker.args[0].run_dir).parent == tmp_path / "runs"  # runs live beside the project
    # a new project reloads the forms
    other = _project(tmp_path, epochs=5)
    win.set_project(other)
    assert ws.training_panel.epochs.value() == 5


def test_failed_run_selects_the_node_and_close_ends_the_thread(qtbot, win, tmp_path: Path) -> None:
    g = mlp_for("sine", (16,))
    p = Project(
        graph=g,
        data={"dataset": "sine", "options": {"n_samples": 200}},
        training={"epochs": 3, "optimizer": "SGD", "lr": 1e6},
    )
    win.set_project(p)
    with qtbot.waitSignal(win.training_workspace().run_ended, timeout=RUN_MS) as blocker:
        assert win.start_training()
    fail = blocker.args[0]
    assert isinstance(fail, Failed) and fail.node_id
    assert win.scene.selected_node_ids() == [fail.node_id]  # the node that went non-finite is selected
    # a long run, then close the window: the thread stops and nothing is left running
    win.set_project(_project(tmp_path, epochs=500))
    assert win.start_training()
    qtbot.waitUntil(lambda: win.training.run is not None and len(win.training.run.batch_loss) > 0, timeout=STEP_MS)
    worker = win.training.worker
    ended: list[bool] = []
    worker.finished.connect(lambda: ended.append(True))
    win.close()
    assert ended and win.training.worker is None  # the thread ran to its end before the window went


def test_a_settings_edit_marks_the_document_modified_until_saved(qtbot, win, tmp_path: Path) -> None:
    project = _project(tmp_path)
    project.save()
    win.set_project(project)
    ws = win.training_workspace()
    assert not win.modified and not win.isWindowModified()
    ws.training_panel.epochs.setValue(7)  # a user edit in the training panel
    assert win.project.training["epochs"] == 7
    assert win.modified and win.isWindowModified()  # '*' in the title and the unsaved-changes prompt
    assert win.save()
    assert not win.modified
    assert Project.load(tmp_path / "digits.dlstudio").training["epochs"] == 7
