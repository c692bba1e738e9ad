"""Generate the example projects in this folder with the Python API.

    python examples/build_examples.py            # (re)write every examples/*.dlstudio
    python examples/build_examples.py --check    # exit 1 if a file differs from what this script builds

Each example is a function returning a Project; the files are its `Project.save` output, so editing a function
and rerunning the script is the way to change an example. The "data" and "training" sections hold only a hint
(the dataset and the task); the studio and `dlstudio train` fill in the rest.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(HERE.parent))
if str(HERE) not in sys.path:  # zoo.py sits beside this script
    sys.path.insert(0, str(HERE))

import dlstudio as dls  # noqa: E402
from dlstudio.api import Ref  # noqa: E402
from dlstudio.core.edits import GroupNodes  # noqa: E402
from dlstudio.core.layout import apply_layout  # noqa: E402


def _project(
    g: dls.Graph,
    name: str,
    description: str,
    explanation: str,
    dataset: str,
    task: str,
    generative: dict[str, str] | None = None,
) -> dls.Project:
    training: dict[str, object] = {"task": task}
    if generative:  # autoencoder mode: reconstructions drawn next to their inputs every epoch
        training["generative"] = generative
    return dls.Project(
        graph=g,
        meta={"name": name, "description": description, "explanation": explanation},
        data={"dataset": dataset},
        training=training,
    )


def mlp_digits() -> dls.Project:
    g = dls.Graph()
    x = g.input("pixels", shape=(64,))
    h = g.add("ReLU", g.add("Linear", x, out_features=64, label="hidden1"))
    h = g.add("Dropout", h, p=0.1)
    h = g.add("ReLU", g.add("Linear", h, out_features=32, label="hidden2"))
    g.output("logits", g.add("Linear", h, out_features=10, label="classifier"))
    return _project(
        g,
        "mlp_digits",
        "A multilayer perceptron that classifies 8x8 handwritten digits from their 64 pixels.",
        "Each 8x8 digit image arrives flattened into 64 numbers. Two fully connected hidden layers with ReLU "
        "between them learn combinations of pixels (strokes, loops), and the last Linear layer gives one score "
        "(logit) per digit. There is no Softmax at the end on purpose: CrossEntropyLoss applies it itself. "
        "Without the ReLUs the three Linear layers would collapse into a single linear map; the small Dropout "
        "makes the network rely on more than a few pixels. Expect about 95% validation accuracy within a "
        "minute on a CPU.",
        "digits",
        "multiclass",
    )


def lenet5() -> dls.Project:
    g = dls.Graph()
    x = g.input("image", shape=(1, 28, 28))
    h = g.add("Tanh", g.add("Conv2d", x, out_channels=6, kernel_size=5, padding=2, label="c1"))
    h = g.add("AvgPool2d", h, kernel_size=2, label="s2")
    h = g.add("Tanh", g.add("Conv2d", h, out_channels=16, kernel_size=5, label="c3"))
    h = g.add("AvgPool2d", h, kernel_size=2, label="s4")
    h = g.add("Flatten", h)
    h = g.add("Tanh", g.add("Linear", h, out_features=120, label="f5"))
    h = g.add("Tanh", g.add("Linear", h, out_features=84, label="f6"))
    g.output("logits", g.add("Linear", h, out_features=10, label="f7"))
    return _project(
        g,
        "lenet5",
        "LeNet-5 (LeCun et al., 1998): two convolution + pooling stages and three dense layers, 61,706 parameters.",
        "LeNet-5 reads a 28x28 grey image. The first convolution (6 filters of 5x5, padded to keep 28x28) finds "
        "edges and blobs; average pooling halves the resolution; the second convolution (16 filters of 5x5) "
        "combines them into parts of digits on a 10x10 grid, pooled again to 5x5. Flatten turns the 16x5x5 "
        "feature maps into 400 numbers for three dense layers (120, 84, 10). Tanh and average pooling follow the "
        "original paper, which is why the check warns about a stack of Tanh layers; swapping them for ReLU and "
        "MaxPool2d is the usual modern variant and trains faster.",
        "digits_28x28",
        "multiclass",
    )


def _residual_block(g: dls.Graph, x: Ref, channels: int, name: str) -> Ref:
    """conv-bn-relu-conv-bn, plus the input (identity skip), then ReLU; grouped into one block."""
    a = g.add("Conv2d", x, out_channels=channels, kernel_size=3, padding=1, bias=False, label=f"{name}_conv1")
    first = a.node_id
    a = g.add("ReLU", g.add("BatchNorm2d", a, label=f"{name}_bn1"), label=f"{name}_relu1")
    a = g.add("Conv2d", a, out_channels=channels, kernel_size=3, padding=1, bias=False, label=f"{name}_conv2")
    a = g.add("BatchNorm2d", a, label=f"{name}_bn2")
    a = g.add("Add", a, x, label=f"{name}_add")
    out = g.add("ReLU", a, label=f"{name}_relu2")
    ids = list(g.nodes)
    members = tuple(ids[ids.index(first) : ids.index(out.node_id) + 1])
    GroupNodes(g.new_id("g"), name, members).apply(g)
    return out


def resnet_mini() -> dls.Project:
    g = dls.Graph()
    x = g.input("image", shape=(1, 8, 8))
    h = g.add("Conv2d", x, out_channels=16, kernel_size=3, padding=1, bias=False, label="stem_conv")
    h = g.add("ReLU", g.add("BatchNorm2d", h, label="stem_bn"), label="stem_relu")
    h = _residual_block(g, h, 16, "res_block1")
    h = _residual_block(g, h, 16, "res_block2")
    h = g.add("GlobalAvgPool", h, label="pool")
    g.output("logits", g.add("Linear", h, out_features=10, label="classifier"))
    return _project(
        g,
        "resnet_mini",
        "A small residual network: a convolution stem, two residual blocks and a global-pooling head, for 8x8 digits.",
        "Each residual block computes conv-BatchNorm-ReLU-conv-BatchNorm and adds its own input back (the skip "
        "wire into Add) before the final ReLU. Because the block only has to learn a correction to its input, "
        "gradients reach early layers through the skip path and deep stacks stay trainable. The blocks keep 16 "
        "channels and the 8x8 size, so the identity skip fits the Add without a projection. Both blocks are "
        "groups: collapse them on the canvas to see the architecture, open them to edit; each compiles to a "
        "submodule. The convolutions have no bias because BatchNorm's shift does that job.",
        "digits_8x8",
        "multiclass",
    )


def lstm_sequence() -> dls.Project:
    g = dls.Graph()
    x = g.input("tokens", shape=(12,), dtype="int64")
    h = g.add("Embedding", x, num_embeddings=20, embedding_dim=16, label="embed")
    h = g.add("LSTM", h, hidden_size=32, output="last", label="lstm")
    g.output("logits", g.add("Linear", h, out_features=2, label="classifier"))
    return _project(
        g,
        "lstm_sequence",
        "A many-to-one sequence classifier: token embeddings read by an LSTM whose last step feeds a two-class head.",
        "Each sample is a sequence of 12 token ids (0 is padding). Embedding turns every id into a learned vector "
        "of 16 numbers; the LSTM reads the vectors in order, carrying a memory (cell state) that its gates update "
        "step by step, and we keep only the output of the last step, a summary of the whole sequence. A Linear "
        "layer maps that summary to two logits (is the sequence mostly 'good' tokens or 'bad' ones?). Because "
        "padding comes at the end, the last step has seen every real token.",
        "toy_text",
        "multiclass",
    )


def conv_autoencoder() -> dls.Project:
    g = dls.Graph()
    x = g.input("image", shape=(1, 28, 28))
    h = g.add("ReLU", g.add("Conv2d", x, out_channels=16, kernel_size=3, stride=2, padding=1, label="enc1"))
    h = g.add("ReLU", g.add("Conv2d", h, out_channels=32, kernel_size=3, stride=2, padding=1, label="enc2"))
    h = g.add("ReLU", g.add("ConvTranspose2d", h, out_channels=16, kernel_size=2, stride=2, label="dec1"))
    h = g.add("ConvTranspose2d", h, out_channels=1, kernel_size=2, stride=2, label="dec2")
    g.output("reconstruction", g.add("Sigmoid", h))
    return _project(
        g,
        "conv_autoencoder",
        "A convolutional autoencoder: strided convolutions squeeze a 28x28 digit to 32x7x7, "
        "transposed convolutions rebuild it.",
        "The encoder halves the image size twice with stride-2 convolutions (28 -> 14 -> 7) while adding "
        "channels; the decoder mirrors it with ConvTranspose2d layers (kernel 2, stride 2) that double the size "
        "back to 28x28. The target is the input itself, so the network must squeeze each digit through the "
        "32x7x7 bottleneck and learns what matters about its shape. Sigmoid keeps the output pixels in [0, 1] "
        "like the data, which suits MSE or binary cross-entropy as the loss.",
        "digits_28x28",
        "reconstruction",
        {"mode": "autoencoder"},
    )


from zoo import ZOO  # noqa: E402  (the templates of the model zoo, examples/zoo.py)

EXAMPLES: dict[str, Callable[[], dls.Project]] = {
    "mlp_digits": mlp_digits,
    "lenet5": lenet5,
    "resnet_mini": resnet_mini,
    "lstm_sequence": lstm_sequence,
    "conv_autoencoder": conv_autoencoder,
    **ZOO,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 on a difference")
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write into (default: examples/)")
    args = parser.parse_args(argv)
    stale = []
    for name, build in EXAMPLES.items():
        project = build()
        # the studio's own layout, wrapped into rows as wide as a 1440x900 window shows at a readable zoom
        apply_layout(project.graph, max_width=1350)
        target = args.out / f"{name}.dlstudio"
        if args.check:
            if not target.is_file() or target.read_text(encoding="utf-8") != project.to_json():
                stale.append(target.name)
            continue
        project.save(target)
        print(f"wrote {target}")
    if stale:
        print("out of date (run python examples/build_examples.py): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
