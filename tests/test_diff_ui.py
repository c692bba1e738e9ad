"""The studio's comparison overlay (File > Compare with...) and the Runs tab's settings diff."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import studio_window, wait_for
from test_diff import ROOT, edited_resnet

from dlstudio.io.project import Project

pytest.importorskip("pytestqt")


def _overlay_kinds(scene) -> list[str]:
    return [i.toolTip().split(":")[0].split(" ")[0] for i in scene.items() if i.data(0) == "compare_overlay"]


def test_compare_overlay_marks_added_changed_removed_and_badges_blocks(qtbot, tmp_path: Path) -> None:
    from PySide6.QtWidgets import QLabel

    original = Project.load(ROOT / "examples" / "resnet18_cifar.dlstudio")
    edited = Project(graph=edited_resnet(original.graph), meta={"name": "edited"})
    edited.save(tmp_path / "edited.dlstudio")
    w = studio_window(qtbot, tmp_path, ask=lambda *a: "discard")
    assert any(a.text() == "&Compare with..." for a in w.menuBar().actions()[0].menu().actions())
    assert w.open_path(tmp_path / "edited.dlstudio", ask_save=False)
    overlay = w.compare_overlay
    comparison = overlay.compare_with(ROOT / "examples" / "resnet18_cifar.dlstudio")
    assert not comparison.same
    ids = {n.label: nid for nid, n in w.project.graph.nodes.items()}

    # layer1_0 is collapsed: its removed ReLU is a badge on the block, not a ghost
    assert set(overlay.outlines) == {ids["dropout"], ids["stem_conv"]}
    assert "kernel_size: 3 -> 5" in overlay.outlines[ids["stem_conv"]].toolTip()
    assert list(overlay.badges) == ["g1"] and not overlay.ghosts
    badge_text = [c.text() for c in overlay.badges["g1"].childItems() if hasattr(c, "text")]
    assert badge_text == ["1 change inside"]
    assert overlay.list.count() == 5  # 1 added, 1 removed, 1 changed, 2 rewired

    # open the block: the ghost appears beside the node it used to follow, on no other card
    w.controller.set_collapsed("g1", False)
    w.after_edit()
    wait_for(lambda: bool(overlay.ghosts), 10, "the ghost of the removed ReLU")
    (ghost,) = overlay.ghosts.values()
    assert "layer1_0_relu1" in ghost.toolTip() and not overlay.badges
    assert not any(
        w.scene.node_rect(n).intersects(ghost.sceneBoundingRect().adjusted(3, 3, -3, -3)) for n in w.project.graph.nodes
    )

    # a click on a change selects and centres its node; the inspector says old -> new
    row = next(i for i in range(overlay.list.count()) if overlay.list.item(i).text().startswith("~ stem_conv"))
    overlay.list.itemClicked.emit(overlay.list.item(row))
    assert w.scene.selected_node_ids() == [ids["stem_conv"]]
    wait_for(lambda: w.inspector.widget().findChild(QLabel, "compare_note") is not None, 10, "the inspector note")
    assert "kernel_size: 3 -> 5" in w.inspector.widget().findChild(QLabel, "compare_note").text()

    # another project: the comparison belonged to the previous one
    assert w.open_path(ROOT / "examples" / "lenet5.dlstudio", ask_save=False)
    w.after_edit()
    wait_for(lambda: overlay.comparison is None, 10, "the comparison to clear")
    assert not [i for i in w.scene.items() if i.data(0) == "compare_overlay"]


def test_compare_with_unreadable_file_raises_a_clear_error(qtbot, tmp_path: Path) -> None:
    from dlstudio.importers.diff_sources import ModelSourceError

    w = studio_window(qtbot, tmp_path, ask=lambda *a: "discard")
    (tmp_path / "broken.dlstudio").write_text("{", encoding="utf-8")
    with pytest.raises(ModelSourceError, match="not valid JSON"):
        w.compare_overlay.compare_with(tmp_path / "broken.dlstudio")
    assert w.compare_overlay.comparison is None
