"""`dlstudio layers [--json] [--category C]`: the layer catalog with parameters, ports and explanations."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap

HELP = "list the layer types: category, parameters (kind, default, range), ports and explanation"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the catalog as JSON")
    parser.add_argument(
        "--category",
        "-c",
        default=None,
        metavar="C",
        help="only this category (case-insensitive, e.g. Activation, Convolution)",
    )
    parser.add_argument("type", nargs="?", default=None, help="show only this layer type")


def _ports(ports: list[dict]) -> str:
    parts = []
    for p in ports:
        flags = [f for f, on in (("many", p.get("many")), ("optional", p.get("optional"))) if on]
        dtype = "" if p.get("dtype") == "float" else f" {p.get('dtype')}"
        parts.append(p["name"] + dtype + (f" ({', '.join(flags)})" if flags else ""))
    return ", ".join(parts) or "-"


def _param_line(p: dict) -> str:
    rng = []
    if "min" in p:
        rng.append(f">= {p['min']:g}")
    if "max" in p:
        rng.append(f"<= {p['max']:g}")
    if "choices" in p:
        rng.append("one of " + ", ".join(repr(c) for c in p["choices"]))
    extra = f" [{'; '.join(rng)}]" if rng else ""
    adv = " (advanced)" if p.get("advanced") else ""
    doc = f" - {p['doc']}" if p.get("doc") else ""
    return f"    {p['name']}: {p['kind']} = {p['default']!r}{extra}{adv}{doc}"


def run(args: argparse.Namespace) -> int:
    from ..core.errors import UnknownLayerError
    from ..layers.registry import REGISTRY
    from ..layers.spec import CATEGORIES
    from .check import emit

    specs = REGISTRY.all()
    if args.category:
        wanted = {c.lower(): c for c in CATEGORIES}
        cat = wanted.get(args.category.strip().lower())
        if cat is None:
            print(f"error: unknown category {args.category!r}; categories: {', '.join(CATEGORIES)}", file=sys.stderr)
            return 2
        specs = [s for s in specs if s.category == cat]
    if args.type:
        try:
            one = REGISTRY.get(args.type)
        except UnknownLayerError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        specs = [s for s in specs if s.type == one.type]
    items = [s.to_dict() for s in specs]
    if args.json:
        emit(json.dumps(items, indent=2, sort_keys=True))
        return 0
    lines: list[str] = []
    current = None
    for d in items:
        if d["category"] != current:
            current = d["category"]
            lines.append(f"== {current} ==")
        impl = d["torch"] or ("graph boundary" if d["category"] == "Input/Output" else "custom")
        lines.append(f"{d['type']}  (torch: {impl})")
        lines.append(f"  inputs: {_ports(d['inputs'])}; outputs: {_ports(d['outputs'])}")
        if d["params"]:
            lines.append("  params:")
            lines.extend(_param_line(p) for p in d["params"])
        lines.extend(textwrap.wrap(d["explanation"], 100, initial_indent="  ", subsequent_indent="  "))
        lines.append("")
    lines.append(f"{len(items)} layer type(s)")
    emit("\n".join(lines))
    return 0
