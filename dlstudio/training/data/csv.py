"""CSV tables: feature and target columns by name, header detection, one-hot categorical columns, string class
labels. Errors name the file, the line and the column."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from ...core.errors import DataError
from .dataset import ArrayData

_MISSING = {"", "na", "nan", "null", "none", "?"}


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def read_csv(
    path: Path,
    *,
    features: list[str] | None,
    target: str | None,
    categorical: list[str],
    header: str = "auto",
    task: str | None = None,
) -> ArrayData:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise DataError(f"{path}: cannot read the CSV file ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a UTF-8 text file; save the CSV as UTF-8") from None
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = [(i + 1, r) for i, r in enumerate(csv.reader(text.splitlines(), dialect)) if any(c.strip() for c in r)]
    if not rows:
        raise DataError(f"{path}: the file is empty; it needs a header line and at least one data row")
    first = rows[0][1]
    has_header = header == "yes" or (
        header == "auto" and not all(_is_number(c) or c.strip().lower() in _MISSING for c in first)
    )
    if has_header:
        names = [c.strip() for c in first]
        data_rows = rows[1:]
    else:
        names = [f"column{i + 1}" for i in range(len(first))]
        data_rows = rows
    if not data_rows:
        raise DataError(f"{path}: the file has a header but no data rows")
    index = {n: i for i, n in enumerate(names)}
    if target is None:
        target = names[-1]
    wanted = list(features) if features is not None else [n for n in names if n != target]
    for col in [*wanted, target, *categorical]:
        if col not in index:
            raise DataError(
                f"{path}: no column {col!r}; the columns are {', '.join(names)} "
                "(fix data.features / data.target / data.categorical)"
            )
    for line, r in data_rows:
        if len(r) != len(names):
            raise DataError(f"{path} line {line}: {len(r)} cells but the header has {len(names)} columns")

    blocks: list[np.ndarray] = []
    for col in wanted:
        ci = index[col]
        cells = [(line, r[ci].strip()) for line, r in data_rows]
        if col in categorical:
            cats = sorted({c for _, c in cells})
            onehot = np.zeros((len(cells), len(cats)), dtype=np.float32)
            for k, (_, c) in enumerate(cells):
                onehot[k, cats.index(c)] = 1.0
            blocks.append(onehot)
            continue
        values = np.empty(len(cells), dtype=np.float32)
        for k, (line, c) in enumerate(cells):
            if c.lower() in _MISSING:
                values[k] = math.nan
                continue
            try:
                values[k] = float(c)
            except ValueError:
                raise DataError(
                    f"{path} line {line}, column {col!r}: {c!r} is not a number; fix the cell or list "
                    f"the column in data.categorical to one-hot encode it"
                ) from None
        blocks.append(values[:, None])
    x = np.concatenate(blocks, axis=1) if blocks else np.zeros((len(data_rows), 0), np.float32)

    ti = index[target]
    tcells = [(line, r[ti].strip()) for line, r in data_rows]
    for line, c in tcells:
        if c.lower() in _MISSING:
            raise DataError(f"{path} line {line}, column {target!r}: the target is missing; drop the row or fill it")
    numeric = all(_is_number(c) for _, c in tcells)
    if task is None:
        if not numeric:
            task = "multiclass"
        else:
            vals = {float(c) for _, c in tcells}
            task = "multiclass" if all(v.is_integer() for v in vals) and len(vals) <= 20 else "regression"
    class_names: list[str] | None = None
    if task in ("multiclass", "binary"):
        if numeric and all(float(c).is_integer() for _, c in tcells):
            y = np.array([int(float(c)) for _, c in tcells], dtype=np.int64)
            for (line, _), v in zip(tcells, y):
                if v < 0:
                    raise DataError(
                        f"{path} line {line}, column {target!r}: class label {v} is negative; "
                        "labels must be 0, 1, 2, ..."
                    )
            class_names = [str(i) for i in range(int(y.max()) + 1)]
        else:
            class_names = sorted({c for _, c in tcells})
            y = np.array([class_names.index(c) for _, c in tcells], dtype=np.int64)
    else:
        for line, c in tcells:
            if not _is_number(c):
                raise DataError(f"{path} line {line}, column {target!r}: {c!r} is not a number but the task is {task}")
        y = np.array([float(c) for _, c in tcells], dtype=np.float32).reshape(-1, 1)
    return ArrayData(x, y, task, path.stem, class_names, source=str(path), recommended_scaling="standard")
