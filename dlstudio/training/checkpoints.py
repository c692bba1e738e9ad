"""Checkpoints without pickle: tensors in safetensors files, everything else in JSON.

A checkpoint is a folder: model.safetensors (state_dict of every network), optimizer.safetensors + the JSON
skeleton of every optimizer's state (by name) with each tensor replaced by a reference, RNG states as uint8
tensors, and state.json (epoch, schedulers by name, the task's counters, history, the position in a stopped epoch).
Non-finite floats are written as {"__float__": "inf"} so the JSON stays strict. Every file is written atomically;
state.json is written last, after one fsync of the folder, so a folder with state.json is complete.

Saving is two steps, so the engine can write from a background thread: `encode_checkpoint` takes the snapshot (the
bytes of every file, made at once from the live state) and `write_checkpoint_files` puts them on disk.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save

from ..core.errors import DataError
from ..core.files import atomic_write_bytes, fsync_folder

_REF = "__tensor__"
_FLOAT = "__float__"
_TUPLE = "__tuple__"


def flatten_state(obj: Any, tensors: dict[str, torch.Tensor], prefix: str = "t") -> Any:
    """Replace each tensor in a nested state by a reference; collect the tensors."""
    if isinstance(obj, torch.Tensor):
        key = f"{prefix}{len(tensors)}"
        tensors[key] = obj.detach().cpu().contiguous()
        return {_REF: key}
    if isinstance(obj, dict):
        return {
            "__dict__": [[flatten_state(k, tensors, prefix), flatten_state(v, tensors, prefix)] for k, v in obj.items()]
        }
    if isinstance(obj, tuple):
        return {_TUPLE: [flatten_state(v, tensors, prefix) for v in obj]}
    if isinstance(obj, list):
        return [flatten_state(v, tensors, prefix) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return {_FLOAT: repr(obj)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store a {type(obj).__name__} in a checkpoint")


def unflatten_state(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if _REF in obj:
            return tensors[obj[_REF]]
        if _FLOAT in obj:
            return float(obj[_FLOAT])
        if _TUPLE in obj:
            return tuple(unflatten_state(v, tensors) for v in obj[_TUPLE])
        if "__dict__" in obj:
            return {unflatten_state(k, tensors): unflatten_state(v, tensors) for k, v in obj["__dict__"]}
        return {k: unflatten_state(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [unflatten_state(v, tensors) for v in obj]
    return obj


def _dump(obj: Any) -> str:
    # compact: without `indent` json uses its C encoder (the history in it grows with every epoch)
    return json.dumps(obj, separators=(",", ":"), sort_keys=True, allow_nan=False) + "\n"


def rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"torch_cuda{i}"] = s
    np_state = np.random.get_state()
    tensors["numpy_keys"] = torch.from_numpy(np.asarray(np_state[1], dtype=np.int64))
    py = random.getstate()
    meta = {
        "numpy": [np_state[0], int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "python": [py[0], list(py[1]), py[2]],
    }
    return tensors, meta


def set_rng_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["torch_cpu"])
    if torch.cuda.is_available():
        states = [tensors[k] for k in sorted(tensors) if k.startswith("torch_cuda")]
        if len(states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(states)
    n = meta["numpy"]
    np.random.set_state((n[0], tensors["numpy_keys"].numpy().astype(np.uint32), n[1], n[2], n[3]))
    p = meta["python"]
    random.setstate((p[0], tuple(p[1]), p[2]))


def weights_digest(model: torch.nn.Module) -> str:
    """SHA-256 over a model's state (names and bytes): equal digests mean identical weights."""
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def model_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}


_WEIGHTS_META = {"format": "dlstudio-weights"}


def _weights_bytes(model_or_state: torch.nn.Module | dict[str, torch.Tensor]) -> bytes:
    if isinstance(model_or_state, torch.nn.Module):  # save() copies the bytes: no clone of the live state needed
        model_or_state = {k: v.detach().cpu().contiguous() for k, v in model_or_state.state_dict().items()}
    return save(model_or_state, metadata=_WEIGHTS_META)


def save_weights(
    model_or_state: torch.nn.Module | dict[str, torch.Tensor], path: Path, *, sync_folder: bool = True
) -> Path:
    atomic_write_bytes(Path(path), _weights_bytes(model_or_state), sync_folder=sync_folder)
    return Path(path)


