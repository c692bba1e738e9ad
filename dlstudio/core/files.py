"""Writing files so that a crash never leaves a half-written one: the one atomic writer every save goes through
(project files, weights, checkpoints, exports, run reports). It lives in core so that every layer can use it
without importing the layers above it.

How a save works: the data goes to a temporary file in the target's folder (``.<name>.<8 chars>.tmp``, so the
rename never crosses a file system), which is flushed and fsynced, then renamed over the target in one step, and
the folder is fsynced so the rename itself survives a power cut. The temporary file is created with mode 0o666,
so the kernel applies the umask: a saved file gets the same permissions as any other file the user creates
(0o644 under the usual umask 022), not mkstemp's 0o600. A save killed half-way (SIGKILL, power cut) leaves only
its temporary file; the next save of the same target removes such leftovers. A leftover that another process is
still writing is kept: each writer holds an advisory lock (flock) on its temporary file while it writes.

API (stable; other packages call it):

- ``atomic_write_bytes(target, data, *, sync_folder=True) -> Path`` and
  ``atomic_write_text(target, text, encoding="utf-8", *, sync_folder=True) -> Path``. ``sync_folder=False`` leaves
  the folder's fsync to the caller, who writes several files into one folder and calls ``fsync_folder`` once
  before the file that marks the set complete (checkpoints: the tensor files, one folder fsync, then state.json).
  The file itself is still fsynced before its rename, so each name holds the old or the new content whole.
- ``fsync_folder(folder)``: make the renames into `folder` durable (a no-op where folders cannot be fsynced).
- ``atomic_write_json(target, obj, *, indent=2, sort_keys=True) -> Path``: strict JSON (no NaN), one newline.
- ``atomic_path(target, suffix="")``: a context manager yielding the temporary path, for libraries that write to
  a path themselves (safetensors ``save_file``, ``torch.onnx.export``, ``np.savez``). Leaving the block normally
  commits (fsync, rename); an exception removes the temporary file and leaves the target untouched. `suffix` is
  appended to the temporary name when the writer needs one (Python imports only ``*.py`` files).
- ``atomic_open(target, mode="wb", encoding=None)``: a context manager yielding an open file, committed the same
  way ("wb" or "w").
- ``stale_temp_files(target) -> list[Path]`` and ``remove_stale_temp_files(target) -> list[Path]``: leftovers of
  killed saves of `target` (every writer above calls the second one before it writes).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import stat
import string
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

try:  # POSIX: advisory locks tell a leftover from a temporary file another process is still writing
    import fcntl
except ImportError:  # pragma: no cover - Windows: an open file cannot be removed there anyway
    fcntl = None  # type: ignore[assignment]

_TOKEN_CHARS = string.ascii_lowercase + string.digits + "_"  # the alphabet mkstemp used, so older leftovers match
_TOKEN_LENGTH = 8
_TEMP_SUFFIX = ".tmp"


def _temp_pattern(name: str) -> re.Pattern[str]:
    # the token has no dot, so the leftovers of "x" never match those of "x.onnx"
    return re.compile(
        rf"\.{re.escape(name)}\.[{re.escape(_TOKEN_CHARS)}]{{{_TOKEN_LENGTH}}}{re.escape(_TEMP_SUFFIX)}(\.[A-Za-z0-9]+)?"
    )


def stale_temp_files(target: str | os.PathLike[str]) -> list[Path]:
    """Temporary files of earlier saves of `target` that are still in its folder (sorted)."""
    target = Path(target)
    pattern = _temp_pattern(target.name)
    try:
        names = os.listdir(target.parent)
    except OSError:
        return []
    return sorted(target.parent / n for n in names if pattern.fullmatch(n))


def _in_use(path: Path) -> bool:
    """True when another writer holds the lock of this temporary file (it is still being written)."""
    if fcntl is None:
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing releases the probe's lock
    return False


def remove_stale_temp_files(target: str | os.PathLike[str]) -> list[Path]:
    """Remove the leftovers of killed saves of `target`; returns what was removed. Never raises."""
    removed = []
    for path in stale_temp_files(target):
        if _in_use(path):
            continue
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path)
    return removed


def _create_temp(target: Path, suffix: str) -> tuple[int, Path]:
    for _ in range(100):
        token = "".join(secrets.choice(_TOKEN_CHARS) for _ in range(_TOKEN_LENGTH))
        tmp = target.parent / f".{target.name}.{token}{_TEMP_SUFFIX}{suffix}"
        try:
            # mode 0o666: the kernel takes the umask off, as for any file the user creates
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        return fd, tmp
    raise FileExistsError(f"{target.parent}: cannot create a temporary file for {target.name}")


def fsync_folder(folder: str | os.PathLike[str]) -> None:
    """Make the renames into `folder` durable; not possible (nor needed) on every platform."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str = "", *, sync_folder: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on a normal exit its content replaces `target` atomically.
    `sync_folder=False`: the caller fsyncs the folder itself (see ``fsync_folder``)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(target)
    fd, tmp = _create_temp(target, suffix)
    closed = False
    try:
        yield tmp
        # the writer may have replaced the file at that path instead of writing into it (safetensors' save_file
        # does, with mode 0o600): sync what is there now, with the mode our own file got from the umask
        with open(tmp, "rb+") as fh:
            ours, theirs = os.fstat(fd), os.fstat(fh.fileno())
            if theirs.st_ino != ours.st_ino and stat.S_IMODE(theirs.st_mode) != stat.S_IMODE(ours.st_mode):
                os.chmod(fh.fileno() if os.chmod in os.supports_fd else tmp, stat.S_IMODE(ours.st_mode))
            os.fsync(fh.fileno())
        if fcntl is None:  # Windows renames no open file; there is no lock to keep either
            os.close(fd)
            closed = True
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    finally:
        if not closed:
            os.close(fd)  # releases the lock, after the rename so no cleanup can take the file in between
    if sync_folder:
        fsync_folder(target.parent)


@contextlib.contextmanager
def atomic_open(
    target: str | os.PathLike[str], mode: str = "wb", encoding: str | None = None, *, sync_folder: bool = True
) -> Iterator[IO[Any]]:
    """Yield a file open for writing ("wb" or "w"); closing the block normally commits it atomically."""
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open writes whole files: mode must be 'wb' or 'w', not {mode!r}")
    with atomic_path(target, sync_folder=sync_folder) as tmp:
        with open(tmp, mode, encoding=encoding if mode == "w" else None) as fh:
            yield fh
            fh.flush()


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes, *, sync_folder: bool = True) -> Path:
    target = Path(target)
    with atomic_open(target, "wb", sync_folder=sync_folder) as fh:
        fh.write(data)
    return target


def atomic_write_text(
    target: str | os.PathLike[str], text: str, encoding: str = "utf-8", *, sync_folder: bool = True
) -> Path:
    return atomic_write_bytes(target, text.encode(encoding), sync_folder=sync_folder)


def atomic_write_json(target: str | os.PathLike[str], obj: Any, *, indent: int = 2, sort_keys: bool = True) -> Path:
    """Strict JSON (raises ValueError on NaN or infinity, TypeError on other objects), ending in a newline."""
    text = json.dumps(obj, indent=indent, sort_keys=sort_keys, allow_nan=False) + "\n"
    return atomic_write_text(target, text)
