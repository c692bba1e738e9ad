"""Quit never crashes: scripted studio sessions, each in a fresh process, that train / stop / export / open a
template / expand a block / switch to the dark theme / quit with Ctrl+Q, as a user would (the real window started
by `dlstudio.ui.main_window.launch`, its menus, dialogs and buttons).

A session passes when its process exits 0 and its stderr has no line naming "QObject" or "malloc" (Qt's
"shared QObject was deleted directly", glibc's heap-corruption aborts).

    python benchmarks/quit_sessions.py [--sessions 30] [--platform offscreen|xcb]
    python benchmarks/quit_sessions.py --one DIR      # one session in this process (what each child runs)

Under Xvfb: `Xvfb :77 -screen 0 1440x900x24 & DISPLAY=:77 python benchmarks/quit_sessions.py --platform xcb`.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BAD_LINE = re.compile(r"QObject|malloc", re.IGNORECASE)
STEP_TIMEOUT_S = 120.0
TRACE = bool(os.environ.get("DLSTUDIO_QUIT_TRACE"))
Wait = Callable[[], bool]


def _iris_project(folder: Path) -> Path:
    from dlstudio.io.project import Project
    from dlstudio.training.quick import mlp_for

    project = Project(
        graph=mlp_for("iris", (5,)),
        data={"dataset": "iris"},
        training={"epochs": 40, "lr": 0.01, "batch_size": 16, "seed": 1},
        meta={"name": "iris"},
    )
    path = folder / "iris.dlstudio"
    project.save(path)
    return path


def _answer_modal(export_dir: Path) -> None:
    """What the user does in each modal dialog: export and close, pick a template, discard unsaved changes."""
    from PySide6.QtWidgets import QApplication, QMessageBox

    from dlstudio.ui.export_dialogs import ExportDialog
    from dlstudio.ui.gallery import TemplateGallery

    dlg = QApplication.activeModalWidget()
    if TRACE:
        print(f"quit_sessions: modal {type(dlg).__name__}", flush=True)
    if isinstance(dlg, ExportDialog):
        dlg.export_to(export_dir / f"file-menu-{dlg.kind}{'.py' if dlg.kind == 'python' else '.onnx'}")
        dlg.accept()
    elif isinstance(dlg, TemplateGallery):
        rows = [dlg.list.item(i).text() for i in range(dlg.list.count())]
        dlg.list.setCurrentRow(rows.index("resnet mini"))
        dlg.accept()
    elif isinstance(dlg, QMessageBox):
        button = dlg.button(QMessageBox.StandardButton.Discard) or dlg.button(QMessageBox.StandardButton.No)
        if button is not None:
            button.click()
        else:
            dlg.reject()


def _session(win, export_dir: Path) -> Iterator[Wait]:
    """The user's steps; each `yield` waits (event loop running) until its predicate holds."""
    from PySide6.QtWidgets import QApplication

    from dlstudio.training.events import Finished

    yield lambda: win.isVisible() and len(win.project.graph) > 0
    ws = win.training_workspace()
    seen: list[object] = []
    ws.run_ended.connect(lambda e: seen.append(e))
    # train, then stop after an epoch or two
    win._actions["&Start training"].trigger()
    yield lambda: ws.run is not None and bool(ws.run.history)  # an epoch ended (its events come grouped)
    win._actions["S&top training"].trigger()
    yield lambda: len(seen) == 1 and not ws.running
    # train to the end; keep the best weights; look at every tab
    ws.start_button.click()
    yield lambda: len(seen) == 2 and not ws.running
    assert isinstance(seen[-1], Finished), seen[-1]
    if ws.keep_bar.isVisible():
        ws.keep_bar.keep_best.click()
    for i in range(ws.tabs.count()):
        ws.tabs.setCurrentIndex(i)
        yield lambda: True
    ws.runs.set_checked(0, True)  # overlay the stopped run on the loss plot
    ws.tabs.setCurrentIndex(0)
    # export: Train > Export (non-modal dialog), File > Export > ONNX and PyTorch code (modal dialogs)
    dlg = ws.open_export("onnx")
    dlg.export_to(export_dir / "train-menu.onnx")
    dlg.accept()
    for text in ("ONNX model (.onnx)...", "PyTorch code (.py)..."):
        win._actions[text].trigger()  # returns when the dialog closes (the modal handler answers it)
        yield lambda: QApplication.activeModalWidget() is None
    # open a template, expand its first block
    win._actions["New from &template..."].trigger()
    yield lambda: win.project.name.startswith("resnet")
    gid = next(g for g, grp in win.project.graph.groups.items() if grp.label == "res_block1")
    win.scene.clearSelection()
    win.scene.blocks[gid].setSelected(True)
    win._actions["&Collapse / expand"].trigger()
    yield lambda: not win.project.graph.group(gid).collapsed
    # the dark theme, then Ctrl+Q
    next(a for t, a in win._actions.items() if t == "Dark").trigger()
    yield lambda: True
    win._actions["&Quit"].trigger()


