"""Migrations applied to raw project dicts before any object is built.

Two chains:

- format migrations, one function per step (`FORMAT_MIGRATIONS[v]` turns a version-v dict into version v+1);
- per-node migrations: a node type renamed since the file was written is resolved through
  `LayerSpec.replaces`, and a node whose `type_version` is older than its spec's `version` has its params passed
  through `LayerSpec.migrate(old_version, params)`, which returns params for the current version.

Each function validates exactly what it reads and raises ProjectFileError with the JSON path in the file as it
was written, so a broken old file is reported in its own terms ("links[2].from"), not in ours.

Format version 1 (dlstudio 0.0.x) looked like this:

    {"format": "dlstudio-project", "format_version": 1, "name": "...", "description": "...",
     "layers": [{"id": "n1", "type": "Dense", "name": "fc1", "config": {"units": 10},
                 "x": 0, "y": 0, "trainable": true, "version": 1}],
     "links": [{"from": "n1:out", "to": "n2:x"}],
     "blocks": [{"id": "g1", "name": "stem", "members": ["n1"], "collapsed": true}],
     "dataset": {...}, "training": {...}}

Layer types used Keras-style names with a few Keras parameter names; a link endpoint without ":port" meant
the node's first port (looked up in today's spec of the renamed type); several links into a many-port were
ordered by their position in "links".
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from ..core.errors import ProjectFileError

# v1 type name -> (current type name, {v1 param name: current param name})
V1_TYPES: dict[str, tuple[str, dict[str, str]]] = {
    "InputLayer": ("Input", {}),
    "OutputLayer": ("Output", {}),
    "Dense": ("Linear", {"units": "out_features", "use_bias": "bias"}),
    "Conv2D": ("Conv2d", {"filters": "out_channels", "kernel": "kernel_size", "strides": "stride", "use_bias": "bias"}),
    "Conv2DTranspose": (
        "ConvTranspose2d",
        {"filters": "out_channels", "kernel": "kernel_size", "strides": "stride", "use_bias": "bias"},
    ),
    "MaxPooling2D": ("MaxPool2d", {"pool_size": "kernel_size", "strides": "stride"}),
    "AveragePooling2D": ("AvgPool2d", {"pool_size": "kernel_size", "strides": "stride"}),
    "BatchNormalization2D": ("BatchNorm2d", {"epsilon": "eps"}),
    "Dropout": ("Dropout", {"rate": "p"}),
    "LSTM": ("LSTM", {"units": "hidden_size", "layers": "num_layers"}),
    "Activation.relu": ("ReLU", {}),
    "Activation.tanh": ("Tanh", {}),
    "Activation.sigmoid": ("Sigmoid", {}),
    "Concatenate": ("Concat", {"axis": "dim"}),
    "Add": ("Add", {}),
    "Flatten": ("Flatten", {}),
}

_V1_KEYS = {
    "format",
    "format_version",
    "name",
    "description",
    "explanation",
    "layers",
    "links",
    "blocks",
    "dataset",
    "training",
}
_V1_LAYER_KEYS = {"id", "type", "name", "config", "x", "y", "trainable", "version"}
_V1_BLOCK_KEYS = {"id", "name", "members", "collapsed", "x", "y"}


def _fail(path: str, jp: str, reason: str) -> ProjectFileError:
    return ProjectFileError(path, jp, reason)


def _want(value: Any, kind: type | tuple[type, ...], path: str, jp: str, what: str) -> Any:
    if isinstance(value, bool) and kind is not bool and (kind is int or kind == (int, float)):
        raise _fail(path, jp, f"expected {what}, got a boolean")
    if not isinstance(value, kind):
        raise _fail(path, jp, f"expected {what}, got {type(value).__name__} {_short(value)}")
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _split_endpoint(value: Any, path: str, jp: str, default_port: Callable[[str], str]) -> tuple[str, str]:
    _want(value, str, path, jp, 'a "node:port" string')
    node, sep, port = value.partition(":")
    if not node or (sep and not port):
        raise _fail(path, jp, f'expected "node:port" such as "n1:out", got {value!r}')
    return node, (port if sep else default_port(node))


def _first_port(type_name: str, side: str) -> str:
    """The first input/output port of a current type; "x"/"y" (the usual names) for unknown types."""
    from ..layers.registry import REGISTRY

    if type_name in REGISTRY:
        spec = REGISTRY.get(type_name)
        ports = spec.inputs if side == "in" else spec.outputs
        if ports:
            return ports[0].name
    return "x" if side == "in" else "y"


def migrate_v1_to_v2(data: dict[str, Any], path: str) -> dict[str, Any]:
    """Format 1 -> 2: layers/links/blocks become nodes/edges/groups; Keras-style names become torch names."""
    for key in data:
        if key not in _V1_KEYS:
            raise _fail(path, key, f"unknown field {key!r} in a format_version 1 file")
    meta = {k: data[k] for k in ("name", "description", "explanation") if k in data}
    layers = _want(data.get("layers", []), list, path, "layers", "a list of layers")
    nodes: list[dict[str, Any]] = []
    types: dict[str, str] = {}
    for i, layer in enumerate(layers):
        jp = f"layers[{i}]"
        _want(layer, dict, path, jp, "an object")
        for key in layer:
            if key not in _V1_LAYER_KEYS:
                raise _fail(path, f"{jp}.{key}", f"unknown field {key!r} in a version 1 layer")
        if "id" not in layer or "type" not in layer:
            raise _fail(path, jp, "a layer needs an 'id' and a 'type'")
        nid = _want(layer["id"], str, path, f"{jp}.id", "a text id")
        old_type = _want(layer["type"], str, path, f"{jp}.type", "a layer type name")
        new_type, renames = V1_TYPES.get(old_type, (old_type, {}))
        config = _want(layer.get("config", {}), dict, path, f"{jp}.config", "an object of parameters")
        params = {renames.get(k, k): copy.deepcopy(v) for k, v in config.items()}
        trainable = _want(layer.get("trainable", True), bool, path, f"{jp}.trainable", "true or false")
        x = _want(layer.get("x", 0.0), (int, float), path, f"{jp}.x", "a number")
        y = _want(layer.get("y", 0.0), (int, float), path, f"{jp}.y", "a number")
        label = _want(layer.get("name", nid), str, path, f"{jp}.name", "text")
        version = _want(layer.get("version", 1), int, path, f"{jp}.version", "a whole number")
        types[nid] = new_type
        nodes.append(
            {
                "id": nid,
                "type": new_type,
                "label": label,
                "params": params,
                "position": [x, y],
                "frozen": not trainable,
                "group": None,
                "type_version": version,
            }
        )

    def in_port(node_id: str) -> str:
        return _first_port(types.get(node_id, ""), "in")

    def out_port(node_id: str) -> str:
        return _first_port(types.get(node_id, ""), "out")

    links = _want(data.get("links", []), list, path, "links", "a list of links")
    edges: list[dict[str, Any]] = []
    slots: dict[tuple[str, str], int] = {}
    for i, link in enumerate(links):
        jp = f"links[{i}]"
        _want(link, dict, path, jp, "an object")
        for key in link:
            if key not in ("from", "to"):
                raise _fail(path, f"{jp}.{key}", f"unknown field {key!r} in a version 1 link")
        if "from" not in link or "to" not in link:
            raise _fail(path, jp, "a link needs 'from' and 'to'")
        src, src_port = _split_endpoint(link["from"], path, f"{jp}.from", out_port)
        dst, dst_port = _split_endpoint(link["to"], path, f"{jp}.to", in_port)
        slot = slots.get((dst, dst_port), 0)
        slots[(dst, dst_port)] = slot + 1
        edges.append({"src": src, "src_port": src_port, "dst": dst, "dst_port": dst_port, "slot": slot})

    blocks = _want(data.get("blocks", []), list, path, "blocks", "a list of blocks")
    groups: list[dict[str, Any]] = []
    member_of: dict[str, str] = {}
    for i, block in enumerate(blocks):
        jp = f"blocks[{i}]"
        _want(block, dict, path, jp, "an object")
        for key in block:
            if key not in _V1_BLOCK_KEYS:
                raise _fail(path, f"{jp}.{key}", f"unknown field {key!r} in a version 1 block")
        if "id" not in block:
            raise _fail(path, jp, "a block needs an 'id'")
        gid = _want(block["id"], str, path, f"{jp}.id", "a text id")
        members = _want(block.get("members", []), list, path, f"{jp}.members", "a list of layer ids")
        for j, m in enumerate(members):
            _want(m, str, path, f"{jp}.members[{j}]", "a layer id")
            member_of.setdefault(m, gid)
        x = _want(block.get("x", 0.0), (int, float), path, f"{jp}.x", "a number")
        y = _want(block.get("y", 0.0), (int, float), path, f"{jp}.y", "a number")
        groups.append(
            {
                "id": gid,
                "label": block.get("name", gid),
                "node_ids": list(members),
                "collapsed": block.get("collapsed", True),
                "position": [x, y],
            }
        )
    for nd in nodes:
        nd["group"] = member_of.get(nd["id"])

    return {
        "format": data.get("format"),
        "format_version": 2,
        "meta": meta,
        "nodes": nodes,
        "edges": edges,
        "groups": groups,
        "data": data.get("dataset", {}),
        "training": data.get("training", {}),
    }


def migrate_v2_to_v3(data: dict[str, Any], path: str) -> dict[str, Any]:
    """Version 3 lets blocks nest: every version-2 block is a top-level block (parent null)."""
    groups = data.get("groups")
    if not isinstance(groups, list):
        return data  # missing or malformed: the structure check names the problem
    out = dict(data)
    out["groups"] = [dict(gd, parent=None) if isinstance(gd, dict) and "parent" not in gd else gd for gd in groups]
    return out


FORMAT_MIGRATIONS: dict[int, Callable[[dict[str, Any], str], dict[str, Any]]] = {
    1: migrate_v1_to_v2,
    2: migrate_v2_to_v3,
}


def migrate_format(data: dict[str, Any], version: int, target: int, path: str) -> dict[str, Any]:
    """Apply the chain from `version` up to `target`."""
    while version < target:
        step = FORMAT_MIGRATIONS.get(version)
        if step is None:  # pragma: no cover - a gap in the chain is a programming error
            raise _fail(path, "format_version", f"no migration from format_version {version}")
        data = step(data, path)
        version += 1
        data["format_version"] = version
    return data


def migrate_nodes(nodes: list[dict[str, Any]], path: str, registry: Any = None) -> None:
    """In place: resolve renamed types and bring each node's params to its spec's current version.

    Unknown types are left alone (they load and show as diagnostics). `registry` defaults to the global one.
    """
    if registry is None:
        from ..layers.registry import REGISTRY as registry
    for i, nd in enumerate(nodes):
        jp = f"nodes[{i}]"
        old_type = nd["type"]
        if old_type not in registry:
            continue
        spec = registry.get(old_type)
        nd["type"] = spec.type
        version = nd["type_version"]
        if version > spec.version:
            raise _fail(
                path,
                f"{jp}.type_version",
                f"{spec.type} version {version} was written by a newer dlstudio (this one knows "
                f"version {spec.version}); update dlstudio",
            )
        if version < spec.version:
            if spec.migrate is not None:
                try:
                    params = spec.migrate(version, copy.deepcopy(nd["params"]))
                except Exception as exc:  # spec code meeting arbitrary file content: report, never crash
                    raise _fail(
                        path,
                        f"{jp}.params",
                        f"cannot update {spec.type} parameters from version {version} to {spec.version}: {exc}",
                    ) from None
                if not isinstance(params, dict):
                    raise _fail(path, f"{jp}.params", f"{spec.type} migration returned no parameter object")
                nd["params"] = params
            nd["type_version"] = spec.version
