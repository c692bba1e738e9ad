"""20 start/stop cycles in a row leave no threads behind and no growing memory."""

from __future__ import annotations

import os
import resource
from pathlib import Path

import pytest
from conftest import wait_for
from PySide6.QtCore import QCoreApplication, QEvent, QThread

from dlstudio.io.project import Project
from dlstudio.training.events import Finished
from dlstudio.training.quick import mlp_for

# 23 runs started and stopped; on a machine loaded by other work each can take several seconds
pytestmark = [pytest.mark.timeout(900), pytest.mark.slow]


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _children() -> list[int]:
    """Processes whose parent is this one (zombies too: an exited child nobody reaped is a leak as well)."""
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me:
            found.append(int(entry))
    return found


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def test_twenty_start_stop_cycles_leave_no_threads_and_no_growing_memory(qtbot, tmp_path: Path) -> None:
    from dlstudio.ui.training import TrainingWorkspace

    project = Project(
        graph=mlp_for("digits", (32,)), data={"dataset": "digits"}, training={"epochs": 100, "batch_size": 16}
    )
    ws = TrainingWorkspace(lambda: project, runs_root=tmp_path / "runs")
    qtbot.addWidget(ws, before_close_func=lambda w: w.shutdown())
    ws.load_project()

    ended: list[object] = []
    ws.run_ended.connect(ended.append)

    def cycle() -> None:
        assert ws.start()
        wait_for(lambda: ws.run is not None and len(ws.run.batch_loss) >= 2, 120, "two batches of the run")
        before = len(ended)
        ws.stop()
        wait_for(lambda: len(ended) > before, 120, "the run to end after Stop")
        assert isinstance(ended[-1], Finished) and ended[-1].stopped_by_user
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        wait_for(lambda: ws.worker is None, 30, "the worker to be released")

    for _ in range(3):  # warm-up: torch's thread pool, first compile, allocator caches
        cycle()
    threads0, rss0 = _threads(), _rss_mb()
    for _ in range(20):
        cycle()
    assert ws.worker is None and not ws.findChildren(QThread)
    assert _threads() <= threads0
    # every run's training process has exited; at most the one spare waits for the next run
    from dlstudio.ui.process_worker import SPARES

    spare = SPARES.spare.processId() if SPARES.spare is not None else None
    assert [pid for pid in _children() if pid != spare] == []
    grown = _rss_mb() - rss0
    assert grown < 40, f"RSS grew by {grown:.1f} MB over 20 cycles"
    assert len(ws.runs.runs) == 23 and all(r.status == "stopped" for r in ws.runs.runs)
