"""`dlstudio import MODEL -o PROJECT.dlstudio`: an ONNX file or a PyTorch nn.Module becomes a project.

MODEL is `model.onnx` or `model.py:ClassName` (traced with torch.fx; needs --input-shape). Importing a .py file
RUNS ITS CODE: only import files you trust. Exit codes: 0 imported and checked, 1 the model has unsupported
parts (all are listed; nothing is written), 2 the file cannot be used.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "import an ONNX model or a PyTorch module (model.py:ClassName; this runs the file's code) as a project"
DESCRIPTION = (
    HELP + ". Exit code 0: imported and checked; 1: unsupported parts (listed, nothing written); "
    "2: the file cannot be used. WARNING: importing a .py file executes it; only import code you trust."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="model.onnx, or model.py:ClassName (executes model.py!)")
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
        help="dtype per input for .py models (default float32)",
    )
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


def run(args: argparse.Namespace) -> int:
    from ..core.errors import DlstudioError, ModelImportError

    shapes = _shapes(args.input_shape)
    try:
        if ":" in args.model and args.model.split(":", 1)[0].endswith(".py"):
            from ..importers.torch_fx import import_torch_file

            if not shapes:
                print("error: a .py model needs --input-shape (one per forward argument)", file=sys.stderr)
                return 2
            path, cls = args.model.split(":", 1)
            result = import_torch_file(path, cls, shapes, dtypes=args.input_dtype, check=not args.no_check)
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
