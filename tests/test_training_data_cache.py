"""The prepared-data cache of built-in datasets: a miss builds and stores, a hit reads without building, a corrupt
or foreign entry is rebuilt, any change of dataset, options, format or code misses, and it can be switched off."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from dlstudio.training.data import builtin, cache
from dlstudio.training.data.builtin import load_builtin


@pytest.fixture
def cache_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("DLSTUDIO_CACHE", str(root))
    return root


def _entries(root: Path) -> list[Path]:
    return sorted((root / "data").glob("*.npz")) if (root / "data").is_dir() else []


def _count_digit_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = builtin._load_digits

    def counted() -> tuple[np.ndarray, np.ndarray]:
        calls.append(1)
        return real()

    monkeypatch.setattr(builtin, "_load_digits", counted)
    return calls


def test_miss_builds_and_stores_then_a_hit_reads_the_same_arrays(
    cache_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = _count_digit_reads(monkeypatch)
    first = load_builtin("digits_28x28")
    assert len(reads) == 1 and len(_entries(cache_root)) == 1
    second = load_builtin("digits_28x28")
    assert len(reads) == 1  # served from the cache
    np.testing.assert_array_equal(first.x, second.x)
    np.testing.assert_array_equal(first.y, second.y)
    assert second.x.dtype == np.float32 and second.y.dtype == np.int64 and second.x.shape == (1797, 1, 28, 28)
    assert (second.name, second.class_names, second.task) == (first.name, first.class_names, first.task)


def test_cached_data_equals_the_data_built_without_the_cache(cache_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    load_builtin("digits_28x28")
    cached = load_builtin("digits_28x28")
    monkeypatch.setenv("DLSTUDIO_CACHE", "off")
    fresh = load_builtin("digits_28x28")
    np.testing.assert_array_equal(cached.x, fresh.x)
    np.testing.assert_array_equal(cached.y, fresh.y)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "other arrays", "wrong shape", "object array"])
def test_a_bad_entry_is_rebuilt_and_rewritten(cache_root: Path, monkeypatch: pytest.MonkeyPatch, damage: str) -> None:
    good = load_builtin("digits_8x8")
    (entry,) = _entries(cache_root)
    data = entry.read_bytes()
    if damage == "truncated":
        entry.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        entry.write_bytes(b"not a zip file at all")
    else:
        buffer = io.BytesIO()
        arrays = {
            "other arrays": {"a": np.zeros(3)},
            "wrong shape": {"x": np.zeros((5, 1, 8, 8), np.float32), "y": np.zeros(5, np.int64)},
            "object array": {"x": np.array([{"a": 1}], dtype=object), "y": np.zeros(1, np.int64)},
        }[damage]
        np.savez(buffer, **arrays)
        entry.write_bytes(buffer.getvalue())
    reads = _count_digit_reads(monkeypatch)
    again = load_builtin("digits_8x8")
    assert len(reads) == 1  # rebuilt
    np.testing.assert_array_equal(again.x, good.x)
    np.testing.assert_array_equal(again.y, good.y)
    assert entry.read_bytes() != b"not a zip file at all"
    with np.load(entry, allow_pickle=False) as z:  # rewritten whole
        np.testing.assert_array_equal(z["x"], good.x)
    assert _entries(cache_root) == [entry]


def test_each_dataset_and_setting_has_its_own_entry(cache_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    load_builtin("digits_8x8")
    load_builtin("digits")
    assert len(_entries(cache_root)) == 2
    built: list[int] = []

    def build() -> dict[str, np.ndarray]:
        built.append(1)
        return {"x": np.arange(3.0)}

    def check(arrays: dict[str, np.ndarray]) -> None:
        if set(arrays) != {"x"}:
            raise ValueError("not ours")

    code = b"def make(): ..."
    cache.cached_arrays("toy", {"n": 3}, code, build, check)
    cache.cached_arrays("toy", {"n": 3}, code, build, check)
    assert len(built) == 1
    cache.cached_arrays("toy", {"n": 4}, code, build, check)  # another setting
    cache.cached_arrays("toy", {"n": 3}, code + b"# changed", build, check)  # the code that builds it changed
    assert len(built) == 3
    monkeypatch.setattr(cache, "CACHE_FORMAT", cache.CACHE_FORMAT + 1)  # a new entry format
    cache.cached_arrays("toy", {"n": 3}, code, build, check)
    assert len(built) == 4


def test_the_key_follows_the_source_of_the_builtin_module(cache_root: Path) -> None:
    path = cache.entry_path("digits_8x8", {}, builtin._source_code())
    load_builtin("digits_8x8")
    assert path is not None and path.is_file()
    assert cache.entry_path("digits_8x8", {}, builtin._source_code() + b"\n") != path


def test_switched_off_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLSTUDIO_CACHE", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() is None
    load_builtin("digits_8x8")
    assert not (tmp_path / "xdg").exists()


def test_default_folder_is_under_xdg_cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DLSTUDIO_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "xdg" / "dlstudio"
    load_builtin("digits_8x8")
    assert len(_entries(tmp_path / "xdg" / "dlstudio")) == 1


def test_an_unwritable_cache_folder_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("the cache folder cannot be made here")
    monkeypatch.setenv("DLSTUDIO_CACHE", str(blocker))
    d = load_builtin("digits_8x8")
    assert d.x.shape == (1797, 1, 8, 8)


def test_generated_datasets_are_not_cached(cache_root: Path) -> None:
    load_builtin("moons", {"n_samples": 50})
    assert _entries(cache_root) == []
