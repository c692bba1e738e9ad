"""Every registered LayerSpec against real torch: shape rule == torch's output shape, parameter-count rule ==
sum(p.numel()), dtype flow. Parameters and inputs are drawn at random from each spec's own sampler."""

from __future__ import annotations

import random

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dlstudio as dls
from dlstudio.analysis.shapes import infer_all
from dlstudio.layers import all_specs
from dlstudio.layers.spec import LayerSpec

SPECS = [s for s in all_specs() if s.type not in ("Input", "Output")]
BATCH = 3


def build_single(spec: LayerSpec, params: dict, inputs: list):
    """Input nodes -> the layer -> one Output per output port. Returns (graph, node id, input infos)."""
    g = dls.Graph()
    refs = []
    wired = []
    for i, info in enumerate(inputs):
        if info is None:
            refs.append(None)
            continue
        refs.append(g.input(f"in{i}", shape=tuple(info.shape[1:]), dtype=info.dtype))
        wired.append(info)
    node_ref = g.add(spec.type, **params)
    # wire inputs port by port so optional (None) ports stay empty
    ports = list(spec.inputs)
    pi = 0
    for ref in refs:
        port = ports[pi] if pi < len(ports) else ports[-1]
        if ref is not None:
            g.connect(ref, node_ref.node_id, port.name)
        if not port.many:
            pi += 1
    node = g.node(node_ref.node_id)
    for p in spec.output_ports(spec.resolve_params(node.params)):
        g.output(f"out_{p.name}", dls.Ref(g, node.id, p.name))
    return g, node.id, wired


def make_tensor(info, rng: random.Random, params: dict):
    shape = tuple(BATCH if d == "N" else int(d) for d in info.shape)
    if info.dtype == "int64":
        high = int(params.get("num_embeddings", 10))
        return torch.randint(0, high, shape)
    return torch.randn(shape)


def run_case(spec: LayerSpec, rng: random.Random) -> None:
    assert spec.sample is not None, f"{spec.type} has no sampler"
    params, inputs = spec.sample(rng)
    g, nid, wired = build_single(spec, params, inputs)
    shapes = infer_all(g)
    assert not shapes.errors, f"{spec.type} {params} {inputs}: {shapes.errors}"
    model = dls.compile(g, seed=0)
    model.eval()
    args = [make_tensor(t, rng, params) for t in wired]
    with torch.no_grad():
        out = model(*args)
    outs = list(out) if isinstance(out, tuple) else [out]
    expected = shapes.outputs[nid]
    assert len(outs) == len(expected)
    for got, exp in zip(outs, expected):
        want = tuple(BATCH if d == "N" else d for d in exp.shape)
        assert tuple(got.shape) == want, f"{spec.type} {params} inputs={inputs}: rule {exp} vs torch {tuple(got.shape)}"
        assert str(got.dtype).replace("torch.", "") == exp.dtype, f"{spec.type}: dtype {got.dtype} vs {exp.dtype}"
    resolved = shapes.params[nid]
    rule_count = spec.param_count(resolved, shapes.inputs[nid])
    torch_count = sum(p.numel() for p in model.parameters())
    assert rule_count == torch_count, f"{spec.type} {params}: rule {rule_count} params vs torch {torch_count}"
    macs = spec.macs(resolved, shapes.inputs[nid], expected)
    assert isinstance(macs, int) and macs >= 0


@pytest.mark.parametrize("spec", SPECS, ids=[s.type for s in SPECS])
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rng=st.randoms(use_true_random=False))
def test_spec_matches_torch(spec: LayerSpec, rng: random.Random) -> None:
    run_case(spec, rng)


def test_every_spec_is_explained_and_sampled() -> None:
    for spec in all_specs():
        sentences = [s for s in spec.explanation.replace("e.g.", "eg").split(". ") if s.strip()]
        assert 2 <= len(sentences) <= 4, f"{spec.type}: explanation should be 2-3 sentences"
        assert spec.sample is not None, f"{spec.type} has no sampler for the harness"
        for p in spec.params:
            assert p.validate(p.default) == p.validate(p.default), p.name
