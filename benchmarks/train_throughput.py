"""Training throughput: dlstudio's Trainer (metrics on, every event consumed) against a minimal hand-written
PyTorch loop in the same process: same model and initial weights, same prepared data, batch size, optimizer.

Two hand-written loops are measured:
  plain  torch.optim.Adam(model.parameters(), lr=...) as nearly everyone writes it (torch's default kernel);
  fused  the same loop with Adam(fused=True), the kernel our trainer picks where torch has one. Against this one
         the ratio is the trainer's own cost alone (events, metrics, checks), with nothing else differing.
Each hand loop batches by tensor indexing, calls loss.item() once per batch (as nearly every loop does to log)
and computes validation accuracy once per epoch. Our side runs with training.epoch_metrics "basic" (validation
loss + accuracy from torch ops each epoch) and "full" (also precision/recall/F1 per epoch).

The three loops run interleaved step by step in one process (one batch of ours, one of each hand loop, the order
rotating every step), each step timed on the process CPU clock. A busy or drifting machine then slows all sides
alike within milliseconds, so the ratio holds where whole-run timings swing by +-8 %. Our trainer's time is every
`next()` on its event iterator from the first epoch's start to the last epoch's end (training, per-epoch
validation, schedule, events); the one-off final test report is not counted. The ratio printed is the median
over `--repeats` runs.

`--whole-process` measures what a user waits for instead: `dlstudio train examples/lenet5.dlstudio --epochs 10`
as a whole process (start-up, data preparation, compiling, per-epoch checkpoints, full metrics, report) against a
minimal hand-written script (torch + a DataLoader over the same prepared arrays, Adam, per-epoch validation
accuracy, the weights saved at the end), in rounds whose order rotates, on wall-clock time and on each process's
CPU time (user + system, OMP_NUM_THREADS=--threads), which a loaded machine disturbs far less; the load average
is printed before every round because the machine is shared. Time to the first batch is measured in extra runs
(`--json` events for ours, a marker line for the hand script). One more untimed run of ours prints where its time
goes (start-up imports, data, compile, optimizer, first batch, epochs, checkpoints, report, exit): the same CLI
run in-process under a small driver that times those functions (PHASES_SCRIPT).

    python benchmarks/train_throughput.py [--epochs 4] [--repeats 5] [--threads 1]
    python benchmarks/train_throughput.py --whole-process [--epochs 10] [--repeats 5] [--baseline OLD_CHECKOUT]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dlstudio.training.events import BatchEnd, EpochEnd  # noqa: E402
from dlstudio.training.loop import Trainer  # noqa: E402
from dlstudio.training.quick import lenet5_graph, mlp_for  # noqa: E402

CLOCK = time.process_time  # CPU time of this process: preemption by neighbours is not counted


def hand_mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))


def hand_lenet() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, 10),
    )


def hand_loop(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    xv: torch.Tensor,
    yv: torch.Tensor,
    epochs: int,
    batch_size: int,
    lr: float,
    fused: bool,
) -> Iterator[None]:
    """The minimal loop, yielding after every batch and after every epoch's validation."""
    opt = (
        torch.optim.Adam(model.parameters(), lr=lr, fused=True)
        if fused
        else torch.optim.Adam(model.parameters(), lr=lr)
    )
    loss_fn = nn.CrossEntropyLoss()
    n = len(x)
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(n)
        for i in range(0, n, batch_size):
            idx = perm[i : i + batch_size]
            loss = loss_fn(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss.item()
            yield
        model.eval()
        with torch.no_grad():
            (model(xv).argmax(1) == yv).float().mean().item()
        yield


def trainer_steps(trainer: Trainer) -> Iterator[None]:
    """Our trainer's event iterator cut at the same points: after each batch and after each epoch."""
    epochs = trainer.cfg.epochs
    for event in trainer.run():
        if isinstance(event, BatchEnd):
            yield
        elif isinstance(event, EpochEnd):
            yield
            if event.epoch == epochs:
                return


def one_run(
    graph_fn: Callable,
    hand_fn: Callable[[], nn.Module],
    dataset: str,
    epochs: int,
    batch_size: int,
    lr: float,
    metrics: str,
) -> dict[str, float]:
    """Seconds of CPU per side for one interleaved run, and the samples each side trained on."""
    ours = Trainer(
        graph_fn(),
        {"dataset": dataset},
        {"epochs": epochs, "batch_size": batch_size, "lr": lr, "epoch_metrics": metrics},
    )
    x, y, xv, yv = ours.train_set.x, ours.train_set.y, ours.val_set.x, ours.val_set.y
    loops: dict[str, Iterator[None]] = {"ours": trainer_steps(ours)}
    for name, fused in (("plain", False), ("fused", True)):
        model = hand_fn()  # the same initial weights as ours
        model.load_state_dict(dict(zip(model.state_dict().keys(), ours.model.state_dict().values())))
        loops[name] = hand_loop(model, x, y, xv, yv, epochs, batch_size, lr, fused)
    spent = dict.fromkeys(loops, 0.0)
    names = list(loops)
    step = 0
    while True:
        order = names[step % 3 :] + names[: step % 3]  # rotate who goes first: no side always runs on a cold cache
        done = 0
        for name in order:
            t0 = CLOCK()
            finished = next(loops[name], StopIteration) is StopIteration
            spent[name] += CLOCK() - t0
            done += finished
        if done == len(names):
            break
        if done:
            raise RuntimeError("the loops fell out of step: they must yield the same number of times")
        step += 1
    samples = len(x) * epochs
    return {name: samples / seconds for name, seconds in spent.items()}


def bench(
    name: str,
    graph_fn: Callable,
    hand_fn: Callable[[], nn.Module],
    dataset: str,
    epochs: int,
    repeats: int,
    metrics: str,
    batch_size: int = 32,
    lr: float = 1e-3,
) -> tuple[float, float]:
    one_run(graph_fn, hand_fn, dataset, 1, batch_size, lr, metrics)  # warm-up (lazy imports, allocator), untimed
    runs = [one_run(graph_fn, hand_fn, dataset, epochs, batch_size, lr, metrics) for _ in range(repeats)]
    med = {side: statistics.median(r[side] for r in runs) for side in runs[0]}
    vs_plain = statistics.median(r["ours"] / r["plain"] for r in runs)
    vs_fused = statistics.median(r["ours"] / r["fused"] for r in runs)
    print(
        f"{name:<14} {metrics:<5} ours {med['ours']:9,.0f}/s  hand plain {med['plain']:9,.0f}/s  "
        f"hand fused {med['fused']:9,.0f}/s   ratio vs plain {vs_plain:.3f}  vs fused {vs_fused:.3f}"
    )
    return vs_plain, vs_fused


ROOT = Path(__file__).resolve().parents[1]
PROJECT = ROOT / "examples" / "lenet5.dlstudio"

# the minimal script a user would write: no dlstudio, the arrays our pipeline prepared, a DataLoader
HAND_SCRIPT = """
import sys, time
import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from safetensors.torch import save_file

data = np.load(sys.argv[1])
epochs, out, marker = int(sys.argv[2]), sys.argv[3], len(sys.argv) > 4
torch.manual_seed(0)
train = DataLoader(TensorDataset(torch.from_numpy(data["x"]), torch.from_numpy(data["y"])), batch_size=32, shuffle=True)
xv, yv = torch.from_numpy(data["xv"]), torch.from_numpy(data["yv"])
model = nn.Sequential(  # the layers of examples/lenet5.dlstudio
    nn.Conv2d(1, 6, 5, padding=2), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),
    nn.Flatten(), nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10),
)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(epochs):
    model.train()
    for xb, yb in train:
        loss = loss_fn(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss.item()
        if marker:
            print("first batch", flush=True)
            marker = False
    model.eval()
    with torch.no_grad():
        out_v = model(xv)
        print(epoch + 1, loss_fn(out_v, yv).item(), (out_v.argmax(1) == yv).float().mean().item())
save_file(model.state_dict(), out)
"""


# `dlstudio train ...` run in-process by a driver that times its phases (argv: process start time, output file,
# the CLI arguments); the parent adds the exit (from the last event to the end of the process)
PHASES_SCRIPT = """
import json, sys, time
T0, OUT, ARGV = float(sys.argv[1]), sys.argv[2], sys.argv[3:]
marks, wall, cpu = {}, {}, {}
def mark(name):
    marks[name] = (time.time() - T0, time.process_time())
import dlstudio.cli
import dlstudio.compiler.build as build
from dlstudio.io import project as io_project
from dlstudio.training import engine, task_supervised as ts
mark("imports")
def timed(owner, attr, phase):
    fn = getattr(owner, attr)
    def wrapper(*a, **k):
        w, c = time.time(), time.process_time()
        try:
            return fn(*a, **k)
        finally:
            wall[phase] = wall.get(phase, 0.0) + time.time() - w
            cpu[phase] = cpu.get(phase, 0.0) + time.process_time() - c
    setattr(owner, attr, wrapper)
for owner, attr in ((io_project.Project, "load"), (ts, "load_data"), (ts, "bind"), (ts, "prepare")):
    timed(owner, attr, "data")
timed(build, "compile_graph", "compile")
timed(ts, "build_optimizer", "optimizer (Adam imports torch._dynamo)")
timed(engine.Engine, "_checkpoint", "checkpoints (snapshot; written in the background)")
timed(engine.Engine, "wait_for_checkpoints", "wait for the last checkpoint")
timed(ts.SupervisedTask, "finish", "report (final metrics, weights, report files)")
run = engine.Engine.run
def watched(self):
    mark("set-up done")
    for ev in run(self):
        if "first batch" not in marks and type(ev).__name__ == "BatchEnd":
            mark("first batch")
        yield ev
    mark("finished")
engine.Engine.run = watched
sys.argv = ["dlstudio", *ARGV]
from dlstudio.__main__ import main
code = main()  # the command-line path, as `python -m dlstudio` takes it
json.dump({"marks": marks, "wall": wall, "cpu": cpu}, open(OUT, "w"))
sys.exit(code)
"""


def _print_phases(phases: dict, total_wall: float, total_cpu: float) -> None:
    """The phases of our whole process in order: wall seconds (CPU seconds of the whole process meanwhile)."""
    marks, wall, cpu = phases["marks"], phases["wall"], phases["cpu"]
    (t_imp, c_imp), (t_set, c_set) = marks["imports"], marks["set-up done"]
    (t_first, c_first), (t_end, c_end) = marks["first batch"], marks["finished"]
    rows = [("start-up imports (interpreter, dlstudio, torch)", t_imp, c_imp)]
    inside = [k for k in wall if k in ("data", "compile") or k.startswith("optimizer")]
    rows += [(k, wall[k], cpu[k]) for k in inside]
    rows.append(
        ("other set-up", t_set - t_imp - sum(wall[k] for k in inside), c_set - c_imp - sum(cpu[k] for k in inside))
    )
    rows.append(("first batch (from the set-up's end)", t_first - t_set, c_first - c_set))
    loop = [k for k in wall if k.startswith(("checkpoints", "wait", "report"))]
    rest_w, rest_c = t_end - t_first - sum(wall[k] for k in loop), c_end - c_first - sum(cpu[k] for k in loop)
    rows.append(("epochs (training, validation, metrics rows, events)", rest_w, rest_c))
    rows += [(k, wall[k], cpu[k]) for k in loop]
    rows.append(("exit (after the last event)", total_wall - t_end, total_cpu - c_end))
    print(f"where the time of ours goes (one run; total {total_wall:.2f}s wall, {total_cpu:.2f}s CPU):")
    for name, w, c in rows:
        print(f"  {name:<58} {w:6.3f}s wall  {c:6.3f}s CPU")


def _prepared_arrays(folder: Path) -> Path:
    """The training and validation arrays of the project as dlstudio prepares them (untimed)."""
    from dlstudio.io.project import Project
    from dlstudio.training.project import make_trainer

    t = make_trainer(Project.load(PROJECT), use_run_dir=False)
    path = folder / "lenet5_data.npz"
    arrays = {"x": t.train_set.x, "y": t.train_set.y, "xv": t.val_set.x, "yv": t.val_set.y}
    np_arrays = {k: v.cpu().numpy() for k, v in arrays.items()}
    import numpy as np

    np.savez(path, **np_arrays)
    return path


def _until_first_batch(cmd: list[str], cwd: Path, marker: str, env: dict[str, str]) -> float:
    """Seconds from the start of the process to the line that says the first batch is done."""
    t0 = time.perf_counter()
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=cwd, env=env) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if marker in line:
                seconds = time.perf_counter() - t0
                proc.kill()
                return seconds
    raise RuntimeError(f"{cmd[:4]} never reported its first batch")


