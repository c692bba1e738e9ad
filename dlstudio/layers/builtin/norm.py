"""Normalization layers. Channel counts (num_features, num_channels, normalized_shape) follow from the input."""

from __future__ import annotations

import random

from ...core.errors import ShapeError
from ...core.tensor import TensorInfo
from ..registry import register
from ..shape_rules import expect_float, expect_rank, prod, require
from ..spec import LayerSpec, ParamSpec, PortSpec

X = (PortSpec("x"),)
Y = (PortSpec("y"),)


def _checked(layer: str, ranks: tuple[int, ...], what: str):
    def rule(params: dict, inputs: list) -> list[TensorInfo]:
        t = require(inputs, layer, port="x")
        expect_float(t, layer, port="x")
        expect_rank(t, ranks, layer, what, port="x")
        return [t]

    return rule


def _affine_count(flag: str):
    """Weight and bias of size C (dimension 1) when the affine flag is on; running stats are buffers."""

    def count(params: dict, inputs: list) -> int:
        return 2 * int(inputs[0].shape[1]) if params[flag] else 0

    return count


def _norm_macs(params: dict, inputs: list, outputs: list) -> int:
    # normalizing costs about one subtract+multiply per element (scale/shift folded in): count 2 per element
    return 2 * outputs[0].numel_per_sample()


def _bn_params(momentum_default: float = 0.1) -> tuple[ParamSpec, ...]:
    return (
        ParamSpec("eps", "float", 1e-5, "Added to the variance for numerical stability", min=0.0, advanced=True),
        ParamSpec(
            "momentum",
            "float",
            momentum_default,
            "Weight of the newest batch in the running statistics",
            min=0.0,
            max=1.0,
            advanced=True,
        ),
        ParamSpec("affine", "bool", True, "Learn a per-channel scale and shift", advanced=True),
        ParamSpec("track_running_stats", "bool", True, "Keep running mean/variance for evaluation mode", advanced=True),
    )


def _bn_kwargs(p: dict, i: list) -> dict:
    return {
        "num_features": int(i[0].shape[1]),
        "eps": p["eps"],
        "momentum": p["momentum"],
        "affine": p["affine"],
        "track_running_stats": p["track_running_stats"],
    }


