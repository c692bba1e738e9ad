"""The model zoo: one function per template, each returning a Project with its dataset, training settings and an
explanation. examples/build_examples.py writes them next to the five first examples; the studio's gallery lists
every examples/*.dlstudio.

Reference layouts (the tests in tests/test_zoo_reference.py build each one by hand in torch and compare parameter
counts and output shapes): CIFAR ResNet-18 (kuangliu/pytorch-cifar), torchvision's MobileNetV2 with CIFAR strides,
the DCGAN of the PyTorch tutorial (nz=100, ngf=ndf=64, 64x64 RGB), ESPCN for super-resolution.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dlstudio as dls
from dlstudio.api import Ref
from dlstudio.core.edits import GroupNodes


def _project(
    g: dls.Graph, name: str, description: str, explanation: str, data: dict[str, Any], training: dict[str, Any]
) -> dls.Project:
    return dls.Project(
        graph=g,
        meta={"name": name, "description": description, "explanation": explanation},
        data=data,
        training=training,
    )


def _group(g: dls.Graph, first: str, last: str, label: str) -> None:
    """Group the nodes added from `first` to `last` (insertion order) into one collapsible block."""
    ids = list(g.nodes)
    members = tuple(ids[ids.index(first) : ids.index(last) + 1])
    GroupNodes(g.new_id("g"), label, members).apply(g)


# ------------------------------------------------------------------------------------------------ dense
def perceptron() -> dls.Project:
    g = dls.Graph()
    x = g.input("point", shape=(2,))
    score = g.add("Linear", x, out_features=1, label="perceptron")
    g.output("score", score)
    g.output("decision", g.add("Step", score, label="step"))
    return _project(
        g,
        "perceptron",
        "Rosenblatt's perceptron: one weighted sum of the inputs and a hard threshold (Step), on "
        "two linearly separable blobs.",
        "A perceptron draws one straight line through the plane: the Linear node computes w1*x1 + w2*x2 + b and "
        "Step turns its sign into a 0/1 decision (the 'decision' output). Step is flat everywhere except at zero, "
        "so its gradient is zero and backpropagation through it would never move the weights. That is why the "
        "loss is attached to the smooth 'score' output instead: the hinge loss max(0, 1 - y*score) is a "
        "surrogate that still pushes misclassified points across the line, much like Rosenblatt's update rule, "
        "and the Step output reads off the same decision. Because the two blobs can be separated by a line, "
        "the perceptron reaches 100% accuracy; on XOR-like data no single line works and you need hidden layers.",
        {"dataset": "blobs", "options": {"centers": 2, "n_samples": 400, "noise": 1.0}, "output": "score"},
        {"task": "binary", "loss": "HingeLoss", "optimizer": "SGD", "lr": 0.1, "batch_size": 32, "epochs": 20},
    )


def deep_mlp() -> dls.Project:
    g = dls.Graph()
    h = g.input("point", shape=(2,))
    for i in range(1, 5):
        h = g.add("Linear", h, out_features=64, label=f"fc{i}")
        h = g.add("BatchNorm1d", h, label=f"bn{i}")
        h = g.add("ReLU", h, label=f"relu{i}")
    g.output("logits", g.add("Linear", h, out_features=2, label="classifier"))
    return _project(
        g,
        "deep_mlp",
        "A deep multilayer perceptron (four hidden layers of 64 with BatchNorm) that untangles two "
        "interleaved spirals.",
        "Two spirals wound into each other cannot be split by a line or by one bend: each hidden layer folds the "
        "plane once more, and four of them are enough to carve out the spiral arms. BatchNorm1d after every "
        "Linear layer keeps the activations centred and scaled, so the deep stack trains with a large learning "
        "rate instead of stalling; ReLU supplies the folds. The head gives two logits for CrossEntropyLoss. "
        "Compare it with mlp_digits: depth matters more than width when the decision boundary twists.",
        {"dataset": "spirals", "options": {"n_samples": 1000}},
        {"task": "multiclass", "optimizer": "Adam", "lr": 0.01, "batch_size": 64, "epochs": 60},
    )


# ------------------------------------------------------------------------------------------------ CNNs
def alexnet_small() -> dls.Project:
    g = dls.Graph()
    x = g.input("image", shape=(1, 28, 28))
    h = g.add("ReLU", g.add("Conv2d", x, out_channels=32, kernel_size=5, padding=2, label="conv1"))
    h = g.add("LocalResponseNorm", h, size=5, label="lrn1")
    h = g.add("MaxPool2d", h, kernel_size=3, stride=2, label="pool1")
    h = g.add("ReLU", g.add("Conv2d", h, out_channels=96, kernel_size=5, padding=2, label="conv2"))
    h = g.add("LocalResponseNorm", h, size=5, label="lrn2")
    h = g.add("MaxPool2d", h, kernel_size=3, stride=2, label="pool2")
    h = g.add("ReLU", g.add("Conv2d", h, out_channels=192, kernel_size=3, padding=1, label="conv3"))
    h = g.add("ReLU", g.add("Conv2d", h, out_channels=128, kernel_size=3, padding=1, label="conv4"))
    h = g.add("ReLU", g.add("Conv2d", h, out_channels=128, kernel_size=3, padding=1, label="conv5"))
    h = g.add("MaxPool2d", h, kernel_size=3, stride=2, label="pool5")
    h = g.add("Flatten", h)
    h = g.add("Dropout", h, p=0.5)
    h = g.add("ReLU", g.add("Linear", h, out_features=256, label="fc6"))
    h = g.add("Dropout", h, p=0.5)
    h = g.add("ReLU", g.add("Linear", h, out_features=256, label="fc7"))
    g.output("logits", g.add("Linear", h, out_features=10, label="fc8"))
    return _project(
        g,
        "alexnet_small",
        "AlexNet's layout (five convolutions, local response normalization, overlapping max "
        "pooling, two dropout-regularized dense layers) scaled down for 28x28 digits.",
        "AlexNet (2012) showed that a deep convolutional network trained on GPUs beats hand-made features. This "
        "version keeps its shape but halves the widths and starts with a 5x5 instead of an 11x11 stride-4 "
        "filter, because our images are 28x28 rather than 224x224. Its trademarks are all here: ReLU instead of "
        "Tanh (much faster training), LocalResponseNorm (neighbouring channels compete; BatchNorm replaced it "
        "later), max pooling with a 3x3 window and stride 2 (overlapping windows), and Dropout(0.5) in front of "
        "the big dense layers, where most parameters sit and overfitting starts.",
        {"dataset": "digits_28x28"},
        {"task": "multiclass", "optimizer": "Adam", "lr": 0.001, "batch_size": 64, "epochs": 8},
    )


def tiny_vgg() -> dls.Project:
    g = dls.Graph()
    x = g.input("image", shape=(1, 28, 28))
    h = g.add("VGGBlock", x, out_channels=10, num_convs=2, label="block1")  # ends with its 2x2 max pool
    h = g.add("VGGBlock", h, out_channels=10, num_convs=2, label="block2")
    h = g.add("Flatten", h)
    g.output("logits", g.add("Linear", h, out_features=10, label="classifier"))
    return _project(
        g,
        "tiny_vgg",
        "TinyVGG (the CNN Explainer model): two VGG blocks of two 3x3 convolutions with 10 "
        "channels and a 2x2 max pool each, then one dense classifier.",
        "VGG's idea is to use only small 3x3 convolutions and stack them: two 3x3 layers see a 5x5 patch with "
        "fewer weights than one 5x5 layer and with an extra ReLU in between. Each VGGBlock node holds two "
        "padded 3x3 convolutions with ReLU and a closing 2x2 max pool, so the size stays 28x28 through the "
        "convolutions and only the pooling halves it (28 -> 14 -> 7). With just 10 channels the whole model "
        "has 7,740 parameters and still reads digits well, a good first CNN to inspect layer by layer.",
        {"dataset": "digits_28x28"},
        {"task": "multiclass", "optimizer": "Adam", "lr": 0.003, "batch_size": 64, "epochs": 10},
    )


def _basic_block(g: dls.Graph, x: Ref, in_ch: int, out_ch: int, stride: int, name: str) -> Ref:
    """ResNet BasicBlock from primitives (kuangliu CIFAR layout): a 1x1 projection shortcut when the shape
    changes, grouped into one collapsible block that compiles to a submodule."""
    a = g.add(
        "Conv2d", x, out_channels=out_ch, kernel_size=3, stride=stride, padding=1, bias=False, label=f"{name}_conv1"
    )
    first = a.node_id
    a = g.add("ReLU", g.add("BatchNorm2d", a, label=f"{name}_bn1"), label=f"{name}_relu1")
    a = g.add("Conv2d", a, out_channels=out_ch, kernel_size=3, padding=1, bias=False, label=f"{name}_conv2")
    a = g.add("BatchNorm2d", a, label=f"{name}_bn2")
    skip = x
    if stride != 1 or in_ch != out_ch:
        skip = g.add(
            "Conv2d", x, out_channels=out_ch, kernel_size=1, stride=stride, bias=False, label=f"{name}_shortcut"
        )
        skip = g.add("BatchNorm2d", skip, label=f"{name}_shortcut_bn")
    out = g.add("ReLU", g.add("Add", a, skip, label=f"{name}_add"), label=f"{name}_relu2")
    _group(g, first, out.node_id, name)
    return out


def resnet18_cifar() -> dls.Project:
    g = dls.Graph()
    x = g.input("image", shape=(3, 32, 32))
    h = g.add("Conv2d", x, out_channels=64, kernel_size=3, padding=1, bias=False, label="stem_conv")
    h = g.add("ReLU", g.add("BatchNorm2d", h, label="stem_bn"), label="stem_relu")
    in_ch = 64
    for stage, (ch, stride) in enumerate(((64, 1), (128, 2), (256, 2), (512, 2)), 1):
        for i in range(2):
            h = _basic_block(g, h, in_ch, ch, stride if i == 0 else 1, f"layer{stage}_{i}")
            in_ch = ch
    h = g.add("GlobalAvgPool", h, label="pool")
    g.output("logits", g.add("Linear", h, out_features=10, label="classifier"))
    return _project(
        g,
        "resnet18_cifar",
        "ResNet-18 in the CIFAR layout (3x3 stem, no max pooling, four stages of two "
        "residual blocks, 64-128-256-512 channels): 11,173,962 parameters.",
        "ResNet-18 stacks eight residual blocks. Each block is a group on the canvas (open it to see "
        "conv-BatchNorm-ReLU-conv-BatchNorm and the Add): it learns a correction that is added to its input, so "
        "the signal and its gradient can always take the skip wire and an 18-layer network trains as easily as "
        "a shallow one. The first block of stages 2-4 halves the image with stride 2 and doubles the channels; "
        "there the skip wire needs a 1x1 convolution (a projection) so the shapes match at the Add. The CIFAR "
        "layout replaces ImageNet's 7x7 stride-2 stem and max pooling with one 3x3 convolution, because a 32x32 "
        "image is already small. The ready BasicBlock node is the same block as a single node. It trains here "
        "on digits drawn in 3 channels at 32x32; point it at an image folder for real photos.",
        {"dataset": "digits_rgb_32x32"},
        {
            "task": "multiclass",
            "optimizer": "SGD",
            "lr": 0.05,
            "optimizer_params": {"momentum": 0.9},
            "weight_decay": 0.0005,
            "schedule": {"name": "CosineAnnealingLR"},
            "batch_size": 64,
            "epochs": 5,
        },
    )


# torchvision's inverted residual settings: expand ratio t, channels c, repeats n, stride s (CIFAR: s=1 in the
# second stage too, and a stride-1 stem, so 32x32 inputs end at 4x4)
_MOBILENET_V2 = (
    (1, 16, 1, 1),
    (6, 24, 2, 1),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def mobilenetv2_cifar() -> dls.Project:
    g = dls.Graph()
    x = g.input("image", shape=(3, 32, 32))
    h = g.add("Conv2d", x, out_channels=32, kernel_size=3, padding=1, bias=False, label="stem_conv")
    h = g.add("Hardtanh", g.add("BatchNorm2d", h, label="stem_bn"), min_val=0.0, max_val=6.0, label="stem_relu6")
    for stage, (t, c, n, s) in enumerate(_MOBILENET_V2, 1):
        for i in range(n):
            h = g.add(
                "InvertedResidual", h, out_channels=c, stride=s if i == 0 else 1, expand_ratio=t, label=f"ir{stage}_{i}"
            )
    h = g.add("Conv2d", h, out_channels=1280, kernel_size=1, bias=False, label="last_conv")
    h = g.add("Hardtanh", g.add("BatchNorm2d", h, label="last_bn"), min_val=0.0, max_val=6.0, label="last_relu6")
    h = g.add("Dropout", g.add("GlobalAvgPool", h, label="pool"), p=0.2)
    g.output("logits", g.add("Linear", h, out_features=10, label="classifier"))
    return _project(
        g,
        "mobilenetv2_cifar",
        "MobileNetV2 (torchvision's layout, width 1.0, 10 classes) with CIFAR strides: "
        "17 inverted residual blocks built on depthwise separable convolutions.",
        "MobileNetV2 is built for phones: most of its work is done by depthwise convolutions (groups equal to "
        "channels, one 3x3 filter per channel) followed by 1x1 pointwise convolutions, which together cost a "
        "fraction of a full 3x3 convolution. Each InvertedResidual node first expands the channels six-fold with "
        "a 1x1 convolution, filters them depthwise, then projects back down with a linear 1x1 convolution (no "
        "ReLU6 there, so the narrow bottleneck loses no information); the skip connects the narrow ends when "
        "the shape is unchanged. Hardtanh(0, 6) is ReLU6. For 32x32 inputs the stem and the second stage keep "
        "stride 1, so the last feature map is 4x4 instead of 1x1.",
        {"dataset": "digits_rgb_32x32"},
        {"task": "multiclass", "optimizer": "Adam", "lr": 0.002, "batch_size": 64, "epochs": 5},
    )


def inception_small() -> dls.Project:
    g = dls.Graph()
    x = g.input("image", shape=(1, 28, 28))
    h = g.add("Conv2d", x, out_channels=32, kernel_size=3, padding=1, bias=False, label="stem_conv")
    h = g.add("ReLU", g.add("BatchNorm2d", h, label="stem_bn"), label="stem_relu")
    h = g.add("MaxPool2d", h, kernel_size=2, label="pool1")
    h = g.add(
        "InceptionModule", h, ch1x1=16, ch3x3red=16, ch3x3=32, ch5x5red=4, ch5x5=8, pool_proj=8, label="inception1"
    )
    h = g.add("MaxPool2d", h, kernel_size=2, label="pool2")
    h = g.add(
        "InceptionModule", h, ch1x1=32, ch3x3red=32, ch3x3=48, ch5x5red=8, ch5x5=16, pool_proj=16, label="inception2"
    )
    h = g.add("GlobalAvgPool", h, label="pool")
    g.output("logits", g.add("Linear", h, out_features=10, label="classifier"))
    return _project(
        g,
        "inception_small",
        "An Inception-style network: a convolution stem and two GoogLeNet Inception modules "
        "whose four parallel branches are concatenated along the channels.",
        "Which filter size is right: 1x1, 3x3 or 5x5? An Inception module does not choose; it runs all of them "
        "side by side plus a max-pooling branch and concatenates the results (64 channels after the first "
        "module, 112 after the second). The 1x1 convolutions in front of the 3x3 and 5x5 branches shrink the "
        "channels first ('reduce'), which keeps the module cheap. Global average pooling replaces big dense "
        "layers at the end, as in GoogLeNet. Open an InceptionModule node's explanation for the branch sizes; "
        "the channel count it gives is ch1x1 + ch3x3 + ch5x5 + pool_proj.",
        {"dataset": "digits_28x28"},
        {"task": "multiclass", "optimizer": "Adam", "lr": 0.003, "batch_size": 64, "epochs": 8},
    )


def _dense_block(g: dls.Graph, x: Ref, layers: int, growth: int, name: str) -> Ref:
    """DenseNet block from primitives: every layer sees the concatenation of all earlier outputs."""
    features = [x]
    for i in range(layers):
        inp = features[0] if len(features) == 1 else g.add("Concat", *features, label=f"{name}_cat{i}")
        h = g.add("ReLU", g.add("BatchNorm2d", inp, label=f"{name}_bn{i}"), label=f"{name}_relu{i}")
        features.append(
            g.add("Conv2d", h, out_channels=growth, kernel_size=3, padding=1, bias=False, label=f"{name}_conv{i}")
        )
    return g.add("Concat", *features, label=f"{name}_out")


def densenet_small() -> dls.Project:
    g = dls.Graph()
    x = g.input("image", shape=(1, 28, 28))
    h = g.add("Conv2d", x, out_channels=16, kernel_size=3, padding=1, bias=False, label="stem_conv")
    h = _dense_block(g, h, 3, 12, "dense1")  # 16 + 3*12 = 52 channels
    h = g.add("ReLU", g.add("BatchNorm2d", h, label="trans_bn"), label="trans_relu")
    h = g.add("Conv2d", h, out_channels=26, kernel_size=1, bias=False, label="trans_conv")
    h = g.add("AvgPool2d", h, kernel_size=2, label="trans_pool")
    h = _dense_block(g, h, 3, 12, "dense2")  # 26 + 36 = 62 channels
    h = g.add("ReLU", g.add("BatchNorm2d", h, label="final_bn"), label="final_relu")
    h = g.add("GlobalAvgPool", h, label="pool")
    g.output("logits", g.add("Linear", h, out_features=10, label="classifier"))
    return _project(
        g,
        "densenet_small",
        "A DenseNet-style network: two dense blocks in which every layer receives the "
        "concatenated outputs of all layers before it, joined by a transition layer.",
        "ResNet adds a block's input to its output; DenseNet concatenates instead, so later layers see every "
        "earlier feature map unchanged and features are reused rather than relearned. Each layer is "
        "BatchNorm-ReLU-Conv (pre-activation) and adds only growth rate = 12 new channels, so the Concat nodes "
        "grow the width step by step (16 -> 28 -> 40 -> 52). A transition layer (1x1 convolution halving the "
        "channels, then 2x2 average pooling) keeps the growth in check between blocks. Follow the wires into "
        "the Concat nodes to see the dense connectivity that gives the family its name.",
        {"dataset": "digits_28x28"},
        {"task": "multiclass", "optimizer": "Adam", "lr": 0.003, "batch_size": 64, "epochs": 8},
    )


# ------------------------------------------------------------------------------------------------ sequences
def gru_sequence() -> dls.Project:
    g = dls.Graph()
    x = g.input("image", shape=(1, 8, 8))
    h = g.add("Reshape", x, shape=(8, 8), label="rows")
    h = g.add("GRU", h, hidden_size=64, output="last", label="gru")
    g.output("logits", g.add("Linear", h, out_features=10, label="classifier"))
    return _project(
        g,
        "gru_sequence",
        "A recurrent sequence classifier: a GRU reads an 8x8 digit one row at a time and its "
        "last state names the digit. Swap GRU for RNN or LSTM in the inspector.",
        "Recurrent layers read a sequence step by step and carry a hidden state forward. Here the sequence is a "
        "digit read top to bottom: Reshape turns the 1x8x8 image into 8 steps of 8 pixels, the GRU updates its "
        "64-number state after every row, and the state after the last row feeds the classifier. A GRU has two "
        "gates (update and reset) that decide how much of the old state to keep, which protects the memory from "
        "vanishing gradients; the plain RNN (Elman) has none and forgets quickly, the LSTM adds a separate cell "
        "state and a third gate. Change the node type to compare all three on the same task.",
        {"dataset": "digits_8x8"},
        {"task": "multiclass", "optimizer": "Adam", "lr": 0.005, "batch_size": 64, "epochs": 15},
    )


def lstm_forecaster() -> dls.Project:
    g = dls.Graph()
    x = g.input("window", shape=(20, 1))
    h = g.add("LSTM", x, hidden_size=32, num_layers=2, output="last", label="lstm")
    g.output("next_value", g.add("Linear", h, out_features=1, label="head"))
    return _project(
        g,
        "lstm_forecaster",
        "A time-series forecaster: a two-layer LSTM reads the last 20 values of a noisy "
        "signal and predicts the next one.",
        "Forecasting turns a series into supervised pairs: a window of the 20 most recent values is the input "
        "and the value right after it is the target. The split is time-ordered (the validation windows come "
        "after the training ones), because shuffling would let the model peek at the future. Two stacked LSTM "
        "layers read the window step by step; the state after the last step summarizes the recent shape of the "
        "curve, and a Linear head with no activation outputs one real number, trained with mean squared error. "
        "A model that beats 'tomorrow equals today' has learned something about the rhythm of the signal.",
        {"dataset": "sine_series", "split": "time"},
        {"task": "regression", "optimizer": "Adam", "lr": 0.005, "batch_size": 64, "epochs": 20},
    )


def transformer_classifier() -> dls.Project:
    g = dls.Graph()
    x = g.input("tokens", shape=(12,), dtype="int64")
    h = g.add("Embedding", x, num_embeddings=20, embedding_dim=32, label="embed")
    h = g.add("PositionalEncoding", h, max_len=12, label="positions")
    h = g.add("TransformerEncoder", h, num_layers=2, nhead=4, dim_feedforward=64, dropout=0.1, label="encoder")
    h = g.add("Permute", h, dims=(2, 1), label="channels_first")
    h = g.add("Flatten", g.add("AdaptiveAvgPool1d", h, output_size=1, label="mean_over_steps"))
    g.output("logits", g.add("Linear", h, out_features=2, label="classifier"))
    return _project(
        g,
        "transformer_classifier",
        "A Transformer encoder classifier: token embeddings plus sinusoidal "
        "positions, two self-attention layers, mean pooling over the sequence.",
        "Self-attention lets every token look at every other token in one step, weighting them by learned "
        "relevance, instead of passing a state along the sequence like an LSTM. Attention ignores order, so "
        "PositionalEncoding adds a sine/cosine pattern that tells the layers where each token sits. The "
        "TransformerEncoder node stacks two layers of multi-head attention (4 heads of 8 numbers) and a small "
        "feed-forward network, each wrapped in a residual connection and LayerNorm. Averaging the 12 outputs "
        "(Permute, then AdaptiveAvgPool1d) gives one vector per sequence for the two-class head. Padding tokens "
        "take part in the average here; a padding mask would leave them out.",
        {"dataset": "toy_text"},
        {"task": "multiclass", "optimizer": "AdamW", "lr": 0.002, "batch_size": 64, "epochs": 15},
    )


# ------------------------------------------------------------------------------------------------ generative
def dense_autoencoder() -> dls.Project:
    g = dls.Graph()
    x = g.input("pixels", shape=(64,))
    h = g.add("ReLU", g.add("Linear", x, out_features=32, label="enc1"))
    code = g.add("Linear", h, out_features=8, label="code")  # linear on purpose: see the explanation
    h = g.add("ReLU", g.add("Linear", code, out_features=32, label="dec1"))
    g.output("reconstruction", g.add("Sigmoid", g.add("Linear", h, out_features=64, label="dec2")))
    return _project(
        g,
        "dense_autoencoder",
        "A dense autoencoder: 64 pixels squeezed through an 8-number code and rebuilt.",
        "An autoencoder learns without labels: its target is its own input. The encoder (64 -> 32 -> 8) must "
        "squeeze every 8x8 digit into 8 numbers, the code, and the decoder (8 -> 32 -> 64) must rebuild the "
        "image from them, so the code has to keep what distinguishes one digit from another and drop the noise. "
        "Sigmoid keeps the output pixels in [0, 1] like the data, and the loss is the mean squared error between "
        "the reconstruction and the input. The code layer has no activation on purpose (it trained to a lower "
        "error than ReLU, Tanh or ELU codes), so the check's note about two Linear layers in a row is expected "
        "here: the pair is a rank-8 bottleneck, not a wasted layer. Training in autoencoder mode saves a grid of "
        "inputs next to their reconstructions after every epoch, so you can watch blurry blobs turn into digits.",
        {"dataset": "digits"},
        {
            "task": "reconstruction",
            "generative": {"mode": "autoencoder"},
            "optimizer": "Adam",
            "lr": 0.003,
            "batch_size": 64,
            "epochs": 30,
        },
    )


def dcgan() -> dls.Project:
    g = dls.Graph()
    # generator: 100x1x1 noise -> 512x4x4 -> 256x8x8 -> 128x16x16 -> 64x32x32 -> 3x64x64
    z = g.input("noise", shape=(100, 1, 1))
    h = g.add("ConvTranspose2d", z, out_channels=512, kernel_size=4, stride=1, padding=0, bias=False, label="g_project")
    first = h.node_id
    h = g.add("ReLU", g.add("BatchNorm2d", h, label="g_bn"), label="g_relu")
    for ch in (256, 128, 64):
        h = g.add("DCGANUpBlock", h, out_channels=ch, label=f"g_up{ch}")
    h = g.add("ConvTranspose2d", h, out_channels=3, kernel_size=4, stride=2, padding=1, bias=False, label="g_rgb")
    h = g.add("Tanh", h, label="g_tanh")
    _group(g, first, h.node_id, "generator")
    g.output("fake", h)
    # discriminator: 3x64x64 -> 64x32x32 -> ... -> 512x4x4 -> one logit
    x = g.input("image", shape=(3, 64, 64))
    d = g.add("DCGANDownBlock", x, out_channels=64, batch_norm=False, label="d_down64")
    first = d.node_id
    for ch in (128, 256, 512):
        d = g.add("DCGANDownBlock", d, out_channels=ch, label=f"d_down{ch}")
    d = g.add("Conv2d", d, out_channels=1, kernel_size=4, stride=1, padding=0, bias=False, label="d_score")
    d = g.add("Flatten", d, label="d_flatten")
    _group(g, first, d.node_id, "discriminator")
    g.output("score", d)
    return _project(
        g,
        "dcgan",
        "DCGAN (Radford et al., 2015): a generator that turns 100 random numbers into a 64x64 colour "
        "image and a discriminator that tells real from generated, trained against each other.",
        "The project holds two networks in one graph, each a group: the generator (noise -> fake) and the "
        "discriminator (image -> score). In GAN mode they take turns: the discriminator learns to give real "
        "images a high score and generated ones a low score, then the generator learns to fool it, with the "
        "discriminator's score as its only teacher. DCGAN's recipe makes this fragile game workable: strided "
        "(transposed) convolutions instead of pooling, BatchNorm everywhere except the discriminator's first "
        "block, ReLU in the generator and LeakyReLU(0.2) in the discriminator, Tanh for pixels in [-1, 1] (the "
        "data is rescaled to match) and Adam with lr 0.0002 and beta1 0.5. The score is a raw logit, used by "
        "both the BCE and the hinge loss. A grid from the same fixed noise is saved each epoch so you can see "
        "the samples change. With nz=100 and ngf=64 the generator has 3,576,704 parameters.",
        {"dataset": "digits_rgb_64x64"},
        {
            "generative": {
                "mode": "gan",
                "generator": {"input": "noise", "output": "fake"},
                "discriminator": {"input": "image", "output": "score"},
                "gan_loss": "bce",
                "label_smoothing": 0.1,
                "d_steps": 1,
                "samples": 16,
            },
            "optimizer": "Adam",
            "lr": 0.0002,
            "optimizer_params": {"betas": [0.5, 0.999]},
            "batch_size": 64,
            "epochs": 5,
        },
    )


def super_resolution() -> dls.Project:
    g = dls.Graph()
    x = g.input("low_res", shape=(1, 14, 14))
    h = g.add("Tanh", g.add("Conv2d", x, out_channels=64, kernel_size=5, padding=2, label="features"))
    h = g.add("Tanh", g.add("Conv2d", h, out_channels=32, kernel_size=3, padding=1, label="mapping"))
    h = g.add("Conv2d", h, out_channels=4, kernel_size=3, padding=1, label="subpixel_conv")
    g.output("high_res", g.add("PixelShuffle", h, upscale_factor=2, label="pixel_shuffle"))
    return _project(
        g,
        "super_resolution",
        "ESPCN super-resolution: convolutions on the small image and a PixelShuffle that "
        "rearranges 4 channels into a 2x larger image (14x14 -> 28x28).",
        "Super-resolution guesses the missing detail of an enlarged image. ESPCN does all its work at the low "
        "resolution, which is cheap: two convolutions extract and map features, and the last one outputs "
        "r*r = 4 channels per pixel. PixelShuffle then rearranges those 4 channels into a 2x2 block of output "
        "pixels (a sub-pixel convolution), so the upscaling is learned rather than interpolated. In "
        "super_resolution mode the training pairs are made on the fly: each 28x28 digit is the target and its "
        "2x2-average-pooled copy the input; compare the loss with plain bilinear upscaling, reported per epoch.",
        {"dataset": "digits_28x28"},
        {
            "task": "reconstruction",
            "generative": {"mode": "super_resolution", "scale": 2},
            "optimizer": "Adam",
            "lr": 0.002,
            "batch_size": 64,
            "epochs": 15,
        },
    )


ZOO: dict[str, Callable[[], dls.Project]] = {
    "perceptron": perceptron,
    "deep_mlp": deep_mlp,
    "alexnet_small": alexnet_small,
    "tiny_vgg": tiny_vgg,
    "resnet18_cifar": resnet18_cifar,
    "mobilenetv2_cifar": mobilenetv2_cifar,
    "inception_small": inception_small,
    "densenet_small": densenet_small,
    "gru_sequence": gru_sequence,
    "lstm_forecaster": lstm_forecaster,
    "transformer_classifier": transformer_classifier,
    "dense_autoencoder": dense_autoencoder,
    "dcgan": dcgan,
    "super_resolution": super_resolution,
}
