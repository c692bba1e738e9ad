"""The one atomic writer (dlstudio.core.files) and the one tensor-file writer (save_tensors/load_tensors): file
modes from the umask, leftovers of killed saves removed on the next save, saves killed with SIGKILL at random
moments never damage the previous file, and weights files of every older format still load."""

from __future__ import annotations

import json
import os
import random
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import dlstudio as dls
from dlstudio.compiler.weights import WEIGHTS_FORMAT_VERSION, load_tensors, load_weights, save_tensors, save_weights
from dlstudio.core.edits import Rename
from dlstudio.core.errors import WeightsError
from dlstudio.core.files import (
    atomic_open,
    atomic_path,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    stale_temp_files,
)
from dlstudio.export.weights import save_weights_file


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _small_graph() -> dls.Graph:
    g = dls.Graph()
    x = g.input("x", (6,))
    h = g.add("ReLU", g.add("Linear", x, out_features=5, label="hidden"))
    g.output("y", g.add("Linear", h, out_features=3, label="head"))
    return g


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_saved_files_take_their_mode_from_the_umask(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        text = atomic_write_text(tmp_path / "a.txt", "hello")
        blob = atomic_write_bytes(tmp_path / "b.bin", b"\x00\x01")
        g = _small_graph()
        project = dls.Project(graph=g).save(tmp_path / "p.dlstudio")
        weights = save_weights(dls.compile(g, seed=0), g, tmp_path / "p.safetensors")
        exported = save_weights_file(dls.compile(g, seed=0), g, tmp_path / "export.safetensors")
    finally:
        os.umask(old)
    for path in (text, blob, project, weights, exported):
        assert _mode(path) == 0o666 & ~umask, path.name


def test_the_next_save_removes_leftovers_of_killed_saves_of_that_file_only(tmp_path: Path) -> None:
    target = tmp_path / "model.dlstudio"
    atomic_write_text(target, "v1")
    mine = [tmp_path / ".model.dlstudio.k1ll3d_0.tmp", tmp_path / ".model.dlstudio.a8b7c6d5.tmp.py"]
    others = [tmp_path / ".model.dlstudio.bak.a8b7c6d5.tmp", tmp_path / ".other.a8b7c6d5.tmp"]
    for p in mine + others:
        p.write_bytes(b"half a file")
    assert stale_temp_files(target) == sorted(mine)
    atomic_write_text(target, "v2")
    assert target.read_text() == "v2"
    assert not any(p.exists() for p in mine)
    assert all(p.exists() for p in others)  # leftovers of other targets are theirs to clean


def test_a_temporary_file_another_writer_still_holds_is_kept(tmp_path: Path) -> None:
    pytest.importorskip("fcntl")
    target = tmp_path / "w.json"
    with atomic_path(target) as in_flight:  # an unfinished save of the same target
        in_flight.write_text("{}")
        atomic_write_json(target, {"a": 1})  # a second writer's cleanup must not take it away
        assert in_flight.exists()
    assert json.loads(target.read_text()) == {}  # the first save committed last
    assert stale_temp_files(target) == []


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    atomic_write_json(target, {"epoch": 1})
    with pytest.raises(ValueError):
        atomic_write_json(target, {"loss": float("nan")})  # strict JSON: refused before anything is written
    with pytest.raises(RuntimeError), atomic_open(target, "w", encoding="utf-8") as fh:
        fh.write('{"epoch": 2')
        raise RuntimeError("crash half-way")
    assert json.loads(target.read_text()) == {"epoch": 1}
    assert stale_temp_files(target) == []


def test_save_tensors_writes_one_metadata_format(tmp_path: Path) -> None:
    g = _small_graph()
    model = dls.compile(g, seed=3)
    head = g.find("head").id
    node_file = load_tensors(save_weights(model, g, tmp_path / "n.safetensors"))
    state_file = load_tensors(save_weights_file(model, g, tmp_path / "s.safetensors"))
    free = load_tensors(save_tensors(tmp_path / "t.safetensors", {"step": torch.tensor([7])}, layout="tensors"))
    for found in (node_file, state_file, free):
        assert found.format_version == WEIGHTS_FORMAT_VERSION
    assert (node_file.layout, state_file.layout, free.layout) == ("node", "state_dict", "tensors")
    assert f"{head}.weight" in node_file.tensors and "head.weight" in state_file.tensors
    assert node_file.nodes[head] == {"label": "head", "type": "Linear"}
    assert state_file.nodes[head] == {"label": "head", "type": "Linear", "path": "head"}
    assert free.tensors["step"].tolist() == [7]
    with pytest.raises(WeightsError, match="layout"):
        save_tensors(tmp_path / "x.safetensors", {}, layout="pickle")


def test_weights_files_of_older_formats_still_load(tmp_path: Path) -> None:
    g = _small_graph()
    src = dls.compile(g, seed=5)
    hidden, head = g.find("hidden").id, g.find("head").id
    state = {k: v.detach().clone() for k, v in src.state_dict().items()}
    node_keyed = {f"{hidden}.{k[7:]}" if k.startswith("hidden.") else f"{head}.{k[5:]}": v for k, v in state.items()}
    nodes = json.dumps({hidden: {"label": "hidden", "type": "Linear"}, head: {"label": "head", "type": "Linear"}})
    files = {
        "v1 sidecar": (
            node_keyed,
            {"format": "dlstudio-weights", "format_version": "1", "layout": "node", "nodes": nodes},
        ),
        "old export": (state, {"format": "dlstudio-weights", "layout": "state_dict"}),
        "old run weights": (state, {"format": "dlstudio-weights"}),
        "plain safetensors": (state, None),
    }
    x = torch.randn(4, 6)
    with torch.no_grad():
        want = src(x)
    for name, (tensors, meta) in files.items():
        path = tmp_path / f"{name.replace(' ', '_')}.safetensors"
        save_file(tensors, str(path), metadata=meta)
        dst = dls.compile(g, seed=99)
        report = load_weights(dst, g, path, strict=True)
        assert report.ok and len(report.loaded) == 4, name
        with torch.no_grad():
            torch.testing.assert_close(dst(x), want, msg=name)


def test_a_state_dict_file_maps_back_to_nodes_after_a_rename(tmp_path: Path) -> None:
    g = _small_graph()
    src = dls.compile(g, seed=5)
    path = save_weights_file(src, g, tmp_path / "export.safetensors")
    Rename(g.find("head").id, "classifier").apply(g)  # the attribute path changes, the node id does not
    dst = dls.compile(g, seed=1)
    assert load_weights(dst, g, path, strict=True).ok
    x = torch.randn(2, 6)
    with torch.no_grad():
        torch.testing.assert_close(dst(x), src(x))


# --- SIGKILL at random moments ---------------------------------------------------------------------------------
# A server process imports torch once and builds a 4 MB model of 121 nodes; for each round it forks a saver that
# saves the project and its weights once (cleaning up after the previous kill), reports, then saves in a loop until
# the test SIGKILLs it at a random moment. Every save fills all weights with one value (its step) and writes the step
# into the project, so a file mixing two saves would show.
_SAVER = r"""
import os, signal, sys
from pathlib import Path
import torch
torch.set_num_threads(1)  # no thread pool before fork
import dlstudio as dls
from dlstudio.compiler.weights import save_weights

folder = Path(sys.argv[1])
g = dls.Graph()
h = g.input("x", (128,))
for i in range(60):
    h = g.add("ReLU", g.add("Linear", h, out_features=128, label=f"dense{i}"))
g.output("y", h)
model = dls.compile(g, seed=0)
project = dls.Project(graph=g, meta={"name": "kill test"})
print("ready", flush=True)

def save(step):
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float(step))
    save_weights(model, g, folder / "big.safetensors")
    project.meta["description"] = str(step)
    project.save(folder / "big.dlstudio")

while True:
    line = sys.stdin.readline()
    if not line:
        break
    pid = os.fork()
    if pid == 0:
        go = []
        signal.signal(signal.SIGUSR1, lambda *a: go.append(1))
        step = int(line) * 1000
        save(step)
        print(f"saved {os.getpid()}", flush=True)
        while not go:
            signal.pause()
        while True:
            step += 1
            save(step)
    os.waitpid(pid, 0)
"""


def _consistent_step(folder: Path, model: torch.nn.Module, graph: dls.Graph) -> tuple[int, int]:
    """Load both files as the user would; each must be one whole save (every weight equal to its step)."""
    project = dls.Project.load(folder / "big.dlstudio")
    found = load_tensors(folder / "big.safetensors")
    step = float(next(iter(found.tensors.values())).flatten()[0])
    mixed = [k for k, t in found.tensors.items() if not bool((t == step).all())]
    assert not mixed, f"the weights file mixes saves: {mixed[:3]} differ from step {step:g}"
    assert load_weights(model, graph, folder / "big.safetensors", strict=True).ok
    return int(project.meta["description"]), int(step)


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork and SIGKILL")
def test_saves_killed_at_random_moments_keep_the_old_file(tmp_path: Path) -> None:
    rounds, rng = 20, random.Random(12)
    server = subprocess.Popen(
        [sys.executable, "-c", _SAVER, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    assert server.stdin is not None and server.stdout is not None
    left_behind, steps = 0, set()
    start = time.monotonic()
    try:
        assert server.stdout.readline().strip() == "ready"
        graph, model = None, None
        for r in range(rounds + 1):
            server.stdin.write(f"{r + 1}\n")
            server.stdin.flush()
            word, pid = server.stdout.readline().split()
            assert word == "saved"
            # that first save of the round cleaned up every leftover of the kill before it, ours or a library's
            assert sorted(p.name for p in tmp_path.iterdir()) == ["big.dlstudio", "big.safetensors"]
            if graph is None:
                graph = dls.Project.load(tmp_path / "big.dlstudio").graph
                model = dls.compile(graph, seed=0)
            if r == rounds:
                os.kill(int(pid), signal.SIGKILL)
                break
            os.kill(int(pid), signal.SIGUSR1)
            if r % 2:  # half the kills at any moment of the save loop
                time.sleep(rng.uniform(0.0, 0.5))
            else:  # half while a temporary file exists, so some surely land half-way through a write
                _wait_for_temp_file(tmp_path, deadline=time.monotonic() + 5)
                time.sleep(rng.uniform(0.0, 0.01))
            os.kill(int(pid), signal.SIGKILL)
            time.sleep(0.05)  # the server reaps it
            leftovers = stale_temp_files(tmp_path / "big.dlstudio") + stale_temp_files(tmp_path / "big.safetensors")
            left_behind += bool(leftovers)
            assert len(list(tmp_path.iterdir())) == 2 + len(leftovers)  # nothing but the files and our temporaries
            project_step, weights_step = _consistent_step(tmp_path, model, graph)
            assert project_step // 1000 == weights_step // 1000 == r + 1
            steps.add(weights_step)
    finally:
        server.stdin.close()
        server.wait(timeout=30)
    elapsed = time.monotonic() - start
    print(f"{rounds} kills in {elapsed:.1f} s; {left_behind} left a temporary file; {len(steps)} distinct saves")
    assert left_behind > 0, "no kill landed during a save: the test did not test anything"
    modes = {_mode(tmp_path / n) for n in ("big.dlstudio", "big.safetensors")}
    assert modes == {0o666 & ~_umask()}


def _wait_for_temp_file(folder: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        if stale_temp_files(folder / "big.dlstudio") or stale_temp_files(folder / "big.safetensors"):
            return
        time.sleep(0.001)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
