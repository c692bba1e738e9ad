"""Activation functions (shape-preserving, elementwise unless noted)."""

from __future__ import annotations

import random
from collections.abc import Callable

from ...core.errors import ShapeError
from ...core.tensor import TensorInfo
from ..registry import register
from ..shape_rules import elementwise_macs, expect_float, require
from ..spec import LayerSpec, ParamSpec, PortSpec

X = (PortSpec("x"),)
Y = (PortSpec("y"),)


def _act_shape(name: str):
    def rule(params: dict, inputs: list) -> list[TensorInfo]:
        t = require(inputs, name, port="x")
        expect_float(t, name, port="x")
        return [t]

    return rule


def _sample_any(rng: random.Random) -> list[TensorInfo]:
    return [TensorInfo(("N",) + tuple(rng.randint(1, 6) for _ in range(rng.randint(1, 3))))]


def activation(
    type_name: str,
    explanation: str,
    params: tuple[ParamSpec, ...] = (),
    module: str | None = None,
    sample_params: Callable[[random.Random], dict] | None = None,
    shape=None,
    sample=None,
    **extra,
) -> None:
    register(
        LayerSpec(
            type=type_name,
            category="Activation",
            explanation=explanation,
            inputs=X,
            outputs=Y,
            params=params,
            shape=shape or _act_shape(type_name),
            macs=elementwise_macs,
            module=module or f"torch.nn.{type_name}",
            sample=sample
            or (
                lambda rng: (
                    (sample_params(rng) if sample_params else {p.name: p.default for p in params}),
                    _sample_any(rng),
                )
            ),
            **extra,
        )
    )


activation(
    "ReLU",
    "Keeps positive values and sets negatives to zero: max(0, x). The default choice for hidden "
    "layers because it is cheap and does not saturate for positive inputs. Units whose input stays "
    "negative stop learning ('dying ReLU'); LeakyReLU avoids that.",
)

activation(
    "LeakyReLU",
    "Like ReLU but lets a small slope through for negative inputs: x if x > 0 else negative_slope * x. Use it "
    "where ReLU units die (GAN discriminators commonly use a slope of 0.2). A slope of 1 makes it the identity, "
    "which removes the non-linearity.",
    params=(ParamSpec("negative_slope", "float", 0.01, "Slope for negative inputs", min=0.0),),
    key_params=("negative_slope",),
    sample_params=lambda rng: {"negative_slope": rng.choice([0.01, 0.1, 0.2])},
)


# ---------------------------------------------------------------- PReLU: learned slope, per channel optionally
def _prelu_shape(params: dict, inputs: list) -> list[TensorInfo]:
    t = require(inputs, "PReLU", port="x")
    expect_float(t, "PReLU", port="x")
    if params["per_channel"] and t.rank < 2:
        raise ShapeError(
            "PReLU per_channel needs a channel dimension after the batch: turn per_channel off",
            port="x",
            param="per_channel",
        )
    return [t]


def _prelu_count(params: dict, inputs: list) -> int:
    t = require(inputs, "PReLU", port="x")
    return int(t.shape[1]) if params["per_channel"] else 1


activation(
    "PReLU",
    "A LeakyReLU whose negative slope is learned during training, either one slope shared by all units or one "
    "per channel (dimension 1). Helpful in deep CNNs where a fixed slope is a guess. Do not apply weight decay "
    "to the slope, or it is pulled towards plain ReLU.",
    params=(
        ParamSpec(
            "per_channel",
            "bool",
            False,
            "One learned slope per channel (dimension 1) instead of one shared slope",
            torch=False,
        ),
        ParamSpec("init", "float", 0.25, "Initial slope", advanced=True),
    ),
    shape=_prelu_shape,
    param_count=_prelu_count,
    kwargs=lambda p, i: {"num_parameters": int(i[0].shape[1]) if p["per_channel"] else 1, "init": p["init"]},
    key_params=("per_channel",),
    sample_params=lambda rng: {"per_channel": rng.random() < 0.5, "init": rng.choice([0.1, 0.25])},
)

activation(
    "ELU",
    "Exponential linear unit: x for x > 0, alpha * (exp(x) - 1) otherwise, so negative outputs saturate "
    "smoothly at -alpha. It pushes mean activations towards zero, which can speed up training. It costs an "
    "exponential per element, slower than ReLU.",
    params=(ParamSpec("alpha", "float", 1.0, "Saturation value for negative inputs", min=0.0),),
    sample_params=lambda rng: {"alpha": rng.choice([0.5, 1.0, 2.0])},
)

activation(
    "SELU",
    "Scaled ELU with fixed constants chosen so that activations keep zero mean and unit variance through deep "
    "fully connected stacks (self-normalizing networks). It only works as intended with LeCun-normal weights "
    "and AlphaDropout instead of Dropout.",
)

activation(
    "GELU",
    "Gaussian error linear unit: x times the probability that a standard normal is below x, a smooth ReLU. It "
    "is the standard activation inside Transformers (BERT, GPT). approximate='tanh' is a faster formula that "
    "differs slightly from the exact one, which matters when loading weights trained with the other.",
    params=(
        ParamSpec(
            "approximate",
            "choice",
            "none",
            "Exact erf formula or the tanh approximation",
            choices=("none", "tanh"),
            advanced=True,
        ),
    ),
    sample_params=lambda rng: {"approximate": rng.choice(["none", "tanh"])},
)

