"""The receptive field of every layer, through the whole graph (`cnncalc summary --rf`).

Along each axis of a layer's output that stands for a spatial axis of the network's
input, a position's field is the span of input positions it depends on, first to last
(gaps within, as dilation leaves, included). The fields of all positions are one Window
(layers/reads.py): the input maps each position to itself, and a layer's field is its
input's composed with the layer's own window (`Layer.reads`). Positions past the borders
follow the same rule, so a field may start in the padding (a negative offset) or end
past the input. Per axis three figures sum it up:

* size: the most input positions one position's field spans;
* jump: input positions between neighbouring positions' fields (a fraction after
  upsampling, where the pattern repeats every few positions);
* offset: where position 0's field starts.

A merge (add, mul, concat, ...) takes the union of its branches' fields position by
position, with a note where they differ (their centres apart, or no branch's field the
union: not a residual add, whose shortcut's field lies centred within the body's);
branches that advance by different jumps have no union that slides, so the axis gets no
field. A reduction over a whole axis (global pooling, mean, normalisation statistics)
leaves no field on that axis, and a branch broadcast along an axis (size 1) is left out of
the union there: both make the layer and every one after it `is_global`, each position
also depending on values shared by all positions (with squeeze-and-excitation or image
pooling: on the whole input).
"""
from __future__ import annotations

from math import gcd
from typing import NamedTuple

from .diagnostics import UsageError
from .layers.reads import IDENTITY, MAX_PERIOD, Window, too_long
from .layers.window import axes_names
from .network import INPUT, Network

# lookups spent on patterns longer than one position, for all the fields of a network
# together (a sliding window on a sliding field costs one, as any rule): past it, the
# fields still to come are not given, so the work stays bounded whatever the patterns
MAX_WORK = 500_000


class AxisField(NamedTuple):
    """The field along one axis of a layer's output: `window` maps its positions to the
    positions of the network input's spatial axis `axis` (0: the first, H of [C, H, W])."""

    axis: int
    window: Window

    @property
    def size(self) -> int:
        return max(last - first + 1 for first, last in filter(None, self.window.spans))

    @property
    def jump(self):
        """An int, or a fractions.Fraction where a position's field moves on by less than one
        input position (upsampling, transposed convolution)."""
        period, advance = self.window.period, self.window.advance
        if advance % period == 0:
            return advance // period
        from fractions import Fraction

        return Fraction(advance, period)

    @property
    def offset(self) -> int | None:
        """Where position 0's field starts; None when position 0 reads no input."""
        span = self.window.spans[0]
        return None if span is None else span[0]


class Field(NamedTuple):
    """A layer's receptive field: per axis of its output, an AxisField or None (channels,
    features, an axis reduced or rearranged)."""

    axes: tuple
    is_global: bool = False  # each position also depends on values shared by all positions
    notes: tuple = ()  # where branches disagree, where a field is lost, and why

    @property
    def spatial(self) -> tuple:
        """The AxisFields, in the output's axis order."""
        return tuple(axis for axis in self.axes if axis is not None)


def input_axes(network: Network) -> tuple:
    """Names of the network input's spatial axes: L for tokens [L] and [C, L]; H, W; D, H, W."""
    rank = len(network.input_shape)
    return ("L",) if rank == 1 else axes_names(rank - 1)


def receptive_fields(network: Network, shapes: dict | None = None) -> dict:
    """Every node's Field by name, and the input's under network.INPUT (`shapes`: each
    node's output shape, as summary.infer_shapes gives them)."""
    if shapes is None:
        from .summary import infer_shapes

        shapes = infer_shapes(network)
    rank = len(network.input_shape)
    first = 0 if rank == 1 else 1  # [L] is token positions; otherwise axis 0 holds channels
    fields = {INPUT: Field((None,) * first + tuple(AxisField(a, IDENTITY) for a in range(rank - first)))}
    names, work = input_axes(network), _Work()
    for node in network.nodes:
        reads = node.layer.reads(shapes[node.name], *(shapes[name] for name in node.inputs))
        fields[node.name] = _field(reads, [fields[name] for name in node.inputs], node.inputs, names, work)
    return fields


