"""Writing checkpoints from a background thread, so that training goes on while the files reach the disk.

The snapshot is taken synchronously (`checkpoints.encode_checkpoint` makes the bytes of every file from the live
state), so what is written is exactly the state at the checkpoint, whatever the training does next. Only the
writing (temporary files, fsync, rename) runs in the thread: it waits on the disk, not on a core. One write is
in flight at a time: `submit` and `wait` join the previous one first, and a write that failed raises there as a
`CheckpointWriteError` naming the folder. The thread is not a daemon, so the interpreter finishes a pending
write before it exits; each file is atomic, and a folder is a complete checkpoint once its state.json is there.
"""

from __future__ import annotations

import threading
from pathlib import Path

from ..core.errors import DlstudioError
from .checkpoints import write_checkpoint_files


class CheckpointWriteError(DlstudioError):
    """A checkpoint could not be written (disk full, permissions, a folder removed under the run)."""

    def __init__(self, folder: Path, cause: BaseException) -> None:
        super().__init__(f"could not write the checkpoint {folder}: {type(cause).__name__}: {cause}")
        self.folder = folder
        self.cause = cause


class CheckpointWriter:
    """At most one checkpoint write in flight, in a background thread. `done` is the last folder written whole."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._folder: Path | None = None
        self._error: BaseException | None = None
        self.done: Path | None = None

    @property
    def pending(self) -> Path | None:
        """The folder being written, or None."""
        return self._folder if self._thread is not None else None

    def submit(self, folder: Path, files: list[tuple[str, bytes]]) -> None:
        """Start writing `files` (from encode_checkpoint) into `folder`, after the previous write has finished;
        raises CheckpointWriteError if that one failed."""
        self.wait()
        self._folder, self._error = Path(folder), None
        self._thread = threading.Thread(
            target=self._write, args=(self._folder, files), name="dlstudio-checkpoint-writer"
        )
        self._thread.start()

    def _write(self, folder: Path, files: list[tuple[str, bytes]]) -> None:
        try:
            write_checkpoint_files(folder, files)
        except BaseException as exc:  # noqa: BLE001 - handed to the training thread by wait()
            self._error = exc

    def wait(self) -> None:
        """Block until the write in flight is done; raise CheckpointWriteError if it failed."""
        thread = self._thread
        if thread is None:
            return
        thread.join()
        self._thread = None
        error, self._error = self._error, None
        assert self._folder is not None
        if error is not None:
            raise CheckpointWriteError(self._folder, error) from error
        self.done = self._folder

    def settle(self) -> CheckpointWriteError | None:
        """Like wait(), but returns the failure instead of raising (for a run that is failing already)."""
        try:
            self.wait()
        except CheckpointWriteError as exc:
            return exc
        return None
