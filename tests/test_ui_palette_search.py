"""Palette search ranks name matches (exact, prefix, substring) before matches in the description."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from dlstudio.ui.palette import TYPE_ROLE, Palette, rank  # noqa: E402


@pytest.fixture
def palette(qtbot):
    p = Palette()
    qtbot.addWidget(p)
    return p


def test_relu_lists_the_relus_first(palette):
    shown = palette.filter("relu")
    assert set(shown[:3]) == {"ReLU", "LeakyReLU", "PReLU"}
    assert shown[0] == "ReLU"
    for other in ("MinPool2d", "BatchNorm2d", "AlphaDropout"):
        if other in shown:
            assert shown.index(other) > 2


def test_conv_lists_the_conv_types_first(palette):
    shown = palette.filter("conv")
    convs = [t for t in shown if "conv" in t.lower()]
    assert convs and shown[: len(convs)] == convs
    assert shown[0].startswith("Conv")


def test_results_are_shown_in_rank_order_and_clearing_restores_categories(palette):
    shown = palette.filter("dropout")
    tree = palette.tree
    top = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
    listed = [i.data(0, TYPE_ROLE) for i in top if not i.isHidden()]
    assert listed == shown and shown[0] == "Dropout"
    everything = palette.filter("")
    assert set(everything) == set(palette.items)
    assert all(palette.items[t].parent() is not None for t in palette.items)  # back under a category
    assert palette.filter("fully connected")  # the description still matches


def test_rank_tiers():
    assert rank("relu", "ReLU", "ReLU", "relu relu activation x") == (0, 0)
    assert rank("relu", "ReLU6", "ReLU6", "relu6 relu6 activation")[0] == 1
    assert rank("relu", "LeakyReLU", "LeakyReLU", "leakyrelu leakyrelu")[0] == 2
    assert rank("relu", "BatchNorm2d", "BatchNorm2d", "batchnorm2d ... unlike relu")[0] == 5
    assert rank("relu", "Linear", "Linear", "linear dense") is None
