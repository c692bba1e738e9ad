"""Losses by torch class name, each with what its head must output and how targets are shaped for it.

`head` says what the model's last layer is expected to give: logits (no activation), probs (after Sigmoid or
Softmax), log_probs (after LogSoftmax), margin (raw score for hinge losses) or value (regression).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..core.errors import TrainingConfigError
from .loss_table import LOSSES, LossInfo, check_loss_for_task, task_kind

__all__ = ["LOSSES", "LossFn", "LossInfo", "check_loss_for_task", "scores_of", "task_kind"]


class LossFn(nn.Module):
    """Wraps a torch loss so that the loop can always call `loss(output, target)` with the dataset's targets:
    integer class labels (N,) for classification, float (N, ...) otherwise."""

    def __init__(
        self,
        name: str,
        params: dict[str, Any] | None = None,
        n_classes: int | None = None,
        class_weights: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        if name not in LOSSES:
            raise TrainingConfigError(
                "training.loss", f"unknown loss {name!r}; pick one of {', '.join(sorted(LOSSES))}"
            )
        self.info = LOSSES[name]
        self.n_classes = n_classes
        params = dict(params or {})
        try:
            if name == "CrossEntropyLoss":
                self.fn = nn.CrossEntropyLoss(weight=class_weights, **params)
            elif name == "CategoricalCrossEntropyLoss":
                self.fn = nn.CrossEntropyLoss(weight=class_weights, **params)
            elif name == "NLLLoss":
                self.fn = nn.NLLLoss(weight=class_weights, **params)
            elif name == "MultiMarginLoss":
                self.fn = nn.MultiMarginLoss(weight=class_weights, **params)
            elif name == "KLDivLoss":
                self.fn = nn.KLDivLoss(reduction="batchmean", **params)
            elif name == "BCEWithLogitsLoss":
                self.fn = nn.BCEWithLogitsLoss(pos_weight=class_weights, **params)
            elif name == "HingeLoss":
                self.margin = float(params.pop("margin", 1.0))
                if params:
                    raise TypeError(f"unexpected parameter {next(iter(params))!r}")
                self.fn = None
            else:
                self.fn = getattr(nn, name)(**params)
        except TypeError as exc:
            raise TrainingConfigError("training.loss_params", f"{name} does not take these parameters: {exc}") from None

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        name = self.info.name
        if self.info.kind == "classification":
            if target.dim() != 1 or target.dtype != torch.int64:
                target = target.long().reshape(-1)
            if output.dim() != 2:
                output = output.reshape(output.shape[0], -1)
            if name in ("CategoricalCrossEntropyLoss", "KLDivLoss"):
                target = F.one_hot(target, output.shape[1]).to(output.dtype)
            return self.fn.forward(output, target)  # our own submodule: no hooks to run
        target = target.to(output.dtype).reshape(output.shape)
        if name == "HingeLoss":
            return torch.clamp(self.margin - (2 * target - 1) * output, min=0).mean()
        return self.fn(output, target)


def scores_of(loss_name: str, output: torch.Tensor) -> torch.Tensor:
    """Turn raw model outputs into class scores in [0, 1] for metrics (AUC) and predictions."""
    head = LOSSES[loss_name].head
    kind = LOSSES[loss_name].kind
    if kind == "binary":
        out = output.reshape(output.shape[0], -1)
        if head == "probs":
            return out
        return torch.sigmoid(out)  # logits and hinge margins: sigmoid keeps the order and the 0 threshold
    if kind == "classification":
        out = output.reshape(output.shape[0], -1)
        if head == "log_probs":
            return out.exp()
        return torch.softmax(out, dim=1)
    return output
