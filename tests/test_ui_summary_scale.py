"""The summary table on a large model: a refresh formats only the rows on screen, waits while the table is
hidden, and still shows what the analysis says after each edit."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from dlstudio.analysis.engine import AnalysisEngine  # noqa: E402
from dlstudio.core.edits import SetParam  # noqa: E402
from dlstudio.layers.synthetic import transformer_model  # noqa: E402
from dlstudio.ui.summary import BottomPanel  # noqa: E402


def _row_texts(panel: BottomPanel, nid: str) -> tuple[str, ...]:
    model = panel.model
    r = model.ids.index(nid)
    return tuple(model.data(model.index(r, c)) for c in range(model.columnCount()))


@pytest.fixture
def shown(qtbot):  # type: ignore[no-untyped-def]
    g = transformer_model(2, grouped=False)
    engine = AnalysisEngine(g)
    engine.refresh()
    panel = BottomPanel()
    qtbot.addWidget(panel)
    panel.resize(900, 260)
    panel.show()
    panel.setCurrentWidget(panel.summary_page)
    panel.bind(g, engine)
    qtbot.waitExposed(panel)
    return g, engine, panel


def test_refresh_formats_only_the_rows_on_screen(shown, qtbot) -> None:  # type: ignore[no-untyped-def]
    g, engine, panel = shown
    assert panel.model.rowCount() == len(g) + 1  # every layer plus the Total row
    panel.table.viewport().repaint()
    on_screen = panel.model.formatted_count
    assert 0 < on_screen < len(g) // 4
    before = panel.model.formatted_count
    panel.refresh()
    panel.table.viewport().repaint()
    assert 0 < panel.model.formatted_count - before < len(g) // 4


def test_rows_follow_edits_and_a_hidden_table_waits(shown, qtbot) -> None:  # type: ignore[no-untyped-def]
    g, engine, panel = shown
    linear = next(n for n in g.nodes.values() if n.type == "Linear")
    SetParam(linear.id, "out_features", 2 * int(linear.params["out_features"])).apply(g)
    engine.refresh()
    panel.refresh()
    texts = _row_texts(panel, linear.id)
    assert texts[0] == linear.label and texts[3] == f"{engine.stats(linear.id).params:,}"
    assert panel.model.data(panel.model.index(len(g), 3)) == f"{engine.totals().params:,}"

    panel.setCurrentIndex(0)  # diagnostics shown: the table waits
    done = panel.summary_refreshes
    SetParam(linear.id, "out_features", 3).apply(g)
    engine.refresh()
    panel.refresh()
    assert panel.summary_refreshes == done
    panel.setCurrentWidget(panel.summary_page)  # shown again: caught up
    assert panel.summary_refreshes == done + 1
    assert _row_texts(panel, linear.id)[3] == f"{engine.stats(linear.id).params:,}"

    last = g.topological_order()[-1]  # a structural edit reorders the rows
    for e in list(g.in_edges(last)) + list(g.out_edges(last)):
        g._delete_edge(e)
    g._delete_node(last)
    engine.refresh()
    panel.refresh()
    assert last not in panel.model.ids and panel.model.rowCount() == len(g) + 1
