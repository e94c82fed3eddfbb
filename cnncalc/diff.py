"""What changed between two networks (`cnncalc diff`): the layers added, removed and
changed, with the deltas of their figures, and the deltas of the totals.

Layers are matched by qualified name (`layer3.2.conv1`) and by nothing else, so a renamed
layer is one removed and one added. A layer on both sides has changed when its type, its
inputs, its output shape or any of its figures differ. Every total is a sum over the
layers, so the layers' deltas add up to the totals' deltas; diffing B against A negates
every delta and swaps added with removed; a network diffed with itself has no changes."""
from __future__ import annotations

import re
from dataclasses import dataclass
from operator import sub
from typing import TYPE_CHECKING, NamedTuple

from .diagnostics import UsageError
from .figures import FIGURES, Figures
from .layers.base import shape_str
from .summary import LayerRecord, Summary

if TYPE_CHECKING:  # imported where used: every command's start imports this module (for diff's FORMATS)
    from fractions import Fraction

ADDED, REMOVED, CHANGED = "added", "removed", "changed"
# The totals --max-increase watches: what a network costs to store and to run
GATED = ("params", "macs", "flops", "param_memory", "activation_memory")
LAYER_FIELDS = ("type", "inputs", "output_shape")  # besides the figures: what makes a layer changed
FOLDED_FIELDS = ("type", "output_shape")
NETWORK_FIELDS = ("input_shape", "output_shape", "dtype", "batch")
_PERCENT = re.compile(r"\s*([0-9]{1,15}(?:\.[0-9]{1,15})?)\s*%?\s*")


@dataclass
class LayerChange:
    """One layer added, removed or changed; `old` or `new` is None where it is absent."""

    name: str
    change: str  # ADDED, REMOVED or CHANGED
    old: LayerRecord | None
    new: LayerRecord | None
    compared: tuple = LAYER_FIELDS  # what, besides the figures, makes it changed

    @property
    def delta(self) -> Figures:
        """new − old, figure by figure (an absent side counts as zero)."""
        return Figures(*map(sub, _figures(self.new), _figures(self.old)))

    @property
    def differs(self) -> tuple:
        """What is not the same: 'type', 'inputs', 'output_shape' and the figures' names."""
        if self.old is None or self.new is None:
            return ()
        fields = [name for name in self.compared if getattr(self.old, name) != getattr(self.new, name)]
        return (*fields, *(name for name, delta in zip(FIGURES, self.delta) if delta))

    def to_dict(self) -> dict:
        return {"name": self.name, "change": self.change, "differs": list(self.differs),
                "old": self.old.to_dict() if self.old else None, "new": self.new.to_dict() if self.new else None,
                "delta": self.delta.to_dict()}


class TotalChange(NamedTuple):
    """One total of both networks: `name` as in the summary's JSON totals."""

    name: str
    old: int
    new: int

    @property
    def delta(self) -> int:
        return self.new - self.old

    @property
    def percent(self) -> Fraction | None:
        """The change in percent of the old figure, exactly; None when the old figure is 0."""
        from fractions import Fraction

        return Fraction(self.delta * 100, self.old) if self.old else None

    def grew_beyond(self, limit: Fraction) -> bool:
        """Whether it grew by more than `limit` percent (from 0, any growth does)."""
        return self.delta > 0 and (not self.old or self.delta * 100 > limit * self.old)

    def to_dict(self) -> dict:
        percent = self.percent
        return {"old": self.old, "new": self.new, "delta": self.delta,
                "percent": None if percent is None else round(float(percent), 4)}


