"""The training workspace: data and training settings on the left; live plots, runs, results and "Try it" on
the right; Start / Pause / Stop / Resume-from-checkpoint / Export.

    ws = TrainingWorkspace(lambda: window.project)     # any callable returning the current Project
    ws.load_project()                                  # fill the forms from project.data / project.training
    ws.start()                                         # train a copy of the graph taken now
    ws.project_changed()                               # another project: its runs from disk, stale results gone

A run trains a snapshot of the project taken when it starts, so the graph stays editable during the run and
edits do not reach the running model.
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ...core.errors import DlstudioError
from ...io.project import Project
from ...training.events import EpochEnd, EpochStarted, Event, Failed, Finished
from ...training.predictions import TrainedModel
from ...training.runs import RunInfo, read_run
from ..process_worker import SPARES, TrainingProcess
from ..workers import Predictions, TrainingWorker, predict
from .live import LivePlots, RunRecord, RunsList
from .results import ResultsView, TryIt
from .runs import KeepWeightsBar, install_runs_comparison, record_of
from .samples import SamplesView
from .settings import DataPanel, TrainingPanel

# plots repaint at most 5 times a second, never per batch, and only after events came: the training process sends
# its batch events at the same rate, so a message that finds the repaint due is painted in the same wakeup and
# nothing wakes the window in between (on 2 cores each wakeup takes a core from one of the run's threads)
REPAINT_MS = 200
REPAINT_EARLY_MS = 50  # a message this close to the next repaint is painted at once (see _schedule_repaint)


def snapshot(project: Project) -> Project:
    """An independent copy of the project (graph and settings) for one run."""
    return Project(
        graph=project.graph.copy(),
        data=copy.deepcopy(project.data),
        training=copy.deepcopy(project.training),
        meta=copy.deepcopy(project.meta),
        path=project.path,
    )


class TrainingWorkspace(QWidget):
    run_started = Signal()
    run_ended = Signal(object)  # the last event (Finished or Failed), or None when setup failed
    node_failed = Signal(str)  # id of the node that went non-finite or does not fit the data
    settings_changed = Signal()
    weights_kept = Signal(str)  # the sidecar written (or to be written with the first save)

    def __init__(
        self,
        project_provider: Callable[[], Project],
        parent: QWidget | None = None,
        *,
        runs_root: str | Path | None = None,
        reserve_gui_core: bool = True,
        isolation: str = os.environ.get("DLSTUDIO_TRAIN_ISOLATION", "process"),
    ) -> None:
        super().__init__(parent)
        # "process": each run trains in a child process (full speed, a responsive window); "thread": in a QThread
        # of this process (no process start; the GUI and the trainer then share one interpreter lock)
        self.isolation = isolation
        self.reserve_gui_core = reserve_gui_core
        self.project_provider = project_provider
        self.runs_root = Path(runs_root) if runs_root is not None else None
        self.worker: TrainingWorker | TrainingProcess | None = None
        self.trainer: Any = None  # the last run's trainer or TrainedModel (for Try it / export)
        self.run_project: Project | None = None
        self.run: RunRecord | None = None
        self.last_event: Event | None = None
        self.predictions: Predictions | None = None
        self.pending_keep: tuple[RunInfo, str] | None = None  # kept while untitled: written on the first save
        self._loading = False
        self._threads_before = 0

        self.data_panel = DataPanel()
        self.training_panel = TrainingPanel()
        self.training_panel.follow(self.data_panel)  # starting lr/epochs/batch follow the dataset
        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.stop_button = QPushButton("Stop")
        self.resume_button = QPushButton("Resume from checkpoint...")
        self.export_button = QPushButton("Export...")
        self.start_button.clicked.connect(lambda: self.start())
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button.clicked.connect(self.stop)
        self.resume_button.clicked.connect(self._resume_dialog)
        self.export_button.clicked.connect(lambda: self.open_export("onnx"))
        buttons = QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.stop_button):
            buttons.addWidget(b)
        buttons2 = QHBoxLayout()
        buttons2.addWidget(self.resume_button)
        buttons2.addWidget(self.export_button)

        # training settings first, in their own tab: learning rate, epochs and batch size are the first rows a
        # user sees, not rows below the data form's fold
        self.settings_tabs = QTabWidget()
        for panel, title in ((self.training_panel, "Training"), (self.data_panel, "Data")):
            page = QScrollArea()
            page.setWidgetResizable(True)
            page.setFrameShape(QFrame.Shape.NoFrame)
            page.setWidget(panel)
            self.settings_tabs.addTab(page, title)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(4, 4, 4, 0)
        ll.addLayout(buttons)
        ll.addLayout(buttons2)
        ll.addWidget(self.settings_tabs, 1)
        left.setMinimumWidth(330)

        self.live = LivePlots()
        self.runs = RunsList()
        self.results = ResultsView()
        self.try_it = TryIt()
        self.samples = SamplesView()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.live, "Live")
        self.tabs.addTab(self.runs, "Runs")
        self.tabs.addTab(self.results, "Results")
        self.tabs.addTab(self.try_it, "Try it")
        self.tabs.addTab(self.samples, "Samples")
        self.keep_bar = KeepWeightsBar()
        self.keep_bar.keep_requested.connect(self.keep_weights)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.keep_bar)
        rl.addWidget(self.tabs, 1)
        split = QSplitter()
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(1, 3)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(split)

        self._try_it_pending: Callable[[], None] | None = None
        self.tabs.currentChanged.connect(self._tab_changed)
        self.runs.overlay_changed.connect(self.live.set_overlays)
        install_runs_comparison(self.runs)  # ticked runs: settings diff table beside their overlaid curves
        self.data_panel.changed.connect(self._settings_edited)
        self.training_panel.changed.connect(self._settings_edited)
        self.timer = QTimer(self, singleShot=True, interval=REPAINT_MS, timeout=self._repaint)
        # precise: a coarse timer may fire up to 5 % early, and repaints would then come closer than REPAINT_MS
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._painted_at = 0.0  # perf_counter of the last repaint
        self._runs_stale = False  # an epoch ended since the runs table was last rebuilt
        self._update_buttons()
        if self.isolation == "process":
            SPARES.prepare()  # a training process imports torch now, so that Start is quick
            if SPARES.devices is not None:
                self.training_panel.add_devices(SPARES.devices)
            SPARES.devices_found.connect(self.training_panel.add_devices)
        else:
            from .settings import cuda_devices

            self.training_panel.add_devices(cuda_devices()[2:])
        from .. import freeze_startup_objects

        freeze_startup_objects()  # the plots and panels just loaded: keep full collections short while training

    # ------------------------------------------------------------------------------------------ settings
    def load_project(self) -> None:
        """Fill the forms from the current project's data and training settings."""
        project = self.project_provider()
        self._loading = True
        try:
            self.data_panel.load(project.data)
            self.training_panel.load(project.training)
        except DlstudioError as exc:
            self.live.set_status(f"The project's settings are invalid: {exc}", error=True)
        finally:
            self._loading = False

    def project_changed(self) -> None:
        """Another project is shown: fill the forms, list its runs (read from its runs folder) and clear the
        results, Try it and samples of the previous one. A run in progress keeps going and keeps its views."""
        self.load_project()
        if self.worker is not None:
            return
        self.trainer = None
        self.run_project = None
        self.run = None
        self.last_event = None
        self.predictions = None
        self.pending_keep = None
        self._try_it_pending = None
        self.keep_bar.hide()
        self.results.clear()
        self.try_it.clear()
        self.samples.clear()
        from ..run_weights import saved_runs

        project = self.project_provider()
        self.runs.runs[:] = [record_of(info) for info in saved_runs(project)]
        self.runs.refresh()
        self.live.set_overlays([])
        # the live plots show the newest saved run's curves (or nothing): never the previous project's
        last = self.runs.runs[-1] if self.runs.runs else RunRecord("", {})
        self.live.start(last, max(len(last.history), int(project.training.get("epochs", 10) or 10)))
        self.live.set_status(
            f"Last run: {last.name} ({last.status}), read from its folder" if self.runs.runs else "Not started"
        )

    def known_runs(self) -> list[RunInfo]:
        """The runs listed in the Runs tab, read back from their folders (oldest first)."""
        infos = (read_run(r.run_dir) for r in self.runs.runs if r.run_dir)
        return [i for i in infos if i is not None]

    def moved_runs(self, moved: dict[Path, Path]) -> None:
        """Run folders moved (an untitled project's runs, on its first save): follow them."""
        for r in self.runs.runs:
            if r.run_dir and Path(r.run_dir) in moved:
                new = moved[Path(r.run_dir)]
                r.run_dir, r.name = str(new), new.name
        if self.pending_keep is not None and self.pending_keep[0].path in moved:
            info = read_run(moved[self.pending_keep[0].path])
            self.pending_keep = (info, self.pending_keep[1]) if info is not None else None
        self.runs.refresh()

    def keep_weights(self, run: RunInfo, which: str) -> bool:
        """Keep a run's weights as the project's weights: the sidecar now for a saved project, on the first save
        for an untitled one. False (with the reason in the bar) when they do not fit the project's graph."""
        project = self.project_provider()
        what = run.describe(which)
        if project.path is None:
            self.pending_keep = (run, which)
            self.keep_bar.show_message(f"Kept {what}: written beside the project when you save it.")
            self.weights_kept.emit("")
            return True
        from ..run_weights import keep_run_weights

        try:
            path = keep_run_weights(project, run, which)
        except (DlstudioError, OSError) as exc:
            self.keep_bar.show_message(f"Could not keep the weights of {run.name}: {exc}")
            return False
        self.pending_keep = None
        self.keep_bar.show_message(f"Kept {what} as the project's weights ({path.name}).")
        self.weights_kept.emit(str(path))
        return True

    def write_pending_weights(self) -> Path | None:
        """After the first save: write the weights kept while the project was untitled."""
        if self.pending_keep is None:
            return None
        run, which = self.pending_keep
        project = self.project_provider()
        from ..run_weights import keep_run_weights

        path = keep_run_weights(project, run, which)
        self.pending_keep = None
        self.keep_bar.show_message(f"Kept {run.describe(which)} as the project's weights ({path.name}).")
        return path

    def _settings_edited(self) -> None:
        if self._loading:
            return
        project = self.project_provider()
        project.data = self.data_panel.to_dict()
        project.training = self.training_panel.to_dict()
        self.settings_changed.emit()

    # --------------------------------------------------------------------------------------------- runs
    @property
    def running(self) -> bool:
        return self.worker is not None

    def _run_dir(self, project: Project) -> Path:
        from ..run_weights import runs_dir

        base = self.runs_root if self.runs_root is not None else runs_dir(project)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        n = len(self.runs.runs) + 1
        return base / f"{project.name}-{stamp}-{n}"

    def start(self, resume_from: str | Path | None = None) -> bool:
        """Start a run on a copy of the project; False (with the reason in the panel) when it cannot start."""
        if self.worker is not None:
            return False
        project = self.project_provider()
        project.data = self.data_panel.to_dict()
        project.training = self.training_panel.to_dict()
        try:
            from ...training.config import DataConfig, TrainingConfig

            DataConfig.from_dict(project.data)
            config = TrainingConfig.from_dict(project.training)
        except DlstudioError as exc:
            self.live.set_status(f"Cannot start: {exc}", error=True)
            return False
        snap = snapshot(project)
        run_dir = None if resume_from is not None else self._run_dir(project)
        self._threads_before = 0
        if self.isolation == "process":
            job = {
                "project": snap.to_dict(),
                "project_path": str(snap.path) if snap.path else None,
                "run_dir": str(run_dir) if run_dir is not None else None,
                "resume": str(resume_from) if resume_from is not None else None,
                "flush_s": REPAINT_MS / 1000,  # batch events as often as the plots repaint, no more
            }
            worker: TrainingWorker | TrainingProcess = TrainingProcess(job, snap.graph, self)
        else:
            worker = self._thread_worker(snap, run_dir, resume_from)
        self.run_project = snap
        name = run_dir.name if run_dir is not None else f"resume {Path(str(resume_from)).name}"
        self.run = RunRecord(name, dict(snap.training), run_dir=str(run_dir) if run_dir else None)
        self.runs.add(self.run)
        constant = config.schedule.name == "constant" and not config.schedule.warmup_epochs
        self.live.start(self.run, int(snap.training.get("epochs", 10)), lr=config.lr if constant else None)
        self.live.set_status("Preparing data and model...")
        self.last_event = None
        self.predictions = None
        self.keep_bar.hide()
        self.worker = worker
        worker.events_emitted.connect(self._on_events)
        worker.ready.connect(self._on_ready)
        worker.setup_failed.connect(self._on_setup_failed)
        worker.boundary_ready.connect(self._on_boundary)
        worker.predictions_ready.connect(self._on_predictions)
        worker.finished.connect(self._on_thread_done)
        worker.start()
        self._update_buttons()
        self.run_started.emit()
        return True

    def _thread_worker(self, snap: Project, run_dir: Path | None, resume_from: str | Path | None) -> TrainingWorker:
        if not snap.training.get("num_threads") and self.reserve_gui_core:
            # torch's default uses every core; its busy-waiting worker threads then starve the GUI thread
            snap.training["num_threads"] = max(1, (os.cpu_count() or 1) - 1)
        import torch

        self._threads_before = torch.get_num_threads()  # set_num_threads is process-wide: restored after
        from ...training.project import make_trainer

        def factory() -> Any:
            return make_trainer(snap, run_dir=run_dir, resume=resume_from)

        return TrainingWorker(factory, self, flush_s=REPAINT_MS / 1000)

    def toggle_pause(self) -> None:
        w = self.worker
        if w is None:
            return
        if w.paused:
            w.resume()
            self.pause_button.setText("Pause")
            self.live.set_status("Resumed")
        else:
            w.pause()
            self.pause_button.setText("Resume")
            self.live.set_status("Paused (Resume continues from the next batch)")

    def stop(self) -> None:
        """Stop at the next batch boundary; the run writes a checkpoint of where it stopped."""
        if self.worker is not None:
            self.worker.stop()
            self.live.set_status("Stopping after this batch...")

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Stop a running run and wait for its thread (window close, tests). True when no thread is left."""
        w = self.worker
        if w is None:
            return True
        w.stop()
        ok = w.wait(timeout_ms)
        from PySide6.QtCore import QCoreApplication

        QCoreApplication.processEvents()
        return ok

    def _resume_dialog(self) -> None:
        from ..run_weights import runs_dir

        start = runs_dir(self.project_provider())
        folder = QFileDialog.getExistingDirectory(
            self, "Checkpoint folder (runs/<run>/checkpoints/epoch_NNNN)", str(start if start.is_dir() else "")
        )
        if folder:
            self.start(resume_from=folder)

    # ----------------------------------------------------------------------------------- worker signals
    def _on_ready(self, facts: dict[str, Any]) -> None:
        self.live.prepare(facts.get("task_kind"), bool(facts.get("has_validation")))

    def _on_events(self, events: list[Event]) -> None:
        for e in events:
            self._on_event(e)
        self._schedule_repaint()

    def _on_boundary(self, boundary: Any) -> None:
        self.results.set_boundary(boundary)
        self._schedule_repaint()

    def _schedule_repaint(self) -> None:
        """One repaint at most every REPAINT_MS, started by what arrived: at once when it is due, else when it
        will be; no timer runs while nothing arrives."""
        if self.timer.isActive():
            return
        wait_ms = REPAINT_MS - (time.perf_counter() - self._painted_at) * 1000
        if wait_ms <= REPAINT_EARLY_MS:
            # due, or nearly: paint in this wakeup. The training process sends a message every REPAINT_MS, and
            # a timer for the few ms that its jitter leaves would wake the window a second time for each message
            self._repaint()
            return
        self.timer.start(math.ceil(wait_ms))

    def _on_event(self, event: Event) -> None:
        self.last_event = event
        self.live.on_event(event)
        if isinstance(event, EpochEnd):
            self._runs_stale = True  # the table is rebuilt at the next repaint, not after every epoch of a fast run
        elif isinstance(event, EpochStarted) and event.epoch == 1:
            self.live.set_status(f"Training: {event.batches} batches per epoch")
        elif isinstance(event, Finished):
            assert self.run is not None
            self.run.status = (
                "stopped" if event.stopped_by_user else "early stop" if event.stopped_early else "finished"
            )
            self.run.final = {k: v for k, v in event.final_metrics.items() if isinstance(v, (int, float))}
            self.run.run_dir = event.run_dir
            bits = ", ".join(f"{k} {v:.4g}" for k, v in self.run.final.items() if k != "lr")
            self.live.set_status(f"Run {self.run.status} after {event.epochs_run} epochs: {bits}")
            self._refresh_runs()  # with its final status now: the run's final repaint need not build it again
        elif isinstance(event, Failed):
            self._fail(event.message, event.node_id)
        elif type(event).__name__ == "SamplesSaved":  # generative runs (the class lives with their trainer)
            first = self.samples.epoch == 0
            self.samples.show_grid(event)
            if first:
                self.tabs.setCurrentWidget(self.samples)

    def _fail(self, message: str, node_id: str | None) -> None:
        if self.run is not None:
            self.run.status = "failed"
            self._refresh_runs()
        label = ""
        if node_id and self.run_project is not None and node_id in self.run_project.graph:
            n = self.run_project.graph.node(node_id)
            label = f" [node {n.label!r}]"
        self.live.set_status(f"Training failed{label}: {message}", error=True)
        self.tabs.setCurrentWidget(self.live)
        if node_id:
            self.node_failed.emit(node_id)

    def _on_setup_failed(self, message: str, node_id: Any) -> None:
        self.last_event = None
        self._fail(message, node_id if isinstance(node_id, str) else None)

    def _on_predictions(self, p: Predictions) -> None:
        self.predictions = p
        self.results.show_predictions(p)

    def _on_thread_done(self) -> None:
        w = self.worker
        self.worker = None
        if w is not None:
            self.trainer = w.trainer if w.trainer is not None else self.trainer
            w.deleteLater()
        self.timer.stop()
        if self._threads_before:
            import torch

            torch.set_num_threads(self._threads_before)
        self._repaint(final=True)
        self.pause_button.setText("Pause")
        self._try_it_pending = None
        if self.trainer is not None and self.predictions is not None and isinstance(self.last_event, Finished):
            trainer, preds = self.trainer, self.predictions

            def attach() -> None:
                import torch

                self.try_it.set_model(lambda x: predict(trainer, torch.as_tensor(np.asarray(x))), preds)

            # when the Try it tab is shown: its model needs torch in this process (and a compile), which a run
            # in the training process otherwise never loads here
            self._try_it_pending = attach
            if self.tabs.currentWidget() is self.try_it:
                QTimer.singleShot(0, self.try_it, self._attach_try_it)
        self._update_buttons()
        if isinstance(self.last_event, Finished) and self.last_event.run_dir:
            info = read_run(self.last_event.run_dir)
            if info is not None:
                self.keep_bar.offer(info)
        self.run_ended.emit(self.last_event)

    def _attach_try_it(self) -> None:
        attach, self._try_it_pending = self._try_it_pending, None
        if attach is not None:
            attach()

    def _tab_changed(self, _index: int) -> None:
        if self.tabs.currentWidget() is self.try_it:
            self._attach_try_it()
        elif self.tabs.currentWidget() is self.runs and self._runs_stale:
            self._refresh_runs()

    def _repaint(self, final: bool = False) -> None:
        self._painted_at = time.perf_counter()
        # the runs table while it is shown, else at the run's end or when its tab is opened: a new row's text
        # resizes its columns, work a fast run would otherwise pay for after every epoch nobody sees
        if self._runs_stale and (final or self.tabs.currentWidget() is self.runs):
            self._refresh_runs()
        if self.live.repaint(final=final):  # epoch points wait for their turn (a fast run): come back for them
            self._schedule_repaint()
        self.results.repaint()

    def _refresh_runs(self) -> None:
        self._runs_stale = False
        self.runs.refresh()

    def _update_buttons(self) -> None:
        running = self.worker is not None
        self.start_button.setEnabled(not running)
        self.resume_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        self.export_button.setEnabled(not running)

    # ------------------------------------------------------------------------------------------- export
    def trained_weights(self) -> dict[str, Any] | None:
        """The last finished run's weights (state_dict layout), or None before any run."""
        if self.trainer is None or not isinstance(self.last_event, Finished):
            return None
        state = self.trainer.state if isinstance(self.trainer, TrainedModel) else self.trainer.model.state_dict()
        return {k: v.detach().cpu().clone() for k, v in state.items()}

    def open_export(self, kind: str) -> Any:
        """The export dialog for the current project, offering the newest run's best weights first (when newer
        than the project's). When the graph was edited since that run, the run's own graph is exported."""
        from ...training.runs import graph_signature, newest_finished
        from ..export_dialogs import ExportDialog

        project, runs = self.project_provider(), self.known_runs()
        last = newest_finished(runs)
        if (
            last is not None
            and self.run_project is not None
            and last.graph_signature != graph_signature(project.graph.to_dict())
            and last.graph_signature == graph_signature(self.run_project.graph.to_dict())
        ):
            project = self.run_project
        dlg = ExportDialog(kind, project, runs=runs, parent=self)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # closed is gone: not one more child per export
        dlg.show()
        return dlg
