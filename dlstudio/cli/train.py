"""`dlstudio train PROJECT`: train headless with a progress bar, or one JSON line per event with --json."""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
from typing import Any, TextIO

HELP = "train a project's model on its data (headless)"
DESCRIPTION = (
    "Train the project's graph with the project's data and training settings. Writes a run folder "
    "(settings, metrics CSV/JSONL, checkpoints, best/last weights, report). Ctrl+C saves a "
    "checkpoint and exits; --resume continues from one. --nproc N trains data-parallel under torchrun."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("project", help="the .dlstudio project file")
    p.add_argument("--epochs", type=int, help="override training.epochs")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (overrides training.device)")
    p.add_argument("--run-dir", help="the run folder (default: <project dir>/runs/<name>-<time>)")
    p.add_argument("--resume", metavar="CHECKPOINT", help="a checkpoint folder <run>/checkpoints/epoch_NNNN")
    p.add_argument("--weights", help="start from these weights (.safetensors of the compiled model)")
    p.add_argument("--json", action="store_true", help="print one JSON line per event instead of a progress bar")
    p.add_argument("--nproc", type=int, default=1, help="processes for data-parallel training (torchrun)")
    p.add_argument(
        "--sanity",
        action="store_true",
        help="do not train: run the overfit-one-batch check and a learning-rate range test",
    )


def _launch_distributed(args: argparse.Namespace) -> int:
    from ..training.distributed import torchrun_argv

    forward = ["train", args.project]
    for flag in ("epochs", "device", "run_dir", "resume", "weights"):
        value = getattr(args, flag)
        if value is not None:
            forward += [f"--{flag.replace('_', '-')}", str(value)]
    if args.run_dir is None and args.resume is None:
        # every rank must agree on one run folder: fix it here
        from ..io.project import Project
        from ..training.project import default_run_dir

        forward += ["--run-dir", str(default_run_dir(Project.load(args.project)))]
    if args.json:
        forward.append("--json")
    return subprocess.call(torchrun_argv(args.nproc, forward))


class _Progress:
    """A one-line progress bar on a terminal, one line per epoch otherwise; refreshed at most 10 times/s."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.last = 0.0
        self.t_epoch = time.perf_counter()

    def __call__(self, ev: Any) -> None:
        name = type(ev).__name__
        if name == "EpochStarted":
            self.t_epoch = time.perf_counter()
        elif name == "BatchEnd" and self.tty:
            now = time.perf_counter()
            if now - self.last < 0.1 and ev.batch != ev.batches:
                return
            self.last = now
            done = ev.batch / ev.batches
            eta = (now - self.t_epoch) * (1 - done) / max(done, 1e-9)
            bar = "#" * int(24 * done)
            self.stream.write(
                f"\repoch {ev.epoch} [{bar:<24}] {ev.batch}/{ev.batches} loss {ev.loss:.4f} "
                f"{ev.samples_per_s:,.0f} samples/s ETA {eta:4.1f}s "
            )
            self.stream.flush()
        elif name == "EpochEnd":
            shown = {
                k: v
                for k, v in ev.metrics.items()
                if k
                in (
                    "loss",
                    "accuracy",
                    "val_loss",
                    "val_accuracy",
                    "val_r2",
                    "val_mse",
                    "r2",
                    "lr",
                    "d_loss",
                    "g_loss",
                    "val_bilinear_loss",
                )
            }
            text = " ".join(f"{k} {v:.4g}" for k, v in shown.items())
            self.stream.write(
                ("\r" if self.tty else "") + f"epoch {ev.epoch}/{ev.epochs} {text} ({ev.seconds:.1f}s)" + " " * 8 + "\n"
            )
            for w in ev.warnings:
                self.stream.write(f"  warning: {w}\n")
            self.stream.flush()
        elif name == "Checkpoint":
            pass
        elif name == "SamplesSaved" and ev.path:
            self.stream.write(f"  {ev.kind}: {ev.path}\n")
        elif name == "Finished":
            what = "stopped early" if ev.stopped_early else "stopped by user" if ev.stopped_by_user else "finished"
            self.stream.write(f"{what} after {ev.epochs_run} epoch(s); run folder: {ev.run_dir}\n")
            scalars = {k: v for k, v in ev.test_metrics.items() if isinstance(v, (int, float))}
            if scalars:
                self.stream.write("test: " + " ".join(f"{k} {v:.4g}" for k, v in scalars.items()) + "\n")
        elif name == "Failed":
            self.stream.write(f"\nerror: {ev.message}\n")


def run(args: argparse.Namespace) -> int:
    from ..core.errors import DlstudioError

    if args.nproc and args.nproc > 1:
        return _launch_distributed(args)
    from ..io.project import Project
    from ..training.project import make_trainer

    try:
        project = Project.load(args.project)
        # generative projects (autoencoder, super-resolution, GAN) get a generative trainer from make_trainer
        trainer = make_trainer(
            project,
            run_dir=args.run_dir,
            resume=args.resume,
            epochs=args.epochs,
            device=args.device,
            weights=args.weights,
        )
    except DlstudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.sanity:
        from ..training.loop import Trainer

        if not isinstance(trainer, Trainer):
            print("error: --sanity checks supervised training; this project trains a generative model", file=sys.stderr)
            return 2
        return _sanity(trainer, args.json)
    interrupted = {"n": 0}

    def on_sigint(signum: int, frame: Any) -> None:
        interrupted["n"] += 1
        if interrupted["n"] > 1:
            raise KeyboardInterrupt
        print("\nstopping after this batch and saving a checkpoint (Ctrl+C again to abort)", file=sys.stderr)
        trainer.stop()

    old = signal.signal(signal.SIGINT, on_sigint)
    progress = _Progress(sys.stderr)
    rank = trainer.dist.rank
    code = 0
    try:
        for ev in trainer.run():
            if args.json:
                d = ev.to_dict()
                if trainer.dist.enabled:
                    d["rank"] = rank
                if d["event"] == "Finished":
                    d["weights_sha256"] = trainer.weights_digest()
                # one write per line: ranks share the pipe, and writes under PIPE_BUF do not interleave
                sys.stdout.write(json.dumps(d, default=str) + "\n")
                sys.stdout.flush()
            elif trainer.dist.is_main:
                progress(ev)
            if type(ev).__name__ == "Failed":
                code = 1
    finally:
        signal.signal(signal.SIGINT, old)
        from ..training.distributed import shutdown

        shutdown()
    if interrupted["n"] and code == 0:
        return 130
    return code


def _sanity(trainer: Any, as_json: bool) -> int:
    from ..training.sanity import lr_range_test, overfit_one_batch

    fit = overfit_one_batch(trainer)
    rng = lr_range_test(trainer)
    if as_json:
        print(
            json.dumps(
                {
                    "overfit_one_batch": {
                        "initial_loss": fit.initial_loss,
                        "final_loss": fit.final_loss,
                        "passed": fit.passed,
                    },
                    "lr_range_test": {"suggested_lr": rng.suggested_lr, "lrs": rng.lrs, "losses": rng.losses},
                }
            )
        )
    else:
        print(("ok: " if fit.passed else "FAILED: ") + fit.message)
        print(
            f"learning-rate range test: suggested lr {rng.suggested_lr:.3g} "
            f"(tried {rng.lrs[0]:.1e} .. {rng.lrs[-1]:.1e} over {len(rng.lrs)} steps)"
            if rng.lrs
            else "learning-rate range test: the loss was not finite at the smallest rate"
        )
    return 0 if fit.passed else 1