class _Work:
    """What is left of MAX_WORK."""

    def __init__(self):
        self.left = MAX_WORK

    def take(self, amount: int) -> bool:
        self.left -= amount
        return self.left >= 0


def _field(reads, inputs: list, sources: list, names: tuple, work: _Work) -> Field:
    """A layer's Field from its Reads and its inputs' Fields (`sources`: their names)."""
    read = {k for axis in reads.axes for k, _, _ in axis} | {k for k, _ in reads.whole}
    is_global = (any(inputs[k].is_global for k in read)
                 or any(inputs[k].axes[a] is not None for k, a in reads.whole))
    notes, offsets, axes = [], [], []
    for branches in reads.axes:
        parts, missing = [], []
        for k, a, window in branches:
            field = inputs[k].axes[a]
            if field is None:
                missing.append(k)
                continue
            composed, why = _compose(field.window, window, work)
            if composed is None:
                notes.append(f"{names[field.axis]}: {why}")
                parts = []
                break
            parts.append((sources[k], AxisField(field.axis, composed)))
        axis, why = _union(parts, names, work)
        if axis is not None and not any(axis.window.spans):  # reads only positions that read nothing
            why = f"{names[axis.axis]}: no position reads any input"
            axis = None
        axes.append(axis)
        if why:
            notes.append(why)
        if axis is not None:
            if len(parts) > 1 and _disagree(parts, axis):
                offsets.append((names[axis.axis], _offsets(parts, axis)))
            notes += [f"{names[axis.axis]}: branch '{sources[k]}' has no field here and is left out of the union"
                      for k in missing if not inputs[k].is_global]
            notes += _empties(axis, names)
    if offsets:
        notes.insert(0, _merged(offsets))
    fields_in = max((len(inputs[k].spatial) for k in read), default=0)
    if reads.note and sum(axis is not None for axis in axes) < fields_in:
        notes.append(reads.note)
    return Field(tuple(axes), is_global, tuple(dict.fromkeys(notes)))


