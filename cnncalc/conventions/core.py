"""What a peer tool would print for a network, and where and why it differs from cnncalc.

Each peer has a module of its own here (torchinfo.py, fvcore.py, ...) that states the tool's
counting rules as its source code has them: a table keyed by the tool's own key (the PyTorch
module class a hook-based tool dispatches on, the aten operator fvcore's tracer sees,
darknet's [section], Keras' layer class). A spec layer is shown to a tool as the module
`cnncalc export --to pytorch` writes for it: the class named by the layer type's own
`torch_code`, with the parameters the layer type declares under their torch names.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

from ..diagnostics import SpecError, UsageError
from ..figures import Figures
from ..layers.base import Layer
from ..network import INPUT


@dataclass(frozen=True)
class Seen:
    """One spec layer as a peer sees it. Shapes are per sample, as everywhere in cnncalc;
    `batch` is the batch the tool runs with."""

    name: str
    layer: Layer
    module: str | None  # the torch module class ("Conv2d", "Merge"); None where the type has none
    inputs: tuple
    output: tuple
    params: dict  # torch parameter name -> shape
    buffers: dict
    trainable: bool
    batch: int
    figures: Figures  # cnncalc's own, for the whole batch

    def has(self, param: str) -> bool:
        return param in self.params

    @property
    def param_count(self) -> int:
        return sum(math.prod(shape) for shape in self.params.values())

    @property
    def buffer_count(self) -> int:
        return sum(math.prod(shape) for shape in self.buffers.values())

    @property
    def transposed(self) -> bool:
        return "Transpose" in (self.module or "")

    @property
    def in_numel(self) -> int:
        """Elements of the first input, for the whole batch (what a forward hook's input[0] has)."""
        return self.batch * math.prod(self.inputs[0])

    @property
    def out_numel(self) -> int:
        return self.batch * math.prod(self.output)


class Count(NamedTuple):
    """A tool's figure for one layer: `value` None where the tool cannot count the layer;
    `why` states the tool's rule, shown where the value differs from cnncalc's own figure."""

    value: int | None
    why: str = ""


ZERO = Count(0)


@dataclass(frozen=True)
class Figure:
    """One figure a tool prints, and cnncalc's figure it corresponds to (None: nothing to
    compare, as a count cnncalc has no name for)."""

    key: str
    label: str
    ours: Callable[[Figures], int] | None = None
    shown: Callable[[int], str] = "{:,}".format


def module_key(seen: Seen) -> str:
    """A hook-based tool's key: the torch module class ("-" where the type has none)."""
    return seen.module or "-"


@dataclass(frozen=True)
class Tool:
    name: str
    version: str  # the version whose source these rules are read from
    source: str  # the files of that source
    figures: tuple  # Figure, in the tool's printing order
    count: Callable[[Seen], dict]  # Seen -> {figure key: Count}
    remarks: tuple = ()  # what holds for every layer (units, batch, what is left out)
    per_sample: bool = False  # the tool divides by the batch (ptflops)
    key: Callable[[Seen], str] = module_key  # the tool's own key for a layer: what its rules are looked up by


@dataclass
class Row:
    name: str
    type: str
    key: str  # the tool's own key for this layer
    counts: dict  # figure key -> int | None
    why: list  # "figure: reason" for each figure that differs from cnncalc's


@dataclass
class Report:
    tool: Tool
    network: str
    batch: int
    rows: list
    totals: dict  # figure key -> int (layers the tool cannot count add nothing)
    ours: dict  # figure key -> cnncalc's own total, where it has one
    uncounted: list = field(default_factory=list)  # names of the layers the tool cannot count

    def to_dict(self) -> dict:
        return {"tool": self.tool.name, "version": self.tool.version, "source": self.tool.source,
                "network": self.network, "batch": self.batch, "remarks": list(self.tool.remarks),
                "figures": {figure.key: figure.label for figure in self.tool.figures},
                "layers": [{"name": row.name, "type": row.type, "key": row.key, **row.counts, "why": row.why}
                           for row in self.rows],
                "totals": self.totals, "cnncalc": self.ours, "uncounted": self.uncounted}


def torch_module(layer: Layer, inputs: tuple) -> str | None:
    """The class of the PyTorch module cnncalc export writes for `layer`: what its
    `torch_code` constructs (`nn.Conv2d(3, 8, 3)` -> "Conv2d")."""
    try:
        code = layer.torch_code(*inputs)
    except SpecError:
        return None
    return code.split("(", 1)[0].removeprefix("nn.")


def report(summary, tool: Tool) -> Report:
    """`summary` (cnncalc.summary.Summary) counted as `tool` counts."""
    if summary.symbolic:
        raise UsageError("--convention needs a numeric input shape: the peers count one run",
                         hint="give the input sizes with --input (e.g. --input 3,224,224)")
    nodes = {node.name: node for node in summary.network.nodes}
    shapes = {INPUT: summary.input_shape, **{record.name: record.output_shape for record in summary.layers}}
    batch = 1 if tool.per_sample else summary.batch
    rows, uncounted = [], []
    for record in summary.layers:
        node = nodes[record.name]
        inputs = tuple(shapes[name] for name in node.inputs)
        module = torch_module(node.layer, inputs)
        figures = record.figures if batch == summary.batch else per_sample(record.figures, summary.batch)
        seen = Seen(record.name, node.layer, module, inputs, record.output_shape, dict(record.param_shapes),
                    node.layer.buffer_shapes(*inputs), node.trainable, batch, figures)
        counts = tool.count(seen)
        why = [f"{figure.label}: {counts[figure.key].why}" for figure in tool.figures
               if figure.ours is not None and counts[figure.key].why
               and counts[figure.key].value != figure.ours(figures)]
        if any(count.value is None for count in counts.values()):
            uncounted.append(record.name)
        rows.append(Row(record.name, record.type, tool.key(seen),
                        {name: count.value for name, count in counts.items()}, why))
    totals = {figure.key: sum(row.counts[figure.key] or 0 for row in rows) for figure in tool.figures}
    whole = summary.totals.figures if batch == summary.batch else per_sample(summary.totals.figures, summary.batch)
    ours = {figure.key: figure.ours(whole) for figure in tool.figures if figure.ours is not None}
    return Report(tool, summary.name, batch, rows, totals, ours, uncounted)


def per_sample(figures: Figures, batch: int) -> Figures:
    return figures._replace(macs=figures.macs // batch, flops=figures.flops // batch)
