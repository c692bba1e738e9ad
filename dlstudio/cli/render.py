"""`dlstudio render PROJECT -o graph.png|graph.svg [--expand] [--block NAME]`: draw the network as the studio
shows it (blocks as cards, rows wrapped like its auto-layout, shapes on the wires), offscreen: no display needed."""

from __future__ import annotations

import argparse
import sys

HELP = "draw a project's network to PNG or SVG (layered layout, tensor shapes on the wires), no display needed"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", help="a .dlstudio project file")
    parser.add_argument("-o", "--output", required=True, metavar="FILE.png|FILE.svg", help="image to write")
    parser.add_argument("--scale", type=float, default=2.0, help="PNG pixel density (default 2 = sharp on slides)")
    parser.add_argument(
        "--expand", action="store_true", help="draw every block open (nested frames) instead of one card per block"
    )
    parser.add_argument(
        "--block", metavar="NAME", help="draw the inside of the block with this name (its child blocks as cards)"
    )


def run(args: argparse.Namespace) -> int:
    from ..core.errors import DlstudioError, ProjectFileError
    from ..io.project import Project

    try:
        project = Project.load(args.project)
    except ProjectFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        from ..ui.diagram import render_file

        path = render_file(
            project.graph, args.output, scale=args.scale, title=project.name, expand=args.expand, block=args.block
        )
    except DlstudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"diagram: {path}")
    return 0
