"""Lint warnings: networks that build and run but probably do not do what the author wants.

Each lint is anchored at one node and looks only *upstream* of it, at most LINT_RADIUS wires away. That lets the
incremental engine re-run lints only for the nodes within LINT_RADIUS downstream of an edit, and still match a
fresh full analysis exactly. Lints read node types (not classes), so they work for types registered later.

What the lints know about the task (loss, class count, training rows) arrives as a plain `TrainingFacts` from the
caller: `dlstudio.training.facts` derives it from a project's settings for `dlstudio check` and the studio. This
module imports nothing from the training engine (nor torch or scikit-learn).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..core.graph import ModelGraph
from ..core.tensor import TensorInfo
from ..layers.traits import ACTIVATION, DROPOUT, SATURATING, SHAPE_ONLY, SOFTMAX, has_trait, types_with
from .diagnostics import Diagnostic, Totals
from .evaluate import pred_of

LINT_RADIUS = 16
ROWS_PER_PARAM = 10  # the notes' rule of thumb: about 10 training rows per trainable parameter
DEEP_STACK = 4  # this many saturating activations in a row risk vanishing gradients

LINEAR_COLLAPSE = "linear_collapse"
DOUBLE_SOFTMAX = "double_softmax"
SOFTMAX_BEFORE_NLL = "softmax_before_nll"
SIGMOID_BEFORE_BCE_LOGITS = "sigmoid_before_bce_logits"
OUTPUT_UNITS = "output_units"
ACTIVATION_ON_REGRESSION = "activation_on_regression"
STEP_ZERO_GRADIENT = "step_zero_gradient"
VANISHING_GRADIENT = "vanishing_gradient"
DROPOUT_BEFORE_OUTPUT = "dropout_before_output"
TOO_FEW_ROWS = "too_few_rows"
LINEAR_ON_FEATURE_MAP = "linear_on_feature_map"

# What the lints know of layer types comes from the catalog (dlstudio.layers.traits): no list of type names here.


def passes_values(type_name: str) -> bool:
    """Layers that only move values or act in training only: a chain Linear -> these -> Linear is still linear,
    and a head activation seen through them is still what the loss receives."""
    return has_trait(type_name, SHAPE_ONLY) or has_trait(type_name, DROPOUT)


def is_softmax(type_name: str) -> bool:
    return has_trait(type_name, SOFTMAX)


def is_saturating(type_name: str) -> bool:
    return has_trait(type_name, SATURATING)


def is_dropout(type_name: str) -> bool:
    return has_trait(type_name, DROPOUT)


def is_activation(type_name: str) -> bool:
    return has_trait(type_name, ACTIVATION)


def trait_sets() -> dict[str, frozenset[str]]:
    """The type sets the lints act on, as the registry has them now (for tests and documentation)."""
    return {
        "dropouts": types_with(DROPOUT),
        "passes_values": types_with(SHAPE_ONLY) | types_with(DROPOUT),
        "softmaxes": types_with(SOFTMAX),
        "saturating": types_with(SATURATING),
        "activations": types_with(ACTIVATION),
    }


CLASS_LOSSES = frozenset({"crossentropy", "nll", "multimargin"})  # one score per class
BINARY_LOSSES = frozenset({"bce", "bcewithlogits", "hinge"})
REGRESSION_LOSSES = frozenset({"mse", "l1", "mae", "huber", "smoothl1"})
_LOSS_ALIASES = {
    "ce": "crossentropy",
    "sparsecategoricalcrossentropy": "crossentropy",
    "categoricalcrossentropy": "crossentropy",
    "kldiv": "nll",
    "multimargin": "multimargin",
    "nllloss": "nll",
    "negativeloglikelihood": "nll",
    "binarycrossentropy": "bce",
    "binarycrossentropywithlogits": "bcewithlogits",
    "meansquarederror": "mse",
    "meanabsoluteerror": "l1",
    "mae": "l1",
    "smoothl1": "huber",
}


@dataclass(frozen=True)
class TrainingFacts:
    """What the lints need to know about training: the loss (normalized key and name as given), the class count,
    the number of training rows, the task and the Output the loss judges, each None when unknown (the lints that
    need it are then skipped). Plain data: the caller fills it (`training_facts` below, or
    `dlstudio.training.facts.lint_facts` for a project's settings)."""

    loss: str | None = None
    loss_name: str | None = None
    num_classes: int | None = None
    num_rows: int | None = None
    task: str | None = None  # regression, binary, multiclass, multilabel, reconstruction
    output_label: str | None = None  # the Output the loss compares with the target (None: the only Output)


def normalize_loss(name: str) -> str:
    """'CrossEntropyLoss', 'cross_entropy', 'nn.CrossEntropyLoss' -> 'crossentropy'; 'MSELoss' -> 'mse'."""
    key = name.strip().lower()
    key = key.rsplit(".", 1)[-1]
    key = re.sub(r"[^a-z0-9]", "", key)
    if key.endswith("loss") and key != "loss":
        key = key[:-4]
    return _LOSS_ALIASES.get(key, key)


def _first_int(*values: Any) -> int | None:
    for v in values:
        if isinstance(v, bool):
            continue
        if isinstance(v, int) and v > 0:
            return v
        if isinstance(v, (list, tuple)) and v:
            return len(v)  # a list of class names
    return None


def training_facts(
    training: Mapping[str, Any] | Any | None = None,
    data: Mapping[str, Any] | Any | None = None,
    *,
    loss: str | None = None,
    num_classes: int | None = None,
    num_rows: int | None = None,
) -> TrainingFacts:
    """Collect TrainingFacts from a project's training/data sections (plain dicts or config objects with the
    same attribute names); explicit keyword arguments win. Generative (autoencoder/GAN) training settings give
    the task "generative" and nothing else: no class head, no supervised loss to judge."""

    def get(section: Any, *names: str) -> Any:
        if section is None:
            return None
        for n in names:
            v = section.get(n) if isinstance(section, Mapping) else getattr(section, n, None)
            if v is not None:
                return v
        return None

    if get(training, "generative"):
        return TrainingFacts(task="generative")
    if loss is None:
        raw = get(training, "loss", "loss_fn", "criterion")
        if isinstance(raw, Mapping):
            raw = raw.get("name") or raw.get("type") or raw.get("kind")
        elif raw is not None and not isinstance(raw, str):
            raw = getattr(raw, "name", None)
        loss = raw if isinstance(raw, str) else None
    classes = _first_int(
        num_classes,
        get(training, "num_classes", "n_classes"),
        get(data, "num_classes", "n_classes", "classes", "class_names"),
    )
    rows = _first_int(
        num_rows,
        get(data, "num_rows", "n_rows", "rows", "train_rows", "num_train"),
        get(training, "num_rows", "train_rows"),
    )
    task = get(training, "task")
    task = task if isinstance(task, str) else get(data, "task")
    out_label = get(training, "output_label") or get(data, "output")
    return TrainingFacts(
        loss=normalize_loss(loss) if loss else None,
        loss_name=loss,
        num_classes=classes,
        num_rows=rows,
        task=task if isinstance(task, str) else None,
        output_label=out_label if isinstance(out_label, str) else None,
    )


def _single_pred(graph: ModelGraph, node_id: str) -> str | None:
    """The one node feeding `node_id` when exactly one wire comes in (chains); None otherwise."""
    pred = pred_of(graph)[node_id]
    if len(pred) != 1:
        return None
    ((src, keys),) = pred.items()
    return src if len(keys) == 1 else None


def _walk_up(graph: ModelGraph, node_id: str, through: Callable[[str], bool]) -> str | None:
    """The first node upstream of `node_id` whose type `through` does not pass (single-wire chain only)."""
    cur = _single_pred(graph, node_id)
    for _ in range(LINT_RADIUS):
        if cur is None or not through(graph.nodes[cur].type):
            return cur
        cur = _single_pred(graph, cur)
    return None


def _name(graph: ModelGraph, node_id: str) -> str:
    n = graph.nodes[node_id]
    return f"{n.type} '{n.label}'"


def _warn(code: str, node_id: str, message: str, **kw: Any) -> Diagnostic:
    return Diagnostic("warning", code, message, node_id, **kw)


InputsOf = Callable[[str], "list[TensorInfo | None] | None"]


def lint_node(
    graph: ModelGraph, node_id: str, inputs_of: InputsOf, facts: TrainingFacts, n_outputs: int | None = None
) -> list[Diagnostic]:
    """All lint warnings anchored at `node_id`. `inputs_of(id)` gives a node's inferred input tensors;
    `n_outputs`: how many Output nodes the graph has (counted when not given)."""
    node = graph.nodes[node_id]
    t = node.type
    out: list[Diagnostic] = []
    me = _name(graph, node_id)
    if t == "Linear":
        up = _walk_up(graph, node_id, passes_values)
        if up is not None and graph.nodes[up].type == "Linear":
            out.append(
                _warn(
                    LINEAR_COLLAPSE,
                    node_id,
                    f"{me} follows {_name(graph, up)} with no non-linearity between them: two linear maps "
                    f"collapse into one, so the extra layer adds parameters but no expressive power; "
                    f"insert an activation such as ReLU between them",
                )
            )
        ins = inputs_of(node_id)
        x = ins[0] if ins else None
        if x is not None and x.rank >= 4:  # (N, C, H, W): a forgotten Flatten; (N, L, F) sequences are fine
            out.append(
                _warn(
                    LINEAR_ON_FEATURE_MAP,
                    node_id,
                    f"{me} receives the feature map {x} and acts on its last dimension only, keeping "
                    f"the other positions apart; insert Flatten before it to connect the whole map",
                    port="x",
                    got=str(x),
                )
            )
    elif is_softmax(t):
        up = _walk_up(graph, node_id, passes_values)
        if up is not None and is_softmax(graph.nodes[up].type):
            out.append(
                _warn(
                    DOUBLE_SOFTMAX,
                    node_id,
                    f"{me} is applied to the output of {_name(graph, up)} (double softmax): the second "
                    f"one squashes the probabilities toward uniform and weakens the gradients; remove "
                    f"one of them",
                )
            )
    if t == "Step":
        out.append(
            _warn(
                STEP_ZERO_GRADIENT,
                node_id,
                f"{me} has zero gradient everywhere, so the layers before it get no learning signal from "
                f"backpropagation; use Sigmoid or ReLU to train, keep Step for a hand-set perceptron",
            )
        )
    if is_saturating(t) and _saturating_run(graph, node_id) == DEEP_STACK:
        out.append(
            _warn(
                VANISHING_GRADIENT,
                node_id,
                f"{me} is the {DEEP_STACK}th Sigmoid/Tanh-like activation in a row: their small gradients "
                f"multiply and vanish in deep stacks; use ReLU or GELU in hidden layers, or add "
                f"normalization or skip connections",
            )
        )
    if t == "Output":
        if n_outputs is None:
            n_outputs = len(graph.nodes_of_type("Output"))
        # the loss judges one Output: the one the data binds to, or the only one
        judged = (node.label == facts.output_label) if facts.output_label else n_outputs == 1
        out.extend(_lint_output(graph, node_id, inputs_of, facts if judged else TrainingFacts()))
    return out


def _saturating_run(graph: ModelGraph, node_id: str) -> int:
    """How many saturating activations end at `node_id`, counted up a single-wire chain; other layers (Linear,
    Conv, norms) are passed, a non-saturating activation or a merge ends the run."""
    count = 1
    cur = _single_pred(graph, node_id)
    for _ in range(LINT_RADIUS - 1):
        if cur is None:
            break
        ct = graph.nodes[cur].type
        if is_saturating(ct):
            count += 1
        elif is_activation(ct) or ct in ("Input", "Output"):
            break
        cur = _single_pred(graph, cur)
    return count


def _lint_output(graph: ModelGraph, node_id: str, inputs_of: InputsOf, facts: TrainingFacts) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    me = _name(graph, node_id)
    direct = _single_pred(graph, node_id)
    if direct is None:
        return out
    if is_dropout(graph.nodes[direct].type):
        out.append(
            _warn(
                DROPOUT_BEFORE_OUTPUT,
                node_id,
                f"{_name(graph, direct)} feeds {me} directly: it randomly zeroes predictions during "
                f"training and never helps there; put Dropout before the last layer instead",
            )
        )
    head = _walk_up(graph, node_id, passes_values)
    head_type = graph.nodes[head].type if head is not None else ""
    loss, loss_name = facts.loss, facts.loss_name
    if head is not None and loss is not None:
        hn = _name(graph, head)
        if loss == "crossentropy" and is_softmax(head_type):
            out.append(
                _warn(
                    DOUBLE_SOFTMAX,
                    node_id,
                    f"{me} receives {hn} but the loss {loss_name} applies log-softmax itself (double "
                    f"softmax: flat, slow learning); remove the {head_type} and output raw logits",
                )
            )
        elif loss == "nll" and head_type == "Softmax":
            out.append(
                _warn(
                    SOFTMAX_BEFORE_NLL,
                    node_id,
                    f"{me} receives {hn} but {loss_name} expects log-probabilities; use LogSoftmax instead of Softmax",
                )
            )
        elif loss == "bcewithlogits" and head_type == "Sigmoid":
            out.append(
                _warn(
                    SIGMOID_BEFORE_BCE_LOGITS,
                    node_id,
                    f"{me} receives {hn} but the loss {loss_name} applies the sigmoid itself (the outputs "
                    f"get squashed twice); remove the Sigmoid, or switch the loss to BCELoss",
                )
            )
        elif loss in REGRESSION_LOSSES and is_activation(head_type) and facts.task != "reconstruction":
            # (an autoencoder squashing pixels into [0, 1] with Sigmoid is the usual, intended design)
            out.append(
                _warn(
                    ACTIVATION_ON_REGRESSION,
                    node_id,
                    f"{me} is a regression output (loss {loss_name}) but {hn} limits the range of the "
                    f"predictions; remove the activation so the last layer can predict any value",
                )
            )
    want, why = _expected_units(facts)
    if want is not None:
        ins = inputs_of(node_id)
        t = ins[0] if ins else None
        if t is not None and t.rank >= 2 and isinstance(t.shape[-1], int) and t.shape[-1] != want:
            producer = _walk_up(graph, node_id, lambda ty: passes_values(ty) or is_softmax(ty) or is_saturating(ty))
            fix = (
                f"set out_features of {_name(graph, producer)} to {want}"
                if producer is not None and graph.nodes[producer].type == "Linear"
                else f"make the last layer produce {want} unit(s)"
            )
            out.append(
                _warn(
                    OUTPUT_UNITS,
                    node_id,
                    f"{me} has {t.shape[-1]} units but {why}; {fix}",
                    expected=str(want),
                    got=str(t.shape[-1]),
                )
            )
    return out


def _expected_units(facts: TrainingFacts) -> tuple[int | None, str]:
    """How many values per sample the head must give for this loss and class count, and why."""
    n = facts.num_classes
    if n is None or facts.loss is None:
        return None, ""
    if facts.loss in CLASS_LOSSES:
        return n, f"the data has {n} classes (one score per class is needed)"
    if facts.loss in BINARY_LOSSES and n == 2 and facts.task != "multilabel":
        return 1, f"two-class data with {facts.loss_name} needs one unit (the score of the positive class)"
    return None, ""


def lint_global(totals: Totals, facts: TrainingFacts) -> list[Diagnostic]:
    """Warnings about the whole model (not pinned to a node)."""
    out: list[Diagnostic] = []
    rows = facts.num_rows
    if rows is not None and totals.trainable > 0 and rows < ROWS_PER_PARAM * totals.trainable:
        out.append(
            Diagnostic(
                "warning",
                TOO_FEW_ROWS,
                f"The training data has {rows:,} rows but the model has {totals.trainable:,} trainable parameters: "
                f"with fewer than about {ROWS_PER_PARAM} rows per parameter it will likely memorize the data; "
                f"collect more data, shrink the model, or add regularization (dropout, weight decay)",
                expected=f">= {ROWS_PER_PARAM * totals.trainable}",
                got=str(rows),
            )
        )
    return out
