"""Reading project files: parse, check limits, migrate, validate structure, build.

Every problem with the file becomes exactly one ProjectFileError(path, json_path, reason). Structural problems
(wrong types, duplicate ids, wires to missing nodes or ports, unknown fields, absurd sizes) are load errors.
Unknown layer types and bad parameter values are not: they load, and the analysis reports them as diagnostics
so the user can fix them in the editor. Nothing in the file is ever executed.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from ..core.errors import DlstudioError, ProjectFileError
from .migrations import migrate_format, migrate_nodes

if TYPE_CHECKING:
    from .project import Project

FORMAT_NAME = "dlstudio-project"
FORMAT_VERSION = 3  # 3: blocks nest (groups carry "parent")

# Limits far above any real project, low enough that a hostile file cannot exhaust memory or recursion.
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 48
MAX_INT = 2**63 - 1  # torch sizes are int64: anything larger is no real value
MAX_COORD = 1e9
MAX_ITEMS = 200_000  # nodes, edges or groups
MAX_ID_LEN = 64
MAX_TEXT_LEN = 1_000_000
MAX_TYPE_VERSION = 1_000_000
MAX_SLOT = 100_000
MAX_BLOCK_DEPTH = 32  # blocks inside blocks; real module trees are under 10 deep

ID_RE = re.compile(r"^[A-Za-z0-9_\-]+$")  # no "." (weights keys are "<id>.<tensor>") and no ":" (v1 links)

TOP_KEYS = ("format", "format_version", "meta", "nodes", "edges", "groups", "data", "training")
NODE_KEYS = ("id", "type", "label", "params", "position", "frozen", "group", "type_version")
EDGE_KEYS = ("src", "src_port", "dst", "dst_port", "slot")
GROUP_KEYS = ("id", "label", "node_ids", "collapsed", "position", "parent")
META_TEXT_KEYS = ("name", "description", "explanation")


class _DupKeys(dict):
    """A parsed JSON object that had a key twice (json keeps the last silently; we refuse)."""

    duplicate: str = ""


def _pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) == len(pairs):  # the common case, checked in C: no key twice
        return out
    seen: set[str] = set()
    for key, _value in pairs:
        if key in seen:
            dup = _DupKeys(out)
            dup.duplicate = key
            return dup
        seen.add(key)
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed (JSON has no NaN or Infinity); write a finite number")


_PLAIN_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _key_path(base: str, key: str) -> str:
    part = key if _PLAIN_KEY_RE.match(key) else json.dumps(key)
    if part.startswith('"'):
        return f"{base}[{part}]"
    return f"{base}.{part}" if base else part


def parse_json(raw: bytes, path: str) -> Any:
    if len(raw) > MAX_FILE_BYTES:
        raise ProjectFileError(
            path,
            "",
            f"the file is {len(raw)} bytes; project files are at most "
            f"{MAX_FILE_BYTES} bytes (weights belong in the .safetensors sidecar)",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProjectFileError(path, "", f"not UTF-8 text (byte {exc.start}); is this a project file?") from None
    try:
        data = json.loads(text, object_pairs_hook=_pairs_hook, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ProjectFileError(path, "", f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise ProjectFileError(path, "", "the JSON is nested too deeply") from None
    except ValueError as exc:  # NaN/Infinity, or an integer with thousands of digits
        raise ProjectFileError(path, "", f"not usable JSON: {exc}") from None
    check_plain(data, path)
    return data


def check_plain(data: Any, path: str, root: str = "") -> None:
    """Iterative walk of the whole document: depth, number ranges, duplicate keys, text length.

    A 10,000-node file has ~150,000 values, so JSON paths are built only for the value that fails: each stack
    entry carries its parent entry and its key, and `_trail` spells the path out from those links."""
    stack: list[tuple[Any, Any, str | int | None, int]] = [(data, None, None, 0)]
    pop, push = stack.pop, stack.append
    while stack:
        entry = pop()
        value, _parent, _key, depth = entry
        if depth > MAX_DEPTH:
            raise ProjectFileError(path, _trail(entry, root), f"nested more than {MAX_DEPTH} levels deep")
        kind = type(value)
        if kind is str:
            if len(value) > MAX_TEXT_LEN:
                raise ProjectFileError(path, _trail(entry, root), f"text of {len(value)} characters is too long")
        elif kind is dict or kind is _DupKeys:
            if kind is _DupKeys:
                raise ProjectFileError(
                    path,
                    _key_path(_trail(entry, root), value.duplicate),
                    f"the key {value.duplicate!r} appears twice; keep one",
                )
            for k, v in value.items():
                if len(k) > MAX_TEXT_LEN:
                    raise ProjectFileError(path, _trail(entry, root), "a key is absurdly long")
                push((v, entry, k, depth + 1))
        elif kind is list:
            for i, v in enumerate(value):
                push((v, entry, i, depth + 1))
        elif kind is bool or value is None:
            pass
        elif kind is int:
            if abs(value) > MAX_INT:
                raise ProjectFileError(
                    path, _trail(entry, root), f"the number {_short(value)} is too large (at most {MAX_INT})"
                )
        elif kind is float:
            if value != value or value in (float("inf"), float("-inf")):
                raise ProjectFileError(
                    path, _trail(entry, root), "the number is too large to represent; write a finite number"
                )


def _trail(entry: tuple[Any, Any, str | int | None, int], root: str) -> str:
    """The JSON path of a `check_plain` stack entry, from its chain of parent entries."""
    keys: list[str | int] = []
    while entry[1] is not None:
        keys.append(entry[2])
        entry = entry[1]
    jp = root
    for key in reversed(keys):
        jp = f"{jp}[{key}]" if isinstance(key, int) else _key_path(jp, key)
    return jp


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return {int: "a whole number", float: "a number", str: "text", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__
    )


class _Doc:
    """Validation helpers bound to one file, so every check names the file and the JSON path."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, jp: str, reason: str) -> ProjectFileError:
        return ProjectFileError(self.path, jp, reason)

    def obj(
        self, value: Any, jp: str, allowed: tuple[str, ...] | None = None, required: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(jp, f"expected an object, got {_type_name(value)}")
        if allowed is not None:
            for key in value:
                if key not in allowed:
                    raise self.fail(
                        _key_path(jp, key), f"unknown field {key!r} (allowed: {', '.join(allowed)}); remove it"
                    )
        for key in required:
            if key not in value:
                raise self.fail(_key_path(jp, key), f"the required field {key!r} is missing")
        return value

    def items(self, value: Any, jp: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(jp, f"expected a list, got {_type_name(value)}")
        if len(value) > MAX_ITEMS:
            raise self.fail(jp, f"{len(value)} entries; at most {MAX_ITEMS} are supported")
        return value

    def text(self, value: Any, jp: str, max_len: int = 10_000, allow_empty: bool = True) -> str:
        if not isinstance(value, str):
            raise self.fail(jp, f"expected text, got {_type_name(value)}")
        if len(value) > max_len:
            raise self.fail(jp, f"text of {len(value)} characters; at most {max_len}")
        if not allow_empty and not value:
            raise self.fail(jp, "must not be empty")
        return value

    def ident(self, value: Any, jp: str) -> str:
        s = self.text(value, jp, MAX_ID_LEN, allow_empty=False)
        if not ID_RE.match(s):
            raise self.fail(jp, f"the id {s!r} may use only letters, digits, '_' and '-'")
        return s

    def integer(self, value: Any, jp: str, lo: int, hi: int) -> int:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or (isinstance(value, float) and not value.is_integer())
        ):
            raise self.fail(jp, f"expected a whole number, got {_type_name(value)} {_short(value)}")
        v = int(value)
        if not lo <= v <= hi:
            raise self.fail(jp, f"{v} is out of range ({lo}..{hi})")
        return v

    def boolean(self, value: Any, jp: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(jp, f"expected true or false, got {_type_name(value)}")
        return value

    def position(self, value: Any, jp: str) -> list[float]:
        if not isinstance(value, list) or len(value) != 2:
            raise self.fail(jp, f"expected [x, y], got {_type_name(value)} {_short(value)}")
        out = []
        for i, v in enumerate(value):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise self.fail(f"{jp}[{i}]", f"expected a number, got {_type_name(v)}")
            if abs(v) > MAX_COORD:
                raise self.fail(f"{jp}[{i}]", f"{_short(v)} is off the canvas (at most {MAX_COORD:g})")
            out.append(float(v))
        return out


def validate_structure(data: dict[str, Any], path: str) -> dict[str, Any]:
    """Check a current-version dict field by field and return a normalized copy (defaults filled in)."""
    d = _Doc(path)
    d.obj(data, "", TOP_KEYS, ("format", "format_version"))
    meta = d.obj(data.get("meta", {}), "meta")
    for key in META_TEXT_KEYS:
        if key in meta:
            d.text(meta[key], f"meta.{key}", MAX_TEXT_LEN)
    data_section = d.obj(data.get("data", {}), "data")
    training = d.obj(data.get("training", {}), "training")

    nodes: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for i, nd in enumerate(d.items(data.get("nodes", []), "nodes")):
        jp = f"nodes[{i}]"
        d.obj(nd, jp, NODE_KEYS, ("id", "type"))
        nid = d.ident(nd["id"], f"{jp}.id")
        if nid in seen:
            raise d.fail(f"{jp}.id", f"the id {nid!r} is already used by nodes[{seen[nid]}]; ids must be unique")
        seen[nid] = i
        ntype = d.text(nd["type"], f"{jp}.type", 200, allow_empty=False)
        label = d.text(nd.get("label", nid), f"{jp}.label", 1000)
        params = d.obj(nd.get("params", {}), f"{jp}.params")
        pos = d.position(nd.get("position", [0.0, 0.0]), f"{jp}.position")
        frozen = d.boolean(nd.get("frozen", False), f"{jp}.frozen")
        group = nd.get("group")
        if group is not None:
            group = d.ident(group, f"{jp}.group")
        version = d.integer(nd.get("type_version", 1), f"{jp}.type_version", 1, MAX_TYPE_VERSION)
        nodes.append(
            {
                "id": nid,
                "type": ntype,
                "label": label,
                "params": params,
                "position": pos,
                "frozen": frozen,
                "group": group,
                "type_version": version,
            }
        )

    edges: list[dict[str, Any]] = []
    wired: dict[tuple, int] = {}
    for i, ed in enumerate(d.items(data.get("edges", []), "edges")):
        jp = f"edges[{i}]"
        d.obj(ed, jp, EDGE_KEYS, ("src", "src_port", "dst", "dst_port"))
        src = d.ident(ed["src"], f"{jp}.src")
        dst = d.ident(ed["dst"], f"{jp}.dst")
        for end, key in ((src, "src"), (dst, "dst")):
            if end not in seen:
                raise d.fail(
                    f"{jp}.{key}",
                    f"the wire points to node {end!r}, which is not in the file; delete the wire or restore the node",
                )
        src_port = d.text(ed["src_port"], f"{jp}.src_port", 200, allow_empty=False)
        dst_port = d.text(ed["dst_port"], f"{jp}.dst_port", 200, allow_empty=False)
        slot = d.integer(ed.get("slot", 0), f"{jp}.slot", 0, MAX_SLOT)
        key = (dst, dst_port, slot)
        if key in wired:
            raise d.fail(
                jp,
                f"input {dst}.{dst_port} slot {slot} is already wired by edges[{wired[key]}]; "
                "delete one of the two wires",
            )
        wired[key] = i
        edges.append({"src": src, "src_port": src_port, "dst": dst, "dst_port": dst_port, "slot": slot})

    groups, member_of = _validate_groups(d, data.get("groups", []), seen)
    for i, nd in enumerate(nodes):
        if nd["group"] != member_of.get(nd["id"]):
            expected = member_of.get(nd["id"])
            raise d.fail(
                f"nodes[{i}].group",
                f"says {nd['group']!r} but the groups list puts the node in {expected!r} (the innermost block "
                "holding it); make them agree",
            )
    return {
        "format": data["format"],
        "format_version": data["format_version"],
        "meta": meta,
        "nodes": nodes,
        "edges": edges,
        "groups": groups,
        "data": data_section,
        "training": training,
    }


def _validate_groups(
    d: _Doc, raw_groups: Any, node_index: dict[str, int]
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Blocks: unique ids, direct members that exist and sit in one block only, parents that exist, no parent
    cycle, at most MAX_BLOCK_DEPTH levels, and no empty block. Returns the normalized blocks and node -> block."""
    groups: list[dict[str, Any]] = []
    member_of: dict[str, str] = {}
    group_index: dict[str, int] = {}
    for i, gd in enumerate(d.items(raw_groups, "groups")):
        jp = f"groups[{i}]"
        d.obj(gd, jp, GROUP_KEYS, ("id", "node_ids"))
        gid = d.ident(gd["id"], f"{jp}.id")
        if gid in group_index or gid in node_index:
            raise d.fail(f"{jp}.id", f"the id {gid!r} is already used; group ids must differ from every other id")
        group_index[gid] = i
        label = d.text(gd.get("label", gid), f"{jp}.label", 1000)
        members = d.items(gd["node_ids"], f"{jp}.node_ids")
        for j, m in enumerate(members):
            mid = d.ident(m, f"{jp}.node_ids[{j}]")
            if mid not in node_index:
                raise d.fail(f"{jp}.node_ids[{j}]", f"no node {mid!r} in the file")
            if mid in member_of:
                raise d.fail(
                    f"{jp}.node_ids[{j}]",
                    f"node {mid!r} is already in group {member_of[mid]!r}; a node belongs to one block "
                    "(list it in the innermost block only)",
                )
            member_of[mid] = gid
        collapsed = d.boolean(gd.get("collapsed", True), f"{jp}.collapsed")
        pos = d.position(gd.get("position", [0.0, 0.0]), f"{jp}.position")
        parent = gd.get("parent")
        if parent is not None:
            parent = d.ident(parent, f"{jp}.parent")
        groups.append(
            {
                "id": gid,
                "label": label,
                "node_ids": list(members),
                "collapsed": collapsed,
                "position": pos,
                "parent": parent,
            }
        )
    has_child: set[str] = set()
    for i, gd in enumerate(groups):
        parent = gd["parent"]
        if parent is None:
            continue
        if parent not in group_index:
            raise d.fail(
                f"groups[{i}].parent",
                f"no block {parent!r} in the file; set it to null (top level) or to an existing block id",
            )
        has_child.add(parent)
        chain = [gd["id"]]
        up: str | None = parent
        while up is not None:
            if up in chain:
                raise d.fail(
                    f"groups[{i}].parent",
                    f"the parents form a cycle ({' -> '.join([*chain, up])}); a block cannot be inside itself: "
                    "set one of these parents to null",
                )
            chain.append(up)
            if len(chain) > MAX_BLOCK_DEPTH:
                raise d.fail(
                    f"groups[{i}].parent",
                    f"blocks nest more than {MAX_BLOCK_DEPTH} deep here; flatten some levels",
                )
            up = groups[group_index[up]]["parent"]
    for i, gd in enumerate(groups):
        if not gd["node_ids"] and gd["id"] not in has_child:
            raise d.fail(
                f"groups[{i}].node_ids",
                "a block needs at least one node or one child block; delete the empty group",
            )
    return groups, member_of


def check_ports(doc: dict[str, Any], path: str) -> None:
    """Wires must use ports the node types have. Skipped for unknown types and for nodes whose params do not
    resolve (their ports are uncertain; the analysis reports those nodes)."""
    from ..layers.registry import REGISTRY

    by_id = {nd["id"]: nd for nd in doc["nodes"]}
    in_ports: dict[str, list[str] | None] = {}
    out_ports: dict[str, list[str] | None] = {}
    for nid, nd in by_id.items():
        if nd["type"] not in REGISTRY:
            in_ports[nid] = out_ports[nid] = None
            continue
        spec = REGISTRY.get(nd["type"])
        in_ports[nid] = [p.name for p in spec.inputs]
        if spec.dynamic_outputs is None:
            out_ports[nid] = [p.name for p in spec.outputs]
            continue
        try:
            out_ports[nid] = [p.name for p in spec.output_ports(spec.resolve_params(nd["params"]))]
        except Exception:  # invalid params: a diagnostic later, not a load error
            out_ports[nid] = None
    for i, ed in enumerate(doc["edges"]):
        for node_key, port_key, table, what in (
            ("src", "src_port", out_ports, "output"),
            ("dst", "dst_port", in_ports, "input"),
        ):
            names = table[ed[node_key]]
            if names is not None and ed[port_key] not in names:
                nd = by_id[ed[node_key]]
                have = ", ".join(names) or "none"
                raise ProjectFileError(
                    path,
                    f"edges[{i}].{port_key}",
                    f"{nd['type']} '{nd['label']}' ({nd['id']}) has no {what} port "
                    f"{ed[port_key]!r} ({what}s: {have}); rewire it",
                )


def read_document(raw: bytes, path: str) -> dict[str, Any]:
    """Parse, migrate and validate; returns the normalized current-version dict."""
    data = parse_json(raw, path)
    if not isinstance(data, dict):
        raise ProjectFileError(
            path, "", f"expected a JSON object at the top, got {_type_name(data)}; is this a dlstudio project?"
        )
    if data.get("format") != FORMAT_NAME:
        raise ProjectFileError(path, "format", f'not a dlstudio project (expected "format": "{FORMAT_NAME}")')
    if "format_version" not in data:
        raise ProjectFileError(path, "format_version", "the required field 'format_version' is missing")
    version = data["format_version"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise ProjectFileError(path, "format_version", f"expected a whole number, got {_type_name(version)}")
    if version > FORMAT_VERSION:
        raise ProjectFileError(
            path,
            "format_version",
            f"written by a newer dlstudio (format_version {version}); "
            f"update dlstudio (this one reads up to {FORMAT_VERSION})",
        )
    if version < 1:
        raise ProjectFileError(path, "format_version", f"format_version {version} does not exist (1..{FORMAT_VERSION})")
    data = migrate_format(data, version, FORMAT_VERSION, path)
    try:
        doc = validate_structure(data, path)
        migrate_nodes(doc["nodes"], path)
        check_ports(doc, path)
    except ProjectFileError as exc:
        if version >= 2:  # versions 2 and 3 share the layout: the path reads the same in the file
            raise
        # the path names the updated layout (nodes/edges), not the old one (layers/links): say so
        raise ProjectFileError(
            path,
            exc.json_path,
            f"{exc.reason} (in the file as updated from format_version "
            f"{version}: nodes = layers, edges = links, groups = blocks)",
        ) from None
    return doc


def project_from_text(raw: bytes, path: str) -> Project:
    from ..layers.builder import Graph
    from .project import Project

    doc = read_document(raw, path)
    g = Graph()
    try:
        g.load_dict(doc)
    except DlstudioError as exc:  # validation should have caught it; still one typed error, never a crash
        raise ProjectFileError(path, "nodes", str(exc)) from None
    return Project(graph=g, data=doc["data"], training=doc["training"], meta=doc["meta"])
