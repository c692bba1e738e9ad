"""The `dlstudio` command line. Each verb lives in its own module under dlstudio/cli/ and registers here.

Exit codes: 0 success, 1 the model/graph has errors (or a run failed), 2 the input cannot be used.
"""

from __future__ import annotations

import argparse
import sys
from types import ModuleType

# the verb modules import only the standard library at module level (torch, onnx and Qt load inside `run`)
from . import check, diff, evaluate, export, import_, layers, render, train

# verb -> its module, which defines HELP, optionally DESCRIPTION, `add_arguments(parser)` and `run(args) -> int`
VERBS: dict[str, ModuleType] = {
    "layers": layers,
    "check": check,
    "train": train,
    "evaluate": evaluate,
    "export": export,
    "import": import_,
    "render": render,
    "diff": diff,
}


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="dlstudio",
        description="dlstudio: draw, check, train and export deep-learning models. "
        "Run without a verb (or with a project path) to open the studio.",
    )
    parser.add_argument("--version", action="version", version=f"dlstudio {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for verb, mod in VERBS.items():
        p = sub.add_parser(verb, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP))
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def run_cli(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
