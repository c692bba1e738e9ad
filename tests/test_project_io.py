"""Project files: round trip, stable text, migrations (format and per node), atomic save, hostile files."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

import dlstudio as dls
from dlstudio.analysis.shapes import infer_all
from dlstudio.core.edits import GroupNodes
from dlstudio.core.errors import ParamError, ProjectFileError, UnknownLayerError
from dlstudio.core.tensor import TensorInfo
from dlstudio.io import project as project_module
from dlstudio.io.schema import FORMAT_VERSION, MAX_DEPTH
from dlstudio.layers.registry import REGISTRY
from dlstudio.layers.spec import LayerSpec, ParamSpec, PortSpec

OLD = Path(__file__).parent / "data" / "old_projects"
CORPUS = sorted(p for p in OLD.glob("*.dlstudio") if not p.name.endswith(".expected.dlstudio"))


def sample_project() -> dls.Project:
    g = dls.Graph()
    x = g.input("image", shape=(3, 12, 12))
    stem = g.add("Conv2d", x, out_channels=4, kernel_size=3, padding=1, label="stem")
    a = g.add("Conv2d", stem, out_channels=4, kernel_size=3, padding=1, label="conv_a")
    a = g.add("ReLU", a)
    join = g.add("Add", a, stem, label="join")
    GroupNodes("g1", "block", (a.node_id, join.node_id, g.find("conv_a").id)).apply(g)
    flat = g.add("Flatten", join)
    head = g.add("Linear", flat, out_features=5, label="head")
    g.node(head.node_id).frozen = True
    g.output("logits", head)
    return dls.Project(
        graph=g,
        data={"dataset": "digits", "split": {"val": 0.2}},
        training={"task": "classification", "epochs": 3},
        meta={"name": "sample", "description": "a test", "explanation": "Two convs and a head."},
    )


def write(tmp_path: Path, doc: object, name: str = "p.dlstudio") -> Path:
    p = tmp_path / name
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return p


def load_error(path: Path) -> ProjectFileError:
    with pytest.raises(ProjectFileError) as info:
        dls.Project.load(path)
    assert info.value.path == str(path)
    return info.value


# ------------------------------------------------------------------------------------------------ round trip
def test_round_trip_is_identical_and_text_is_canonical(tmp_path):
    project = sample_project()
    path = project.save(tmp_path / "net.dlstudio")
    text = path.read_text()
    loaded = dls.Project.load(path)
    assert loaded.graph.to_dict() == project.graph.to_dict()
    assert (loaded.data, loaded.training, loaded.meta) == (project.data, project.training, project.meta)
    assert loaded.path == path and loaded.name == "sample"
    doc = json.loads(text)
    assert doc["format"] == "dlstudio-project" and doc["format_version"] == FORMAT_VERSION
    assert text == json.dumps(doc, indent=2, sort_keys=True) + "\n"
    node = next(n for n in doc["nodes"] if n["label"] == "conv_a")
    assert set(node) == {"id", "type", "label", "params", "position", "frozen", "group", "type_version"}
    assert node["group"] == "g1"
    assert set(doc["edges"][0]) == {"src", "src_port", "dst", "dst_port", "slot"}
    # saving what was loaded writes the same bytes (stable ids and order)
    loaded.save(tmp_path / "again.dlstudio")
    assert (tmp_path / "again.dlstudio").read_text() == text
    # the loaded graph is a working graph: it compiles with the group as a submodule
    model = dls.compile(loaded.graph)
    assert model.node_paths[loaded.graph.find("conv_a").id].startswith("block.")


def test_loaded_graph_continues_id_sequence(tmp_path):
    path = sample_project().save(tmp_path / "net.dlstudio")
    g = dls.Project.load(path).graph
    before = set(g.nodes)
    ref = g.add("ReLU", dls.Ref(g, g.find("head").id, "y"))
    assert ref.node_id not in before


# ------------------------------------------------------------------------------------------------ migrations
@pytest.mark.parametrize("old", CORPUS, ids=lambda p: p.stem)
def test_old_files_load_into_the_current_form(old, tmp_path):
    expected_path = old.with_name(old.stem + ".expected.dlstudio")
    expected = dls.Project.load(expected_path)
    assert json.loads(expected_path.read_text())["format_version"] == FORMAT_VERSION
    assert json.loads(old.read_text())["format_version"] < FORMAT_VERSION
    migrated = dls.Project.load(old)
    assert migrated.graph.to_dict() == expected.graph.to_dict()
    assert (migrated.meta, migrated.data, migrated.training) == (expected.meta, expected.data, expected.training)
    # saved again, an old file becomes a current one with the same content
    resaved = dls.Project.load(migrated.save(tmp_path / "new.dlstudio"))
    assert resaved.graph.to_dict() == expected.graph.to_dict()


def test_corpus_is_not_empty_and_migrated_graphs_work():
    assert len(CORPUS) >= 3
    mlp = dls.Project.load(OLD / "v1_mlp.dlstudio")
    assert infer_all(mlp.graph).errors == {}
    assert mlp.graph.find("hidden").frozen  # "trainable": false
    res = dls.Project.load(OLD / "v1_resblock.dlstudio")
    shapes = infer_all(res.graph)
    assert shapes.errors == {}
    assert shapes.outputs[res.graph.find("classifier").id][0] == TensorInfo(("N", 10))
    assert [e.src for e in res.graph.edges_into(res.graph.find("join").id, "inputs")] == ["n5", "n2"]
    # an unknown old type still loads and is reported by the analysis, not the loader
    seq = dls.Project.load(OLD / "v1_sequence.dlstudio")
    errors = infer_all(seq.graph).errors
    assert list(errors) == ["note"] and isinstance(errors["note"], UnknownLayerError)


def test_newer_file_is_refused_with_an_update_hint(tmp_path):
    doc = sample_project().to_dict()
    doc["format_version"] = 7
    err = load_error(write(tmp_path, doc))
    assert err.json_path == "format_version"
    assert "written by a newer dlstudio (format_version 7); update dlstudio" in str(err)


@pytest.fixture
def widget_spec(monkeypatch):
    """A temporary spec at version 3 that replaced "OldWidget" and renamed its parameter `size` to `width`."""
    REGISTRY._ensure_loaded()

    def migrate(version: int, params: dict) -> dict:
        if "explode" in params:
            raise ValueError("cannot migrate an exploding widget")
        params = dict(params)
        if version < 2 and "size" in params:
            params["width"] = params.pop("size")
        if version < 3:
            params.setdefault("mode", "fast")
        return params

    spec = LayerSpec(
        type="TestWidget",
        category="Dense",
        explanation="A test-only layer.",
        inputs=(PortSpec("x"),),
        outputs=(PortSpec("y"),),
        params=(ParamSpec("width", "int", 1, min=1), ParamSpec("mode", "choice", "slow", choices=("slow", "fast"))),
        shape=lambda params, inputs: [inputs[0]],
        version=3,
        replaces=("OldWidget",),
        migrate=migrate,
    )
    monkeypatch.setitem(REGISTRY._specs, "TestWidget", spec)
    monkeypatch.setitem(REGISTRY._aliases, "OldWidget", "TestWidget")
    return spec


def widget_doc(node: dict) -> dict:
    return {
        "format": "dlstudio-project",
        "format_version": 2,
        "meta": {},
        "data": {},
        "training": {},
        "groups": [],
        "nodes": [
            {"id": "n1", "type": "Input", "params": {"shape": [4]}},
            dict({"id": "n2", "label": "w"}, **node),
            {"id": "n3", "type": "Output"},
        ],
        "edges": [
            {"src": "n1", "src_port": "out", "dst": "n2", "dst_port": "x"},
            {"src": "n2", "src_port": "y", "dst": "n3", "dst_port": "x"},
        ],
    }


def test_renamed_type_and_old_params_are_migrated_per_node(tmp_path, widget_spec):
    path = write(tmp_path, widget_doc({"type": "OldWidget", "type_version": 1, "params": {"size": 4}}))
    node = dls.Project.load(path).graph.node("n2")
    assert (node.type, node.type_version, node.params) == ("TestWidget", 3, {"width": 4, "mode": "fast"})
    # a current node is left alone
    path = write(tmp_path, widget_doc({"type": "TestWidget", "type_version": 3, "params": {"width": 2}}))
    assert dls.Project.load(path).graph.node("n2").params == {"width": 2}


def test_per_node_version_errors(tmp_path, widget_spec):
    err = load_error(write(tmp_path, widget_doc({"type": "TestWidget", "type_version": 5})))
    assert err.json_path == "nodes[1].type_version" and "newer dlstudio" in err.reason
    err = load_error(write(tmp_path, widget_doc({"type": "OldWidget", "type_version": 1, "params": {"explode": True}})))
    assert err.json_path == "nodes[1].params" and "cannot migrate an exploding widget" in err.reason


# ------------------------------------------------------------------------------------------------ saving
def test_failing_save_leaves_the_old_file_intact(tmp_path, monkeypatch):
    project = sample_project()
    path = project.save(tmp_path / "net.dlstudio")
    before = path.read_bytes()
    project.meta["name"] = "changed"

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(project_module.os, "fsync", broken_fsync)
    with pytest.raises(ProjectFileError, match="No space left on device"):
        project.save()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.dlstudio"]  # no temporary file left behind
    monkeypatch.undo()
    project.save()
    assert dls.Project.load(path).meta["name"] == "changed"


def test_unwritable_values_are_refused_before_touching_the_file(tmp_path):
    project = sample_project()
    path = project.save(tmp_path / "net.dlstudio")
    before = path.read_bytes()
    project.training["lr"] = float("nan")
    with pytest.raises(ProjectFileError, match="cannot be written as JSON"):
        project.save()
    project.training["lr"] = object()
    with pytest.raises(ProjectFileError, match="cannot be written as JSON"):
        project.save()
    del project.training["lr"]
    project.training["deep"] = json.loads("[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5))
    with pytest.raises(ProjectFileError, match="not saved: nested more than"):
        project.save()
    assert path.read_bytes() == before
    with pytest.raises(ProjectFileError, match="no file name"):
        dls.Project().save()


# ------------------------------------------------------------------------------------------------ hostile files
def _set(doc: dict, dotted: str, value: object) -> None:
    keys = dotted.replace("]", "").replace("[", ".").split(".")
    target = doc
    for k in keys[:-1]:
        target = target[int(k)] if isinstance(target, list) else target[k]
    last = keys[-1]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value


def _del(doc: dict, dotted: str) -> None:
    keys = dotted.replace("]", "").replace("[", ".").split(".")
    target = doc
    for k in keys[:-1]:
        target = target[int(k)] if isinstance(target, list) else target[k]
    del target[keys[-1]]


# (name, change to the valid document, expected JSON path, words in the reason)
CASES = [
    ("params wrong type", lambda d: _set(d, "nodes[1].params", [1, 2]), "nodes[1].params", "expected an object"),
    (
        "huge int",
        lambda d: _set(d, "nodes[1].params.out_channels", 10**30),
        "nodes[1].params.out_channels",
        "too large",
    ),
    ("huge float", lambda d: _set(d, "training.lr", 1e308 * 10), None, "NaN or Infinity"),
    (
        "deep nesting",
        lambda d: _set(d, "data.x", json.loads("[" * 60 + "]" * 60)),
        "data.x" + "[0]" * (MAX_DEPTH - 1),
        "nested more than",
    ),
    (
        "duplicate node id",
        lambda d: _set(d, "nodes[2].id", d["nodes"][1]["id"]),
        "nodes[2].id",
        "already used by nodes[1]",
    ),
    ("node id with a dot", lambda d: _set(d, "nodes[0].id", "n.1"), "nodes[0].id", "only letters"),
    ("missing type", lambda d: _del(d, "nodes[3].type"), "nodes[3].type", "required field"),
    ("label not text", lambda d: _set(d, "nodes[3].label", 5), "nodes[3].label", "expected text"),
    ("frozen not bool", lambda d: _set(d, "nodes[3].frozen", "yes"), "nodes[3].frozen", "true or false"),
    ("position short", lambda d: _set(d, "nodes[0].position", [1]), "nodes[0].position", "expected [x, y]"),
    (
        "position off canvas",
        lambda d: _set(d, "nodes[0].position", [0, 1e12]),
        "nodes[0].position[1]",
        "off the canvas",
    ),
    ("type_version zero", lambda d: _set(d, "nodes[0].type_version", 0), "nodes[0].type_version", "out of range"),
    ("unknown top field", lambda d: _set(d, "plugins", ["evil"]), "plugins", "unknown field"),
    ("unknown node field", lambda d: _set(d, "nodes[2].code", "import os"), "nodes[2].code", "unknown field"),
    ("unknown edge field", lambda d: _set(d, "edges[0].weight", 1), "edges[0].weight", "unknown field"),
    ("edge to missing node", lambda d: _set(d, "edges[1].dst", "n99"), "edges[1].dst", "not in the file"),
    (
        "edge to missing input port",
        lambda d: _set(d, "edges[0].dst_port", "z"),
        "edges[0].dst_port",
        "has no input port 'z'",
    ),
    (
        "edge from missing output port",
        lambda d: _set(d, "edges[0].src_port", "y"),
        "edges[0].src_port",
        "has no output port 'y'",
    ),
    ("edge slot negative", lambda d: _set(d, "edges[0].slot", -1), "edges[0].slot", "out of range"),
    ("double wire", lambda d: d["edges"].append(copy.deepcopy(d["edges"][0])), "edges[", "already wired"),
    ("edges not a list", lambda d: _set(d, "edges", {"a": 1}), "edges", "expected a list"),
    (
        "group with missing node",
        lambda d: _set(d, "groups[0].node_ids", ["n77"]),
        "groups[0].node_ids[0]",
        "no node 'n77'",
    ),
    ("empty group", lambda d: _set(d, "groups[0].node_ids", []), "groups[0].node_ids", "at least one node"),
    ("group id clash", lambda d: _set(d, "groups[0].id", "n1"), "groups[0].id", "already used"),
    ("node.group disagrees", lambda d: _set(d, "nodes[0].group", "g1"), "nodes[0].group", "make them agree"),
    ("meta not object", lambda d: _set(d, "meta", "hi"), "meta", "expected an object"),
    ("meta name not text", lambda d: _set(d, "meta.name", ["x"]), "meta.name", "expected text"),
    ("data not object", lambda d: _set(d, "data", [1]), "data", "expected an object"),
    ("wrong format", lambda d: _set(d, "format", "keras"), "format", "not a dlstudio project"),
    ("version as text", lambda d: _set(d, "format_version", "2"), "format_version", "whole number"),
    ("version zero", lambda d: _set(d, "format_version", 0), "format_version", "does not exist"),
    ("version missing", lambda d: _del(d, "format_version"), "format_version", "missing"),
]


@pytest.mark.parametrize("name,change,json_path,words", CASES, ids=[c[0] for c in CASES])
def test_hostile_documents_raise_one_error_with_path_and_reason(tmp_path, name, change, json_path, words):
    doc = sample_project().to_dict()
    change(doc)
    text = json.dumps(doc, allow_nan=True)
    err = load_error(write(tmp_path, text))
    if json_path is not None:
        assert err.json_path.startswith(json_path) if json_path.endswith("[") else err.json_path == json_path
        assert json_path.rstrip("[") in str(err)
    assert words in err.reason
    assert str(tmp_path / "p.dlstudio") in str(err)


RAW_CASES = [
    ("truncated", lambda t: t[: len(t) // 2], "not valid JSON"),
    ("empty", lambda t: "", "not valid JSON"),
    ("top-level list", lambda t: "[" + t + "]", "expected a JSON object"),
    ("NaN", lambda t: t.replace('"epochs": 3', '"epochs": NaN'), "NaN"),
    ("thousands of digits", lambda t: t.replace('"epochs": 3', '"epochs": ' + "9" * 5000), "not usable JSON"),
    (
        "very deep",
        lambda t: t.replace('"epochs": 3', '"epochs": ' + "[" * 100_000 + "]" * 100_000),
        "nested too deeply",
    ),
    ("duplicate key", lambda t: t.replace('"epochs": 3', '"epochs": 3, "epochs": 4'), "appears twice"),
]


@pytest.mark.parametrize("name,change,words", RAW_CASES, ids=[c[0] for c in RAW_CASES])
def test_malformed_text_raises_one_error(tmp_path, name, change, words):
    text = sample_project().to_json()
    err = load_error(write(tmp_path, change(text)))
    assert words in err.reason


def test_duplicate_key_is_located_and_binary_is_refused(tmp_path):
    text = sample_project().to_json().replace('"epochs": 3', '"epochs": 3, "epochs": 4')
    assert load_error(write(tmp_path, text)).json_path == "training.epochs"
    p = tmp_path / "bin.dlstudio"
    p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    assert "not UTF-8" in load_error(p).reason


def test_unreadable_paths(tmp_path):
    assert "cannot read" in load_error(tmp_path / "missing.dlstudio").reason
    (tmp_path / "dir.dlstudio").mkdir()
    assert "cannot read" in load_error(tmp_path / "dir.dlstudio").reason


def test_file_size_limit(tmp_path, monkeypatch):
    from dlstudio.io import schema

    path = sample_project().save(tmp_path / "net.dlstudio")
    monkeypatch.setattr(schema, "MAX_FILE_BYTES", 100)
    assert "at most 100 bytes" in load_error(path).reason


def test_v1_structure_errors_use_the_old_paths(tmp_path):
    old = json.loads((OLD / "v1_mlp.dlstudio").read_text())
    old["links"][2]["from"] = "n3:"
    err = load_error(write(tmp_path, old))
    assert err.json_path == "links[2].from" and "node:port" in err.reason
    old = json.loads((OLD / "v1_mlp.dlstudio").read_text())
    old["layers"][1]["config"] = 5
    assert load_error(write(tmp_path, old)).json_path == "layers[1].config"
    old = json.loads((OLD / "v1_mlp.dlstudio").read_text())
    old["links"][0]["to"] = "n42:x"
    err = load_error(write(tmp_path, old))
    assert err.json_path == "edges[0].dst" and "updated from format_version 1" in err.reason


# ------------------------------------------------------------------------------------------------ not load errors
def test_unknown_types_and_bad_params_load_and_become_diagnostics(tmp_path):
    doc = sample_project().to_dict()
    conv = next(n for n in doc["nodes"] if n["label"] == "stem")
    conv["params"]["kernel_size"] = "abc"
    relu = next(n for n in doc["nodes"] if n["type"] == "ReLU")
    relu["type"] = "os.system"  # looks like a dotted path: it must stay a name, never be imported
    relu["params"] = {"command": "touch pwned"}
    project = dls.Project.load(write(tmp_path, doc))
    errors = infer_all(project.graph).errors
    assert isinstance(errors[conv["id"]], ParamError) and errors[conv["id"]].param == "kernel_size"
    assert isinstance(errors[relu["id"]], UnknownLayerError)
    with pytest.raises(dls.CompileError):
        dls.compile(project.graph)
    assert not (Path.cwd() / "pwned").exists() and not (tmp_path / "pwned").exists()
    # and saving keeps them, so the user can fix them later
    again = dls.Project.load(project.save(tmp_path / "again.dlstudio"))
    assert again.graph.node(relu["id"]).params == {"command": "touch pwned"}


def test_defaults_fill_optional_fields(tmp_path):
    doc = {
        "format": "dlstudio-project",
        "format_version": 2,
        "nodes": [
            {"id": "a", "type": "Input", "params": {"shape": [3]}},
            {"id": "b", "type": "Linear", "params": {"out_features": 2}},
            {"id": "c", "type": "Output"},
        ],
        "edges": [
            {"src": "a", "src_port": "out", "dst": "b", "dst_port": "x"},
            {"src": "b", "src_port": "y", "dst": "c", "dst_port": "x"},
        ],
    }
    project = dls.Project.load(write(tmp_path, doc))
    node = project.graph.node("b")
    assert (node.label, node.position, node.frozen, node.group, node.type_version) == ("b", (0.0, 0.0), False, None, 1)
    assert (project.meta, project.data, project.training) == ({}, {}, {})
    assert dls.compile(project.graph)(__import__("torch").zeros(2, 3)).shape == (2, 2)


def test_weights_path_is_beside_the_project(tmp_path):
    p = sample_project()
    assert p.weights_path is None
    p.save(tmp_path / "sub" / "net.dlstudio")
    assert p.weights_path == tmp_path / "sub" / "net.safetensors"
    assert os.path.isdir(tmp_path / "sub")
