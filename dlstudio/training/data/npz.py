"""NumPy files: .npz with feature and target arrays by key, or one .npy whose last column is the target.
Loaded with allow_pickle=False: object arrays are refused, never unpickled."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...core.errors import DataError
from .dataset import ArrayData


def read_numpy(path: Path, *, x_key: str = "x", y_key: str = "y", task: str | None = None) -> ArrayData:
    path = Path(path)
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read the NumPy file ({exc}); object arrays are not supported") from None
    if isinstance(loaded, np.ndarray):
        if loaded.ndim != 2 or loaded.shape[1] < 2:
            raise DataError(
                f"{path}: a .npy file must be a 2-D table whose last column is the target; got shape "
                f"{loaded.shape}. Use a .npz with arrays {x_key!r} and {y_key!r} for other shapes"
            )
        x, y = loaded[:, :-1], loaded[:, -1]
    else:
        with loaded:
            for key in (x_key, y_key):
                if key not in loaded.files:
                    raise DataError(
                        f"{path}: no array {key!r}; the file has {', '.join(loaded.files) or 'none'} "
                        "(set data.x_key / data.y_key)"
                    )
            try:
                x, y = loaded[x_key], loaded[y_key]
            except ValueError as exc:  # object arrays: numpy refuses to unpickle them
                raise DataError(
                    f"{path}: cannot read arrays {x_key!r}/{y_key!r} ({exc}); save plain numeric arrays"
                ) from None
    if len(x) == 0:
        raise DataError(f"{path}: the arrays are empty")
    if len(x) != len(y):
        raise DataError(f"{path}: {len(x)} feature rows but {len(y)} targets")
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
        raise DataError(f"{path}: features have dtype {x.dtype}; they must be numbers")
    # integers stay int64 (token ids for an Embedding); the binding casts to the Input node's dtype
    x = x.astype(np.int64) if np.issubdtype(x.dtype, np.integer) else x.astype(np.float32)
    if task is None:
        task = "multiclass" if np.issubdtype(y.dtype, np.integer) and y.ndim == 1 else "regression"
    if task in ("multiclass", "binary"):
        if not np.all(np.asarray(y) == np.round(y)):
            raise DataError(f"{path}: the {task} task needs integer class labels in {y_key!r}")
        y = y.astype(np.int64).reshape(-1)
        if y.min() < 0:
            row = int(np.argmin(y))
            raise DataError(f"{path}: label {int(y[row])} at row {row} is negative; labels must be 0, 1, 2, ...")
        names = [str(i) for i in range(int(y.max()) + 1)]
    else:
        y = y.astype(np.float32).reshape(len(y), -1)
        names = None
    return ArrayData(x, y, task, path.stem, names, source=str(path))
