"""The training loop: an iterator of event dataclasses, with stop and pause flags checked between batches.

    trainer = Trainer(graph, data_dict, training_dict, run_dir="runs/x")   # errors in data/config raise here
    for event in trainer.run():                                          # never raises: faults are Failed
        ...

In-memory data is batched by tensor indexing (no per-sample collation); image folders go through a DataLoader.
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..core.errors import DlstudioWarning
from ..core.graph import ModelGraph
from . import distributed as ddp
from .checkpoints import load_checkpoint, model_state, save_checkpoint, save_weights, set_rng_state, weights_digest
from .config import DataConfig, TrainingConfig, resolve_configs
from .control import RunControl
from .data.binding import Binding, bind, load_data
from .data.dataset import ArrayData, FolderData
from .data.prepare import Splits, prepare
from .data.transforms import augment_batch
from .diagnose import find_nonfinite
from .events import BatchEnd, Checkpoint, EpochEnd, EpochStarted, Event, Failed, Finished
from .losses import LOSSES, LossFn, scores_of
from .metrics import classification_metrics, overfitting_warning, regression_metrics
from .optim import EpochScheduler, build_optimizer, lower_is_better
from .runs import RunWriter


def accelerators() -> list[str]:
    """Device names besides cpu that this machine can train on: cuda:N for each CUDA device, mps on Apple."""
    names = [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        names.append("mps")
    return names


def pick_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(name)


@dataclass
class _Split:
    """A split ready for the loop: tensors on the device, or a folder dataset read by a DataLoader."""

    x: torch.Tensor | None
    y: torch.Tensor | None
    folder: FolderData | None = None

    def __len__(self) -> int:
        return len(self.folder) if self.folder is not None else int(self.x.shape[0])  # type: ignore[union-attr]


_NULL = contextlib.nullcontext()  # reusable: entering it does nothing


def _reconstruction_targets(d: ArrayData) -> ArrayData:
    return ArrayData(
        d.x,
        d.x.reshape(len(d), -1).astype(np.float32),
        "reconstruction",
        d.name,
        None,
        d.ordered,
        d.recommended_scaling,
        d.source,
    )


@dataclass
class _State:
    epoch: int = 0  # epochs completed
    history: list[dict[str, float]] = field(default_factory=list)
    best_value: float | None = None
    best_epoch: int = 0
    bad_epochs: int = 0
    best_state: dict[str, torch.Tensor] | None = None


class Trainer(RunControl):
    """Set up everything that can be checked before training (data, binding, model, optimizer) in the
    constructor, which raises typed errors; `run()` then yields events and reports faults as `Failed`."""

    def __init__(
        self,
        graph: ModelGraph,
        data: DataConfig | dict[str, Any] | None,
        training: TrainingConfig | dict[str, Any] | None,
        *,
        run_dir: str | Path | None = None,
        base_dir: str | Path | None = None,
        resume: str | Path | None = None,
        epochs: int | None = None,
        device: str | None = None,
        initial_weights: dict[str, torch.Tensor] | None = None,
        project_meta: dict[str, Any] | None = None,
    ) -> None:
        self.graph = graph
        self.dcfg, self.cfg = resolve_configs(data, training, epochs, device)
        if self.cfg.num_threads:
            torch.set_num_threads(self.cfg.num_threads)
        if self.cfg.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
        self.dist = ddp.from_env()
        self.device = pick_device(self.cfg.device)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        self._init_control()
        self._loaders: dict[tuple[int, int], Any] = {}
        base = Path(base_dir) if base_dir is not None else None

        raw = load_data(self.dcfg, graph, base)
        reconstruct = (self.cfg.task or self.dcfg.task) == "reconstruction" and isinstance(raw, ArrayData)
        if reconstruct:  # an autoencoder's target is its own (prepared) input
            raw = _reconstruction_targets(raw)
        self.binding: Binding = bind(graph, raw, self.dcfg, self.cfg)
        self.splits: Splits = prepare(raw, self.dcfg, self.cfg.seed)
        if reconstruct:
            for part in (self.splits.train, self.splits.val, self.splits.test):
                if isinstance(part, ArrayData):
                    part.y = part.x.reshape(len(part), -1).astype(np.float32)
        self.class_names = raw.class_names
        self.task = self.binding.task
        self.loss_name = self.binding.loss
        self.kind = LOSSES[self.loss_name].kind

        from ..compiler.build import compile_graph

        self.model = compile_graph(graph, seed=self.cfg.seed).to(self.device)
        if initial_weights is not None:
            self.model.load_state_dict(initial_weights)
        self.node_paths: dict[str, str] = dict(getattr(self.model, "node_paths", {}))
        cw = self.splits.class_weights
        weights = torch.from_numpy(cw).to(self.device) if cw is not None and self.kind == "classification" else None
        self.loss_fn = LossFn(self.loss_name, self.cfg.loss_params, self.binding.n_classes, weights).to(self.device)
        self.train_set = self._to_split(self.splits.train)
        self.val_set = self._to_split(self.splits.val) if self.splits.val is not None else None
        self.test_set = self._to_split(self.splits.test) if self.splits.test is not None else None
        params = [p for p in self.model.parameters() if p.requires_grad]
        if not params:
            from ..core.errors import TrainingConfigError

            raise TrainingConfigError("graph", "every node is frozen: nothing to train; unfreeze at least one node")
        self.optimizer = build_optimizer(params, self.cfg)
        self.scheduler = EpochScheduler(self.optimizer, self.cfg)
        self.amp = bool(self.cfg.amp and self.device.type == "cuda")
        if self.cfg.amp and not self.amp:
            warnings.warn(
                f"training.amp is on but this run trains on {self.device}: mixed precision runs on CUDA only, so "
                "it trains in float32. Set training.amp to false, or train on a CUDA device.",
                DlstudioWarning,
                stacklevel=2,
            )
        self.scaler = torch.amp.GradScaler("cuda") if self.amp else None
        self.state = _State()
        self._resume_ckpt = load_checkpoint(Path(resume)) if resume is not None else None
        if run_dir is None and self._resume_ckpt is not None:
            run_dir = self._resume_ckpt["folder"].parent.parent
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.writer = RunWriter(self.run_dir, enabled=self.dist.is_main) if self.run_dir is not None else None
        self.project_meta = dict(project_meta or {})
        self.last_checkpoint: str | None = None

    @property
    def train_rows(self) -> int:
        return len(self.train_set)

    # ------------------------------------------------------------------ data
    def _to_split(self, part: ArrayData | FolderData) -> _Split:
        if isinstance(part, FolderData):
            return _Split(None, None, part)
        dtype = torch.int64 if self.binding.input_dtype == "int64" else torch.float32
        x = torch.as_tensor(part.x).to(dtype)
        y = torch.as_tensor(part.y)
        y = y.long() if self.kind == "classification" or y.dtype == torch.int64 else y.float()
        return _Split(x.to(self.device), y.to(self.device))

    def _batches(
        self, split: _Split, shuffle: bool, epoch: int, batch_size: int | None = None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        bs = batch_size or self.cfg.batch_size
        if split.folder is not None:
            from .data.imagefolder import epoch_order, make_loader

            key = (id(split), bs)
            loader = self._loaders.get(key)
            if loader is None:  # one loader per split: its workers persist across epochs
                loader = self._loaders[key] = make_loader(
                    split.folder, bs, seed=self.cfg.seed, num_workers=self.dcfg.num_workers
                )
            loader.sampler.order = epoch_order(len(split.folder), self.cfg.seed, epoch, shuffle)
            for xb, yb in loader:
                yield xb.to(self.device, non_blocking=True), yb.to(self.device, non_blocking=True)
            return
        n = len(split)
        assert split.x is not None and split.y is not None
        x, y = split.x, split.y
        if shuffle:
            for idx in torch.randperm(n).to(self.device).split(bs):  # one call makes every batch's indices
                yield x[idx], y[idx]
        else:
            yield from zip(x.split(bs), y.split(bs))

    def _n_batches(self, split: _Split) -> int:
        return math.ceil(len(split) / self.cfg.batch_size)

    # ------------------------------------------------------------------ steps
    def _pick(self, out: Any) -> torch.Tensor:
        return out[self.binding.output_index] if self.binding.n_outputs > 1 else out

    def _penalty(self) -> torch.Tensor | None:
        if not (self.cfg.l1 or self.cfg.l2):
            return None
        weights = [p for p in self.model.parameters() if p.requires_grad and p.dim() > 1]  # not biases/norms
        total = torch.zeros((), device=self.device)
        if self.cfg.l1:
            total = total + self.cfg.l1 * sum(p.abs().sum() for p in weights)
        if self.cfg.l2:
            total = total + self.cfg.l2 * sum(p.pow(2).sum() for p in weights)
        return total

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        return torch.autocast("cuda", dtype=torch.float16) if self.amp else _NULL

    @torch.no_grad()
    def evaluate_split(self, split: _Split, full: bool = False, basic: bool = False) -> dict[str, Any]:
        """Loss and metrics of the current model on one split (eval mode). `full` adds per-class scores, the
        confusion matrix and curves; `basic` keeps to loss and accuracy/MSE/MAE from torch ops (no sklearn)."""
        model = self.model
        was_training = model.training
        model.eval()
        outs, ys, total, n = [], [], 0.0, 0
        try:
            for xb, yb in self._batches(split, False, 0, max(self.cfg.batch_size, 1024)):
                with self._autocast():
                    out = self._pick(model(xb)).float()
                total += float(self.loss_fn(out, yb)) * len(xb)
                n += len(xb)
                outs.append(out)
                ys.append(yb)
        finally:
            model.train(was_training)
        out = torch.cat(outs) if len(outs) > 1 else outs[0]
        y = torch.cat(ys) if len(ys) > 1 else ys[0]
        result: dict[str, Any] = {"loss": total / max(n, 1)}
        if basic:
            if self.kind == "regression":
                o, t = out.reshape(len(out), -1), y.reshape(len(y), -1).to(out.dtype)
                result.update(
                    mse=float(torch.nn.functional.mse_loss(o, t)), mae=float(torch.nn.functional.l1_loss(o, t))
                )
            elif self.kind == "classification":
                result["accuracy"] = float((out.reshape(len(out), -1).argmax(1) == y.reshape(-1)).float().mean())
            else:
                s = scores_of(self.loss_name, out).reshape(len(out), -1)
                result["accuracy"] = float(((s >= 0.5).long() == y.reshape(len(y), -1).long()).float().mean())
            return result
        if self.kind == "regression":
            result.update(
                regression_metrics(y.reshape(len(y), -1).cpu().numpy(), out.reshape(len(out), -1).cpu().numpy())
            )
        else:
            scores = scores_of(self.loss_name, out).cpu().numpy()
            result.update(
                classification_metrics(
                    y.cpu().numpy(), scores, binary=self.kind == "binary", full=full, class_names=self.class_names
                )
            )
        return result

    # ------------------------------------------------------------------ resume / checkpoints
    def _restore(self, ckpt: dict[str, Any]) -> None:
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        extra = ckpt["extra"]
        self.state = _State(
            epoch=ckpt["epoch"],
            history=list(extra.get("history", [])),
            best_value=extra.get("best_value"),
            best_epoch=int(extra.get("best_epoch", 0)),
            bad_epochs=int(extra.get("bad_epochs", 0)),
            best_state=ckpt["best"],
        )
        set_rng_state(ckpt["rng_tensors"], ckpt["rng_meta"])
        if self.writer is not None:
            self.writer.rewrite_history(self.state.history)

    def _checkpoint(self, partial: bool = False) -> str | None:
        if self.writer is None or not self.dist.is_main:
            return None
        s = self.state
        extra = {
            "history": s.history,
            "best_value": s.best_value,
            "best_epoch": s.best_epoch,
            "bad_epochs": s.bad_epochs,
            "partial": partial,
        }
        name = f"epoch_{s.epoch:04d}" + ("_interrupted" if partial else "")
        folder = save_checkpoint(
            self.writer.run_dir / "checkpoints" / name,
            model=self.model,
            optimizer=self.optimizer,
            scheduler_state=self.scheduler.state_dict(),
            epoch=s.epoch,
            extra=extra,
            best_state=s.best_state,
        )
        self.last_checkpoint = str(folder)
        return self.last_checkpoint

    def _monitor(self) -> str:
        m = self.cfg.early_stopping.monitor
        if self.val_set is None and m.startswith("val_"):
            return m[4:]
        return m

    def _update_best(self, metrics: dict[str, float]) -> bool:
        """Track the best epoch; returns True when early stopping says stop."""
        es = self.cfg.early_stopping
        name = self._monitor()
        value = metrics.get(name)
        if value is None or not math.isfinite(value):
            return False
        s = self.state
        better = s.best_value is None or (
            value < s.best_value - es.min_delta if lower_is_better(name) else value > s.best_value + es.min_delta
        )
        if better:
            s.best_value, s.best_epoch, s.bad_epochs = float(value), s.epoch, 0
            s.best_state = model_state(self.model)
            return False
        s.bad_epochs += 1
        return bool(es.patience and s.bad_epochs >= es.patience)

    def weights_digest(self) -> str:
        return weights_digest(self.model)

    # ------------------------------------------------------------------ the loop
    def run(self) -> Iterator[Event]:
        """Yield events until the run ends; the last event is Finished or Failed."""
        epoch, batch = None, None
        try:
            ddp.init(self.dist, self.device)
            train_model: nn.Module = self.model
            if self.dist.enabled:
                from torch.nn.parallel import DistributedDataParallel

                train_model = DistributedDataParallel(
                    self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None
                )
            if self._resume_ckpt is not None:
                self._restore(self._resume_ckpt)
            else:
                torch.manual_seed(self.cfg.seed)
                np.random.seed(self.cfg.seed)
            if self.writer is not None:
                self.writer.start(self)
            stopped_early = stopped_user = False
            n_batches = self._n_batches(self.train_set)
            loss_fn = self.loss_fn.forward  # no hooks on our own loss wrapper: skip Module.__call__
            augment = self.dcfg.augment.active()
            multi_out = self.binding.n_outputs > 1
            penalties = bool(self.cfg.l1 or self.cfg.l2)
            autocast = self._autocast()  # reusable: a no-op context on CPU, float16 autocast with AMP on CUDA
            optimizer, scaler, grad_clip, distributed = (
                self.optimizer,
                self.scaler,
                self.cfg.grad_clip,
                self.dist.enabled,
            )
            clock = time.perf_counter
            while self.state.epoch < self.cfg.epochs and not self._stop.is_set():
                epoch = self.state.epoch + 1
                yield EpochStarted(epoch, self.cfg.epochs, n_batches, self.scheduler.lr)
                t0 = time.perf_counter()
                seen, loss_sum = 0, 0.0
                self.model.train()
                interrupted = False
                for batch, (xb, yb) in enumerate(self._batches(self.train_set, self.dcfg.shuffle, epoch), 1):
                    if self._interrupted and self._wait_if_paused():  # a pause waits here, between batches
                        interrupted = True
                        break
                    if distributed:
                        if len(xb) < self.dist.world_size:
                            continue  # every rank skips it alike: DDP needs the same number of steps on all
                        xb, yb = xb[self.dist.rank :: self.dist.world_size], yb[self.dist.rank :: self.dist.world_size]
                    if augment:
                        xb = augment_batch(xb, self.dcfg.augment)
                    with autocast:
                        out = train_model(xb)
                        if multi_out:
                            out = out[self.binding.output_index]
                        if out.dtype != torch.float32:
                            out = out.float()
                        total = loss_fn(out, yb)
                        if penalties:
                            total = total + self._penalty()
                    lv = total.item()
                    if distributed:  # the mean over ranks: every rank sees the same loss and fails alike
                        lv = ddp.mean_over_ranks(lv, self.device)
                    if not math.isfinite(lv):
                        yield self._nonfinite(epoch, batch, xb, yb, lv)
                        return
                    optimizer.zero_grad(set_to_none=True)
                    if scaler is not None:
                        scaler.scale(total).backward()
                        scaler.unscale_(optimizer)
                    else:
                        total.backward()
                    if grad_clip:
                        torch.nn.utils.clip_grad_norm_(self.model.parameters(), grad_clip)
                    if scaler is not None:
                        scaler.step(optimizer)
                        scaler.update()
                    else:
                        optimizer.step()
                    nb = len(xb)
                    seen += nb
                    loss_sum += lv * nb
                    yield BatchEnd(epoch, batch, n_batches, lv, seen, seen / max(clock() - t0, 1e-9))
                if interrupted:
                    stopped_user = True
                    self.last_checkpoint = self._checkpoint(partial=True) or self.last_checkpoint
                    break
                metrics: dict[str, float] = {"loss": loss_sum / max(seen, 1)}
                if self.val_set is not None and len(self.val_set):
                    val = self.evaluate_split(self.val_set, basic=self.cfg.epoch_metrics == "basic")
                    metrics.update({f"val_{k}": float(v) for k, v in val.items() if isinstance(v, (int, float))})
                lr = self.scheduler.lr
                metrics["lr"] = lr
                self.state.epoch = epoch
                self.state.history.append({"epoch": epoch, **metrics})
                stop_now = self._update_best(metrics)
                self.scheduler.step(metrics.get(self._monitor()))
                warn = overfitting_warning(self.state.history)
                seconds = time.perf_counter() - t0
                if self.writer is not None:
                    self.writer.epoch(self.state.history[-1])
                yield EpochEnd(epoch, self.cfg.epochs, metrics, lr, seconds, [warn] if warn else [])
                if self.writer is not None and (
                    epoch % self.cfg.checkpoint_every == 0 or epoch == self.cfg.epochs or stop_now
                ):
                    path = self._checkpoint()
                    if path:
                        yield Checkpoint(epoch, path, best=self.state.best_epoch == epoch)
                if stop_now:
                    stopped_early = True
                    break
            if self._stop.is_set():
                stopped_user = True
            epoch, batch = None, None
            if (
                self.cfg.early_stopping.restore_best
                and self.cfg.early_stopping.patience
                and self.state.best_state is not None
            ):
                self.model.load_state_dict(self.state.best_state)
            test = (
                self.evaluate_split(self.test_set, full=True)
                if self.test_set is not None and len(self.test_set)
                else {}
            )
            final = dict(self.state.history[-1]) if self.state.history else {}
            final.pop("epoch", None)
            if self.writer is not None:
                val = (
                    self.evaluate_split(self.val_set, full=True)
                    if self.val_set is not None and len(self.val_set)
                    else {}
                )
                self.writer.finish(self, test, stopped_early, stopped_user, val)
            yield Finished(
                self.state.epoch, stopped_early, stopped_user, final, test, str(self.run_dir) if self.run_dir else None
            )
        except Exception as exc:  # noqa: BLE001 - any fault from data or model becomes a Failed event
            where = f" (epoch {epoch}, batch {batch})" if epoch is not None else ""
            yield Failed(f"{type(exc).__name__}: {exc}{where}", epoch, batch, None, self.last_checkpoint)

    def _nonfinite(self, epoch: int, batch: int, xb: torch.Tensor, yb: torch.Tensor, value: float) -> Failed:
        node_id, where = find_nonfinite(self.model, xb, self.node_paths, self.graph, self._pick)
        what = "NaN" if math.isnan(value) else "Inf"
        msg = (
            f"The loss became {what} at epoch {epoch}, batch {batch}: {where}. Try a lower learning rate "
            f"(now {self.scheduler.lr:g}), gradient clipping, or scaling the inputs; the last good checkpoint "
            f"is {self.last_checkpoint or 'none (no run folder or no epoch finished)'}"
        )
        return Failed(msg, epoch, batch, node_id, self.last_checkpoint)

    def save_weights(self, path: str | Path) -> Path:
        return save_weights(self.model, Path(path))
