"""Lints know layer types through catalog traits (dlstudio.layers.traits), not hand-written lists of names."""

from __future__ import annotations

import pytest

from dlstudio.analysis.lints import trait_sets
from dlstudio.layers.registry import REGISTRY
from dlstudio.layers.traits import TRAITS, has_trait, types_with

# The lists lints.py kept by hand before the catalog carried traits, kept here as the record of what they meant.
# Some named types dlstudio never had (Dropout3d, Softmax2d, ReLU6, ...): a type added later must earn its trait
# through its spec, so those names only have to carry the trait once they exist.
FORMER_SETS = {
    "dropouts": {
        "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout", "GaussianNoise",
    },
    "passes_values": {"Identity", "Flatten", "Unflatten", "Reshape", "Permute", "Squeeze", "Unsqueeze", "Select"},
    "softmaxes": {"Softmax", "LogSoftmax", "Softmax2d"},
    "saturating": {"Sigmoid", "Tanh", "Softsign", "Hardsigmoid"},
    "activations": {
        "ReLU", "LeakyReLU", "PReLU", "ELU", "SELU", "GELU", "SiLU", "Mish", "Sigmoid", "Tanh", "Hardtanh",
        "Softplus", "Softsign", "Softmax", "LogSoftmax", "Step", "ReLU6", "Hardsigmoid", "Hardswish", "CELU",
    },
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(FORMER_SETS))
def test_every_type_a_former_list_named_still_has_its_trait(name: str) -> None:
    now = trait_sets()[name]
    existing = {t for t in FORMER_SETS[name] if t in REGISTRY}
    assert existing, f"none of the former {name} exists: the comparison would prove nothing"
    assert existing <= now, f"{sorted(existing - now)} lost the trait behind {name}"


@pytest.mark.parametrize("name", sorted(FORMER_SETS))
def test_trait_sets_hold_only_registered_types(name: str) -> None:
    registered = {spec.type for spec in REGISTRY.all()}
    assert trait_sets()[name] <= registered


def test_traits_follow_the_spec() -> None:
    assert has_trait("Softmax", "softmax") and has_trait("Sigmoid", "saturating") and has_trait("ReLU", "activation")
    assert not has_trait("ReLU", "saturating") and not has_trait("Identity", "activation")
    assert not has_trait("NoSuchLayer", "activation")
    assert types_with("dropout") == {spec.type for spec in REGISTRY.all() if spec.train_only}
    with pytest.raises(ValueError, match="Unknown layer trait"):
        types_with("linear-ish")
    for trait in TRAITS:
        assert types_with(trait), f"no layer carries {trait}"
