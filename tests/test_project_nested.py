"""Project files with nested blocks: round trip, version-2 files, and errors that name the JSON path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import dlstudio as dls
from dlstudio.core.edits import GroupNodes
from dlstudio.core.errors import ProjectFileError
from dlstudio.io.schema import FORMAT_VERSION, MAX_BLOCK_DEPTH


def nested_project() -> dls.Project:
    """stem | layer1 > (layer1.0 > conv_a relu_a, layer1.1 > conv_b) | head."""
    g = dls.Graph()
    x = g.input("image", shape=(3, 8, 8))
    stem = g.add("Conv2d", x, out_channels=4, kernel_size=3, padding=1, label="stem")
    a = g.add("Conv2d", stem, out_channels=4, kernel_size=3, padding=1, label="conv_a")
    ra = g.add("ReLU", a, label="relu_a")
    b = g.add("Conv2d", ra, out_channels=4, kernel_size=3, padding=1, label="conv_b")
    join = g.add("Add", b, stem, label="join")
    GroupNodes("g1", "layer1.0", (a.node_id, ra.node_id)).apply(g)
    GroupNodes("g2", "layer1.1", (b.node_id,)).apply(g)
    GroupNodes("g3", "layer1", (join.node_id,), group_ids=("g1", "g2")).apply(g)
    flat = g.add("Flatten", join)
    g.output("logits", g.add("Linear", flat, out_features=5, label="head"))
    return dls.Project(graph=g, meta={"name": "nested"})


def _load_error(tmp_path: Path, doc: dict) -> ProjectFileError:
    path = tmp_path / "p.dlstudio"
    path.write_text(json.dumps(doc))
    with pytest.raises(ProjectFileError) as info:
        dls.Project.load(path)
    return info.value


def test_nested_round_trip_is_identical(tmp_path):
    project = nested_project()
    path = project.save(tmp_path / "n.dlstudio")
    doc = json.loads(path.read_text())
    assert doc["format_version"] == FORMAT_VERSION
    assert {gd["id"]: gd["parent"] for gd in doc["groups"]} == {"g1": "g3", "g2": "g3", "g3": None}
    loaded = dls.Project.load(path)
    assert loaded.graph.to_dict() == project.graph.to_dict()
    assert loaded.graph.child_groups("g3") == ["g1", "g2"]
    assert loaded.save(tmp_path / "again.dlstudio").read_text() == path.read_text()


def test_a_version_2_file_loads_with_top_level_blocks(tmp_path):
    doc = nested_project().to_dict()
    doc["format_version"] = 2
    # a version-2 file: one level of blocks, no "parent" key
    g = dls.Graph()
    g.load_dict({"nodes": doc["nodes"], "edges": doc["edges"], "groups": []})
    ids = [n for n in g.nodes if g.node(n).label in ("conv_a", "relu_a")]
    for nd in doc["nodes"]:
        nd["group"] = "g1" if nd["id"] in ids else None
    doc["groups"] = [{"id": "g1", "label": "block", "node_ids": ids, "collapsed": True, "position": [0, 0]}]
    path = tmp_path / "old.dlstudio"
    path.write_text(json.dumps(doc))
    loaded = dls.Project.load(path)
    assert loaded.graph.group("g1").parent is None and loaded.graph.child_groups(None) == ["g1"]


def _group(doc: dict, gid: str) -> dict:
    return next(gd for gd in doc["groups"] if gd["id"] == gid)


def _index(doc: dict, gid: str) -> int:
    return [gd["id"] for gd in doc["groups"]].index(gid)


def test_unknown_parent_is_named(tmp_path):
    doc = nested_project().to_dict()
    _group(doc, "g1")["parent"] = "ghost"
    err = _load_error(tmp_path, doc)
    assert err.json_path == f"groups[{_index(doc, 'g1')}].parent" and "no block 'ghost'" in err.reason


def test_parent_cycle_is_named(tmp_path):
    doc = nested_project().to_dict()
    _group(doc, "g3")["parent"] = "g1"
    err = _load_error(tmp_path, doc)
    assert err.json_path.endswith(".parent") and "cycle" in err.reason and "null" in err.reason


def test_nesting_deeper_than_the_limit_is_refused(tmp_path):
    doc = nested_project().to_dict()
    node = doc["nodes"][1]["id"]
    depth = MAX_BLOCK_DEPTH + 2
    doc["groups"] = [
        {
            "id": f"d{i}",
            "label": f"d{i}",
            "node_ids": [node] if i == depth - 1 else [],
            "parent": f"d{i - 1}" if i else None,
        }
        for i in range(depth)
    ]
    for nd in doc["nodes"]:
        nd["group"] = f"d{depth - 1}" if nd["id"] == node else None
    err = _load_error(tmp_path, doc)
    assert "more than 32 deep" in err.reason and err.json_path.startswith("groups[")


def test_empty_block_without_children_is_refused_but_a_block_of_blocks_loads(tmp_path):
    doc = nested_project().to_dict()
    join = _group(doc, "g3")["node_ids"][0]
    _group(doc, "g3")["node_ids"] = []  # still holds layer1.0 and layer1.1: fine once join's group agrees
    next(nd for nd in doc["nodes"] if nd["id"] == join)["group"] = None
    path = tmp_path / "ok.dlstudio"
    path.write_text(json.dumps(doc))
    assert dls.Project.load(path).graph.group("g3").node_ids == ()
    _group(doc, "g2")["node_ids"] = []
    b = next(nd for nd in doc["nodes"] if nd["label"] == "conv_b")
    b["group"] = None
    err = _load_error(tmp_path, doc)
    assert err.json_path == f"groups[{_index(doc, 'g2')}].node_ids" and "child block" in err.reason


def test_node_in_two_blocks_and_disagreeing_group_are_named(tmp_path):
    doc = nested_project().to_dict()
    a = _group(doc, "g1")["node_ids"][0]
    _group(doc, "g3")["node_ids"].append(a)  # listed in layer1 and in layer1.0
    err = _load_error(tmp_path, doc)
    assert "already in group" in err.reason and "innermost" in err.reason
    doc = nested_project().to_dict()
    i = next(i for i, nd in enumerate(doc["nodes"]) if nd["id"] == a)
    doc["nodes"][i]["group"] = "g3"  # the outer block, not the innermost
    err = _load_error(tmp_path, doc)
    assert err.json_path == f"nodes[{i}].group" and "make them agree" in err.reason
