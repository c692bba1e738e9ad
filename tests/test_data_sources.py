"""Data pipeline: built-in datasets, CSV/NumPy/image-folder readers, preparation, binding errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dlstudio.api import Graph
from dlstudio.core.errors import BindingError, DataError, TrainingConfigError
from dlstudio.training.config import DataConfig, TrainingConfig
from dlstudio.training.data import BUILTINS, bind, load_builtin, load_data, prepare
from dlstudio.training.data.csv import read_csv
from dlstudio.training.data.npz import read_numpy
from dlstudio.training.quick import mlp_graph

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_builtin_datasets_match_their_declaration(name: str) -> None:
    info = BUILTINS[name]
    d = load_builtin(name)
    assert d.sample_shape == info.shape
    assert str(d.x.dtype) == info.dtype
    assert len(d) > 100
    assert np.isfinite(d.x.astype(np.float64)).all()
    if info.task == "multiclass":
        assert d.y.dtype == np.int64 and d.y.ndim == 1
        assert set(np.unique(d.y)) == set(range(len(info.class_names)))
    else:
        assert d.y.dtype == np.float32 and d.y.shape == (len(d), 1)


def test_builtin_generators_are_seeded() -> None:
    a, b = load_builtin("spirals"), load_builtin("spirals")
    np.testing.assert_array_equal(a.x, b.x)
    c = load_builtin("spirals", {"seed": 1})
    assert not np.array_equal(a.x, c.x)
    assert len(load_builtin("circles", {"n_samples": 200})) == 200


def test_digits_28x28_is_the_8x8_image_upscaled() -> None:
    small, big = load_builtin("digits_8x8"), load_builtin("digits_28x28")
    assert big.x.shape == (1797, 1, 28, 28)
    np.testing.assert_array_equal(small.y, big.y)
    # the bright and dark regions stay where they were
    corr = np.corrcoef(small.x[:50].reshape(50, -1)[:, 27], big.x[:50, 0, 12, 12])[0, 1]
    assert corr > 0.8


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_header_categorical_and_string_labels(tmp_path: Path) -> None:
    p = _write(tmp_path / "pets.csv", "weight,colour,kind\n3.5,red,cat\n20,blue,dog\n4.0,blue,cat\n")
    d = read_csv(p, features=None, target="kind", categorical=["colour"])
    assert d.task == "multiclass" and d.class_names == ["cat", "dog"]
    assert d.y.tolist() == [0, 1, 0]
    # weight, then one-hot colour (blue, red)
    np.testing.assert_allclose(d.x, [[3.5, 0, 1], [20, 1, 0], [4.0, 1, 0]])


def test_csv_without_header_and_regression_target(tmp_path: Path) -> None:
    p = _write(tmp_path / "t.csv", "1.0,2.0,0.5\n2.0,3.0,0.25\n3.0,1.0,0.125\n")
    d = read_csv(p, features=None, target=None, categorical=[])
    assert d.task == "regression" and d.x.shape == (3, 2)
    np.testing.assert_allclose(d.y[:, 0], [0.5, 0.25, 0.125])


def test_csv_missing_column_names_the_columns(tmp_path: Path) -> None:
    p = _write(tmp_path / "t.csv", "a,b,label\n1,2,0\n")
    with pytest.raises(DataError, match=r"no column 'petal'.*a, b, label"):
        read_csv(p, features=["a", "petal"], target="label", categorical=[])


def test_csv_non_numeric_cell_names_file_line_and_column(tmp_path: Path) -> None:
    p = _write(tmp_path / "bad.csv", "a,b,label\n1,2,0\n3,oops,1\n")
    with pytest.raises(DataError) as err:
        read_csv(p, features=None, target="label", categorical=[])
    msg = str(err.value)
    assert "bad.csv line 3" in msg and "column 'b'" in msg and "'oops'" in msg and "categorical" in msg


def test_csv_empty_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="empty"):
        read_csv(_write(tmp_path / "e.csv", ""), features=None, target=None, categorical=[])
    with pytest.raises(DataError, match="no data rows"):
        read_csv(_write(tmp_path / "h.csv", "a,b\n"), features=None, target=None, categorical=[])


def test_missing_values_drop_mean_median_and_error(tmp_path: Path) -> None:
    rows = "a,b,y\n" + "".join(f"{i},{'' if i == 3 else i * 2},{i % 2}\n" for i in range(20))
    p = _write(tmp_path / "m.csv", rows)
    d = read_csv(p, features=None, target="y", categorical=[])
    with pytest.raises(DataError, match="missing values.*data.missing"):
        prepare(d, DataConfig(dataset="csv", path=str(p), scaling="none"))
    dropped = prepare(
        read_csv(p, features=None, target="y", categorical=[]),
        DataConfig(dataset="csv", path=str(p), val_fraction=0, scaling="none", missing="drop"),
    )
    assert len(dropped.train) == 19
    filled = prepare(
        read_csv(p, features=None, target="y", categorical=[]),
        DataConfig(dataset="csv", path=str(p), val_fraction=0, scaling="none", missing="median"),
    )
    assert not np.isnan(filled.train.x).any()
    row = filled.train.x[filled.train.x[:, 0] == 3][0]
    assert row[1] == np.median([i * 2 for i in range(20) if i != 3])


def test_split_stratified_and_time_ordered() -> None:
    d = load_builtin("iris")
    s = prepare(d, DataConfig(dataset="iris", split="stratified", val_fraction=0.2, test_fraction=0.2))
    assert (len(s.train), len(s.val), len(s.test)) == (90, 30, 30)
    assert np.bincount(s.val.y).tolist() == [10, 10, 10]
    ts = prepare(load_builtin("sine_series"), DataConfig(dataset="sine_series", val_fraction=0.2))
    # time order: validation windows come after every training window
    assert ts.train.x.shape[0] == 800
    np.testing.assert_array_equal(ts.val.x[0, :-1, 0] * 0 + ts.val.x[0, :-1, 0], ts.val.x[0, :-1, 0])
    full = load_builtin("sine_series")
    np.testing.assert_allclose(ts.val.x, full.x[800:])


def test_scaling_is_fitted_on_the_training_split_only() -> None:
    d = load_builtin("wine")
    s = prepare(d, DataConfig(dataset="wine", scaling="standard", val_fraction=0.3))
    np.testing.assert_allclose(s.train.x.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(s.train.x.std(0), 1, atol=1e-4)
    assert np.abs(s.val.x.mean(0)).max() > 1e-3  # val is transformed with the train statistics
    m = prepare(load_builtin("wine"), DataConfig(dataset="wine", scaling="minmax", val_fraction=0.3))
    assert m.train.x.min() == pytest.approx(0) and m.train.x.max() == pytest.approx(1)


def test_imbalance_downsample_and_class_weights() -> None:
    d = load_builtin("iris")
    keep = np.concatenate([np.arange(0, 50), np.arange(50, 60), np.arange(100, 150)])
    small = d.subset(keep)
    down = prepare(small, DataConfig(dataset="iris", imbalance="downsample", val_fraction=0))
    counts = np.bincount(down.train.y)
    assert counts.tolist() == [10, 10, 10]
    w = prepare(small, DataConfig(dataset="iris", imbalance="class_weights", val_fraction=0)).class_weights
    assert w is not None and w[1] > w[0] * 4


def test_npz_and_npy(tmp_path: Path) -> None:
    x = np.random.default_rng(0).normal(size=(30, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    np.savez(tmp_path / "d.npz", features=x, labels=y)
    d = read_numpy(tmp_path / "d.npz", x_key="features", y_key="labels")
    assert d.task == "multiclass" and d.x.shape == (30, 3) and d.class_names == ["0", "1"]
    with pytest.raises(DataError, match="no array 'x'.*features, labels"):
        read_numpy(tmp_path / "d.npz")
    np.save(tmp_path / "t.npy", np.hstack([x, x[:, :1] * 2]))
    r = read_numpy(tmp_path / "t.npy", task="regression")
    assert r.x.shape == (30, 3) and r.y.shape == (30, 1)


def test_npz_object_arrays_are_refused(tmp_path: Path) -> None:
    np.savez(tmp_path / "o.npz", x=np.array([{"a": 1}], dtype=object), y=np.array([0]))
    with pytest.raises(DataError):
        read_numpy(tmp_path / "o.npz")


def test_label_out_of_range_is_pinned_to_the_output(tmp_path: Path) -> None:
    x = np.zeros((20, 4), np.float32)
    y = np.arange(20) % 7
    np.savez(tmp_path / "d.npz", x=x, y=y)
    g = mlp_graph((4,), (8,), 5)
    dcfg = DataConfig(dataset="npz", path=str(tmp_path / "d.npz"))
    data = load_data(dcfg, g)
    with pytest.raises(BindingError) as err:
        bind(g, data, dcfg, TrainingConfig())
    assert "label 5" in str(err.value) and "Output 'y'" in str(err.value) and "5 units" in str(err.value)
    assert err.value.node_id == g.find("y").id


def test_shape_mismatch_is_pinned_to_the_input_node() -> None:
    g = Graph()
    x = g.input("image", (1, 28, 28))
    h = g.add("Flatten", x)
    g.output("logits", g.add("Linear", h, out_features=10))
    dcfg = DataConfig(dataset="digits")
    with pytest.raises(BindingError) as err:
        bind(g, load_data(dcfg, g), dcfg, TrainingConfig())
    assert str(err.value) == (
        "Input 'image' expects (1, 28, 28); the dataset gives (64,): pick digits 28x28 or insert Reshape"
    )
    assert err.value.node_id == g.find("image").id


def test_wrong_number_of_output_units() -> None:
    g = mlp_graph((64,), (8,), 5)
    dcfg = DataConfig(dataset="digits")
    with pytest.raises(BindingError, match="gives 5 values per sample but the dataset has 10 classes"):
        bind(g, load_data(dcfg, g), dcfg, TrainingConfig())
    g2 = mlp_graph((2,), (8,), 2)
    dcfg2 = DataConfig(dataset="circles")
    with pytest.raises(BindingError, match="BCEWithLogitsLoss needs 1 unit"):
        bind(g2, load_data(dcfg2, g2), dcfg2, TrainingConfig(loss="BCEWithLogitsLoss"))


def test_unknown_loss_is_a_config_error() -> None:
    with pytest.raises(TrainingConfigError) as err:
        TrainingConfig.from_dict({"loss": "CrossEntropy"})
    assert err.value.field == "training.loss" and "CrossEntropyLoss" in str(err.value)


def _png(path: Path, value: int, size: int = 12) -> None:
    from PIL import Image

    Image.fromarray(np.full((size, size + 4, 3), value, dtype=np.uint8)).save(path)


def test_image_folder_reads_resizes_and_labels(tmp_path: Path) -> None:
    for k, name in enumerate(["cats", "dogs"]):
        (tmp_path / name).mkdir()
        for i in range(3):
            _png(tmp_path / name / f"{i}.png", 40 + 150 * k)
    g = Graph()
    x = g.input("image", (1, 8, 8))
    g.output("y", g.add("Linear", g.add("Flatten", x), out_features=2))
    data = load_data(DataConfig(dataset="imagefolder", path=str(tmp_path)), g)
    assert data.class_names == ["cats", "dogs"] and data.sample_shape == (1, 8, 8)
    from dlstudio.training.data.imagefolder import load_all

    xs, ys = load_all(data)
    assert xs.shape == (6, 1, 8, 8) and ys.tolist() == [0, 0, 0, 1, 1, 1]
    assert xs[0].mean() == pytest.approx(40 / 255, abs=0.01) and xs[-1].mean() == pytest.approx(190 / 255, abs=0.01)


def test_image_folder_without_images(tmp_path: Path) -> None:
    (tmp_path / "cats").mkdir()
    (tmp_path / "cats" / "notes.txt").write_text("not an image")
    g = Graph()
    g.output("y", g.add("Linear", g.add("Flatten", g.input("image", (3, 8, 8))), out_features=2))
    with pytest.raises(DataError, match="contain no images"):
        load_data(DataConfig(dataset="imagefolder", path=str(tmp_path)), g)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no class subfolders"):
        load_data(DataConfig(dataset="imagefolder", path=str(empty)), g)


def test_augmentation_changes_images_but_keeps_shape() -> None:
    import torch

    from dlstudio.training.config import Augment
    from dlstudio.training.data.transforms import augment_batch

    torch.manual_seed(0)
    x = torch.rand(8, 1, 10, 10)
    same = augment_batch(x, Augment())
    assert same is x
    flipped = augment_batch(x, Augment(flip=True))
    rows = [bool(torch.equal(flipped[i], x[i].flip(-1))) or bool(torch.equal(flipped[i], x[i])) for i in range(8)]
    assert all(rows) and not torch.equal(flipped, x)
    moved = augment_batch(x, Augment(rotation=20, shift=2, noise=0.05))
    assert moved.shape == x.shape and not torch.allclose(moved, x)


@pytest.mark.slow
def test_image_folder_trains_through_a_dataloader(tmp_path: Path) -> None:
    from dlstudio.training.events import EpochEnd, Finished
    from dlstudio.training.loop import Trainer

    for k, name in enumerate(["dark", "light"]):
        (tmp_path / name).mkdir()
        for i in range(10):
            _png(tmp_path / name / f"{i}.png", 30 + 20 * (i % 3) + 150 * k)
    g = Graph()
    x = g.input("image", (1, 8, 8))
    g.output("y", g.add("Linear", g.add("Flatten", x), out_features=2))
    t = Trainer(
        g,
        {
            "dataset": "imagefolder",
            "path": str(tmp_path),
            "split": "stratified",
            "val_fraction": 0.2,
            "augment": {"flip": True, "noise": 0.01},
        },
        {"epochs": 15, "lr": 0.05, "batch_size": 4},
    )
    assert t.train_set.folder is not None and len(t.train_set) == 16
    events = list(t.run())
    assert isinstance(events[-1], Finished), events[-1]
    last = [e for e in events if isinstance(e, EpochEnd)][-1]
    assert last.metrics["val_accuracy"] == 1.0

    # the results views get the held-out images too (read through the loader): gallery, confusion matrix
    from dlstudio.training.predictions import collect_predictions

    preds = collect_predictions(t)
    assert preds is not None and preds.split == "validation" and preds.x.shape == (4, 1, 8, 8)
    assert (preds.scores.argmax(1) == preds.y).all() and preds.class_names == ["dark", "light"]


@pytest.mark.slow
def test_image_folder_with_loader_workers(tmp_path: Path) -> None:
    from dlstudio.training.events import Finished
    from dlstudio.training.loop import Trainer

    for k, name in enumerate(["a", "b"]):
        (tmp_path / name).mkdir()
        for i in range(6):
            _png(tmp_path / name / f"{i}.png", 40 + 150 * k)
    g = Graph()
    g.output("y", g.add("Linear", g.add("Flatten", g.input("image", (3, 8, 8))), out_features=2))
    t = Trainer(
        g,
        {"dataset": "imagefolder", "path": str(tmp_path), "num_workers": 2, "val_fraction": 0.25},
        {"epochs": 2, "batch_size": 4},
    )
    orders = []
    for epoch in (1, 2, 1):
        orders.append([int(y) for _, yb in t._batches(t.train_set, True, epoch) for y in yb])
    assert orders[0] == orders[2] and sorted(orders[0]) == sorted(orders[1])
    assert isinstance(list(t.run())[-1], Finished)


def test_digit_upscaling_matches_torch_bilinear() -> None:
    """Built-in digits are resized in numpy (no torch to load a dataset); the result equals torch's bilinear."""
    import torch
    import torch.nn.functional as F

    from dlstudio.training.data.builtin import upscale

    x = np.random.default_rng(0).random((5, 8, 8), dtype=np.float32)
    for size in (28, 32, 64):
        ref = F.interpolate(
            torch.from_numpy(x[:, None]), size=(size, size), mode="bilinear", align_corners=False
        ).numpy()[:, 0]
        np.testing.assert_allclose(upscale(x, size), ref, atol=1e-6)