def run_one(folder: Path) -> int:
    """One session in this process, started the way `dlstudio` starts; returns the application's exit code."""
    os.environ.setdefault("XDG_CONFIG_HOME", str(folder / "config"))  # settings and recovery of this session only
    os.environ.setdefault("XDG_DATA_HOME", str(folder / "data"))
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from dlstudio.ui.main_window import MainWindow, launch

    app = QApplication(sys.argv[:1])
    project = _iris_project(folder)
    export_dir = folder / "exports"
    export_dir.mkdir()
    state: dict[str, object] = {"steps": None, "wait": None, "busy": False, "deadline": 0.0}

    def tick() -> None:
        if state["busy"]:
            return
        wins = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow)]
        if not wins:
            return
        if state["steps"] is None:
            state["steps"] = _session(wins[0], export_dir)
            state["deadline"] = time.monotonic() + STEP_TIMEOUT_S
        wait = state["wait"]
        try:
            ready = wait is None or wait()
        except Exception as exc:  # a step whose check fails ends the session, never hangs it
            print(f"quit_sessions: step check failed: {exc!r}", flush=True)
            os._exit(4)
        if not ready:
            if time.monotonic() > float(state["deadline"]):  # type: ignore[arg-type]
                print(f"quit_sessions: step timed out at {state['steps']}", file=sys.stdout, flush=True)
                os._exit(3)
            return
        state["busy"] = True
        try:
            state["wait"] = next(state["steps"])  # type: ignore[call-overload]
            if TRACE:
                print(f"quit_sessions: step at line {state['steps'].gi_frame.f_lineno}", flush=True)  # type: ignore[attr-defined]
            state["deadline"] = time.monotonic() + STEP_TIMEOUT_S
        except StopIteration:
            driver.stop()
        except Exception as exc:  # a failed step ends the session with its reason, never hangs it
            print(f"quit_sessions: step failed: {exc!r}", flush=True)
            os._exit(5)
        finally:
            state["busy"] = False

    driver = QTimer()
    driver.timeout.connect(tick)
    driver.start(30)
    # a timer never fires inside its own slot: a second one answers the modal dialogs a step opens
    answerer = QTimer()
    answerer.timeout.connect(lambda: state["busy"] and _answer_modal(export_dir))
    answerer.start(200)
    return launch([str(project)])


def run_many(sessions: int, platform: str, keep: bool = False) -> int:
    env = dict(os.environ, QT_QPA_PLATFORM=platform, PYTHONFAULTHANDLER="1")
    env.setdefault("DLSTUDIO_TRAIN_NICE", "0")
    clean = 0
    started = time.perf_counter()
    for i in range(1, sessions + 1):
        folder = Path(tempfile.mkdtemp(prefix="dlstudio-quit-"))
        t0 = time.perf_counter()
        try:
            out = subprocess.run(
                [sys.executable, __file__, "--one", str(folder)],
                capture_output=True,
                text=True,
                timeout=600,
                env=env,
            )
            code, stderr = out.returncode, out.stderr
        except subprocess.TimeoutExpired as exc:
            code, stderr = -9, (exc.stderr or b"").decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
        bad = [line for line in stderr.splitlines() if BAD_LINE.search(line)]
        ok = code == 0 and not bad
        clean += ok
        print(
            f"session {i:2d}: exit {code}, {len(bad)} QObject/malloc line(s), {time.perf_counter() - t0:.1f} s"
            + ("" if ok else "  <-- " + (bad[0] if bad else stderr.strip().splitlines()[-1:] or [""])[0]),
            flush=True,
        )
        if not ok:
            (folder / "stderr.txt").write_text(stderr)
            print(f"    stderr kept in {folder / 'stderr.txt'}", flush=True)
        elif not keep:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
    print(f"crash-free sessions: {clean}/{sessions} ({platform}, {time.perf_counter() - started:.0f} s)")
    return 0 if clean == sessions else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=30)
    ap.add_argument("--platform", default=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    ap.add_argument("--one", metavar="DIR", help="run one session in this process, its files under DIR")
    args = ap.parse_args()
    if args.one:
        return run_one(Path(args.one))
    return run_many(args.sessions, args.platform)


if __name__ == "__main__":
    sys.exit(main())
