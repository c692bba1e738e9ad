"""Data faults reach the user as one clean message naming the file: unreadable images before training starts,
a file that fails to decode in a DataLoader worker as a Failed event, and data paths that are not regular files
or folders (a FIFO would block the reader forever) refused at once."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest

from dlstudio.api import Graph
from dlstudio.core.errors import DataError
from dlstudio.training.events import Failed
from dlstudio.training.loop import Trainer

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _jpeg(value: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((16, 16, 3), value, dtype=np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


def _folder(root: Path, n: int = 6) -> Path:
    for k, name in enumerate(["dark", "light"]):
        (root / name).mkdir(parents=True)
        for i in range(n):
            (root / name / f"{i}.jpg").write_bytes(_jpeg(40 + 150 * k))
    return root


def _graph() -> Graph:
    g = Graph()
    g.output("y", g.add("Linear", g.add("Flatten", g.input("image", (1, 8, 8))), out_features=2))
    return g


def test_an_image_with_a_broken_header_is_reported_before_training(tmp_path: Path) -> None:
    root = _folder(tmp_path / "images")
    bad = root / "light" / "3.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG header" + bytes(200))
    with pytest.raises(DataError) as err:
        Trainer(_graph(), {"dataset": "imagefolder", "path": str(root)}, {"epochs": 1})
    assert str(bad) in str(err.value) and "cannot be read" in str(err.value)


@pytest.mark.parametrize("workers", [0, 2])
def test_an_image_that_fails_to_decode_in_a_worker_is_one_message_naming_it(tmp_path: Path, workers: int) -> None:
    root = _folder(tmp_path / "images")
    bad = root / "dark" / "2.jpg"
    from PIL import Image

    buf = io.BytesIO()
    noise = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(buf, format="JPEG")
    bad.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])  # the header is intact, the pixels are cut off
    data = {"dataset": "imagefolder", "path": str(root), "num_workers": workers, "val_fraction": 0.0}
    trainer = Trainer(_graph(), data, {"epochs": 1, "batch_size": 4})
    last = list(trainer.run())[-1]
    assert isinstance(last, Failed)
    assert str(bad) in last.message and "cannot read the image" in last.message
    assert "Traceback" not in last.message and "worker" not in last.message
    assert last.message.count("\n") == 0


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
@pytest.mark.parametrize("dataset", ["csv", "npz", "imagefolder"])
def test_a_data_path_that_is_a_fifo_is_refused_at_once(tmp_path: Path, dataset: str) -> None:
    fifo = tmp_path / "data.csv"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match="named pipe .*not a regular file or folder"):
        Trainer(_graph(), {"dataset": dataset, "path": str(fifo)}, {"epochs": 1})
