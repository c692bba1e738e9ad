"""`dlstudio render` on a model with nested blocks: the top level with one card per block in wrapped rows (as
the studio opens it), `--expand` with every block open, `--block NAME` with the inside of one block."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import dlstudio as dls
from dlstudio.cli import run_cli
from dlstudio.core.edits import GroupNodes


def _resnet18_like(tmp_path: Path) -> Path:
    """A ResNet-18 shaped graph: a stem, four stages of two residual units each (units nested in stages), a head."""
    g = dls.Graph()
    x = g.add("ReLU", g.add("Conv2d", g.input("image", (3, 32, 32)), out_channels=8, kernel_size=3, padding=1))
    x = g.add("MaxPool2d", x, kernel_size=2, label="pool")
    for stage in range(1, 5):
        units = []
        for unit in range(2):
            name = f"stage{stage}.{unit}"
            before = set(g.nodes)
            a = g.add("Conv2d", x, out_channels=8, kernel_size=3, padding=1, label=f"{name}.conv1")
            b = g.add("ReLU", g.add("BatchNorm2d", a, label=f"{name}.bn1"), label=f"{name}.relu1")
            c = g.add("Conv2d", b, out_channels=8, kernel_size=3, padding=1, label=f"{name}.conv2")
            c = g.add("BatchNorm2d", c, label=f"{name}.bn2")
            out = g.add("ReLU", g.add("Add", x, c, label=f"{name}.add"), label=f"{name}.relu2")
            gid = g.new_id("g")
            GroupNodes(gid, name, tuple(n for n in g.nodes if n not in before)).apply(g)
            units.append(gid)
            x = out
        GroupNodes(g.new_id("g"), f"stage{stage}", (), group_ids=tuple(units)).apply(g)
    head = g.add("Linear", g.add("Flatten", g.add("AdaptiveAvgPool2d", x, output_size=1)), out_features=10, label="fc")
    g.output("scores", head)
    return dls.Project(graph=g, meta={"name": "resnet18-like"}).save(tmp_path / "resnet.dlstudio")


def _svg_text(path: Path) -> str:
    return " ".join(t for t in ET.parse(path).getroot().itertext())


def _size(path: Path) -> tuple[int, int]:
    from PySide6.QtGui import QImage

    image = QImage(str(path))
    assert not image.isNull()
    return image.width(), image.height()


def test_default_draws_top_level_blocks_as_cards_in_rows(tmp_path: Path) -> None:
    path = _resnet18_like(tmp_path)
    png, svg = tmp_path / "top.png", tmp_path / "top.svg"
    assert run_cli(["render", str(path), "-o", str(png), "--scale", "1"]) == 0
    assert run_cli(["render", str(path), "-o", str(svg)]) == 0
    width, height = _size(png)
    assert width / height < 4, (width, height)  # wrapped rows, not one strip
    text = _svg_text(svg)
    for word in ("stage1", "stage4", "Block  14 layers", "2 blocks", "params", "pool", "fc", "(10)"):
        assert word in text, word
    assert "stage1.0" not in text and "stage2.1.conv1" not in text  # blocks are closed cards
    sharp = tmp_path / "sharp.png"
    assert run_cli(["render", str(path), "-o", str(sharp)]) == 0
    assert _size(sharp)[0] == 2 * width  # --scale defaults to 2


def test_expand_draws_every_block_open(tmp_path: Path) -> None:
    path = _resnet18_like(tmp_path)
    svg, png = tmp_path / "open.svg", tmp_path / "open.png"
    assert run_cli(["render", str(path), "-o", str(svg), "--expand"]) == 0
    assert run_cli(["render", str(path), "-o", str(png), "--expand", "--scale", "1"]) == 0
    text = _svg_text(svg)
    for word in ("stage1", "stage3.1", "stage2.1.conv1", "stage4.0.add", "(8, 16, 16)"):
        assert word in text, word
    assert "Block  14 layers" not in text  # no cards when everything is open
    width, height = _size(png)
    assert 0.25 < width / height < 4, (width, height)


def test_block_draws_the_inside_of_one_block(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = _resnet18_like(tmp_path)
    svg = tmp_path / "stage2.svg"
    assert run_cli(["render", str(path), "-o", str(svg), "--block", "stage2"]) == 0
    text = _svg_text(svg)
    assert "stage2.0" in text and "stage2.1" in text and "Block  7 layers" in text
    assert "stage1" not in text.replace("stage1.", "") and "fc" not in text.split()
    assert run_cli(["render", str(path), "-o", str(svg), "--block", "stage2.1"]) == 0
    assert "stage2.1.conv2" in _svg_text(svg)


def test_unknown_block_lists_the_block_names(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = _resnet18_like(tmp_path)
    out = tmp_path / "none.png"
    assert run_cli(["render", str(path), "-o", str(out), "--block", "stage9"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "stage9" in err
    assert "stage1" in err and "stage4.1" in err
    assert not out.exists()
