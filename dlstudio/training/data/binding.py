"""Binding data to the graph: which Input node the features feed, which Output the target is compared with, and
every misfit as an error before training, pinned to the node ("Input 'image' expects (1, 28, 28); the dataset
gives (64,): pick digits 28x28 or insert Reshape")."""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...analysis.shapes import infer_all
from ...core.errors import BindingError, DataError, TrainingConfigError
from ...core.graph import ModelGraph, Node
from ..config import DataConfig, TrainingConfig
from ..loss_table import LOSSES, check_loss_for_task
from .builtin import BUILTINS, load_builtin, variants_with_shape
from .dataset import ArrayData, FolderData


def _fmt(shape: tuple[int, ...] | list[int]) -> str:
    s = tuple(int(d) for d in shape)
    return f"({s[0]},)" if len(s) == 1 else str(s)


@dataclass
class Binding:
    input_node: Node
    output_node: Node
    output_index: int  # position in the compiled module's output tuple
    n_outputs: int
    input_dtype: str
    task: str
    loss: str
    n_classes: int | None
    output_features: tuple[int, ...]


def pick_input(graph: ModelGraph, label: str | None) -> Node:
    inputs = graph.nodes_of_type("Input")
    if not inputs:
        raise BindingError("The graph has no Input node: add one with the shape of one sample")
    if label is not None:
        for n in inputs:
            if n.label == label:
                return n
        raise BindingError(
            f"data.input names Input {label!r} but the graph's inputs are {', '.join(repr(n.label) for n in inputs)}"
        )
    if len(inputs) > 1:
        raise BindingError(
            f"The graph has {len(inputs)} Input nodes ({', '.join(repr(n.label) for n in inputs)}) "
            "and the dataset gives one feature tensor; set data.input to the one it feeds",
            inputs[0].id,
        )
    return inputs[0]


def pick_output(graph: ModelGraph, label: str | None) -> tuple[Node, int, int]:
    outputs = graph.nodes_of_type("Output")
    if not outputs:
        raise BindingError("The graph has no Output node: add one after the last layer")
    for i, n in enumerate(outputs):
        if label is None or n.label == label:
            return n, i, len(outputs)
    raise BindingError(
        f"data.output names Output {label!r} but the graph's outputs are {', '.join(repr(n.label) for n in outputs)}"
    )


