"""The table of losses by torch class name: what each expects from the head and from the targets.

Torch-free, so the lints in dlstudio.analysis can read it; dlstudio.training.losses builds the torch modules.
`head` says what the model's last layer is expected to give: logits (no activation), probs (after Sigmoid or
Softmax), log_probs (after LogSoftmax), margin (raw score for hinge losses) or value (regression).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.errors import TrainingConfigError


@dataclass(frozen=True)
class LossInfo:
    name: str
    kind: str  # "classification" (integer class targets), "binary", "regression"
    head: str  # logits, probs, log_probs, margin, value
    doc: str


LOSSES: dict[str, LossInfo] = {
    i.name: i
    for i in (
        LossInfo("MSELoss", "regression", "value", "Mean squared error: regression, reconstruction."),
        LossInfo("L1Loss", "regression", "value", "Mean absolute error (MAE): regression robust to outliers."),
        LossInfo("HuberLoss", "regression", "value", "Squared near zero, absolute far away (param delta)."),
        LossInfo("SmoothL1Loss", "regression", "value", "Huber scaled by 1/beta (param beta)."),
        LossInfo("BCELoss", "binary", "probs", "Binary cross-entropy on probabilities: end the model with Sigmoid."),
        LossInfo(
            "BCEWithLogitsLoss",
            "binary",
            "logits",
            "Binary cross-entropy on logits (Sigmoid built in, numerically safer): no Sigmoid at the end.",
        ),
        LossInfo("HingeLoss", "binary", "margin", "Binary hinge max(0, 1 - y*f(x)) with y in {-1, +1} (SVM style)."),
        LossInfo(
            "CrossEntropyLoss",
            "classification",
            "logits",
            "Sparse categorical cross-entropy on integer labels (Softmax built in; param label_smoothing).",
        ),
        LossInfo(
            "CategoricalCrossEntropyLoss",
            "classification",
            "logits",
            "Categorical cross-entropy against one-hot/probability targets (Softmax built in).",
        ),
        LossInfo("NLLLoss", "classification", "log_probs", "Negative log-likelihood: end the model with LogSoftmax."),
        LossInfo("MultiMarginLoss", "classification", "margin", "Categorical (multi-class) hinge loss on raw scores."),
        LossInfo(
            "KLDivLoss",
            "classification",
            "log_probs",
            "KL divergence from one-hot targets to the model's log-probabilities: end with LogSoftmax.",
        ),
    )
}


def task_kind(task: str) -> str:
    return {
        "regression": "regression",
        "reconstruction": "regression",
        "binary": "binary",
        "multilabel": "binary",
        "multiclass": "classification",
    }[task]


def check_loss_for_task(loss_name: str, task: str) -> None:
    """A loss that cannot work with the task's targets is a config error (softmax/sigmoid mismatches with the
    head are lint warnings in dlstudio.analysis.lints)."""
    if loss_name not in LOSSES:
        raise TrainingConfigError(
            "training.loss", f"unknown loss {loss_name!r}; pick one of {', '.join(sorted(LOSSES))}"
        )
    kind = LOSSES[loss_name].kind
    want = task_kind(task)
    if kind != want and not (kind == "regression" and want == "binary" and task == "multilabel"):
        if kind == "regression" and want != "regression":
            return  # MSE on class probabilities is legal (if unusual); metrics still work
        raise TrainingConfigError(
            "training.loss",
            f"{loss_name} does not fit a {task} task; use "
            f"{ {'regression': 'MSELoss', 'binary': 'BCEWithLogitsLoss', 'classification': 'CrossEntropyLoss'}[want] }",
        )
