"""LayerSpec.from_module is the inverse of the constructor: for every layer type the compiler builds as an
nn.Module, spec -> module -> from_module gives back the same parameters, and those parameters rebuild the same
module. Where torch normalises a value (a pool's stride None is its kernel size, padding_idx -1 is n - 1) the read
value may be spelled differently, but it must rebuild an identical module."""

from __future__ import annotations

import random

import pytest

import dlstudio as dls
from dlstudio.analysis.shapes import infer_all
from dlstudio.layers import all_specs
from dlstudio.layers.module_readers import CALL_SITE_PARAMS
from dlstudio.layers.spec import LayerSpec
from tests.test_layer_harness import build_single

MODULE_SPECS = [s for s in all_specs() if s.module and s.type not in ("Input", "Output")]


def _built(spec: LayerSpec, params: dict, inputs: list):
    g, nid, _ = build_single(spec, params, inputs)
    shapes = infer_all(g)
    assert not shapes.errors, f"{spec.type} {params}: {shapes.errors}"
    model = dls.compile(g, seed=0)
    return model.get_submodule(model.node_paths[nid]), shapes.params[nid]


def _fingerprint(module) -> tuple:
    return repr(module), {k: tuple(v.shape) for k, v in module.state_dict().items()}


@pytest.mark.parametrize("spec", MODULE_SPECS, ids=lambda s: s.type)
def test_from_module_inverts_the_constructor(spec: LayerSpec) -> None:
    assert spec.sample is not None, f"{spec.type} has no sampler"
    rng = random.Random(f"from_module-{spec.type}")
    call_site = set(CALL_SITE_PARAMS.get(spec.type, ()))
    for _ in range(6):
        params, inputs = spec.sample(rng)
        module, resolved = _built(spec, params, inputs)
        read = spec.from_module(module)
        want = resolved
        # the read parameters (with the call-site ones as given) rebuild the very same module
        rebuilt, _ = _built(spec, {**read, **{k: want[k] for k in call_site}}, inputs)
        assert _fingerprint(rebuilt) == _fingerprint(module), f"{spec.type}: {want} read back as {read}"
        for name in set(want) - call_site:
            if read[name] != want[name]:
                respelled, _ = _built(spec, {**want, name: read[name]}, inputs)
                assert _fingerprint(respelled) == _fingerprint(module), f"{spec.type}.{name}: {want} vs {read}"


def test_modules_the_catalog_cannot_rebuild_are_refused_by_name() -> None:
    """Sequence-first recurrent and attention layers compute something else than the batch-first catalog ones."""
    from torch import nn

    from dlstudio.core.errors import ParamError
    from dlstudio.layers import get_spec

    for type_name, module in (
        ("LSTM", nn.LSTM(4, 8)),
        ("MultiheadAttention", nn.MultiheadAttention(8, 2)),
        ("TransformerEncoderLayer", nn.TransformerEncoderLayer(8, 2)),
    ):
        with pytest.raises(ParamError, match="batch_first"):
            get_spec(type_name).from_module(module)
    assert get_spec("LSTM").from_module(nn.LSTM(4, 8, batch_first=True))["hidden_size"] == 8