def load_weights_file(path: Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such weights file")
    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types
        raise DataError(f"{path}: not a safetensors weights file ({exc})") from None


FORMAT_VERSION = 2  # 2: optimizers and schedulers by name, the task's state and the position in the epoch


def encode_checkpoint(
    *,
    model: torch.nn.Module,
    optimizers: dict[str, dict[str, Any]],
    schedulers: dict[str, dict[str, Any]],
    epoch: int,
    extra: dict[str, Any],
    best_state: dict[str, torch.Tensor] | None = None,
) -> list[tuple[str, bytes]]:
    """The checkpoint's files as (name, content), state.json last: a snapshot of the state as it is now (the
    training may go on while they are written). `optimizers`/`schedulers`: name -> state_dict. `extra`: plain
    data and tensors (history, position)."""
    files = [("model.safetensors", _weights_bytes(model))]
    opt_tensors: dict[str, torch.Tensor] = {}
    opt_skeleton = flatten_state(optimizers, opt_tensors)
    files.append(("optimizer.safetensors", save(opt_tensors)))
    rng_tensors, rng_meta = rng_state()
    files.append(("rng.safetensors", save(rng_tensors)))
    if best_state is not None:
        files.append(("best.safetensors", _weights_bytes(best_state)))
    side: dict[str, torch.Tensor] = {}
    state = {
        "format": "dlstudio-checkpoint",
        "format_version": FORMAT_VERSION,
        "epoch": epoch,
        "optimizers": opt_skeleton,
        "schedulers": flatten_state(schedulers, side, "s"),
        "rng": rng_meta,
        "extra": flatten_state(extra, side, "s"),
    }
    if side:
        files.append(("state.safetensors", save(side)))
    files.append(("state.json", _dump(state).encode("utf-8")))  # last: a folder with state.json is complete
    return files


def write_checkpoint_files(folder: Path, files: list[tuple[str, bytes]]) -> Path:
    """Write what `encode_checkpoint` made into `folder`: each file atomically, the folder fsynced once before
    the last file (state.json), which is the mark of a complete checkpoint."""
    folder = Path(folder)
    new = not folder.is_dir()
    folder.mkdir(parents=True, exist_ok=True)
    if new:
        fsync_folder(folder.parent)  # the new folder's own entry
    *data, (last_name, last) = files
    for name, content in data:
        atomic_write_bytes(folder / name, content, sync_folder=False)
    fsync_folder(folder)  # every file above is on disk before the mark below can be
    atomic_write_bytes(folder / last_name, last)
    return folder


def save_checkpoint(folder: Path, **state: Any) -> Path:
    """Snapshot and write at once (`encode_checkpoint`'s arguments); the engine does the two steps apart."""
    return write_checkpoint_files(Path(folder), encode_checkpoint(**state))


def _from_version_1(state: dict[str, Any], opt: Any, sched: Any, extra: dict[str, Any]) -> tuple[Any, Any, Any]:
    """Version 1 kept one optimizer/scheduler (supervised, reconstruction) or g/d pairs (GAN) and the task's
    counters at the top of `extra`."""
    if extra.get("mode") == "gan":
        optimizers, schedulers = opt, sched
    else:
        optimizers, schedulers = {"optimizer": opt}, {"scheduler": sched}
    counters = ("best_value", "best_epoch", "bad_epochs", "mode", "previous")
    task_state = {k: extra[k] for k in counters if k in extra}
    extra = {"history": extra.get("history", []), "task_state": task_state, "partial": extra.get("partial", False)}
    return optimizers, schedulers, extra


def load_checkpoint(folder: Path) -> dict[str, Any]:
    """Read a checkpoint folder into plain objects (model state, optimizer states, ...). Never unpickles."""
    folder = Path(folder)
    if folder.is_file():
        folder = folder.parent
    state_file = folder / "state.json"
    if not state_file.is_file():
        raise DataError(f"{folder}: not a checkpoint folder (no state.json); pick a folder under <run>/checkpoints/")
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{state_file} line {exc.lineno}: not valid JSON ({exc.msg})") from None
    if state.get("format") != "dlstudio-checkpoint":
        raise DataError(f"{state_file}: not a dlstudio checkpoint")
    opt_tensors = load_file(str(folder / "optimizer.safetensors"))
    side = load_file(str(folder / "state.safetensors")) if (folder / "state.safetensors").is_file() else {}
    extra = unflatten_state(state["extra"], side)
    if int(state.get("format_version", 1)) < 2:
        optimizers, schedulers, extra = _from_version_1(
            state,
            unflatten_state(state["optimizer"], opt_tensors),
            unflatten_state(state["scheduler"], side),
            extra,
        )
    else:
        optimizers = unflatten_state(state["optimizers"], opt_tensors)
        schedulers = unflatten_state(state["schedulers"], side)
    best = folder / "best.safetensors"
    return {
        "epoch": int(state["epoch"]),
        "model": load_weights_file(folder / "model.safetensors"),
        "optimizers": optimizers,
        "schedulers": schedulers,
        # the one optimizer/scheduler of a single-network run, for readers that want just that
        "optimizer": next(iter(optimizers.values())) if len(optimizers) == 1 else None,
        "scheduler": next(iter(schedulers.values())) if len(schedulers) == 1 else None,
        "rng_tensors": load_file(str(folder / "rng.safetensors")),
        "rng_meta": state["rng"],
        "extra": extra,
        "best": load_weights_file(best) if best.is_file() else None,
        "folder": folder,
    }
