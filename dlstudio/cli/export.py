"""`dlstudio export PROJECT --onnx out.onnx | --python out.py | --weights-out w.safetensors`.

Every export is checked numerically before it counts: ONNX against onnxruntime (max |diff| per output), Python
against the compiled model. The weights: --weights FILE, else (--weights-from auto) the newest finished run's
best weights (`<project dir>/runs/<name>-*`) when they are newer than the project's sidecar, else the sidecar,
else the seeded initialisation; the first line printed names them. Exit codes: 0 exported and checked, 1 the
export or its check failed, 2 the project or weights cannot be used.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

HELP = "export a project: ONNX (checked in onnxruntime), standalone PyTorch code, weights (safetensors)"
DESCRIPTION = (
    HELP + ". Exit code 0: exported and checked; 1: export or parity check failed; "
    "2: the project or weights cannot be used."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", help="a .dlstudio project file")
    parser.add_argument("--onnx", metavar="OUT.onnx", help="write an ONNX model (dynamic batch, named I/O)")
    parser.add_argument("--opset", type=int, default=17, metavar="N", help="ONNX opset (default 17)")
    parser.add_argument(
        "--exporter",
        choices=("auto", "torchscript", "dynamo"),
        default="auto",
        help="torch ONNX exporter: auto = TorchScript (fast), dynamo if that fails",
    )
    parser.add_argument("--python", metavar="OUT.py", help="write a standalone PyTorch module")
    parser.add_argument("--class-name", default="Model", help="class name of the generated module")
    parser.add_argument(
        "--weights",
        metavar="W.safetensors",
        help="weights to export with (default: see --weights-from)",
    )
    parser.add_argument(
        "--weights-from",
        choices=("auto", "run", "project", "seed"),
        default="auto",
        help="without --weights: auto = the newest finished run's best weights when newer than the project's "
        "sidecar, else the sidecar; run = the newest run's; project = the sidecar; seed = the seeded "
        "initialisation",
    )
    parser.add_argument(
        "--weights-out",
        metavar="W.safetensors",
        help="also write the weights in the generated module's state_dict layout "
        "(default with --python: OUT.safetensors beside the .py)",
    )
    parser.add_argument(
        "--train-script",
        metavar="TRAIN.py",
        help="also write a training script (python TRAIN.py, or torchrun for DDP) and the prepared "
        "data beside it; needs --python in the same folder",
    )


def run(args: argparse.Namespace) -> int:
    from ..core.errors import DlstudioError, ProjectFileError, WeightsError
    from ..io.project import Project

    if not (args.onnx or args.python or args.weights_out or args.train_script):
        print("error: nothing to export: give --onnx, --python and/or --weights-out", file=sys.stderr)
        return 2
    if args.train_script and not args.python:
        print("error: --train-script needs --python (the script imports the generated model module)", file=sys.stderr)
        return 2
    try:
        project = Project.load(args.project)
    except ProjectFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        weights, used = _weights(project, args.weights, args.weights_from)
    except (DlstudioError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"weights: {used}")
    try:
        if args.onnx:
            from ..export.onnx import export_onnx

            print(
                export_onnx(
                    project.graph, args.onnx, opset=args.opset, weights=weights, exporter=args.exporter
                ).format()
            )
        if args.python:
            from ..export.python_code import export_python

            wout = args.weights_out or str(Path(args.python).with_suffix(".safetensors"))
            print(
                export_python(
                    project.graph,
                    args.python,
                    weights=weights,
                    weights_out=wout,
                    class_name=args.class_name,
                    title=project.name,
                ).format()
            )
            if args.train_script:
                from ..export.train_script import export_train_script

                print(
                    export_train_script(
                        project, args.train_script, model_file=args.python, class_name=args.class_name
                    ).format()
                )
        elif args.weights_out:
            from ..export.common import build_model
            from ..export.weights import save_weights_file

            model = build_model(project.graph, weights)
            print(f"weights: {save_weights_file(model, project.graph, args.weights_out)}")
    except WeightsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except DlstudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _weights(project: Any, given: str | None, source: str) -> tuple[Any, str]:
    """The exporters' `weights=` and the words naming them."""
    from ..training.runs import export_weights

    if given is not None:
        return given, given
    return export_weights(project, source)