def _bn_sample(ranks: tuple[int, ...]):
    def sample(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
        r = rng.choice(ranks)
        shape = ("N", rng.randint(1, 8)) + tuple(rng.randint(2, 6) for _ in range(r - 2))
        return (
            {
                "affine": rng.random() < 0.8,
                "track_running_stats": rng.random() < 0.8,
                "momentum": rng.choice([0.1, 0.01]),
                "eps": 1e-5,
            },
            [TensorInfo(shape)],
        )

    return sample


register(
    LayerSpec(
        type="BatchNorm1d",
        category="Normalization",
        explanation=(
            "Normalizes each feature (channel) to zero mean and unit variance over the batch, then applies "
            "a learned scale and shift; takes (C,) features or (C, L) sequences. Put it after a Linear or "
            "Conv1d to train faster and more stably. It behaves differently in training and evaluation "
            "mode and needs batches of more than one sample while training."
        ),
        inputs=X,
        outputs=Y,
        params=_bn_params(),
        shape=_checked("BatchNorm1d", (2, 3), "features (C,) or (C, L)"),
        param_count=_affine_count("affine"),
        macs=_norm_macs,
        module="torch.nn.BatchNorm1d",
        kwargs=_bn_kwargs,
        sample=_bn_sample((2, 3)),
    )
)

register(
    LayerSpec(
        type="BatchNorm2d",
        category="Normalization",
        explanation=(
            "Normalizes each channel of (C, H, W) feature maps over the batch and the spatial positions, "
            "then applies a learned per-channel scale and shift. The standard companion of Conv2d (conv, "
            "BatchNorm, ReLU); the conv before it needs no bias. Small batches give noisy statistics; "
            "prefer GroupNorm when batches are tiny."
        ),
        inputs=X,
        outputs=Y,
        params=_bn_params(),
        shape=_checked("BatchNorm2d", (4,), "feature maps (C, H, W)"),
        param_count=_affine_count("affine"),
        macs=_norm_macs,
        module="torch.nn.BatchNorm2d",
        kwargs=_bn_kwargs,
        sample=_bn_sample((4,)),
    )
)


# ----------------------------------------------------------------------------------------------- LayerNorm
def _ln_shape(params: dict, inputs: list) -> list[TensorInfo]:
    t = require(inputs, "LayerNorm", port="x")
    expect_float(t, "LayerNorm", port="x")
    k = params["normalized_dims"]
    if k > t.rank - 1:
        raise ShapeError(
            f"LayerNorm normalized_dims={k} but the input {t} has only {t.rank - 1} dimension(s) per "
            f"sample: lower normalized_dims",
            param="normalized_dims",
            port="x",
        )
    return [t]


def _ln_count(params: dict, inputs: list) -> int:
    if not params["elementwise_affine"]:
        return 0
    n = prod(inputs[0].shape[-params["normalized_dims"] :])
    return n * (2 if params["bias"] else 1)


register(
    LayerSpec(
        type="LayerNorm",
        category="Normalization",
        explanation=(
            "Normalizes each sample over its last normalized_dims dimensions (normalized_shape follows from "
            "the input), independently of the batch. It is the normalization of Transformers and RNNs and "
            "works the same in training and evaluation. With normalized_dims=1 on an image it normalizes "
            "only along the width, which is rarely what you want."
        ),
        inputs=X,
        outputs=Y,
        params=(
            ParamSpec(
                "normalized_dims", "int", 1, "How many trailing dimensions to normalize over", min=1, torch=False
            ),
            ParamSpec("eps", "float", 1e-5, "Added to the variance for numerical stability", min=0.0, advanced=True),
            ParamSpec(
                "elementwise_affine", "bool", True, "Learn a scale (and shift) per normalized element", advanced=True
            ),
            ParamSpec("bias", "bool", True, "Learn the shift too (when elementwise_affine)", advanced=True),
        ),
        shape=_ln_shape,
        param_count=_ln_count,
        macs=_norm_macs,
        module="torch.nn.LayerNorm",
        kwargs=lambda p, i: {
            "normalized_shape": tuple(int(d) for d in i[0].shape[-p["normalized_dims"] :]),
            "eps": p["eps"],
            "elementwise_affine": p["elementwise_affine"],
            "bias": p["bias"],
        },
        key_params=("normalized_dims",),
        sample=lambda rng: (
            lambda shape: (
                {
                    "normalized_dims": rng.randint(1, len(shape) - 1),
                    "elementwise_affine": rng.random() < 0.8,
                    "bias": rng.random() < 0.8,
                },
                [TensorInfo(shape)],
            )
        )(("N",) + tuple(rng.randint(1, 6) for _ in range(rng.randint(1, 3)))),
    )
)


# ----------------------------------------------------------------------------------------------- GroupNorm
def _gn_shape(params: dict, inputs: list) -> list[TensorInfo]:
    t = require(inputs, "GroupNorm", port="x")
    expect_float(t, "GroupNorm", port="x")
    if t.rank < 2:
        raise ShapeError("GroupNorm needs a channel dimension (C, ...) per sample", port="x")
    c, g = int(t.shape[1]), params["num_groups"]
    if c % g:
        divisors = [d for d in range(1, c + 1) if c % d == 0]
        raise ShapeError(
            f"GroupNorm num_groups={g} does not divide the {c} input channels: pick one of {divisors}",
            param="num_groups",
            port="x",
            expected=f"a divisor of {c}",
            got=g,
        )
    return [t]


def _gn_sample(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
    g = rng.randint(1, 4)
    c = g * rng.randint(1, 3)
    shape = ("N", c) + tuple(rng.randint(1, 5) for _ in range(rng.randint(0, 2)))
    return {"num_groups": g, "affine": rng.random() < 0.8}, [TensorInfo(shape)]


register(
    LayerSpec(
        type="GroupNorm",
        category="Normalization",
        explanation=(
            "Splits the channels into num_groups groups and normalizes each group within each sample, so it "
            "does not depend on the batch size. Use it instead of BatchNorm when batches are small "
            "(detection, segmentation, high-resolution images). num_groups must divide the number of "
            "channels; num_groups=1 is LayerNorm over (C, H, W)."
        ),
        inputs=X,
        outputs=Y,
        params=(
            ParamSpec("num_groups", "int", 2, "Number of channel groups (must divide the channels)", min=1),
            ParamSpec("eps", "float", 1e-5, "Added to the variance for numerical stability", min=0.0, advanced=True),
            ParamSpec("affine", "bool", True, "Learn a per-channel scale and shift", advanced=True),
        ),
        shape=_gn_shape,
        param_count=_affine_count("affine"),
        macs=_norm_macs,
        module="torch.nn.GroupNorm",
        kwargs=lambda p, i: {
            "num_groups": p["num_groups"],
            "num_channels": int(i[0].shape[1]),
            "eps": p["eps"],
            "affine": p["affine"],
        },
        key_params=("num_groups",),
        sample=_gn_sample,
    )
)


def _in_shape(params: dict, inputs: list) -> list[TensorInfo]:
    t = _checked("InstanceNorm2d", (4,), "feature maps (C, H, W)")(params, inputs)[0]
    if int(t.shape[2]) * int(t.shape[3]) < 2:
        raise ShapeError(
            f"InstanceNorm2d needs more than one spatial position per channel, got {t}: normalize "
            f"before pooling down to 1x1",
            port="x",
        )
    return [t]


register(
    LayerSpec(
        type="InstanceNorm2d",
        category="Normalization",
        explanation=(
            "Normalizes every channel of every sample over its own height and width. It removes "
            "per-image contrast, which suits style transfer and some GAN generators. By default it learns no "
            "scale/shift and keeps no running statistics; turn on affine if the layer should learn them."
        ),
        inputs=X,
        outputs=Y,
        params=(
            ParamSpec("eps", "float", 1e-5, "Added to the variance for numerical stability", min=0.0, advanced=True),
            ParamSpec(
                "momentum",
                "float",
                0.1,
                "Weight of the newest batch in running statistics",
                min=0.0,
                max=1.0,
                advanced=True,
            ),
            ParamSpec("affine", "bool", False, "Learn a per-channel scale and shift"),
            ParamSpec(
                "track_running_stats", "bool", False, "Keep running statistics for evaluation mode", advanced=True
            ),
        ),
        shape=_in_shape,
        param_count=_affine_count("affine"),
        macs=_norm_macs,
        module="torch.nn.InstanceNorm2d",
        kwargs=_bn_kwargs,
        sample=lambda rng: (
            {"affine": rng.random() < 0.5, "track_running_stats": rng.random() < 0.3},
            [TensorInfo(("N", rng.randint(1, 6), rng.randint(2, 6), rng.randint(2, 6)))],
        ),
    )
)


def _lrn_shape(params: dict, inputs: list) -> list[TensorInfo]:
    t = require(inputs, "LocalResponseNorm", port="x")
    expect_float(t, "LocalResponseNorm", port="x")
    if t.rank < 3:
        raise ShapeError(
            f"LocalResponseNorm needs (C, ...) feature maps with at least one spatial dimension, "
            f"got {t}: use it after a convolution",
            port="x",
        )
    return [t]


register(
    LayerSpec(
        type="LocalResponseNorm",
        category="Normalization",
        explanation=(
            "Divides each activation by a power of the summed squares of its neighbours across size nearby "
            "channels, a form of lateral inhibition. It appears in AlexNet and GoogLeNet after the early "
            "convolutions. BatchNorm has replaced it in modern networks; keep it only to reproduce those."
        ),
        inputs=X,
        outputs=Y,
        params=(
            ParamSpec("size", "int", 5, "Number of neighbouring channels to sum over", min=1),
            ParamSpec("alpha", "float", 1e-4, "Multiplicative factor", min=0.0),
            ParamSpec("beta", "float", 0.75, "Exponent", min=0.0),
            ParamSpec("k", "float", 2.0, "Additive constant (AlexNet uses 2)", min=0.0),
        ),
        shape=_lrn_shape,
        # each output sums `size` squares, then one scale: about size + 2 operations per element
        macs=lambda p, i, o: (p["size"] + 2) * o[0].numel_per_sample(),
        module="torch.nn.LocalResponseNorm",
        key_params=("size",),
        sample=lambda rng: (
            {"size": rng.randint(1, 5), "alpha": 1e-4, "beta": 0.75, "k": rng.choice([1.0, 2.0])},
            [TensorInfo(("N", rng.randint(1, 8)) + tuple(rng.randint(1, 5) for _ in range(rng.randint(1, 2))))],
        ),
    )
)
