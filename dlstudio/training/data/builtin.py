"""Built-in offline datasets: scikit-learn's bundled tables and seeded synthetic generators (no download).

Each entry declares what it holds (task, sample shape, classes, row count) as static metadata, so the lints and
`dlstudio check` know a dataset without loading it (scikit-learn loads only inside `load`)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .dataset import ArrayData


@dataclass(frozen=True)
class BuiltinInfo:
    """One built-in dataset. `shape`, `class_names` and `rows` describe what `load` gives with default options;
    `n_rows` and `n_classes` follow the options that change them (a test checks both against loaded data)."""

    name: str
    task: str
    shape: tuple[int, ...]
    dtype: str
    class_names: tuple[str, ...] | None
    doc: str
    load: Callable[[dict[str, Any]], tuple[np.ndarray, np.ndarray]]
    scaling: str = "none"
    ordered: bool = False
    rows: int = field(kw_only=True)  # samples with the default options
    rows_option: str | None = field(default=None, kw_only=True)  # the option that sets the sample count
    rows_step: int = field(default=1, kw_only=True)  # the count rounds down to a multiple of this
    classes_option: str | None = field(default=None, kw_only=True)  # the option that sets the class count
    cached: bool = field(default=False, kw_only=True)  # slow to make (a file to parse, sklearn): kept in cache.py

    def n_rows(self, options: Mapping[str, Any] | None = None) -> int:
        """How many samples `load(options)` gives, without loading them."""
        n = int((options or {}).get(self.rows_option, self.rows)) if self.rows_option else self.rows
        return n - n % self.rows_step

    def n_classes(self, options: Mapping[str, Any] | None = None) -> int | None:
        """How many classes `load(options)` gives (None for regression), without loading them."""
        if self.classes_option is not None:
            return int((options or {}).get(self.classes_option, len(self.class_names or ())))
        return len(self.class_names) if self.class_names else None


def _bilinear_matrix(n_in: int, n_out: int) -> np.ndarray:
    """torch's bilinear resize (align_corners=False) along one axis as an (n_out, n_in) matrix."""
    src = np.maximum((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0)
    i0 = np.floor(src).astype(np.int64)
    i1 = np.minimum(i0 + 1, n_in - 1)
    lam = src - i0
    m = np.zeros((n_out, n_in))
    np.add.at(m, (np.arange(n_out), i0), 1 - lam)
    np.add.at(m, (np.arange(n_out), i1), lam)
    return m


def upscale(images: np.ndarray, size: int) -> np.ndarray:
    """(N, h, w) images resized to (N, size, size), bilinear like torch's interpolate; plain numpy, so loading
    a dataset (the studio's preview too) needs no torch."""
    mh = _bilinear_matrix(images.shape[1], size)
    mw = _bilinear_matrix(images.shape[2], size)
    # two batched matmuls (BLAS): a tenth of the time of the equivalent three-operand einsum, same values
    return (mh @ images.astype(np.float64) @ mw.T).astype(np.float32)


def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits (pixels 0..16, labels), read from the file it ships without importing sklearn
    (its import costs seconds; a small training run is over in not many more)."""
    import gzip
    from importlib.util import find_spec

    spec = find_spec("sklearn")
    if spec is not None and spec.submodule_search_locations:
        path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            with gzip.open(path, "rt") as fh:
                table = np.loadtxt(fh, delimiter=",")
            return table[:, :-1], table[:, -1].astype(int)
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.data, d.target


def _digits(shape: tuple[int, ...]) -> Callable[[dict[str, Any]], tuple[np.ndarray, np.ndarray]]:
    def load(opts: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        data, target = _load_digits()
        x = (data / 16.0).astype(np.float32)
        if shape == (1, 28, 28):
            x = upscale(x.reshape(-1, 8, 8), 28)[:, None]
        else:
            x = x.reshape((-1, *shape))
        return np.ascontiguousarray(x, dtype=np.float32), target.astype(np.int64)

    return load


def _digits_rgb(size: int) -> Callable[[dict[str, Any]], tuple[np.ndarray, np.ndarray]]:
    """Digits upscaled to size x size and repeated over 3 channels: an offline stand-in for CIFAR-style RGB
    inputs (ResNet-18, MobileNetV2 and DCGAN templates keep their reference channel counts)."""

    def load(opts: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        data, target = _load_digits()
        x = upscale((data / 16.0).astype(np.float32).reshape(-1, 8, 8), size)[:, None].repeat(3, axis=1)
        return np.ascontiguousarray(x, dtype=np.float32), target.astype(np.int64)

    return load


def _sk(loader: str, target_float: bool = False) -> Callable[[dict[str, Any]], tuple[np.ndarray, np.ndarray]]:
    def load(opts: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        import sklearn.datasets as sd

        d = getattr(sd, loader)()
        x = d.data.astype(np.float32)
        if target_float:
            y = d.target.astype(np.float64)
            y = ((y - y.mean()) / y.std()).astype(np.float32).reshape(-1, 1)  # z-scored target keeps MSE readable
            return x, y
        return x, d.target.astype(np.int64)

    return load


def _gen(fn: Callable[[np.random.Generator, dict[str, Any]], tuple[np.ndarray, np.ndarray]]):
    def load(opts: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(int(opts.get("seed", 0)))
        return fn(rng, opts)

    return load


def _circles(rng: np.random.Generator, o: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_circles

    x, y = make_circles(
        int(o.get("n_samples", 1000)),
        noise=float(o.get("noise", 0.08)),
        factor=0.5,
        random_state=int(rng.integers(1 << 31)),
    )
    return x.astype(np.float32), y.astype(np.int64)


def _moons(rng: np.random.Generator, o: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_moons

    x, y = make_moons(
        int(o.get("n_samples", 1000)), noise=float(o.get("noise", 0.15)), random_state=int(rng.integers(1 << 31))
    )
    return x.astype(np.float32), y.astype(np.int64)


def _blobs(rng: np.random.Generator, o: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_blobs

    x, y = make_blobs(
        int(o.get("n_samples", 900)),
        centers=int(o.get("centers", 3)),
        n_features=2,
        cluster_std=float(o.get("noise", 1.0)),
        random_state=int(rng.integers(1 << 31)),
    )
    return x.astype(np.float32), y.astype(np.int64)


def _spirals(rng: np.random.Generator, o: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    n = int(o.get("n_samples", 1000)) // 2
    t = np.sqrt(rng.uniform(0, 1, n)) * 3 * np.pi
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (3 * np.pi)
    noise = float(o.get("noise", 0.03))
    x = np.concatenate([arm, -arm]) + rng.normal(0, noise, (2 * n, 2))
    y = np.concatenate([np.zeros(n), np.ones(n)])
    return x.astype(np.float32), y.astype(np.int64)


def _xor(rng: np.random.Generator, o: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    x = rng.uniform(-1, 1, (int(o.get("n_samples", 400)), 2))
    y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(np.int64)
    return x.astype(np.float32), y


def _sine(rng: np.random.Generator, o: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    n = int(o.get("n_samples", 1000))
    x = rng.uniform(-np.pi, np.pi, (n, 1))
    y = np.sin(x) + rng.normal(0, float(o.get("noise", 0.1)), (n, 1))
    return x.astype(np.float32), y.astype(np.float32)


def _linear(rng: np.random.Generator, o: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    n = int(o.get("n_samples", 500))
    x = rng.uniform(-1, 1, (n, 1))
    y = 2.0 * x + 0.5 + rng.normal(0, float(o.get("noise", 0.1)), (n, 1))
    return x.astype(np.float32), y.astype(np.float32)


def _sine_series(rng: np.random.Generator, o: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Windows of a noisy sine: predict the next value from the previous `window` values."""
    window = int(o.get("window", 20))
    n = int(o.get("n_samples", 1000))
    t = np.arange(n + window + 1) * 0.1
    s = np.sin(t) + 0.5 * np.sin(0.31 * t) + rng.normal(0, float(o.get("noise", 0.05)), t.shape)
    idx = np.arange(window)[None, :] + np.arange(n)[:, None]
    x = s[idx][..., None]  # (N, window, 1): sequence-first per sample, batch_first
    y = s[np.arange(n) + window].reshape(-1, 1)
    return x.astype(np.float32), y.astype(np.float32)


def _toy_text(rng: np.random.Generator, o: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Token sequences (vocabulary 20, length 12): class 1 when 'good' tokens (1-9) outnumber 'bad' (10-19).
    Token 0 is padding. Made for Embedding + LSTM."""
    n, length = int(o.get("n_samples", 1000)), int(o.get("length", 12))
    lengths = rng.integers(4, length + 1, n)
    x = rng.integers(1, 20, (n, length))
    x[np.arange(length)[None, :] >= lengths[:, None]] = 0
    good = ((x >= 1) & (x <= 9)).sum(1)
    bad = (x >= 10).sum(1)
    y = (good > bad).astype(np.int64)
    return x.astype(np.int64), y


_D10 = tuple(str(i) for i in range(10))
BUILTINS: dict[str, BuiltinInfo] = {
    b.name: b
    for b in (
        BuiltinInfo(
            "digits",
            "multiclass",
            (64,),
            "float32",
            _D10,
            "Handwritten digits 8x8, flattened to 64 values in [0, 1] (1797 images).",
            _digits((64,)),
            cached=True,
            rows=1797,
        ),
        BuiltinInfo(
            "digits_8x8",
            "multiclass",
            (1, 8, 8),
            "float32",
            _D10,
            "Handwritten digits as 1x8x8 images in [0, 1].",
            _digits((1, 8, 8)),
            cached=True,
            rows=1797,
        ),
        BuiltinInfo(
            "digits_28x28",
            "multiclass",
            (1, 28, 28),
            "float32",
            _D10,
            "Handwritten digits upscaled (bilinear) to 1x28x28, the MNIST/LeNet size.",
            _digits((1, 28, 28)),
            cached=True,
            rows=1797,
        ),
        BuiltinInfo(
            "digits_rgb_32x32",
            "multiclass",
            (3, 32, 32),
            "float32",
            _D10,
            "Handwritten digits upscaled to 32x32 on 3 equal channels (the CIFAR input layout).",
            _digits_rgb(32),
            cached=True,
            rows=1797,
        ),
        BuiltinInfo(
            "digits_rgb_64x64",
            "multiclass",
            (3, 64, 64),
            "float32",
            _D10,
            "Handwritten digits upscaled to 64x64 on 3 equal channels (the DCGAN image size).",
            _digits_rgb(64),
            cached=True,
            rows=1797,
        ),
        BuiltinInfo(
            "iris",
            "multiclass",
            (4,),
            "float32",
            ("setosa", "versicolor", "virginica"),
            "Fisher's iris: 4 measurements, 3 species (150 rows).",
            _sk("load_iris"),
            cached=True,
            scaling="standard",
            rows=150,
        ),
        BuiltinInfo(
            "wine",
            "multiclass",
            (13,),
            "float32",
            ("class_0", "class_1", "class_2"),
            "Wine recognition: 13 chemical measurements, 3 cultivars (178 rows).",
            _sk("load_wine"),
            cached=True,
            scaling="standard",
            rows=178,
        ),
        BuiltinInfo(
            "breast_cancer",
            "multiclass",
            (30,),
            "float32",
            ("malignant", "benign"),
            "Wisconsin breast cancer: 30 features, 2 classes (569 rows).",
            _sk("load_breast_cancer"),
            cached=True,
            scaling="standard",
            rows=569,
        ),
        BuiltinInfo(
            "diabetes",
            "regression",
            (10,),
            "float32",
            None,
            "Diabetes progression: 10 features, target z-scored (442 rows).",
            _sk("load_diabetes", True),
            cached=True,
            scaling="standard",
            rows=442,
        ),
        BuiltinInfo(
            "circles",
            "multiclass",
            (2,),
            "float32",
            ("outer", "inner"),
            "Two noisy concentric circles (options: n_samples, noise, seed).",
            _gen(_circles),
            rows=1000,
            rows_option="n_samples",
        ),
        BuiltinInfo(
            "moons",
            "multiclass",
            (2,),
            "float32",
            ("upper", "lower"),
            "Two interleaving half-moons.",
            _gen(_moons),
            rows=1000,
            rows_option="n_samples",
        ),
        BuiltinInfo(
            "blobs",
            "multiclass",
            (2,),
            "float32",
            ("0", "1", "2"),
            "Gaussian blobs, 3 classes (option centers: the class count).",
            _gen(_blobs),
            rows=900,
            rows_option="n_samples",
            classes_option="centers",
        ),
        BuiltinInfo(
            "spirals",
            "multiclass",
            (2,),
            "float32",
            ("a", "b"),
            "Two interleaved spirals: needs a few hidden layers.",
            _gen(_spirals),
            rows=1000,
            rows_option="n_samples",
            rows_step=2,  # two arms of n_samples // 2 points
        ),
        BuiltinInfo(
            "xor",
            "multiclass",
            (2,),
            "float32",
            ("same", "different"),
            "XOR of the signs of two features: not linearly separable.",
            _gen(_xor),
            rows=400,
            rows_option="n_samples",
        ),
        BuiltinInfo(
            "sine",
            "regression",
            (1,),
            "float32",
            None,
            "Noisy sine: y = sin(x) + noise, x in [-pi, pi].",
            _gen(_sine),
            rows=1000,
            rows_option="n_samples",
        ),
        BuiltinInfo(
            "linear",
            "regression",
            (1,),
            "float32",
            None,
            "Noisy line: y = 2x + 0.5 + noise.",
            _gen(_linear),
            rows=500,
            rows_option="n_samples",
        ),
        BuiltinInfo(
            "sine_series",
            "regression",
            (20, 1),
            "float32",
            None,
            "Time series windows (20 steps, 1 feature) of a noisy sine mix; predict the next value.",
            _gen(_sine_series),
            ordered=True,
            rows=1000,
            rows_option="n_samples",
        ),
        BuiltinInfo(
            "toy_text",
            "multiclass",
            (12,),
            "int64",
            ("negative", "positive"),
            "Token sequences (vocabulary 20, length 12, 0 = padding) for Embedding + LSTM.",
            _gen(_toy_text),
            rows=1000,
            rows_option="n_samples",
        ),
    )
}


@functools.cache
def _source_code() -> bytes:
    """This module's source: part of a cache entry's key, so a change to how the data is made misses."""
    return Path(__file__).read_bytes()


def _check_cached(info: BuiltinInfo, options: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Raise ValueError unless `arrays` look like what `info.load(options)` gives."""
    x, y = arrays.get("x"), arrays.get("y")
    if set(arrays) != {"x", "y"} or x is None or y is None:
        raise ValueError(f"arrays {sorted(arrays)} instead of x and y")
    if x.dtype != np.dtype(info.dtype) or tuple(x.shape) != (info.n_rows(options), *info.shape):
        raise ValueError(f"x {x.dtype} {x.shape} does not fit {info.name}")
    if y.dtype not in (np.int64, np.float32) or len(y) != len(x):
        raise ValueError(f"y {y.dtype} {y.shape} does not fit {info.name}")


def load_builtin(name: str, options: dict[str, Any] | None = None) -> ArrayData:
    info = BUILTINS[name]
    opts = dict(options or {})
    if info.cached:
        from .cache import cached_arrays

        arrays = cached_arrays(
            name,
            opts,
            _source_code(),
            lambda: dict(zip(("x", "y"), info.load(opts))),
            lambda arrays: _check_cached(info, opts, arrays),
        )
        x, y = arrays["x"], arrays["y"]
    else:
        x, y = info.load(opts)
    if info.classes_option is not None:  # blobs: as many classes as centers
        names: list[str] | None = [str(i) for i in range(info.n_classes(options) or 0)]
    else:
        names = list(info.class_names) if info.class_names else None
    return ArrayData(x, y, info.task, name, names, info.ordered, info.scaling, source=f"built-in {name!r}")


def variants_with_shape(shape: tuple[int, ...]) -> list[str]:
    """Built-in names whose samples have `shape` (for 'pick digits 28x28' hints)."""
    return [b.name for b in BUILTINS.values() if b.shape == tuple(shape)]
