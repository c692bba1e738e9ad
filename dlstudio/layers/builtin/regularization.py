"""Regularization layers: act only in training mode (identity in evaluation)."""

from __future__ import annotations

import random

from ...core.tensor import TensorInfo
from ..registry import register
from ..shape_rules import expect_float, expect_rank, require
from ..spec import LayerSpec, ParamSpec, PortSpec

X = (PortSpec("x"),)
Y = (PortSpec("y"),)

_P = ParamSpec("p", "float", 0.5, "Probability that an element is dropped", min=0.0, max=1.0)


def _shape(layer: str, ranks: tuple[int, ...] | None = None, what: str = ""):
    def rule(params: dict, inputs: list) -> list[TensorInfo]:
        t = require(inputs, layer, port="x")
        expect_float(t, layer, port="x")
        if ranks is not None:
            expect_rank(t, ranks, layer, what, port="x")
        return [t]

    return rule


def _one_per_element(params: dict, inputs: list, outputs: list) -> int:
    return outputs[0].numel_per_sample()


def _sample(rng: random.Random, rank: int | None = None) -> list[TensorInfo]:
    n = rank - 1 if rank else rng.randint(1, 3)
    return [TensorInfo(("N",) + tuple(rng.randint(1, 6) for _ in range(n)))]


register(
    LayerSpec(
        type="Dropout",
        category="Regularization",
        explanation=(
            "During training, zeroes each element with probability p and scales the rest by 1/(1-p); in "
            "evaluation it does nothing. Put it after hidden Dense layers to reduce overfitting (0.2-0.5 is "
            "typical). Never put it after the output layer, and remember to switch the model to eval mode "
            "for predictions."
        ),
        inputs=X,
        outputs=Y,
        params=(_P,),
        shape=_shape("Dropout"),
        macs=_one_per_element,
        module="torch.nn.Dropout",
        key_params=("p",),
        train_only=True,
        sample=lambda rng: ({"p": rng.choice([0.0, 0.2, 0.5])}, _sample(rng)),
    )
)

register(
    LayerSpec(
        type="Dropout2d",
        category="Regularization",
        explanation=(
            "During training, drops whole channels of (C, H, W) feature maps with probability p. Neighbouring "
            "pixels are strongly correlated, so dropping single pixels barely regularizes a CNN; dropping "
            "channels does. It expects 4-D input (batch, C, H, W); use Dropout for flat features."
        ),
        inputs=X,
        outputs=Y,
        params=(_P,),
        shape=_shape("Dropout2d", (4,), "feature maps (C, H, W)"),
        macs=_one_per_element,
        module="torch.nn.Dropout2d",
        key_params=("p",),
        train_only=True,
        sample=lambda rng: ({"p": rng.choice([0.1, 0.5])}, _sample(rng, 4)),
    )
)

register(
    LayerSpec(
        type="AlphaDropout",
        category="Regularization",
        explanation=(
            "Dropout for self-normalizing networks: dropped units are set to SELU's negative saturation value "
            "and the result is rescaled so the mean and variance stay unchanged. Use it together with SELU "
            "activations. With ReLU networks use ordinary Dropout instead."
        ),
        inputs=X,
        outputs=Y,
        params=(_P,),
        shape=_shape("AlphaDropout"),
        macs=_one_per_element,
        module="torch.nn.AlphaDropout",
        key_params=("p",),
        train_only=True,
        sample=lambda rng: ({"p": rng.choice([0.05, 0.1, 0.5])}, _sample(rng)),
    )
)

register(
    LayerSpec(
        type="GaussianNoise",
        category="Regularization",
        explanation=(
            "Adds random normal noise with standard deviation std to every element during training only; in "
            "evaluation it passes data through unchanged. It works as data augmentation and makes the "
            "network robust to small input changes (denoising autoencoders). Choose std relative to the "
            "data's scale: noise of 1.0 on inputs in [0, 1] drowns the signal."
        ),
        inputs=X,
        outputs=Y,
        params=(ParamSpec("std", "float", 0.1, "Standard deviation of the added noise", min=0.0),),
        shape=_shape("GaussianNoise"),
        macs=_one_per_element,
        module="dlstudio.nn.noise.GaussianNoise",
        key_params=("std",),
        train_only=True,
        sample=lambda rng: ({"std": rng.choice([0.0, 0.05, 0.1, 1.0])}, _sample(rng)),
    )
)