def whole_process(
    epochs: int, repeats: int, baseline: Path | None = None, threads: int = 1, bytecode_each_run: bool = False
) -> float:
    """Median ratio of `dlstudio train` to the hand script over `repeats` rounds. With `baseline` (another
    checkout of dlstudio, e.g. an older commit) its `dlstudio train` runs in every round too, so a before/after
    comparison sees the same load."""
    tmp = Path(tempfile.mkdtemp(prefix="dls-bench-"))
    data = _prepared_arrays(tmp)
    hand = tmp / "hand.py"
    hand.write_text(HAND_SCRIPT)
    py = sys.executable
    roots = {"ours": ROOT, **({"before": baseline.resolve()} if baseline else {})}

    def dlstudio_train(root: Path, k: int | str, *extra: str) -> tuple[list[str], Path]:
        cmd = [py, "-m", "dlstudio", "train", str(root / PROJECT.relative_to(ROOT)), "--epochs", str(epochs)]
        return [*cmd, "--run-dir", str(tmp / f"run-{root.name}-{k}"), *extra], root

    def hand_script(k: int | str, *extra: str) -> tuple[list[str], Path]:
        return [py, str(hand), str(data), str(epochs), str(tmp / f"w{k}.safetensors"), *extra], ROOT

    env = dict(os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {}))
    if env.pop("PYTHONDONTWRITEBYTECODE", None) and not bytecode_each_run:
        # an installed package runs from its compiled bytecode; without a place to keep it every run of ours would
        # compile dlstudio's sources again (the hand script imports only installed packages). Both sides get the
        # same private bytecode folder, filled by the untimed warm-up runs.
        env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    cpu: dict[str, list[float]] = {}

    def timed(cmd: list[str], cwd: Path, name: str = "") -> float:
        """Wall-clock seconds; the child's CPU seconds (user + system) go to cpu[name]: on a loaded machine
        the CPU time still measures the work done, where the wall clock mostly measures waiting for a core."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        used = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        cpu.setdefault(name, []).append(used)
        return seconds

    print(
        f"whole process, {epochs} epochs of examples/lenet5.dlstudio; {os.cpu_count()} CPUs; wall-clock seconds; "
        "load = 1-minute load average before each round"
        + ("; bytecode kept between runs (PYTHONPYCACHEPREFIX)" if "PYTHONPYCACHEPREFIX" in env else "")
    )
    sides = {name: (lambda k, root=root: dlstudio_train(root, k)) for name, root in roots.items()}
    sides["hand"] = hand_script
    for side in sides.values():  # warm the file cache (torch's libraries, the data), untimed
        timed(*side("warm"))
    ratios: dict[str, list[float]] = {name: [] for name in roots}
    for k in range(repeats):
        load = os.getloadavg()[0]
        names = list(sides)
        names = names[k % len(names) :] + names[: k % len(names)]  # rotate who goes first
        seconds = {name: timed(*sides[name](k), name) for name in names}
        for name in roots:
            ratios[name].append(seconds[name] / seconds["hand"])
        shown = "  ".join(f"{name} {seconds[name]:6.2f}s" for name in sides)
        rs = "  ".join(f"{name}/hand {ratios[name][-1]:.3f}" for name in roots)
        print(f"  round {k + 1}: load {load:5.2f}  {shown}  {rs}", flush=True)
    for name in roots:
        cpu_ratio = statistics.median(cpu[name]) / statistics.median(cpu["hand"])
        print(
            f"median ratio {name} / hand: wall {statistics.median(ratios[name]):.3f}, "
            f"CPU time {cpu_ratio:.3f} (target <= 1.05)"
        )
    print(f"load now {os.getloadavg()[0]:.2f}")
    # a single start-up swings by seconds on a shared machine: three of each, interleaved, and their median
    starts: dict[str, list[float]] = {name: [] for name in sides}
    for k in range(3):
        for name, root in roots.items():
            cmd, cwd = dlstudio_train(root, f"first{k}", "--json")
            starts[name].append(_until_first_batch(cmd, cwd, chr(34) + "BatchEnd", env))
        cmd, cwd = hand_script(f"first{k}", "marker")
        starts["hand"].append(_until_first_batch(cmd, cwd, "first batch", env))
    for name, seconds in starts.items():
        shown = " ".join(f"{s:.2f}" for s in seconds)
        print(f"time to the first batch, {name}: median {statistics.median(seconds):.2f}s ({shown})", flush=True)
    driver, out = tmp / "phases.py", tmp / "phases.json"
    driver.write_text(PHASES_SCRIPT)
    cmd, cwd = dlstudio_train(ROOT, "phases")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    subprocess.run(
        [py, str(driver), repr(t0), str(out), *cmd[3:]],
        check=True,
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    total = time.time() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    _print_phases(json.loads(out.read_text()), total, used)
    return statistics.median(ratios["ours"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=None, help="default 4 in-process, 10 for --whole-process")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--whole-process", action="store_true", help="time `dlstudio train` against a hand script")
    ap.add_argument("--baseline", type=Path, help="with --whole-process: another dlstudio checkout to time too")
    ap.add_argument(
        "--bytecode-each-run",
        action="store_true",
        help="with --whole-process under PYTHONDONTWRITEBYTECODE: keep it (every run compiles dlstudio's sources)",
    )
    args = ap.parse_args()
    if args.whole_process:
        ratio = whole_process(args.epochs or 10, args.repeats, args.baseline, args.threads, args.bytecode_each_run)
        return 0 if ratio <= 1.05 else 1
    args.epochs = args.epochs or 4
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), epochs {args.epochs}, "
        f"median of {args.repeats} interleaved runs, samples/s on the process CPU clock; target ratio >= 0.95"
    )
    plain: list[float] = []
    for metrics in ("basic", "full"):
        plain.append(
            bench(
                "digits MLP", lambda: mlp_for("digits", (128,)), hand_mlp, "digits", args.epochs, args.repeats, metrics
            )[0]
        )
        plain.append(
            bench(
                "LeNet-5 28x28",
                lenet5_graph,
                hand_lenet,
                "digits_28x28",
                max(1, args.epochs // 2),
                args.repeats,
                metrics,
            )[0]
        )
    return 0 if min(plain) >= 0.95 else 1


if __name__ == "__main__":
    sys.exit(main())