def refuse_special_file(path: Path) -> None:
    """A data path must be a regular file or a folder: reading a FIFO (named pipe) or a device would block or
    never end. stat() does not open the path, so this check itself never blocks."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return  # missing: the reader says so with its own message
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        kind = "a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
        raise DataError(f"{path}: {kind}, not a regular file or folder; point data.path at a file or a folder")


def load_data(cfg: DataConfig, graph: ModelGraph, base_dir: Path | None = None) -> ArrayData | FolderData:
    """Read the configured dataset. Image folders are sized from the bound Input node."""
    if cfg.dataset in BUILTINS:
        return load_builtin(cfg.dataset, cfg.options)
    path = Path(cfg.path or "")
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    refuse_special_file(path)
    if cfg.dataset == "csv":
        from .csv import read_csv

        return read_csv(
            path,
            features=cfg.features,
            target=cfg.target,
            categorical=list(cfg.categorical),
            header=cfg.header,
            task=cfg.task,
        )
    if cfg.dataset in ("npz", "npy"):
        from .npz import read_numpy

        return read_numpy(path, x_key=cfg.x_key, y_key=cfg.y_key, task=cfg.task)
    from .imagefolder import scan_folder

    node = pick_input(graph, cfg.input)
    shape = tuple(int(d) for d in node.params.get("shape", (1, 28, 28)))
    if len(shape) != 3:
        raise BindingError(
            f"Input '{node.label}' has shape {_fmt(shape)}; images need (channels, height, width), e.g. (3, 32, 32)",
            node.id,
        )
    size = tuple(cfg.image_size) if cfg.image_size else shape[1:]
    channels = (1 if cfg.grayscale else 3) if cfg.grayscale is not None else shape[0]
    return scan_folder(path, (int(size[0]), int(size[1])), channels)


def bind(graph: ModelGraph, data: ArrayData | FolderData, dcfg: DataConfig, tcfg: TrainingConfig) -> Binding:
    inp = pick_input(graph, dcfg.input)
    out, out_index, n_out = pick_output(graph, dcfg.output)
    want = tuple(int(d) for d in inp.params.get("shape", ()))
    got = data.sample_shape
    if want != got:
        variants = [v for v in variants_with_shape(want) if v.split("_")[0] == data.name.split("_")[0]]
        if variants:
            hint = f"pick {variants[0].replace('_', ' ')} or insert Reshape"
        elif int(np.prod(want)) == int(np.prod(got)):
            hint = f"insert Reshape after '{inp.label}' or set its shape to {_fmt(got)}"
        else:
            hint = f"set the Input shape to {_fmt(got)}"
        raise BindingError(f"Input '{inp.label}' expects {_fmt(want)}; the dataset gives {_fmt(got)}: {hint}", inp.id)
    in_dtype = str(inp.params.get("dtype", "float32"))
    if in_dtype == "int64" and isinstance(data, ArrayData) and not np.issubdtype(data.x.dtype, np.integer):
        raise BindingError(
            f"Input '{inp.label}' takes int64 ids (for an Embedding) but the dataset gives "
            f"{data.x.dtype} values: set the Input dtype to float32",
            inp.id,
        )
    task = tcfg.task or data.task
    loss = tcfg.resolved_loss(task)
    if loss in LOSSES and LOSSES[loss].kind == "binary" and task == "multiclass" and (data.n_classes or 0) <= 2:
        task = "binary"  # two classes with a sigmoid-style loss: the binary formulation
    check_loss_for_task(loss, task)
    shapes = infer_all(graph)
    if shapes.errors:
        nid, err = next(iter(shapes.errors.items()))
        node = graph.node(nid)
        raise BindingError(f"{node.type} '{node.label}': {err}", nid)
    src = shapes.inputs.get(out.id, [None])[0]
    if src is None:
        raise BindingError(f"Output '{out.label}' has nothing connected", out.id)
    feats = tuple(int(d) for d in src.features)
    units = int(np.prod(feats)) if feats else 1
    kind = LOSSES[loss].kind
    n_classes = data.n_classes
    if kind == "classification":
        if (
            n_classes is not None
            and units != n_classes
            and (data.name in BUILTINS or data.class_names and not data.class_names[0].isdigit())
        ):
            raise BindingError(
                f"Output '{out.label}' gives {units} values per sample but the dataset has "
                f"{n_classes} classes: set the last Linear's out_features to {n_classes}",
                out.id,
            )
        labels = data.y
        if len(labels) and int(labels.max()) >= units:
            row = int(np.argmax(labels >= units))
            raise BindingError(
                f"label {int(labels[row])} (row {row + 1} of {data.source}) is out of range for "
                f"Output '{out.label}' with {units} units (classes 0..{units - 1}): give the last "
                f"layer {int(labels.max()) + 1} outputs or fix the labels",
                out.id,
            )
        n_classes = max(units, n_classes or 0)
    elif kind == "binary" and data.task in ("multiclass", "binary"):
        if units != 1:
            raise BindingError(
                f"Output '{out.label}' gives {units} values per sample but {loss} needs 1 unit "
                f"for a binary task: set the last Linear's out_features to 1, or use "
                f"CrossEntropyLoss with {units} classes",
                out.id,
            )
        if len(data.y) and (data.y.min() < 0 or data.y.max() > 1):
            row = int(np.argmax((data.y < 0) | (data.y > 1)))
            raise BindingError(
                f"label {int(data.y[row])} (row {row + 1} of {data.source}) is out of range for a "
                f"binary task: labels must be 0 or 1 (or use CrossEntropyLoss)",
                out.id,
            )
        n_classes = 2
    elif kind == "regression":
        tgt = int(np.prod(data.y.shape[1:])) if data.y.ndim > 1 else 1
        if data.task in ("multiclass", "binary"):
            tgt = 1
        if tgt != units:
            raise BindingError(
                f"Output '{out.label}' gives {units} values per sample but the target has {tgt}: "
                f"set the last Linear's out_features to {tgt}",
                out.id,
            )
    return Binding(inp, out, out_index, n_out, in_dtype, task, loss, n_classes, feats)


@dataclass
class TaskInfo:
    """What the lints (dlstudio.analysis.lints) need to judge the head: no data is trained on."""

    task: str | None
    loss: str | None
    loss_head: str | None  # logits, probs, log_probs, margin, value
    n_classes: int | None
    expected_units: int | None  # what the bound Output should give per sample
    output_label: str | None


def task_info(
    data: dict[str, Any] | None,
    training: dict[str, Any] | None,
    graph: ModelGraph | None = None,
    base_dir: Path | None = None,
    *,
    read_files: bool = True,
) -> TaskInfo:
    """Task, loss and class count from a project's `data` and `training` sections. Never raises: unknown
    parts come back as None (the lints then skip that check). Built-in datasets answer from their metadata;
    the user's files are read only with `read_files` (and a `graph`)."""
    try:
        dcfg = DataConfig.from_dict(data)
        tcfg = TrainingConfig.from_dict(training)
    except (TrainingConfigError, TypeError):
        return TaskInfo(None, None, None, None, None, None)
    n_classes: int | None = None
    task = tcfg.task or dcfg.task
    if dcfg.dataset in BUILTINS:
        b = BUILTINS[dcfg.dataset]
        task = task or b.task
        n_classes = b.n_classes(dcfg.options)
    elif graph is not None and read_files:
        try:
            d = load_data(dcfg, graph, base_dir)
            task, n_classes = task or d.task, d.n_classes
        except (DataError, BindingError):
            pass
    loss = tcfg.resolved_loss(task) if task else tcfg.loss
    info = LOSSES.get(loss) if loss else None
    expected = None
    if info is not None and info.kind == "classification":
        expected = n_classes
    elif info is not None and info.kind == "binary" and task in ("binary", "multiclass"):
        expected = 1
    out_label = None
    if graph is not None:
        try:
            out_label = pick_output(graph, dcfg.output)[0].label
        except BindingError:
            pass
    return TaskInfo(task, loss, info.head if info else None, n_classes, expected, out_label)
