"""A GraphDiff as text: a `git diff --stat`-like summary per block first, then the detail block by block.

Two unrelated models get a summary (type counts, blocks on one side only) instead of a list of every node;
`full=True` lists everything anyway.
"""

from __future__ import annotations

from .diagnostics import human_count
from .diff import TOP, GraphDiff, NodeRef

_BAR = 40  # widest stat bar, as git's
_SHAPE_EXAMPLES = 1  # shape changes listed per block before "and N more"
_UNRELATED_BLOCKS = 8  # block names listed per side for unrelated models


def _block_name(block: str) -> str:
    return block or "(top level)"


def _signed(n: int) -> str:
    return f"+{n:,}" if n > 0 else f"{n:,}"


def _delta_line(what: str, old: int, new: int, human: bool = False) -> str:
    show = human_count if human else (lambda n: f"{n:,}")
    if old == new:
        return f"{what} {show(old)} (unchanged)"
    pct = 100.0 * (new - old) / old if old else 0.0
    pct_text = (f", {pct:+.1f}%" if abs(pct) >= 0.1 else f", {pct:+.3f}%") if old else ""
    delta = new - old
    delta_text = ("+" if delta > 0 else "-") + human_count(abs(delta)) if human else _signed(delta)
    return f"{what} {show(old)} -> {show(new)} ({delta_text}{pct_text})"


def _node(ref: NodeRef) -> str:
    return f"{ref.label} ({ref.type})"


def summary_lines(diff: GraphDiff) -> list[str]:
    """The totals line: how many nodes, wires, shapes changed and the parameter/MAC deltas."""
    parts = [f"{len(diff.added)} added", f"{len(diff.removed)} removed", f"{len(diff.changed)} changed"]
    lines = []
    if diff.same:
        lines.append("no structural changes")
    else:
        lines.append(
            f"{', '.join(parts)} node(s); {len(diff.rewired)} wire(s) rewired; "
            f"{len(diff.shapes)} node(s) with changed output shapes"
        )
    if diff.renamed:
        lines.append(f"{len(diff.renamed)} node(s) renamed only (labels, not structure)")
    lines.append(_delta_line("parameters", *diff.params))
    lines.append(_delta_line("MACs per sample", *diff.macs, human=True))
    return lines


def stat_lines(diff: GraphDiff) -> list[str]:
    """One line per block with changes: name | count and a +/-/~ bar (added, removed, changed)."""
    per: dict[str, list[int]] = {}
    for ref in diff.added:
        per.setdefault(ref.block, [0, 0, 0])[0] += 1
    for ref in diff.removed:
        per.setdefault(ref.block, [0, 0, 0])[1] += 1
    for ch in diff.changed:
        per.setdefault(ch.new.block, [0, 0, 0])[2] += 1
    if not per:
        return []
    blocks = [b for b in diff.block_order if b in per] + [b for b in per if b not in diff.block_order]
    width = max(len(_block_name(b)) for b in blocks)
    biggest = max(sum(v) for v in per.values())
    scale = min(1.0, _BAR / biggest)
    out = []
    for b in blocks:
        a, r, c = per[b]
        bar = "+" * max(a and 1, round(a * scale)) + "-" * max(r and 1, round(r * scale))
        bar += "~" * max(c and 1, round(c * scale))
        out.append(f" {_block_name(b).ljust(width)} | {a + r + c:>4} {bar}")
    return out


def detail_lines(diff: GraphDiff) -> list[str]:
    """Block by block: added (+), removed (-), changed (~) nodes, rewired wires (>), shape consequences."""
    entries: dict[str, list[str]] = {}
    for ref in diff.removed:
        entries.setdefault(ref.block, []).append(f"  - {_node(ref)}")
    for ref in diff.added:
        entries.setdefault(ref.block, []).append(f"  + {_node(ref)}")
    for ch in diff.changed:
        name = _node(ch.new) if ch.old.label == ch.new.label else f"{ch.old.label} -> {_node(ch.new)}"
        entries.setdefault(ch.new.block, []).append(f"  ~ {name}: {'; '.join(ch.describe())}")
    for rw in diff.rewired:
        entries.setdefault(rw.node.block, []).append(f"  > wire {rw.describe()}")
    shapes: dict[str, list[str]] = {}
    for sc in diff.shapes:
        shapes.setdefault(sc.node.block, []).append(f"{sc.node.label} {sc.old} -> {sc.new}")
    for blk, items in shapes.items():
        more = f" and {len(items) - _SHAPE_EXAMPLES} more" if len(items) > _SHAPE_EXAMPLES else ""
        entries.setdefault(blk, []).append(
            f"  = shapes changed in {len(items)} node(s): {'; '.join(items[:_SHAPE_EXAMPLES])}{more}"
        )
    counts: dict[str, list[int]] = {}
    for cd in diff.counts:
        acc = counts.setdefault(cd.node.block, [0, 0])
        acc[0] += cd.params_new - cd.params_old
        acc[1] += cd.macs_new - cd.macs_old
    for blk, (dp, dm) in counts.items():
        if dp or dm:
            macs = human_count(abs(dm))
            entries.setdefault(blk, []).append(f"  = parameters {_signed(dp)}, MACs {'+' if dm >= 0 else '-'}{macs}")
    blocks = [b for b in diff.block_order if b in entries] + [b for b in entries if b not in diff.block_order]
    out: list[str] = []
    for b in blocks:
        out.append(_block_name(b))
        out.extend(entries[b])
    return out


def unrelated_lines(diff: GraphDiff) -> list[str]:
    """For models that share little: which layer types and blocks differ, not every node."""
    old, new = diff.type_counts
    width = max((len(t) for t in set(old) | set(new)), default=4)
    out = [
        f"the models share little structure ({100 * diff.similarity:.0f}% of nodes match); "
        "layer types that differ (old -> new):"
    ]
    for t in sorted(set(old) | set(new)):
        if old.get(t, 0) != new.get(t, 0):
            out.append(f"  {t.ljust(width)} {old.get(t, 0):>5} -> {new.get(t, 0)}")
    only_old = sorted({r.block for r in diff.removed} - {r.block for r in diff.added} - {TOP})
    only_new = sorted({r.block for r in diff.added} - {r.block for r in diff.removed} - {TOP})
    for title, names in (("blocks only in the old model", only_old), ("blocks only in the new model", only_new)):
        if names:
            shown = ", ".join(names[:_UNRELATED_BLOCKS])
            more = f" and {len(names) - _UNRELATED_BLOCKS} more" if len(names) > _UNRELATED_BLOCKS else ""
            out.append(f"{title}: {shown}{more}")
    out.append("(--all lists every node)")
    return out


def format_diff(diff: GraphDiff, old_name: str = "a", new_name: str = "b", *, full: bool = False) -> str:
    how = "by id (one lineage)" if diff.matched_by == "id" else "by hierarchy, type and order"
    lines = [
        f"--- {old_name} ({diff.nodes_old} nodes)",
        f"+++ {new_name} ({diff.nodes_new} nodes)",
        f"nodes matched {how}",
    ]
    lines += [f"note: {n}" for n in diff.notes]
    stat = stat_lines(diff)
    lines += stat
    lines += summary_lines(diff)
    if diff.unrelated and not full:
        lines += ["", *unrelated_lines(diff)]
        return "\n".join(lines)
    detail = detail_lines(diff)
    if detail:
        lines += ["", *detail]
    if full and diff.renamed:
        lines += ["", "renamed"] + [f"  {a.label} -> {b.label} ({b.type})" for a, b in diff.renamed]
    return "\n".join(lines)
