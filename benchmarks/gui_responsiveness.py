"""GUI responsiveness while training: LeNet-5 on 28x28 digits at full speed inside the studio's training
workspace (offscreen), against the same run headless.

- Responsiveness: a 10 ms QTimer in the GUI thread records its tick times while the run trains (first batch to
  the Finished event); the gaps between ticks show how long the event loop was blocked. Targets: p99 <= 30 ms,
  max <= 100 ms. Each gap is split into the window's own work (the GUI thread's CPU time in it) and waiting for a
  core (the rest): on a shared machine the second grows with other people's load, the first is the studio's.
  The results views filling after the run (confusion matrix, ROC, gallery) are reported on their own line.
- Throughput: training samples per second from the trainer's own per-epoch wall time (EpochEnd.seconds), studio
  attached vs the headless trainer as a user runs it (`dlstudio train --json` in a fresh process), with the same
  10 ms probe ticking in this process during both (on 2 cores each tick takes a core from the run's lock-step
  threads for a moment; the probe is the benchmark's, so it loads both sides alike). The first epoch of each run
  is left out on both sides (kernel and allocator warm-up in a fresh process). Target: >= 0.9x.
  Runs alternate (headless, studio, headless, ...); each side's rate is taken at its median epoch over all its
  runs, and the medians of whole runs and of adjacent pairs are printed beside it. On the 2-core VMs here one
  fresh process trains up to 25 % faster or slower than the next for its whole life (the same in-process rate
  within +-5 %), so a verdict needs many processes per side: 30 repeats (about 4 minutes) put the ratio within
  about +-3 %.

    python benchmarks/gui_responsiveness.py [--epochs 6] [--repeats 30] [--isolation process|thread]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from dlstudio.io.project import Project  # noqa: E402
from dlstudio.training.events import BatchEnd, EpochEnd, Finished, event_from_dict  # noqa: E402
from dlstudio.training.loop import Trainer  # noqa: E402
from dlstudio.training.quick import lenet5_graph  # noqa: E402


def settings(epochs: int, threads: int) -> tuple[dict, dict]:
    return (
        {"dataset": "digits_28x28"},
        {"epochs": epochs, "batch_size": 32, "lr": 1e-3, "num_threads": threads, "epoch_metrics": "basic"},
    )


@dataclass
class Rate:
    """One run's training speed: its rows per epoch and the wall time of each epoch after the first (steady
    state; the first pays for kernel and allocator warm-up in a fresh process)."""

    rows: int
    epoch_seconds: list[float]

    @property
    def samples_per_s(self) -> float:
        return self.rows * len(self.epoch_seconds) / sum(self.epoch_seconds)


def throughput(events: list, train_rows: int) -> Rate:
    return Rate(train_rows, [e.seconds for e in events if isinstance(e, EpochEnd)][1:])


def pooled(rates: list[Rate]) -> float:
    """Samples/s at the median epoch of all runs of one side. On a shared VM a neighbour's burst slows a few
    seconds of whichever side runs then: the median epoch leaves such bursts out on both sides alike, while the
    studio's own cost (repaints several times an epoch) is in every epoch and stays in."""
    return rates[0].rows / statistics.median(t for r in rates for t in r.epoch_seconds)


def headless(epochs: int, threads: int, tmp: Path) -> Rate:
    """`dlstudio train --json` in a fresh process: the headless trainer as a user runs it. This process ticks the
    same 10 ms probe timer meanwhile as during a studio run (its wakeups take a core from the run's threads for a
    moment): the instrument then costs both sides alike, and the ratio is the studio's own cost."""
    import json
    import subprocess

    data, training = settings(epochs, threads)
    path = Project(graph=lenet5_graph(), data=data, training=training).save(tmp / "lenet5.dlstudio")
    out_path, err_path = tmp / "headless.out", tmp / "headless.err"
    with out_path.open("w") as out, err_path.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dlstudio", "train", str(path), "--json", "--run-dir", str(tmp / "headless-run")],
            stdout=out,
            stderr=err,
            text=True,
            cwd=str(Path(__file__).resolve().parents[1]),
        )
        probe, loop = Ticks(), QEventLoop()

        def tick() -> None:
            probe.add()
            if proc.poll() is not None:
                loop.quit()

        timer = QTimer(interval=10, timeout=tick)
        timer.start()
        loop.exec()
        timer.stop()
    if proc.returncode:
        raise SystemExit(f"dlstudio train failed ({proc.returncode}):\n{err_path.read_text()[-3000:]}")
    lines = out_path.read_text().splitlines()
    events = [event_from_dict(json.loads(line)) for line in lines if line.startswith("{")]
    assert isinstance(events[-1], Finished), events[-1]
    rows = Trainer(lenet5_graph(), data, {**training, "epochs": 1}).train_rows
    return throughput(events, rows)


