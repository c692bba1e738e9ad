"""What the studio's results views need from a trained model, computed where the model lives (the training thread
or the training process): predictions on the held-out split and the decision boundary of a 2-D classifier. Plain
numpy out; `save_npz`/`load_npz` carry them between processes without pickle."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class Predictions:
    """Model outputs on one split, for the results views (numpy only, safe to hand to the GUI thread)."""

    split: str  # "test" or "validation"
    x: np.ndarray
    y: np.ndarray
    scores: np.ndarray  # class probabilities (N, C), positive-class probability (N,), or values
    kind: str  # "classification", "binary", "regression"
    class_names: list[str] | None
    input_shape: tuple[int, ...] = field(default_factory=tuple)


@dataclass
class Boundary:
    """Class probabilities over a grid covering a 2-D dataset, plus the training points."""

    epoch: int
    xs: np.ndarray  # (W,) grid x coordinates
    ys: np.ndarray  # (H,) grid y coordinates
    labels: np.ndarray  # (H, W) predicted class
    confidence: np.ndarray  # (H, W) probability of the predicted class
    points: np.ndarray  # (N, 2) training inputs
    targets: np.ndarray  # (N,) training classes


def _scores(trainer: Any, out: Any) -> Any:
    from ..training.losses import scores_of

    if trainer.kind == "regression":
        return out
    return scores_of(trainer.loss_name, out)


def predict(trainer: Any, x: Any) -> np.ndarray:
    """Scores of the trainer's model on a batch tensor (eval mode, no grad), in chunks."""
    import torch

    model = trainer.model
    was = model.training
    model.eval()
    outs = []
    try:
        with torch.no_grad():
            for i in range(0, len(x), 1024):
                xb = x[i : i + 1024].to(trainer.device)
                outs.append(_scores(trainer, trainer._pick(model(xb)).float()).cpu())
    finally:
        model.train(was)
    return torch.cat(outs).numpy() if outs else np.zeros((0,))


FOLDER_ROWS = 1000  # image folders: the results views read at most this many held-out images


def _held_out_arrays(trainer: Any, split: Any) -> tuple[Any, Any]:
    """A split's inputs and targets as tensors; an image folder is read through its loader (at most
    FOLDER_ROWS images, in file order), since its images are not in memory."""
    if split.x is not None:
        return split.x, split.y
    import torch

    xs, ys, n = [], [], 0
    for xb, yb in trainer._batches(split, False, 0):
        xs.append(xb.cpu())
        ys.append(yb.cpu())
        n += len(xb)
        if n >= FOLDER_ROWS:
            break
    return torch.cat(xs)[:FOLDER_ROWS], torch.cat(ys)[:FOLDER_ROWS]


def collect_predictions(trainer: Any) -> Predictions | None:
    """Outputs on the test split (else the validation split); None without held-out data."""
    for name, split in (("test", trainer.test_set), ("validation", trainer.val_set)):
        if split is not None and len(split):
            x, y = _held_out_arrays(trainer, split)
            scores = predict(trainer, x)
            kind = (
                "regression"
                if trainer.kind == "regression"
                else "binary"
                if trainer.kind == "binary"
                else "classification"
            )
            return Predictions(
                name,
                x.cpu().numpy(),
                y.cpu().numpy(),
                scores,
                kind,
                list(trainer.class_names) if trainer.class_names else None,
                tuple(x.shape[1:]),
            )
    return None


def is_two_d(trainer: Any) -> bool:
    s = trainer.train_set
    return (
        s.x is not None
        and s.x.dim() == 2
        and s.x.shape[1] == 2
        and s.x.is_floating_point()
        and trainer.kind != "regression"
    )


def decision_boundary(trainer: Any, epoch: int, steps: int = 70, max_points: int = 600) -> Boundary:
    """Predicted class and confidence over a steps x steps grid that covers the training inputs."""
    import torch

    x = trainer.train_set.x.cpu()
    y = trainer.train_set.y.cpu()
    lo, hi = x.min(0).values.numpy(), x.max(0).values.numpy()
    pad = (hi - lo) * 0.1 + 1e-6
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], steps, dtype=np.float32)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], steps, dtype=np.float32)
    gx, gy = np.meshgrid(xs, ys)
    grid = torch.from_numpy(np.stack([gx.ravel(), gy.ravel()], 1))
    s = predict(trainer, grid)
    if s.ndim == 1 or s.shape[1] == 1:  # binary head: one positive-class probability
        p = s.reshape(-1)
        s = np.stack([1 - p, p], 1)
    labels = s.argmax(1).reshape(steps, steps)
    conf = s.max(1).reshape(steps, steps)
    return Boundary(epoch, xs, ys, labels, conf, x[:max_points].numpy(), y[:max_points].numpy().reshape(-1))


def save_npz(obj: Predictions | Boundary, path: Path) -> Path:
    """Arrays as .npy members, everything else as one JSON member: readable with allow_pickle=False."""
    arrays = {f.name: getattr(obj, f.name) for f in fields(obj) if isinstance(getattr(obj, f.name), np.ndarray)}
    plain = {f.name: getattr(obj, f.name) for f in fields(obj) if f.name not in arrays}
    if "input_shape" in plain:
        plain["input_shape"] = list(plain["input_shape"])
    meta = np.frombuffer(json.dumps({"type": type(obj).__name__, **plain}).encode(), dtype=np.uint8)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, __meta__=meta, **arrays)
    tmp.replace(path)
    return path


def load_npz(path: Path) -> Predictions | Boundary:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(bytes(z["__meta__"]).decode())
        arrays = {k: z[k] for k in z.files if k != "__meta__"}
    cls = {"Predictions": Predictions, "Boundary": Boundary}[meta.pop("type")]
    if cls is Predictions:
        meta["input_shape"] = tuple(meta.get("input_shape", ()))
    return cls(**meta, **arrays)


class TrainedModel:
    """A finished run's model rebuilt from its weights, with what `predict` needs: the studio's stand-in for a
    trainer that lived in the training process. The weights arrive as numpy arrays; torch is imported (and the
    graph compiled) only when the model is first used, so a run's end costs the window no torch import."""

    def __init__(self, graph: Any, arrays: dict[str, np.ndarray], info: dict[str, Any]) -> None:
        self.graph = graph
        self.arrays = arrays
        self.kind = info.get("task_kind")
        self.loss_name = info.get("loss_name")
        self.class_names = info.get("class_names")
        self.output_index = int(info.get("output_index") or 0)
        self.n_outputs = int(info.get("n_outputs") or 1)
        self.train_rows = info.get("train_rows")
        self._model: Any = None

    @property
    def state(self) -> dict[str, Any]:
        """The weights as torch tensors (state_dict layout)."""
        import torch

        return {k: torch.from_numpy(np.array(v)) for k, v in self.arrays.items()}

    @property
    def device(self) -> Any:
        import torch

        return torch.device("cpu")

    @property
    def model(self) -> Any:
        if self._model is None:
            from ..compiler.build import compile_graph

            model = compile_graph(self.graph, seed=0)
            model.load_state_dict(self.state)
            self._model = model.eval()
        return self._model

    def _pick(self, out: Any) -> Any:
        return out[self.output_index] if self.n_outputs > 1 else out