activation(
    "SiLU",
    "Sigmoid-weighted linear unit (also called Swish): x * sigmoid(x). Smooth and non-monotonic, used in "
    "EfficientNet and many modern CNNs. It is a little costlier than ReLU and its benefit shows mostly in "
    "deep networks.",
)

activation(
    "Mish",
    "x * tanh(softplus(x)): a smooth, non-monotonic activation similar to SiLU, used in YOLOv4. It can give "
    "small accuracy gains in deep CNNs. It is the most expensive of the common activations to compute.",
)

activation(
    "Sigmoid",
    "Squashes any value into (0, 1): 1 / (1 + exp(-x)). Use it on the output for binary or multi-label "
    "classification, or as a gate. Stacked in deep hidden layers it saturates and gradients vanish, and with "
    "BCEWithLogitsLoss it must be left out because that loss applies it itself.",
    tags=("saturating",),
)

activation(
    "Tanh",
    "Squashes values into (-1, 1) and is zero-centred, unlike Sigmoid. It is the classic RNN activation and "
    "the usual output of a GAN generator for images scaled to [-1, 1]. Like Sigmoid it saturates, so deep "
    "stacks of it suffer from vanishing gradients.",
    tags=("saturating",),
)


def _hardtanh_shape(params: dict, inputs: list) -> list[TensorInfo]:
    t = require(inputs, "Hardtanh", port="x")
    expect_float(t, "Hardtanh", port="x")
    if params["min_val"] >= params["max_val"]:
        raise ShapeError(
            f"Hardtanh needs min_val < max_val, got {params['min_val']} >= {params['max_val']}: "
            f"lower min_val or raise max_val",
            param="min_val",
        )
    return [t]


activation(
    "Hardtanh",
    "Clips values to [min_val, max_val], linear in between: a cheap piecewise-linear Tanh. Handy for bounded "
    "outputs and low-precision models. Outside the range the gradient is exactly zero, so units stuck there "
    "stop learning.",
    params=(ParamSpec("min_val", "float", -1.0, "Lower bound"), ParamSpec("max_val", "float", 1.0, "Upper bound")),
    shape=_hardtanh_shape,
    sample_params=lambda rng: {"min_val": rng.choice([-2.0, -1.0, 0.0]), "max_val": rng.choice([1.0, 6.0])},
)

activation(
    "Softplus",
    "A smooth ReLU: log(1 + exp(beta * x)) / beta, always positive. Use it where an output must be strictly "
    "positive, such as a predicted standard deviation or rate. For beta * x above threshold it switches to "
    "the identity to avoid overflow.",
    params=(
        ParamSpec("beta", "float", 1.0, "Sharpness: larger is closer to ReLU", min=1e-6),
        ParamSpec("threshold", "float", 20.0, "Above beta * x > threshold the output is x", advanced=True),
    ),
    sample_params=lambda rng: {"beta": rng.choice([0.5, 1.0, 2.0]), "threshold": 20.0},
)

activation(
    "Softsign",
    "x / (1 + |x|): squashes into (-1, 1) like Tanh but approaches the bounds polynomially rather than "
    "exponentially. It saturates more gently than Tanh. It is rarely better than Tanh in practice and still "
    "suffers from small gradients far from zero.",
    tags=("saturating",),
)


def _softmax_shape(name: str):
    def rule(params: dict, inputs: list) -> list[TensorInfo]:
        t = require(inputs, name, port="x")
        expect_float(t, name, port="x")
        d = params["dim"]
        if not -t.rank <= d < t.rank:
            raise ShapeError(
                f"{name} dim={d} is out of range for a {t.rank - 1}-D input {t}: use -1 for the last dimension",
                param="dim",
            )
        if d % t.rank == 0:
            raise ShapeError(
                f"{name} dim={d} is the batch dimension, which would mix samples: use 1 or -1", param="dim"
            )
        return [t]

    return rule


def _softmax_sample(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
    (t,) = _sample_any(rng)
    return {"dim": rng.choice([-1, 1] + list(range(1, t.rank)))}, [t]


activation(
    "Softmax",
    "Turns a vector of scores into probabilities that are positive and sum to 1 along dim. Use it on the output "
    "for multi-class prediction at inference time. Do not put it before CrossEntropyLoss, which applies "
    "log-softmax itself; a double softmax trains badly.",
    params=(ParamSpec("dim", "int", -1, "Dimension that sums to 1 (the batch is dimension 0)"),),
    shape=_softmax_shape("Softmax"),
    sample=_softmax_sample,
    key_params=("dim",),
    tags=("softmax",),
)

activation(
    "LogSoftmax",
    "The logarithm of Softmax, computed in a numerically stable way. Pair it with NLLLoss for classification. "
    "Like Softmax, it does not belong in front of CrossEntropyLoss, which already includes it.",
    params=(ParamSpec("dim", "int", -1, "Dimension to normalize over (the batch is dimension 0)"),),
    shape=_softmax_shape("LogSoftmax"),
    sample=_softmax_sample,
    key_params=("dim",),
    tags=("softmax",),
)

activation(
    "Step",
    "The Heaviside step of the classic perceptron: 1 where x > 0, else 0. Use it to build and study Rosenblatt's "
    "perceptron. Its gradient is zero everywhere, so backpropagation cannot train anything before it; use "
    "Sigmoid or ReLU for trainable networks.",
    module="dlstudio.nn.activations.Step",
    tags=("zero_gradient",),
)