@dataclass
class Diff:
    old: Summary
    new: Summary
    layers: list  # LayerChange, in the new network's order, each removed layer after its old predecessor
    totals: list  # TotalChange, in the order of the summary's totals

    @property
    def network_changes(self) -> list:
        """(field, old, new) for what differs of the networks themselves: input and output
        shape, dtype, batch."""
        return [(name, getattr(self.old, name), getattr(self.new, name)) for name in NETWORK_FIELDS
                if getattr(self.old, name) != getattr(self.new, name)]

    @property
    def empty(self) -> bool:
        return not self.layers and not self.network_changes and not any(total.delta for total in self.totals)

    def count(self, change: str) -> int:
        return sum(1 for layer in self.layers if layer.change == change)

    def total(self, name: str) -> TotalChange:
        return next(total for total in self.totals if total.name == name)

    def exceeded(self, limit: Fraction) -> list:
        """The gated totals (GATED) that grew by more than `limit` percent."""
        return [total for total in self.totals if total.name in GATED and total.grew_beyond(limit)]

    def to_dict(self) -> dict:
        return {"old": _side(self.old), "new": _side(self.new),
                "counts": {change: self.count(change) for change in (ADDED, REMOVED, CHANGED)},
                "layers": [layer.to_dict() for layer in self.layers],
                "totals": {total.name: total.to_dict() for total in self.totals}}


def diff(old: Summary, new: Summary, depth: int | None = None) -> Diff:
    """What changed from `old` to `new`. With `depth`, both are compared as `--depth`
    shows them: block instances nested deeper fold into one row each (cnncalc.fold), and
    rows are compared by type, output shape and figures (a folded row's inputs are the
    names of layers inside other rows)."""
    for summary in (old, new):
        _numeric(summary)
    old_rows, new_rows, compared = old.layers, new.layers, LAYER_FIELDS
    if depth is not None:
        from .fold import fold

        old_rows, new_rows, compared = fold(old_rows, depth), fold(new_rows, depth), FOLDED_FIELDS
    old_totals, new_totals = old.totals.to_dict(), new.totals.to_dict()
    totals = [TotalChange(name, old_totals[name], new_totals[name]) for name in old_totals]
    return Diff(old, new, _layer_changes(old_rows, new_rows, compared), totals)


def _layer_changes(old_rows: list, new_rows: list, compared: tuple) -> list:
    """In linear time: the new rows in order, added or changed ones kept, and each removed
    row placed after the last row before it in the old order that both networks have."""
    old_by_name = {row.name: row for row in old_rows}
    new_names = {row.name for row in new_rows}
    removed_after: dict = {}  # the name of the row a removed one follows (None: the top)
    anchor = None
    for row in old_rows:
        if row.name in new_names:
            anchor = row.name
        else:
            removed_after.setdefault(anchor, []).append(LayerChange(row.name, REMOVED, row, None))
    changes = list(removed_after.get(None, ()))
    for row in new_rows:
        before = old_by_name.get(row.name)
        if before is None:
            changes.append(LayerChange(row.name, ADDED, None, row))
        else:
            change = LayerChange(row.name, CHANGED, before, row, compared)
            if change.differs:
                changes.append(change)
            changes.extend(removed_after.get(row.name, ()))
    return changes


def parse_percent(text: str) -> Fraction:
    """'5%', '5', '0.5%' -> the percentage, exactly (for --max-increase)."""
    match = _PERCENT.fullmatch(str(text))
    if not match:
        raise UsageError(f"--max-increase expects a percentage such as 5% or 0.5%, got {text!r}",
                         hint="a number from 0 up, at most 15 digits before and after the point; the % is optional")
    from fractions import Fraction

    return Fraction(match.group(1))


def _numeric(summary: Summary) -> None:
    """Figures to subtract: a spec whose input has symbolic sizes (`input: [3, H, W]`) has formulas."""
    if not all(type(size) is int for size in summary.input_shape):
        raise UsageError(f"{summary.name}: the input has symbolic sizes ({shape_str(summary.input_shape)}), and "
                         "diff compares figures", hint="give the sizes to compare at, e.g. --input 3,224,224")


def _figures(record: LayerRecord | None) -> Figures:
    return record.figures if record is not None else Figures()


def _side(summary: Summary) -> dict:
    return {"file": summary.network.file if summary.network else None, "name": summary.name,
            "input_shape": list(summary.input_shape), "output_shape": list(summary.output_shape),
            "dtype": summary.dtype, "batch": summary.batch, "layers": len(summary.layers),
            "vars": dict(summary.network.variables) if summary.network else {}}
