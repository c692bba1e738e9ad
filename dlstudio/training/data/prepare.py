"""Preparation: train/validation/test split (random, stratified, time-ordered), missing values, scaling fitted on
the training split only, class imbalance. Pure NumPy/scikit-learn; returns new arrays."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...core.errors import DataError
from ..config import DataConfig
from .dataset import ArrayData, FolderData

Data = ArrayData | FolderData


@dataclass
class Splits:
    train: Data
    val: Data | None
    test: Data | None
    class_weights: np.ndarray | None = None
    scaler: dict[str, Any] = field(default_factory=dict)  # kind + fitted statistics (saved in the run settings)


def _train_test_split(
    idx: np.ndarray, test_size: int, seed: int, stratify: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """sklearn's train_test_split; the unstratified case in NumPy with the same result (ShuffleSplit: one
    permutation from RandomState(seed), test rows first), which spares a small run sklearn's import."""
    if stratify is not None:
        from sklearn.model_selection import train_test_split  # lazy: the lints import this package

        rest, test = train_test_split(idx, test_size=test_size, random_state=seed, stratify=stratify)
        return rest, test
    perm = np.random.RandomState(seed).permutation(len(idx))
    return idx[perm[test_size:]], idx[perm[:test_size]]


def split_indices(n: int, y: np.ndarray | None, cfg: DataConfig, ordered: bool) -> tuple[np.ndarray, ...]:
    idx = np.arange(n)
    method = "time" if ordered and cfg.split == "random" else cfg.split
    n_test = int(round(cfg.test_fraction * n))
    n_val = int(round(cfg.val_fraction * n))
    if n - n_test - n_val < 1:
        raise DataError(
            f"only {n} rows: too few to split off {n_val} validation and {n_test} test rows; "
            "lower data.val_fraction / data.test_fraction"
        )
    if method == "time":
        return idx[: n - n_val - n_test], idx[n - n_val - n_test : n - n_test], idx[n - n_test :]
    strat = y if method == "stratified" and y is not None and y.ndim == 1 else None
    rest, test = (idx, idx[:0]) if n_test == 0 else _train_test_split(idx, n_test, cfg.split_seed, strat)
    if n_val == 0:
        return np.sort(rest), idx[:0], np.sort(test)
    s2 = strat[rest] if strat is not None else None
    train, val = _train_test_split(rest, n_val, cfg.split_seed + 1, s2)
    return train, val, test


def _missing(data: ArrayData, cfg: DataConfig) -> ArrayData:
    if not np.issubdtype(data.x.dtype, np.floating):
        return data
    flat = data.x.reshape(len(data), -1)
    bad_rows = np.isnan(flat).any(axis=1)
    if not bad_rows.any():
        return data
    if cfg.missing == "error":
        row = int(np.argmax(bad_rows))
        col = int(np.argmax(np.isnan(flat[row])))
        raise DataError(
            f"{data.source}: {int(bad_rows.sum())} row(s) have missing values (first: data row "
            f"{row + 1}, feature {col + 1}); set data.missing to drop, mean or median"
        )
    if cfg.missing == "drop":
        keep = ~bad_rows
        if not keep.any():
            raise DataError(f"{data.source}: every row has a missing value; set data.missing to mean or median")
        return data.subset(np.flatnonzero(keep))
    return data  # mean/median are imputed after the split, from the training rows


def _impute(parts: list[ArrayData | None], how: str) -> None:
    train = parts[0]
    assert train is not None
    flat = train.x.reshape(len(train), -1)
    with np.errstate(all="ignore"):
        stat = np.nanmean(flat, axis=0) if how == "mean" else np.nanmedian(flat, axis=0)
    stat = np.where(np.isnan(stat), 0.0, stat)
    for p in parts:
        if p is not None and len(p):
            f = p.x.reshape(len(p), -1)
            rows, cols = np.nonzero(np.isnan(f))
            f[rows, cols] = stat[cols]


def _scale(parts: list[ArrayData | None], kind: str) -> dict[str, Any]:
    train = parts[0]
    assert train is not None
    flat = train.x.reshape(len(train), -1).astype(np.float64)
    if kind == "minmax":
        lo, hi = flat.min(axis=0), flat.max(axis=0)
        shift, scale = lo, np.where(hi - lo > 0, hi - lo, 1.0)
    else:
        shift, std = flat.mean(axis=0), flat.std(axis=0)
        scale = np.where(std > 0, std, 1.0)
    for p in parts:
        if p is not None and len(p):
            f = (p.x.reshape(len(p), -1) - shift) / scale
            p.x = f.astype(np.float32).reshape(p.x.shape)
    return {"kind": kind, "shift": shift.tolist(), "scale": scale.tolist()}


def apply_scaler(x: np.ndarray, scaler: dict[str, Any]) -> np.ndarray:
    if not scaler or scaler.get("kind") in (None, "none"):
        return x
    f = (x.reshape(len(x), -1) - np.asarray(scaler["shift"])) / np.asarray(scaler["scale"])
    return f.astype(np.float32).reshape(x.shape)


def prepare(data: Data, cfg: DataConfig, seed: int = 0) -> Splits:
    if len(data) == 0:
        raise DataError(f"{data.source}: the dataset has no rows")
    if isinstance(data, ArrayData):
        data = _missing(data, cfg)
        data.x = data.x.copy()
    y = data.y if data.task in ("multiclass", "binary") else None
    tr, va, te = split_indices(len(data), y, cfg, data.ordered)
    parts: list[Any] = [data.subset(tr), data.subset(va) if len(va) else None, data.subset(te) if len(te) else None]
    scaler: dict[str, Any] = {"kind": "none"}
    if isinstance(data, ArrayData):
        if cfg.missing in ("mean", "median"):
            _impute(parts, cfg.missing)
        kind = data.recommended_scaling if cfg.scaling == "auto" else cfg.scaling
        if kind != "none" and np.issubdtype(data.x.dtype, np.floating):
            scaler = _scale(parts, kind)
    weights = None
    if y is not None and cfg.imbalance != "none":
        train = parts[0]
        n_classes = data.n_classes or int(train.y.max()) + 1
        counts = np.bincount(train.y, minlength=n_classes)
        if cfg.imbalance == "downsample":
            rng = np.random.default_rng(seed)
            m = int(counts[counts > 0].min())
            keep = np.sort(
                np.concatenate(
                    [
                        rng.choice(np.flatnonzero(train.y == k), m, replace=False)
                        for k in range(n_classes)
                        if counts[k] > 0
                    ]
                )
            )
            parts[0] = train.subset(keep)
        else:
            from sklearn.utils.class_weight import compute_class_weight

            present = np.flatnonzero(counts)
            w = np.ones(n_classes)
            w[present] = compute_class_weight("balanced", classes=present, y=train.y)
            weights = w.astype(np.float32)
    return Splits(parts[0], parts[1], parts[2], weights, scaler)
