"""`dlstudio evaluate PROJECT --weights W`: metrics of trained weights on the project's data splits."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = "evaluate trained weights on the project's validation/test data"
DESCRIPTION = (
    "Load weights (a run's best/last .safetensors, or a checkpoint folder) into the project's graph "
    "and report loss and metrics (accuracy, precision, recall, F1, AUC-ROC, confusion matrix; or MSE, "
    "MAE, R2) on the chosen split, prepared exactly as for training."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("project", help="the .dlstudio project file")
    p.add_argument(
        "--weights", help="a .safetensors weights file or a checkpoint folder (default: the project's own weights file)"
    )
    p.add_argument(
        "--split",
        choices=("train", "val", "test", "all"),
        default="all",
        help="which split to evaluate (default: every split there is)",
    )
    p.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--json", action="store_true", help="print the metrics as one JSON object")


def run(args: argparse.Namespace) -> int:
    from ..core.errors import DataError, DlstudioError
    from ..io.project import Project
    from ..training.checkpoints import load_checkpoint, load_weights_file
    from ..training.project import make_trainer

    try:
        project = Project.load(args.project)
        from ..training.generative import generative_mode

        if generative_mode(project.training) is not None:
            raise DataError(
                f"{args.project}: evaluate scores supervised models; autoencoder and GAN runs report "
                "their validation losses in <run>/metrics.jsonl"
            )
        weights = Path(args.weights) if args.weights else project.weights_path
        if weights is None or not weights.exists():
            raise DataError(f"{weights or args.project}: no weights to evaluate; pass --weights <run>/best.safetensors")
        state = load_checkpoint(weights)["model"] if weights.is_dir() else load_weights_file(weights)
        trainer = make_trainer(project, device=args.device, use_run_dir=False)
        try:
            trainer.model.load_state_dict(state)
        except RuntimeError as exc:
            raise DataError(
                f"{weights}: the weights do not fit this graph ({str(exc).splitlines()[0]}); "
                "were they trained on another version of the graph?"
            ) from None
    except DlstudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    splits = {"train": trainer.train_set, "val": trainer.val_set, "test": trainer.test_set}
    wanted = [s for s in splits if args.split in (s, "all") and splits[s] is not None and len(splits[s])]
    results = {s: trainer.evaluate_split(splits[s], full=True) for s in wanted}
    if args.json:
        print(json.dumps(results, default=str, sort_keys=True))
        return 0
    for s, m in results.items():
        scalars = " ".join(f"{k} {v:.4g}" for k, v in m.items() if isinstance(v, (int, float)))
        print(f"{s} ({len(splits[s])} rows): {scalars}")
        if "confusion_matrix" in m:
            print("  confusion matrix (rows: true class, columns: predicted):")
            for row in m["confusion_matrix"]:
                print("   " + " ".join(f"{v:5d}" for v in row))
    return 0
