"""`dlstudio diff OLD NEW`: what changed between two models, block by block, summary first.

Each side is a .dlstudio project, an .onnx file, `model.py:ClassName` (through torch.export; this runs the
file's code) or a .pt2 program, a training run folder or a .safetensors file. Two weights files (or
`--weights`) compare the weights layer by layer. Exit codes as diff(1): 0 the same, 1 different, 2 trouble
(a side cannot be read).
"""

from __future__ import annotations

import argparse
import json
import sys

HELP = "compare two models (projects, ONNX files, model.py:Class, runs) or two weights files"
DESCRIPTION = (
    HELP + ": added, removed and changed nodes, parameter changes, rewired wires, shapes changed downstream, "
    "parameter and MAC deltas; with --weights (or two .safetensors files) per-layer L2 of the difference, "
    "relative change and cosine similarity. Exit code 0: the same; 1: different; 2: a side cannot be read. "
    "WARNING: a model.py side executes that file."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "old", help="the old side: PROJECT.dlstudio, MODEL.onnx, model.py:Class, RUN_FOLDER or .safetensors"
    )
    parser.add_argument("new", help="the new side, same kinds")
    parser.add_argument("--json", action="store_true", help="print the whole comparison as JSON")
    parser.add_argument(
        "--weights", action="store_true", help="also compare the weights (a project's sidecar, a run's best weights)"
    )
    parser.add_argument(
        "--match",
        choices=("auto", "id", "structure"),
        default="auto",
        help="how nodes are paired: by id (one lineage: a copy, Save As, a template), by hierarchy, type and "
        "order, or auto (id when the two share most ids)",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=0.0,
        metavar="REL",
        help="weights: a layer that moved by at most this share of its norm counts as unchanged, e.g. 1e-6 for "
        "float rounding (default 0: only identical layers)",
    )
    parser.add_argument("--all", action="store_true", help="list every node even for unrelated models, and renames")
    parser.add_argument(
        "--input-shape",
        action="append",
        default=None,
        metavar="D1,D2,...",
        help="shape of one sample without the batch for model.py sides (repeat per input)",
    )


def run(args: argparse.Namespace) -> int:
    from ..importers.diff_sources import ModelSourceError, compare_sources, open_model_source
    from .check import emit
    from .import_ import _shapes

    shapes = _shapes(args.input_shape)
    try:
        old = open_model_source(args.old, input_shapes=shapes or None)
        new = open_model_source(args.new, input_shapes=shapes or None)
        result = compare_sources(old, new, weights=args.weights, match=args.match, tolerance=args.tolerance)
    except ModelSourceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        emit(json.dumps(result.to_dict(), indent=2, sort_keys=True))
    else:
        emit(result.format(full=args.all))
    return 0 if result.same else 1
