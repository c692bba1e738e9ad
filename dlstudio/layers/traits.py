"""Layer traits: what analysis needs to know about a layer type beyond its shape, read from its LayerSpec.

Lints ask "is this a softmax?", "does this pass values through unchanged but for their shape?" of the catalog
instead of keeping lists of type names, so a layer added to the catalog (or renamed through `replaces`) is known to
every lint through its spec alone. A trait is a `LayerSpec.tags` entry, or a spec field that already says it:

- ``activation``: a non-linearity; every spec of category "Activation", plus specs elsewhere tagged so.
- ``saturating``: an activation whose gradient vanishes for large inputs (Sigmoid, Tanh, Softsign): deep stacks
  of them train badly.
- ``softmax``: normalizes scores into (log-)probabilities along a dimension (Softmax, LogSoftmax).
- ``shape_only``: moves, selects or copies values without arithmetic (Flatten, Reshape, Permute, Select, ...):
  a linear map, so Linear -> shape_only -> Linear is still one linear map, and a head activation seen through
  it is still the head.
- ``dropout``: random in training, the identity in evaluation; every spec with ``train_only=True`` (Dropout,
  AlphaDropout, GaussianNoise), plus specs tagged so.
"""

from __future__ import annotations

from .registry import REGISTRY
from .spec import LayerSpec

ACTIVATION = "activation"
SATURATING = "saturating"
SOFTMAX = "softmax"
SHAPE_ONLY = "shape_only"
DROPOUT = "dropout"
TRAITS = (ACTIVATION, SATURATING, SOFTMAX, SHAPE_ONLY, DROPOUT)


def spec_has(spec: LayerSpec, trait: str) -> bool:
    if trait not in TRAITS:
        raise ValueError(f"Unknown layer trait {trait!r}: use one of {', '.join(TRAITS)}")
    if trait in spec.tags:
        return True
    if trait == ACTIVATION:
        return spec.category == "Activation"
    if trait == DROPOUT:
        return spec.train_only
    return False


def has_trait(type_name: str, trait: str) -> bool:
    """True when the registered layer type (or an old name it replaces) has `trait`; False for unknown types."""
    if type_name not in REGISTRY:
        return False
    return spec_has(REGISTRY.get(type_name), trait)


def types_with(trait: str) -> frozenset[str]:
    """Every registered layer type that has `trait`."""
    return frozenset(spec.type for spec in REGISTRY.all() if spec_has(spec, trait))
