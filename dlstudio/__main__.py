"""Entry point: `dlstudio` / `python -m dlstudio`.

No argument or a project path opens the studio; a verb runs the CLI."""

from __future__ import annotations

import gc
import sys


def main(argv: list[str] | None = None) -> int:
    """`argv` None: the command line of this process (which ends when this returns); tests pass a list."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--training-process"]:  # the studio's training process (a packaged app has no `python -m`)
        from .training.child import main as training_process

        return training_process()
    from .cli import VERBS, run_cli

    if args and (args[0] in VERBS or args[0] in ("-h", "--help", "--version")):
        code = run_cli(args)
        if argv is None:
            # the process exits next: in the permanent generation, the ~300k objects torch leaves are not walked
            # again by the interpreter's final garbage collections (a few tenths of a second of every CLI run)
            gc.freeze()
        return code
    from .app import run_studio

    return run_studio(args)


if __name__ == "__main__":
    sys.exit(main())
