"""Sanity tools on a copy of a Trainer's model (the trainer itself is left untouched):

- overfit_one_batch: train on one batch only; a healthy model/loss pair drives the loss close to zero.
- lr_range_test: raise the learning rate exponentially over a few steps, record the loss, and suggest a rate
  where the loss falls fastest (the steepest negative slope of the smoothed curve), as in Smith's range test.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch

from .loop import Trainer
from .optim import build_optimizer


@dataclass
class OverfitResult:
    initial_loss: float
    final_loss: float
    steps: int
    passed: bool

    @property
    def message(self) -> str:
        if self.passed:
            return f"overfit one batch: loss {self.initial_loss:.4g} -> {self.final_loss:.4g} in {self.steps} steps"
        return (
            f"the model could not overfit one batch (loss {self.initial_loss:.4g} -> {self.final_loss:.4g}): "
            "check the head/loss pairing, frozen layers, the learning rate, or a bug in the data"
        )


def _first_batch(t: Trainer, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    return next(iter(t._batches(t.train_set, False, 0, size)))


def overfit_one_batch(
    t: Trainer, *, batch_size: int = 16, steps: int = 200, lr: float | None = None, threshold: float = 0.05
) -> OverfitResult:
    model = copy.deepcopy(t.model).train()
    xb, yb = _first_batch(t, batch_size)
    cfg = copy.deepcopy(t.cfg)
    if lr is not None:
        cfg.lr = lr
    elif cfg.optimizer in ("Adam", "AdamW", "NAdam", "RMSprop"):
        cfg.lr = max(cfg.lr, 1e-2)  # memorising one batch wants a brisk rate
    cfg.weight_decay = 0.0
    opt = build_optimizer([p for p in model.parameters() if p.requires_grad], cfg)
    first = last = float("nan")
    for i in range(steps):
        loss = t.loss_fn(t._pick(model(xb)).float(), yb)
        if i == 0:
            first = float(loss.detach())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        last = float(loss.detach())
        if not math.isfinite(last):
            break
    with torch.no_grad():
        model.eval()
        last = float(t.loss_fn(t._pick(model(xb)).float(), yb))
    passed = math.isfinite(last) and last <= max(threshold, 0.02 * first)
    return OverfitResult(first, last, steps, passed)


@dataclass
class RangeTestResult:
    lrs: list[float]
    losses: list[float]
    suggested_lr: float


def lr_range_test(
    t: Trainer, *, start_lr: float = 1e-6, end_lr: float = 1.0, steps: int = 100, smooth: float = 0.9
) -> RangeTestResult:
    model = copy.deepcopy(t.model).train()
    cfg = copy.deepcopy(t.cfg)
    cfg.lr = start_lr
    opt = build_optimizer([p for p in model.parameters() if p.requires_grad], cfg)
    mult = (end_lr / start_lr) ** (1 / max(steps - 1, 1))
    lrs: list[float] = []
    losses: list[float] = []
    avg, best = 0.0, math.inf
    rng_state = torch.get_rng_state()
    batches = iter(())
    try:
        for i in range(steps):
            lr = start_lr * mult**i
            for g in opt.param_groups:
                g["lr"] = lr
            try:
                xb, yb = next(batches)
            except StopIteration:
                batches = iter(t._batches(t.train_set, True, 0))
                xb, yb = next(batches)
            loss = t.loss_fn(t._pick(model(xb)).float(), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            v = float(loss.detach())
            if not math.isfinite(v):
                break
            avg = smooth * avg + (1 - smooth) * v
            value = avg / (1 - smooth ** (i + 1))
            lrs.append(lr)
            losses.append(value)
            best = min(best, value)
            if value > 4 * best:
                break  # diverged: the rest of the curve says nothing
    finally:
        torch.set_rng_state(rng_state)
    if len(losses) < 3:
        return RangeTestResult(lrs, losses, start_lr)
    slope = np.gradient(np.asarray(losses), np.log(np.asarray(lrs)))
    k = int(np.argmin(slope[1:-1])) + 1
    return RangeTestResult(lrs, losses, float(lrs[k]))
