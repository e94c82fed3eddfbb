"""Propagate shapes through a Network and gather each layer's figures into records."""
from __future__ import annotations

from dataclasses import dataclass, field

from .diagnostics import SpecError, UsageError
from .figures import Figures, WithFigures
from .gcpause import without_cycle_collection
from .layers.base import prod, shape_str
from .limits import MAX_DIM, MAX_RANK
from .network import DTYPES, INPUT, Network


@dataclass
class LayerRecord(WithFigures):
    name: str
    type: str
    inputs: list
    output_shape: tuple
    figures: Figures
    param_shapes: dict = field(default_factory=dict)
    scope: tuple = ()  # ((segment, label), ...) of enclosing block instances

    def to_dict(self) -> dict:
        return {"name": self.name, "type": self.type, "inputs": list(self.inputs),
                "output_shape": json_value(self.output_shape), **json_value(self.figures.to_dict())}


@dataclass
class Totals(WithFigures):
    figures: Figures
    param_memory: int  # bytes: parameters and buffers
    activation_memory: int  # bytes: every layer's output for the whole batch

    def to_dict(self) -> dict:
        return json_value({**self.figures.to_dict(non_trainable=True), "param_memory": self.param_memory,
                       "activation_memory": self.activation_memory})


@dataclass
class Summary:
    name: str
    input_shape: tuple
    output_shape: tuple
    dtype: str
    batch: int
    layers: list
    totals: Totals
    network: Network = field(repr=False, default=None)
    conditions: list = field(default_factory=list)  # symbolic input: where the formulas hold (symbolic.Condition)

    @property
    def symbolic(self) -> bool:
        """Whether the input has symbolic sizes (the figures are then formulas)."""
        return any(type(size) is not int for size in self.input_shape)

    def layer(self, name: str) -> LayerRecord:
        for record in self.layers:
            if record.name == name:
                return record
        raise KeyError(name)

    def requirements(self) -> list:
        """Where the formulas hold, as plain statements (conditions.Requirement); none for
        a numeric summary."""
        if not self.conditions:
            return []
        from .conditions import requirements

        witnesses = {name: size.value for size in self.input_shape if type(size) is not int
                     for name in size.symbols()}
        return requirements(self.conditions, witnesses)

    def to_dict(self) -> dict:
        data = {"name": self.name, "input_shape": json_value(self.input_shape),
                "output_shape": json_value(self.output_shape), "dtype": self.dtype, "batch": self.batch,
                "vars": dict(self.network.variables) if self.network else {},
                "layers": [record.to_dict() for record in self.layers], "totals": self.totals.to_dict()}
        if self.symbolic:  # the figures are formulas (strings); where they hold
            data["conditions"] = [requirement.to_dict() for requirement in self.requirements()]
        return data


def json_value(value):
    """Figures and shapes for JSON: numbers as they are, a formula (symbolic input) as text."""
    if isinstance(value, dict):
        return {key: json_value(item) for key, item in value.items()}
    if isinstance(value, (tuple, list)):
        return [json_value(item) for item in value]
    return value if type(value) is int or value is None else value.shown()


def infer_shapes(network: Network) -> dict:
    """Each node's output shape (and the input's), by the layer types' rules."""
    shapes = {INPUT: network.input_shape}
    mark = _marker(network.input_shape)
    for node in network.nodes:
        mark(node.name)
        inputs = [shapes[name] for name in node.inputs]
        try:
            out = tuple(node.layer.output_shape(*inputs))
        except SpecError as exc:
            loc = node.arg_locs.get(exc.arg, node.loc) if exc.arg else node.loc
            if (exc.hint is None or exc.arg is None) and not all(shape_str(s) in exc.message for s in inputs):
                exc.with_numbers({f"input {'shapes' if len(inputs) > 1 else 'shape'}":
                                  ", ".join(shape_str(s) for s in inputs)})
            raise exc.located(loc, node.name) from None
        mark(node.name, True)
        if len(out) > MAX_RANK:  # bounded rank and sizes keep every figure a number that prints
            raise SpecError(f"output shape has {len(out)} axes, above the limit of {MAX_RANK}", node.loc,
                            layer=node.name)
        if any(d > MAX_DIM for d in out):  # for a symbolic size, a condition: an upper bound
            raise SpecError(f"output shape {shape_str(out)} has a dimension above {MAX_DIM:,}", node.loc,
                            layer=node.name)
        shapes[node.name] = out
    return shapes


def _marker(input_shape):
    """What names the layer whose rules run, for the conditions a symbolic size records."""
    if all(type(size) is int for size in input_shape):
        return lambda name, limit=False: None
    from .symbolic import at

    return at


@without_cycle_collection
def summarize(network: Network, batch: int = 1) -> Summary:
    """Per-layer shapes, parameters, MACs and FLOPs, and their totals.

    MACs, FLOPs and activation memory scale with `batch`; parameters do not. With a
    symbolic input (input: [3, H, W]) they are formulas, which hold under the summary's
    `conditions`."""
    if not 1 <= batch <= MAX_DIM:  # a size like any other: keeps every figure printable
        raise UsageError(f"the batch size must be between 1 and {MAX_DIM:,}")
    if any(type(size) is not int for size in network.input_shape):
        from .symbolic import at_a_witness

        summary, summary.conditions = at_a_witness(network, lambda at: _summarize(at, batch))
        return summary
    return _summarize(network, batch)


def _summarize(network: Network, batch: int) -> Summary:
    shapes = infer_shapes(network)
    mark = _marker(network.input_shape)
    records = []
    for node in network.nodes:
        mark(node.name)
        inputs = [shapes[name] for name in node.inputs]
        out = shapes[node.name]
        layer = node.layer
        try:
            param_shapes = layer.param_shapes(*inputs)
            params = sum(prod(s) for s in param_shapes.values())
            figures = Figures(params=params, trainable_params=params if node.trainable else 0,
                              buffers=sum(prod(s) for s in layer.buffer_shapes(*inputs).values()),
                              macs=batch * layer.macs(out, *inputs), flops=batch * layer.flops(out, *inputs))
        except SpecError as exc:  # a rule that cannot take a symbolic size
            raise exc.located(node.loc, node.name) from None
        records.append(LayerRecord(node.name, layer.type, list(node.inputs), out, figures, param_shapes,
                                   node.scope))
    width = DTYPES[network.dtype]
    total = sum((record.figures for record in records), Figures())
    totals = Totals(total, param_memory=(total.params + total.buffers) * width,
                    activation_memory=batch * width * sum(prod(r.output_shape) for r in records))
    return Summary(network.name, network.input_shape, shapes[network.output], network.dtype, batch,
                   records, totals, network)
