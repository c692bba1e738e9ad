"""A cache of prepared built-in datasets, so a run does not parse and resize the same data at every start.

Where: `$DLSTUDIO_CACHE` (set it to "off" to switch the cache off), else `$XDG_CACHE_HOME/dlstudio`, else
`~/.cache/dlstudio`; the files go in its `data/` folder. Each entry is a plain .npz (read with
allow_pickle=False: never a pickle) written through the atomic writer, so a killed save leaves no half-written
entry. The key is a hash of the dataset name, its options, the cache format version and the source code that
makes the arrays, so a change to any of them misses instead of reading stale data. An entry that cannot be read
or does not look like what the dataset gives (truncated, another file put there) is rebuilt and rewritten; a
cache folder that cannot be written is skipped. Either way the data is the same as without the cache.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ...core.files import atomic_write_bytes

CACHE_FORMAT = 1  # bump when what an entry holds changes
_OFF = ("", "0", "off", "no", "false", "none")
_log = logging.getLogger(__name__)


def cache_dir() -> Path | None:
    """The cache folder, or None when DLSTUDIO_CACHE switches the cache off."""
    env = os.environ.get("DLSTUDIO_CACHE")
    if env is not None:
        return None if env.strip().lower() in _OFF else Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dlstudio"


def cache_key(name: str, settings: Mapping[str, Any], code: bytes) -> str:
    """Content key of an entry: dataset name, its settings, the format version and the code that builds it."""
    h = hashlib.sha256()
    h.update(
        json.dumps({"format": CACHE_FORMAT, "name": name, "settings": settings}, sort_keys=True, default=repr).encode()
    )
    h.update(hashlib.sha256(code).digest())
    return h.hexdigest()[:32]


def entry_path(name: str, settings: Mapping[str, Any], code: bytes) -> Path | None:
    folder = cache_dir()
    if folder is None:
        return None
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
    return folder / "data" / f"{safe}-{cache_key(name, settings, code)}.npz"


def _read(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def cached_arrays(
    name: str,
    settings: Mapping[str, Any],
    code: bytes,
    build: Callable[[], dict[str, np.ndarray]],
    check: Callable[[dict[str, np.ndarray]], None],
) -> dict[str, np.ndarray]:
    """The arrays `build()` gives, from the cache when an entry for (name, settings, code) is there and passes
    `check` (which raises ValueError for arrays that are not what the dataset gives); else built and stored."""
    path = entry_path(name, settings, code)
    if path is None:
        return build()
    try:
        arrays = _read(path)
        check(arrays)
        return arrays
    except FileNotFoundError:
        pass
    except Exception as exc:  # noqa: BLE001 - any unreadable entry (truncated zip, bad header, wrong arrays)
        _log.info("the data cache entry %s cannot be used (%s): rebuilding it", path, exc)
    arrays = build()
    try:
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        atomic_write_bytes(path, buffer.getvalue())
    except OSError as exc:  # a read-only or full cache folder: train without the cache
        _log.info("cannot write the data cache entry %s (%s)", path, exc)
    return arrays
