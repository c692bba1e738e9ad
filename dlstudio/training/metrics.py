"""Evaluation metrics: accuracy, precision/recall/F1 (macro and per class), AUC-ROC (binary and one-vs-rest),
confusion matrix, ROC curve; MSE, MAE, R2 for regression. Single-label classes are scored in NumPy (checked
against sklearn.metrics by the tests); binary, multi-label and regression scores go through sklearn, imported
only then (its import costs seconds, a large part of a small training run)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np


def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Confusion matrix (rows: true, columns: predicted) for integer labels in [0, num_classes)."""
    flat = np.asarray(y_true, dtype=np.int64) * num_classes + np.asarray(y_pred, dtype=np.int64)
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def per_class_scores(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and F1 per class from a confusion matrix, 0 where undefined (sklearn's
    zero_division=0); tests check them against sklearn.metrics.precision_recall_fscore_support."""
    tp = np.diag(cm).astype(np.float64)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return precision, recall, f1


def roc_auc(positive: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve of one class against the rest: the Mann-Whitney statistic with average ranks
    for ties, which equals sklearn's trapezoidal roc_auc_score."""
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2.0)[inverse]  # 1-based average ranks
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def roc_curve_points(positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates at every distinct score threshold, from (0, 0) up: the points of
    sklearn.metrics.roc_curve(drop_intermediate=False), in NumPy (the results views draw it without sklearn)."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="mergesort")
    s = np.asarray(scores, dtype=np.float64)[order]
    hits = np.asarray(positive, dtype=np.int64)[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # the last index of each run of equal scores
    tps = np.cumsum(hits)[last]
    fps = (last + 1) - tps
    tpr = np.r_[0.0, tps] / max(int(tps[-1]), 1)
    fpr = np.r_[0.0, fps] / max(int(fps[-1]), 1)
    return fpr, tpr


def _per_class_table(
    class_names: list[str] | None, precision: np.ndarray, recall: np.ndarray, f1: np.ndarray, support: np.ndarray
) -> dict[str, dict[str, float | int]]:
    """The report's per-class rows, keyed by class name (the index where a name is missing)."""
    names = class_names or []
    return {
        names[i] if i < len(names) else str(i): {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i in range(len(precision))
    }


def _multiclass_metrics(y: np.ndarray, scores: np.ndarray, full: bool, class_names: list[str] | None) -> dict:
    n_classes = scores.shape[1]
    pred = scores.argmax(axis=1)
    out: dict[str, Any] = {"accuracy": float(np.mean(y == pred))}
    present = np.unique(y)
    if full and len(present) == n_classes and n_classes > 1:
        p = scores / np.clip(scores.sum(axis=1, keepdims=True), 1e-12, None)
        if n_classes == 2:  # two classes: the positive class's score, and its ROC curve (sklearn)
            from sklearn import metrics as skm

            out["auc_roc"] = roc_auc(y == 1, p[:, 1])
            fpr, tpr, _ = skm.roc_curve(y, p[:, 1])
            out["roc_curve"] = {"fpr": fpr.tolist(), "tpr": tpr.tolist()}
        else:  # one-vs-rest, macro average (sklearn's multi_class="ovr")
            out["auc_roc"] = float(np.mean([roc_auc(y == c, p[:, c]) for c in range(n_classes)]))
    cm = confusion_counts(y, pred, n_classes)
    pc, rc, fc = per_class_scores(cm)
    out.update(precision_macro=float(pc.mean()), recall_macro=float(rc.mean()), f1_macro=float(fc.mean()))
    if full:
        out["per_class"] = _per_class_table(class_names, pc, rc, fc, cm.sum(axis=1))
        out["confusion_matrix"] = cm.tolist()
    return out


def classification_metrics(
    y_true: np.ndarray, scores: np.ndarray, *, binary: bool, full: bool = False, class_names: list[str] | None = None
) -> dict[str, Any]:
    """`scores`: (N, C) class probabilities, or (N,)/(N, 1) positive-class probabilities when binary (or
    (N, L) for multi-label, scored per label and averaged)."""
    y_true = np.asarray(y_true)
    scores = np.asarray(scores, dtype=np.float64)
    if not binary:
        return _multiclass_metrics(y_true.reshape(-1).astype(int), scores, full, class_names)
    import sklearn
    from sklearn import metrics as skm
    from sklearn.exceptions import UndefinedMetricWarning

    out: dict[str, Any] = {}
    # our arrays are already checked: skipping sklearn's input validation saves most of its per-call cost
    with warnings.catch_warnings(), sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        s = scores.reshape(len(scores), -1)
        y = y_true.reshape(len(y_true), -1).astype(int)
        pred = (s >= 0.5).astype(int)
        if s.shape[1] > 1:  # multi-label: per-label means
            out["accuracy"] = float(np.mean(pred == y))
            out["f1_macro"] = float(skm.f1_score(y, pred, average="macro", zero_division=0))
            return out
        y, pred, s = y[:, 0], pred[:, 0], s[:, 0]
        labels = [0, 1]
        out["accuracy"] = float(np.mean(y == pred))
        both = len(np.unique(y)) == 2
        if both:
            out["auc_roc"] = float(skm.roc_auc_score(y, s))
        # one sklearn call gives every class; the macro average is their plain mean (as average="macro")
        pc, rc, fc, support = skm.precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
        out.update(precision_macro=float(pc.mean()), recall_macro=float(rc.mean()), f1_macro=float(fc.mean()))
        if full:
            out["per_class"] = _per_class_table(class_names, pc, rc, fc, support)
            out["confusion_matrix"] = skm.confusion_matrix(y, pred, labels=labels).tolist()
            if both:
                fpr, tpr, _ = skm.roc_curve(y, s)
                out["roc_curve"] = {"fpr": fpr.tolist(), "tpr": tpr.tolist()}
    return out


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    from sklearn import metrics as skm

    y = np.asarray(y_true, dtype=np.float64).reshape(len(y_true), -1)
    p = np.asarray(y_pred, dtype=np.float64).reshape(len(y_pred), -1)
    return {
        "mse": float(skm.mean_squared_error(y, p)),
        "mae": float(skm.mean_absolute_error(y, p)),
        "r2": float(skm.r2_score(y, p)) if len(y) > 1 else float("nan"),
    }


def overfitting_warning(history: list[dict[str, float]], window: int = 3) -> str | None:
    """Warn when validation loss has risen for `window` epochs while training loss fell."""
    if len(history) <= window or "val_loss" not in history[-1]:
        return None
    recent = history[-window - 1 :]
    val = [h["val_loss"] for h in recent]
    train = [h["loss"] for h in recent]
    if all(b > a for a, b in zip(val, val[1:])) and train[-1] < train[0]:
        return (
            f"validation loss rose for {window} epochs while training loss fell: the model is starting to "
            "overfit (try early stopping, dropout, weight decay or more data)"
        )
    return None
