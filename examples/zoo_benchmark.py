"""Train zoo templates with their own settings and print the quality each reaches (the table in README.md).

    python examples/zoo_benchmark.py                         # every template, its own epochs (slow: CPU)
    python examples/zoo_benchmark.py --only tiny_vgg deep_mlp
    python examples/zoo_benchmark.py --epochs resnet18_cifar=1 --max-batches dcgan=10

Numbers are validation metrics after the last epoch: accuracy for classifiers, R^2 for the forecaster, the
reconstruction MSE (first epoch -> last) for autoencoders, MSE against bilinear upscaling for super-resolution,
and the final losses plus the mean change of the fixed-noise samples for the GAN.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

import torch  # noqa: E402

import dlstudio as dls  # noqa: E402
from dlstudio.training.generative import generative_mode, make_generative_trainer  # noqa: E402
from dlstudio.training.loop import Trainer  # noqa: E402


def _pairs(items: list[str]) -> dict[str, int]:
    out = {}
    for item in items:
        name, _, value = item.partition("=")
        out[name] = int(value)
    return out


def run_one(name: str, epochs: int | None, max_batches: int | None) -> dict[str, Any]:
    project = dls.Project.load(HERE / f"{name}.dlstudio")
    report = dls.check(project.graph)
    row: dict[str, Any] = {
        "name": name,
        "params": report.totals.params,
        "macs": report.totals.macs,
        "dataset": project.data.get("dataset"),
    }
    t0 = time.perf_counter()
    mode = generative_mode(project.training)
    if mode is not None:
        trainer: Any = make_generative_trainer(project, epochs=epochs, max_batches=max_batches)
    else:
        trainer = Trainer(project.graph, project.data, project.training, epochs=epochs)
    ends = []
    last = None
    for last in trainer.run():
        if type(last).__name__ == "EpochEnd":
            ends.append(last.metrics)
    row["seconds"] = time.perf_counter() - t0
    row["epochs"] = len(ends)
    if type(last).__name__ != "Finished" or not ends:
        row["quality"] = f"FAILED: {getattr(last, 'message', last)}"
        return row
    m = ends[-1]
    if mode == "gan":
        row["quality"] = (
            f"d_loss {m['d_loss']:.3f}, g_loss {m['g_loss']:.3f} (finite), sample change {m['sample_change']:.3f}"
        )
    elif mode == "super_resolution":
        row["quality"] = (
            f"val MSE {ends[0]['val_loss']:.4f} -> {m['val_loss']:.4f} (bilinear {m['val_bilinear_loss']:.4f})"
        )
    elif mode == "autoencoder":
        row["quality"] = f"val MSE {ends[0]['val_loss']:.4f} -> {m['val_loss']:.4f}"
    elif "val_accuracy" in m:
        row["quality"] = f"val accuracy {m['val_accuracy']:.3f}"
    elif "val_r2" in m:
        row["quality"] = f"val R^2 {m['val_r2']:.3f} (MSE {m['val_loss']:.4f})"
    else:
        row["quality"] = f"val loss {m.get('val_loss', m['loss']):.4f}"
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="template names (default: every examples/*.dlstudio)")
    parser.add_argument("--epochs", nargs="*", default=[], help="NAME=N overrides of training.epochs")
    parser.add_argument("--max-batches", nargs="*", default=[], help="NAME=N batches per epoch (generative modes)")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (default 1: fastest on a busy machine)"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    names = args.only or sorted(p.stem for p in HERE.glob("*.dlstudio"))
    epochs, batches = _pairs(args.epochs), _pairs(args.max_batches)
    print("| template | parameters | MACs | dataset | epochs | quality | CPU time |")
    print("|---|---:|---:|---|---:|---|---:|")
    for name in names:
        r = run_one(name, epochs.get(name), batches.get(name))
        print(
            f"| `{r['name']}` | {r['params']:,} | {r['macs']:,} | `{r['dataset']}` | {r['epochs']} | "
            f"{r['quality']} | {r['seconds']:.0f} s |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
