"""The spec's `expect:` section read into typed records when the spec is loaded, so that a
mistake in it (an unknown key, an amount such as '12x') is reported by every command,
whether or not it checks the figures. Records keep the spec's order and their places.

Layer names are judged later, against the built network (`cnncalc.expect.check`): under
--set, a `when:` may switch a named layer off."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..amounts import Amount, amount, parse_amount
from ..diagnostics import Location, SpecError, did_you_mean
from ..figures import FIGURES
from ..limits import MAX_RANK
from .reader import Mapping, kind_of

TOTALS = (*FIGURES, "non_trainable_params", "param_memory", "activation_memory")
BUDGETS = {"max_params": "params", "max_macs": "macs", "max_flops": "flops",
           "max_param_memory": "param_memory", "max_activation_memory": "activation_memory"}
LAYER_KEYS = ("output_shape", *FIGURES)
KEYS = (*TOTALS, *BUDGETS, "output_shape", "layers")


@dataclass(frozen=True)
class Total:
    """An exact figure, of the network or of one layer: `params: 25.6M`."""

    figure: str  # params, macs, ...
    amount: Amount
    loc: Location
    budget: ClassVar[bool] = False

    what = property(lambda self: self.figure)
    wanted = property(lambda self: self.amount)

    def met_by(self, actual: int) -> bool:
        return self.amount.matches(actual)


@dataclass(frozen=True)
class Budget:
    """A figure of the network that must not exceed a limit: `max_macs: 4.1G`."""

    key: str  # max_macs
    figure: str  # the figure it bounds: macs
    limit: int
    loc: Location
    budget: ClassVar[bool] = True

    what = property(lambda self: self.key)
    wanted = property(lambda self: self.limit)

    def met_by(self, actual: int) -> bool:
        return actual <= self.limit


@dataclass(frozen=True)
class OutputShape:
    """The output shape, of the network or of one layer: `output_shape: [1000]`."""

    shape: tuple
    loc: Location
    figure: ClassVar[str] = "output_shape"
    budget: ClassVar[bool] = False

    what = property(lambda self: self.figure)
    wanted = property(lambda self: self.shape)

    def met_by(self, actual) -> bool:
        return self.shape == tuple(actual)


@dataclass(frozen=True)
class LayerFigures:
    """`layers: {C3: {params: 1516}}`: the figures of the layer named (as written)."""

    name: str
    figures: tuple  # Total and OutputShape records, in the spec's order
    loc: Location  # of the name


def parse(doc: Mapping) -> tuple | None:
    """The records of the spec's `expect:` in its order; None when it has none."""
    expect = doc.get("expect")
    if expect is None:
        return None
    if not isinstance(expect, Mapping):
        raise SpecError(f"'expect' must be a mapping, got {kind_of(expect)}", doc.where("expect"))
    records = []
    for key, value in expect.items():
        loc = expect.where(key)
        if key in TOTALS:
            records.append(Total(key, parse_amount(value, loc, key), loc))
        elif key in BUDGETS:
            records.append(Budget(key, BUDGETS[key], amount(value, loc, key), loc))
        elif key == "output_shape":
            records.append(OutputShape(_shape(value, loc, key), loc))
        elif key == "layers":
            records += _layers(value, loc)
        else:
            raise SpecError(f"unknown expect key '{key}'", expect.key_locs[key],
                            hint=did_you_mean(key, KEYS, "expect keys"))
    return tuple(records)


def _layers(layers, loc: Location) -> list[LayerFigures]:
    if not isinstance(layers, Mapping):
        raise SpecError("expect 'layers' must map layer names to figures, e.g. {C3: {params: 1516}}", loc)
    records = []
    for name, figures in layers.items():
        where = layers.key_locs[name]
        if not isinstance(figures, Mapping):
            raise SpecError(f"expect for layer '{name}' must be a mapping such as {{params: 1516}}", where)
        records.append(LayerFigures(str(name), tuple(_layer_figure(name, figures, key) for key in figures), where))
    return records


def _layer_figure(name, figures: Mapping, key) -> Total | OutputShape:
    at = figures.where(key)
    if key == "output_shape":
        return OutputShape(_shape(figures[key], at, key), at)
    if key in LAYER_KEYS:
        return Total(key, parse_amount(figures[key], at, key), at)
    raise SpecError(f"unknown expect key '{key}' for layer '{name}'", figures.key_locs[key],
                    hint=did_you_mean(key, LAYER_KEYS, "layer keys"))


def _shape(value, loc: Location, what: str) -> tuple:
    if not isinstance(value, list) or not all(isinstance(d, int) and not isinstance(d, bool) for d in value):
        raise SpecError(f"expect '{what}' must be a list of integers such as [10], got {value!r}", loc)
    if len(value) > MAX_RANK:  # no layer's output has more axes: it could never match
        raise SpecError(f"expect '{what}' has {len(value):,} axes; an output has at most {MAX_RANK}", loc)
    return tuple(value)