def _compose(field: Window, window: Window, work: _Work):
    """The field of a layer's positions along one axis: `window` takes them to its input's
    positions, `field` those to the network input's. (Window, None), or (None, why)."""
    turns = field.period // gcd(field.period, window.advance)  # windows' periods per field period
    period = turns * window.period
    if period > MAX_PERIOD:
        return None, too_long(period, "the field")
    cycle = field.period // gcd(field.period, window.step)  # read positions before their phases repeat
    reads = max(((span[1] - span[0]) // window.step + 1 for span in window.spans if span), default=1)
    if not work.take(2 * period * min(cycle, reads) - 2):
        return None, f"not computed: following the fields' patterns took more than {MAX_WORK:,} steps"
    spans = tuple(_reach(field, window.at(q), window.step, cycle) for q in range(period))
    return Window(period, turns * window.advance // field.period * field.advance, spans), None


def _reach(field: Window, span, step: int, cycle: int):
    """The span of network-input positions that the input positions first, first + step,
    … last read together. Along each phase of `field` the spans only move on (its advance
    is not negative), so the first `cycle` positions read give the start, the last the end."""
    if span is None:
        return None
    first, last = span
    count = min(cycle, (last - first) // step + 1)
    starts = [s[0] for s in (field.at(first + j * step) for j in range(count)) if s]
    ends = [s[1] for s in (field.at(last - j * step) for j in range(count)) if s]
    return (min(starts), max(ends)) if starts else None


def _union(parts: list, names: tuple, work: _Work):
    """The union of the branches' AxisFields ((source name, AxisField) pairs) position by
    position: (AxisField or None, a note or None)."""
    if len(parts) < 2:
        return (parts[0][1] if parts else None), None
    base = parts[0][1].window
    name = names[parts[0][1].axis]
    if len({field.axis for _, field in parts}) > 1:
        listed = _listed(f"'{source}' {names[field.axis]}" for source, field in parts)
        return None, f"branches read different input axes ({listed}): no field on that axis"
    if any(field.window.advance * base.period != base.advance * field.window.period for _, field in parts):
        listed = _listed(f"'{source}' {field.jump}" for source, field in parts)
        return None, (f"{name}: branches advance by different jumps ({listed}): their union does not slide, "
                      f"so {name} has no field from here on")
    period = 1
    for _, field in parts:
        period = period * field.window.period // gcd(period, field.window.period)
    if period > MAX_PERIOD:
        return None, f"{name}: {too_long(period, 'the union of the branches')}"
    if period > 1 and not work.take(3 * period * len(parts)):  # the union, and comparing the branches
        return None, f"{name}: not computed: following the fields' patterns took more than {MAX_WORK:,} steps"
    spans = tuple(_joined([field.window.at(q) for _, field in parts]) for q in range(period))
    return AxisField(parts[0][1].axis, Window(period, base.advance * (period // base.period), spans)), None


def _joined(spans: list):
    spans = [span for span in spans if span is not None]
    return (min(s[0] for s in spans), max(s[1] for s in spans)) if spans else None


def _apart(parts: list, period: int) -> int:
    """How far apart the branches' fields' centres are at most, in half positions."""
    most = 0
    for q in range(period):
        centres = [sum(span) for span in (field.window.at(q) for _, field in parts) if span is not None]
        most = max(most, max(centres, default=0) - min(centres, default=0))
    return most


def _disagree(parts: list, union: AxisField) -> bool:
    """Whether the branches' fields are worth a note: their centres differ, or no branch's
    field is the union (a residual add, whose shortcut's field lies centred within the
    body's, is not)."""
    period = union.window.period
    return bool(_apart(parts, period)) or not any(
        all(field.window.at(q) == union.window.at(q) for q in range(period)) for _, field in parts)


def _offsets(parts: list, union: AxisField) -> str:
    """'conv' from -1 (size 3), 'crop' from 0 (size 1), jump 1; centres 1 apart."""
    listed = _listed(f"'{source}' from {'-' if field.offset is None else field.offset} (size {field.size})"
                     for source, field in parts)
    apart = _apart(parts, union.window.period) / 2
    return f"{listed}, jump {parts[0][1].jump}; {'centres aligned' if not apart else f'centres {apart:g} apart'}"


def _listed(items, most: int = 4) -> str:
    """The first `most` items (each once), and how many more (a merge may have thousands of
    branches)."""
    items = list(dict.fromkeys(items))
    more = f", … {len(items) - most:,} more" if len(items) > most else ""
    return ", ".join(items[:most]) + more


def _merged(offsets: list) -> str:
    """One note for the branches' fields: the same on every axis, or axis by axis."""
    lead = "the branches' fields differ, the field is their union: "
    if len({text for _, text in offsets}) == 1:
        return lead + offsets[0][1]
    return lead + "; ".join(f"{axis}: {text}" for axis, text in offsets)


def _empties(axis: AxisField, names: tuple) -> list:
    empty = sum(span is None for span in axis.window.spans)
    if not empty:
        return []
    return [f"{names[axis.axis]}: {empty} of every {axis.window.period} positions read no input"]


class RowFields(NamedTuple):
    """The fields a summary shows: the input's spatial axes by name, the input's Field,
    and each row's."""

    axes: tuple
    input: Field
    rows: list


def row_fields(summary, depth: int | None = None) -> RowFields:
    """The Field of each row a summary shows: its layers, or under `depth` their folded rows
    (cnncalc/fold.py), each of which shows the field at its block's output: its last layer's."""
    if summary.symbolic:
        raise UsageError("--rf needs the input's sizes as numbers: a field can depend on them",
                         hint="give the sizes with --input, e.g. --input 3,224,224")
    shapes = {INPUT: summary.input_shape, **{record.name: record.output_shape for record in summary.layers}}
    fields = receptive_fields(summary.network, shapes)
    if depth is None:
        ends = [record.name for record in summary.layers]
    else:  # a folded row takes its last layer's output shape: folding the names there says which
        from dataclasses import replace

        from .fold import fold

        ends = [row.output_shape for row in fold([replace(r, output_shape=r.name) for r in summary.layers], depth)]
    return RowFields(input_axes(summary.network), fields[INPUT], [fields[name] for name in ends])
