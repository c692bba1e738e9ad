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

    # an edit to the current model: the comparison follows once the edits pause
    w.controller.set_param([ids["stem_conv"]], "kernel_size", 3)
    w.after_edit()
    wait_for(lambda: not any(c.new.label == "stem_conv" for c in overlay.diff.changed), 10, "the re-comparison")
    assert ids["stem_conv"] not in overlay.outlines and overlay.list.count() == 4

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


def _run_folder(root: Path, name: str, lr: float, dataset: str, losses: list[float]) -> Path:
    import json

    folder = root / name
    folder.mkdir()
    settings = {"training": {"optimizer": "adam", "lr": lr, "epochs": len(losses)}, "data": {"dataset": dataset}}
    (folder / "settings.json").write_text(json.dumps(settings), encoding="utf-8")
    rows = [{"epoch": i + 1, "loss": v, "val_loss": v * 1.1} for i, v in enumerate(losses)]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return folder


def test_runs_tab_compares_ticked_runs(qtbot, tmp_path: Path) -> None:
    from dlstudio.training.runs import read_run
    from dlstudio.ui.training.live import RunsList
    from dlstudio.ui.training.runs import install_runs_comparison, record_of

    runs = RunsList()
    qtbot.addWidget(runs)
    comparison = install_runs_comparison(runs)
    for name, lr, dataset, losses in (
        ("a", 0.001, "digits", [1.0, 0.6, 0.4]),
        ("b", 0.01, "digits", [1.2, 0.5, 0.3, 0.2]),
        ("c", 0.001, "iris", [0.9, 0.8]),
    ):
        info = read_run(_run_folder(tmp_path, name, lr, dataset, losses))
        assert info is not None and info.history, "the run folder fixture must read back"
        runs.add(record_of(info))
    runs.set_checked(0, True)
    assert comparison.table.rowCount() == 0  # one run: nothing to compare yet
    runs.set_checked(1, True)
    table = comparison.table
    rows = {table.item(i, 0).text(): [table.item(i, j).text() for j in (1, 2)] for i in range(table.rowCount())}
    differing = [table.item(i, 0).text() for i in range(table.rowCount()) if table.item(i, 0).font().bold()]
    assert differing == ["training.epochs", "training.lr"]
    assert rows["training.lr"] == ["0.001", "0.01"]
    assert "data.dataset" not in rows  # shared settings are hidden until asked for
    comparison.all_settings.setChecked(True)
    assert any(table.item(i, 0).text() == "data.dataset" for i in range(table.rowCount()))
    runs.set_checked(2, True)
    assert comparison.heading.text() == "3 runs: 3 setting(s) differ"
    curves = [c for c in comparison.plot.listDataItems()]
    assert len(curves) == 6  # validation and training loss of each run
    assert [len(c.xData) for c in curves[::2]] == [3, 4, 2]