def idle_gaps(app: QApplication, seconds: float = 1.5) -> np.ndarray:
    """The same 10 ms timer with nothing training: what the machine itself allows."""
    ticks: list[float] = []
    timer = QTimer(interval=10, timeout=lambda: ticks.append(time.perf_counter()))
    timer.start()
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()
    timer.stop()
    return np.diff(np.asarray(ticks)) * 1000


@dataclass
class Ticks:
    """Timer ticks: wall times and the GUI thread's CPU time at each (ms)."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def add(self) -> None:
        self.wall.append(time.perf_counter() * 1000)
        self.cpu.append(time.thread_time() * 1000)

    def gaps(self) -> tuple[np.ndarray, np.ndarray]:
        """Gaps between ticks, and the GUI thread's own CPU time within each."""
        return np.diff(np.asarray(self.wall)), np.diff(np.asarray(self.cpu))


@dataclass
class StudioRun:
    rate: Rate
    gaps: np.ndarray  # while training
    own: np.ndarray  # the GUI thread's CPU time within each of those gaps
    after: np.ndarray  # from the Finished event until the run ended (results views filling)
    threads: int  # torch threads of the training process
    gui_cpu_share: float  # the window process's CPU time while training / the training wall time


def studio(app: QApplication, epochs: int, threads: int, tmp: Path, reserve: bool, isolation: str) -> StudioRun:
    from dlstudio.ui.training import TrainingWorkspace

    data, training = settings(epochs, threads)
    project = Project(graph=lenet5_graph(), data=data, training=training)
    ws = TrainingWorkspace(lambda: project, runs_root=tmp, reserve_gui_core=reserve, isolation=isolation)
    ws.load_project()
    ws.resize(1400, 900)
    if not os.environ.get("GUI_BENCH_HIDDEN"):
        ws.show()
    events: list = []
    training, after = Ticks(), Ticks()
    phase = {"ticks": None}
    usage: dict[str, float] = {}

    def process_cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    def on_events(batch: list) -> None:
        events.extend(batch)
        if phase["ticks"] is None and any(isinstance(e, BatchEnd) for e in batch):
            phase["ticks"] = training
            usage.update(cpu=process_cpu(), wall=time.perf_counter())
            info = getattr(ws.worker, "info", None) or {}  # the training process's "ready" message
            usage["threads"] = int(info.get("threads") or 0)
        if any(isinstance(e, Finished) for e in batch):
            phase["ticks"] = after
            usage.update(cpu=process_cpu() - usage["cpu"], wall=time.perf_counter() - usage["wall"])

    def tick() -> None:
        if phase["ticks"] is not None:
            phase["ticks"].add()

    timer = QTimer(interval=10, timeout=tick)
    timer.start()
    ws.start()
    assert ws.worker is not None
    ws.worker.events_emitted.connect(on_events)
    loop = QEventLoop()  # a real event loop: the GUI thread sleeps in Qt (without the GIL) between events
    ws.run_ended.connect(loop.quit)
    loop.exec()
    phase["ticks"] = None
    timer.stop()
    assert isinstance(ws.last_event, Finished), ws.live.status.text()
    rate = throughput(events, ws.trainer.train_rows)
    ws.close()
    ws.deleteLater()
    app.processEvents()
    gaps, own = training.gaps()
    return StudioRun(rate, gaps, own, after.gaps()[0], int(usage["threads"]), usage["cpu"] / usage["wall"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument(
        "--isolation",
        choices=("process", "thread"),
        default="process",
        help="where the studio trains: a child process (default) or a thread of the GUI process",
    )
    ap.add_argument(
        "--no-reserve",
        action="store_true",
        help="let the studio's run use every core (default: it leaves one for the GUI thread)",
    )
    args = ap.parse_args()
    import tempfile

    app = QApplication.instance() or QApplication([])
    from dlstudio.ui.gui_gc import collect_in_gui_thread

    collect_in_gui_thread()  # as the studio does from launch: garbage is collected on the GUI thread's timer
    head: list[Rate] = []
    runs: list[StudioRun] = []
    with tempfile.TemporaryDirectory() as tmp:
        idle = idle_gaps(app)
        for r in range(args.repeats):
            if args.isolation == "process":  # the studio's spare training process must not import during a run
                from dlstudio.ui.process_worker import SPARES

                SPARES.wait_warm()
            head.append(headless(args.epochs, args.threads, Path(tmp)))
            run = studio(app, args.epochs, args.threads, Path(tmp), not args.no_reserve, args.isolation)
            runs.append(run)
            print(
                f"repeat {r + 1}: headless {head[-1].samples_per_s:,.0f} samples/s, "
                f"studio {run.rate.samples_per_s:,.0f} samples/s "
                f"({run.threads or '?'} torch threads; window process CPU {run.gui_cpu_share:.1%} of one core), "
                f"timer gaps p99 {np.percentile(run.gaps, 99):.1f} ms max {run.gaps.max():.1f} ms "
                f"(load average {os.getloadavg()[0]:.1f})",
                flush=True,
            )
    all_gaps = np.concatenate([r.gaps for r in runs])
    all_own = np.concatenate([r.own for r in runs])
    after = np.concatenate([r.after for r in runs])
    h, s = pooled(head), pooled([r.rate for r in runs])
    paired = statistics.median(
        pooled([r.rate]) / pooled([x]) for r, x in zip(runs, head, strict=True)
    )  # each studio run against the headless run just before it
    whole = statistics.median(r.rate.samples_per_s for r in runs) / statistics.median(x.samples_per_s for x in head)
    p50, p99, mx = np.percentile(all_gaps, 50), np.percentile(all_gaps, 99), all_gaps.max()
    ratio = s / h
    where = (
        "a training process"
        if args.isolation == "process"
        else f"a thread of the window's process (one core left to the GUI: {not args.no_reserve})"
    )
    print(
        f"LeNet-5 on digits 28x28, {args.epochs} epochs x {args.repeats} repeats, torch threads "
        f"{args.threads or 'default'}, {os.cpu_count()} CPUs, the studio trains in {where}"
    )
    print(
        f"idle machine, same timer: p50 {np.percentile(idle, 50):.1f} ms, p99 {np.percentile(idle, 99):.1f} ms, "
        f"max {idle.max():.1f} ms (load average {os.getloadavg()[0]:.1f})"
    )
    print(
        f"10 ms timer gaps while training ({len(all_gaps)} ticks): p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
        f"max {mx:.1f} ms   (targets: p99 <= 30, max <= 100)"
    )
    slow = all_gaps > 30
    print(
        f"  the window's own work per gap: p99 {np.percentile(all_own, 99):.1f} ms, max {all_own.max():.1f} ms; "
        f"in the {int(slow.sum())} gaps over 30 ms it worked {all_own[slow].sum():.0f} of "
        f"{all_gaps[slow].sum():.0f} ms (the rest: waiting for a core)"
    )
    if len(after):
        print(
            f"after the run (results views filling, {len(after)} ticks): p99 {np.percentile(after, 99):.1f} ms, "
            f"max {after.max():.1f} ms"
        )
    print(
        f"throughput at the median epoch ({sum(len(x.epoch_seconds) for x in head)} headless and "
        f"{sum(len(r.rate.epoch_seconds) for r in runs)} studio epochs): headless {h:,.0f} samples/s, "
        f"studio {s:,.0f} samples/s, ratio {ratio:.2f}x (target >= 0.9x)"
    )
    print(f"  (median of whole runs, bursts included: ratio {whole:.2f}x; median of paired runs: {paired:.2f}x)")
    ok = p99 <= 30 and mx <= 100 and ratio >= 0.9
    loads = os.getloadavg()
    busy = loads[0] > (os.cpu_count() or 1)
    print(
        f"load average at the end: {loads[0]:.1f} / {loads[1]:.1f} / {loads[2]:.1f} (1/5/15 min) on {os.cpu_count()} "
        f"CPUs: {'a LOADED machine, the numbers above are not the studio alone' if busy else 'a quiet machine'}"
    )
    print("PASS" if ok else "FAIL")
    if args.isolation == "process":
        from dlstudio.ui.process_worker import SPARES

        SPARES.shutdown()
    app.processEvents()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
