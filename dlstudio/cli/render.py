"""`dlstudio render PROJECT -o graph.png|graph.svg`: draw the network (layered layout, shapes on the edges),
offscreen: no display needed."""

from __future__ import annotations

import argparse
import sys

HELP = "draw a project's network to PNG or SVG (layered layout, tensor shapes on the wires), no display needed"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", help="a .dlstudio project file")
    parser.add_argument("-o", "--output", required=True, metavar="FILE.png|FILE.svg", help="image to write")
    parser.add_argument("--scale", type=float, default=2.0, help="PNG pixel density (default 2 = sharp on slides)")


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

        path = render_file(project.graph, args.output, scale=args.scale, title=project.name)
    except DlstudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"diagram: {path}")
    return 0
