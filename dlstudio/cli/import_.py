"""`dlstudio import MODEL -o PROJECT.dlstudio`: an ONNX file or a PyTorch nn.Module becomes a project.

MODEL is `model.onnx`, `model.py:ClassName` (exported with torch.export; needs --input-shape, and --init for
constructor arguments) or a `.pt2` ExportedProgram saved with torch.export.save. Importing a .py or .pt2 file
RUNS ITS CODE: only import files you trust. Exit codes: 0 imported and checked, 1 the model has unsupported
parts (all are listed; nothing is written), 2 the file cannot be used.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = (
    "import an ONNX model, a PyTorch module (model.py:ClassName; this runs the file's code) or a torch.export "
    ".pt2 program as a project"
)
DESCRIPTION = (
    HELP + ". Exit code 0: imported and checked; 1: unsupported parts (listed, nothing written); "
    "2: the file cannot be used. WARNING: importing a .py file executes it; only import code you trust."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="model.onnx, model.pt2, or model.py:ClassName (executes model.py!)")
    parser.add_argument("-o", "--output", required=True, metavar="PROJECT.dlstudio", help="project file to write")
    parser.add_argument(
        "--input-shape",
        action="append",
        default=None,
        metavar="D1,D2,...",
        help="shape of one sample without the batch, e.g. 1,28,28 (repeat for several inputs); "
        "required for .py models, optional for ONNX models with symbolic sizes",
    )
    parser.add_argument(
        "--input-dtype",
        action="append",
        default=None,
        choices=("float32", "int64"),
        help="dtype per input for .py models (default float32), in --input-shape order",
    )
    parser.add_argument(
        "--init",
        default=None,
        metavar="JSON",
        help="constructor keyword arguments for model.py:ClassName as JSON, e.g. '{\"upscale_factor\": 3}'",
    )
    parser.add_argument("--batch", type=int, default=2, help="batch size of the example input (default 2)")
    parser.add_argument("--no-check", action="store_true", help="skip the numerical comparison")


def _shapes(values: list[str] | None) -> list[tuple[int, ...]]:
    out = []
    for v in values or []:
        try:
            out.append(tuple(int(p) for p in v.replace("x", ",").split(",") if p.strip()))
        except ValueError:
            msg = f"error: --input-shape {v!r} must be comma-separated whole numbers, e.g. 1,28,28"
            raise SystemExit(msg) from None
    return out


def _init(text: str | None) -> dict | None:
    """--init as a dict ({} when not given); None after printing why it is not a JSON object."""
    if not text:
        return {}
    import json

    try:
        value = json.loads(text)
    except ValueError as exc:
        print(f"error: --init is not valid JSON ({exc}); e.g. --init '{{\"upscale_factor\": 3}}'", file=sys.stderr)
        return None
    if not isinstance(value, dict):
        print("error: --init must be a JSON object of constructor keyword arguments", file=sys.stderr)
        return None
    return value


def run(args: argparse.Namespace) -> int:
    from ..core.errors import DlstudioError, ModelImportError

    shapes = _shapes(args.input_shape)
    init = _init(args.init)
    if init is None:
        return 2
    try:
        if ":" in args.model and args.model.split(":", 1)[0].endswith(".py"):
            from ..importers.torch_export import import_torch_file

            if not shapes:
                print("error: a .py model needs --input-shape (one per forward argument)", file=sys.stderr)
                return 2
            if args.input_dtype and len(args.input_dtype) > len(shapes):
                print("error: more --input-dtype than --input-shape options", file=sys.stderr)
                return 2
            path, cls = args.model.split(":", 1)
            result = import_torch_file(
                path, cls, shapes, init=init, dtypes=args.input_dtype, batch=args.batch, check=not args.no_check
            )
        elif args.model.endswith((".pt2", ".pt2.zip")):
            from ..importers.torch_export import import_pt2

            result = import_pt2(args.model, check=not args.no_check)
        elif args.model.endswith(".py"):
            print(f"error: name the class to import: {args.model}:ClassName", file=sys.stderr)
            return 2
        else:
            from ..importers.onnx import import_onnx

            if not Path(args.model).is_file():
                print(f"error: {args.model}: no such file", file=sys.stderr)
                return 2
            named = None
            if shapes:
                import onnx

                m = onnx.load(args.model, load_external_data=False)
                inits = {i.name for i in m.graph.initializer}
                names = [i.name for i in m.graph.input if i.name not in inits]
                named = dict(zip(names, shapes))
            result = import_onnx(args.model, check=not args.no_check, input_shapes=named)
        from ..io.imported import save_import

        target = save_import(result, args.output, source=args.model)
    except ModelImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1 if exc.problems else 2
    except DlstudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # never a traceback: say what failed and that nothing was written
        print(
            f"error: importing {args.model} failed ({type(exc).__name__}: {exc}); nothing was written. "
            f"Please report this with the model file.",
            file=sys.stderr,
        )
        return 2
    print(result.report.format())
    print(f"project: {target} ({len(result.graph)} nodes)")
    return 0
