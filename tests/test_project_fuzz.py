"""Fuzz the project loader: thousands of mutated valid files; nothing but ProjectFileError may escape.

Seeds are real files (examples, the migration corpus, a project built here). Mutations work on the parsed
document (delete a key, change a value's type, insert huge or deeply nested values, duplicate or retarget
entries) and on the raw bytes (truncate, flip, insert). A file that still loads must survive a save/load
round trip and a full shape inference.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dlstudio as dls
from dlstudio.analysis.shapes import infer_all
from dlstudio.core.errors import ProjectFileError
from dlstudio.io.schema import project_from_text

ROOT = Path(__file__).resolve().parents[1]
OLD = ROOT / "tests" / "data" / "old_projects"


def _built_seed() -> bytes:
    g = dls.Graph()
    x = g.input("x", shape=(3, 8, 8))
    a = g.add("Conv2d", x, out_channels=4, kernel_size=3, padding=1, label="conv")
    b = g.add("ReLU", a)
    j = g.add("Add", b, a)
    from dlstudio.core.edits import GroupNodes

    GroupNodes("g1", "blk", (b.node_id, j.node_id)).apply(g)
    g.output("y", g.add("Linear", g.add("Flatten", j), out_features=3))
    p = dls.Project(graph=g, meta={"name": "seed"}, data={"dataset": "digits"}, training={"task": "x"})
    return p.to_json().encode()


SEEDS: list[bytes] = (
    [_built_seed()]
    + [p.read_bytes() for p in sorted(OLD.glob("*.dlstudio"))]
    + [p.read_bytes() for p in sorted((ROOT / "examples").glob("*.dlstudio"))]
)

HOSTILE_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([2**64, -(2**70), 10**18, 1e300, -1e-300]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.sampled_from(["n1", "n2", "g1", "x", "y", "out", "inputs", "", "Conv2d", "Linear", "a.b", "n1:out"]),
    st.lists(st.integers(-3, 40), max_size=4),
    st.integers(1, 80).map(lambda depth: json.loads("[" * depth + "]" * depth)),
    st.integers(1, 80).map(lambda depth: json.loads('{"a": ' * depth + "0" + "}" * depth)),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=3),
)


def _paths(doc: Any) -> list[list[Any]]:
    """Every location in the document, as key/index lists (the root is [])."""
    out: list[list[Any]] = []
    stack: list[tuple[Any, list[Any]]] = [(doc, [])]
    while stack:
        value, path = stack.pop()
        out.append(path)
        if isinstance(value, dict):
            stack.extend((v, path + [k]) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, path + [i]) for i, v in enumerate(value))
    return out


def _parent(doc: Any, path: list[Any]) -> Any:
    for k in path[:-1]:
        doc = doc[k]
    return doc


@st.composite
def mutated_documents(draw: st.DrawFn) -> bytes:
    doc = json.loads(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _parent(doc, path)
        op = draw(st.sampled_from(["delete", "replace", "replace", "insert", "duplicate", "swap"]))
        key = path[-1]
        if op == "delete":
            del parent[key]
        elif op == "replace":
            parent[key] = draw(HOSTILE_VALUES)
        elif op == "insert":
            if isinstance(parent, list):
                parent.insert(key, draw(HOSTILE_VALUES))
            else:
                parent[draw(st.sampled_from(["extra", "id", "type", "slot", "group", "params", "__proto__"]))] = draw(
                    HOSTILE_VALUES
                )
        elif op == "duplicate":
            if isinstance(parent, list):
                parent.append(copy.deepcopy(parent[key]))
            else:
                parent[key] = [copy.deepcopy(parent[key]), copy.deepcopy(parent[key])]
        else:  # swap with another value of the document
            other = draw(st.sampled_from(paths))
            try:
                parent[key] = copy.deepcopy(_parent(doc, other)[other[-1]])
            except (KeyError, IndexError, TypeError):
                pass
    return json.dumps(doc).encode()


@st.composite
def mutated_bytes(draw: st.DrawFn) -> bytes:
    raw = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["truncate", "flip", "insert", "delete"]))
        i = draw(st.integers(0, max(len(raw) - 1, 0)))
        if op == "truncate":
            del raw[i:]
        elif op == "flip" and raw:
            raw[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            raw[i:i] = draw(
                st.sampled_from(
                    [
                        b"[",
                        b"{",
                        b"]",
                        b"}",
                        b",",
                        b'"',
                        b"\\",
                        b"\x00",
                        b"\xff",
                        b"1e999",
                        b"NaN",
                        b"-",
                        b"9" * 40,
                        b"[" * 5000,
                    ]
                )
            )
        elif raw:
            del raw[i : i + draw(st.integers(1, 64))]
    return bytes(raw)


def _load_or_project_error(raw: bytes) -> None:
    try:
        project = project_from_text(raw, "fuzz.dlstudio")
    except ProjectFileError as exc:
        assert exc.path == "fuzz.dlstudio" and exc.reason
        return
    # what loads is a usable project: it round-trips and the analysis can run on it
    again = project_from_text(project.to_json().encode(), "again.dlstudio")
    assert again.graph.to_dict() == project.graph.to_dict()
    infer_all(project.graph)


FUZZ = settings(
    max_examples=1500,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def test_seeds_load():
    assert len(SEEDS) >= 4
    for raw in SEEDS:
        project_from_text(raw, "seed.dlstudio")


@FUZZ
@given(mutated_documents())
@pytest.mark.slow
def test_mutated_documents_raise_only_project_file_errors(raw: bytes) -> None:
    _load_or_project_error(raw)


@FUZZ
@given(mutated_bytes())
@pytest.mark.slow
def test_mutated_bytes_raise_only_project_file_errors(raw: bytes) -> None:
    _load_or_project_error(raw)


@pytest.mark.parametrize("seed", range(len(SEEDS)))
def test_every_truncation_point_of_a_seed_is_handled(seed: int) -> None:
    raw = SEEDS[seed]
    end = raw.rstrip().rfind(b"}")  # cutting only trailing whitespace leaves a valid file
    for cut in list(range(0, end, max(1, end // 300))) + [end]:
        with pytest.raises(ProjectFileError):
            project_from_text(raw[:cut], "fuzz.dlstudio")
