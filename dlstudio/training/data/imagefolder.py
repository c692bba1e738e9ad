"""Image folders: one subfolder per class. Files are decoded by Pillow inside DataLoader workers and resized to
the Input node's (H, W); grey or RGB from the Input node's channel count. Every file's header is read when the
folder is scanned, so an unreadable image is reported before training starts; a file that fails to decode later
(a truncated body) is reported as one message naming it, from a worker process too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ...core.errors import DataError
from .dataset import FolderData

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}


def scan_folder(root: Path, image_size: tuple[int, int], channels: int) -> FolderData:
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder; an image dataset is a folder with one subfolder per class")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(
            f"{root}: no class subfolders; put the images of each class in its own subfolder (e.g. cats/, dogs/)"
        )
    files: list[Path] = []
    labels: list[int] = []
    for k, name in enumerate(classes):
        found = sorted(p for p in (root / name).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        files.extend(found)
        labels.extend([k] * len(found))
    if not files:
        raise DataError(
            f"{root}: the class folders ({', '.join(classes)}) contain no images ({', '.join(sorted(IMAGE_SUFFIXES))})"
        )
    if channels not in (1, 3):
        raise DataError(f"{root}: images can feed an Input with 1 (grey) or 3 (RGB) channels, not {channels}")
    check_headers(files)
    return FolderData(
        files,
        np.asarray(labels, dtype=np.int64),
        classes,
        (int(image_size[0]), int(image_size[1])),
        channels,
        name=root.name,
        source=str(root),
    )


def check_headers(files: list[Path]) -> None:
    """Read each image's header (format, size; not the pixels) with Pillow; raise DataError naming the bad files."""
    from PIL import Image, UnidentifiedImageError

    bad: list[str] = []
    for path in files:
        try:
            with Image.open(path) as im:
                if im.width < 1 or im.height < 1:
                    raise OSError("the image is empty")
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            bad.append(f"{path} ({exc})")
    if bad:
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise DataError(f"{len(bad)} image file(s) cannot be read: {'; '.join(bad[:3])}{more}; delete or replace them")


def worker_error(exc: BaseException) -> DataError:
    """A fault raised while decoding a batch, as one message: a DataLoader worker re-raises its exception with the
    worker's traceback in the message; keep only the original message (which names the file)."""
    text = str(exc)
    if "Original Traceback" in text:
        last = [line for line in text.strip().splitlines() if line.strip()][-1]
        head, sep, rest = last.partition(": ")
        text = rest if sep and " " not in head else last
    return DataError(text)


def decode_image(path: Path, image_size: tuple[int, int], channels: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = im.convert("L" if channels == 1 else "RGB")
            im = im.resize((image_size[1], image_size[0]), Image.BILINEAR)
            a = np.asarray(im, dtype=np.float32) / 255.0
    except (OSError, UnidentifiedImageError) as exc:
        raise DataError(f"{path}: cannot read the image ({exc}); delete or replace the file") from None
    return a[None] if channels == 1 else np.ascontiguousarray(a.transpose(2, 0, 1))


class _ImageSet(Dataset):
    def __init__(self, data: FolderData) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        img = decode_image(self.data.files[i], self.data.image_size, self.data.channels)
        return torch.from_numpy(img), torch.tensor(self.data.y[i])


class OrderSampler(Sampler[int]):
    """Yields whatever order the loop set for this epoch: the order then depends only on (seed, epoch), not on
    how many epochs this loader has served (persistent workers, resume)."""

    def __init__(self, n: int) -> None:
        self.order: list[int] = list(range(n))

    def __iter__(self) -> Iterator[int]:
        return iter(list(self.order))

    def __len__(self) -> int:
        return len(self.order)


def make_loader(data: FolderData, batch_size: int, *, seed: int, num_workers: int) -> DataLoader:
    g = torch.Generator()
    g.manual_seed(seed)  # worker seeds come from here, so the global RNG is not consumed
    return DataLoader(
        _ImageSet(data),
        batch_size=batch_size,
        sampler=OrderSampler(len(data)),
        generator=g,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
    )


def epoch_order(n: int, seed: int, epoch: int, shuffle: bool) -> list[int]:
    if not shuffle:
        return list(range(n))
    g = torch.Generator()
    g.manual_seed(seed * 100_003 + epoch)
    return torch.randperm(n, generator=g).tolist()


def load_all(data: FolderData) -> tuple[np.ndarray, np.ndarray]:
    """Decode every image (for evaluation splits and small folders)."""
    x = (
        np.stack([decode_image(p, data.image_size, data.channels) for p in data.files])
        if len(data)
        else np.zeros((0, data.channels, *data.image_size), np.float32)
    )
    return x, data.y
