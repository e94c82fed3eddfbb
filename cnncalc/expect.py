"""The spec's `expect:` section: exact figures and budgets that a summary must meet."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import Location, SpecError, did_you_mean
from .layers.base import shape_str
from .spec.source import Mapping

TOTALS = ("params", "trainable_params", "non_trainable_params", "buffers", "macs", "flops",
          "param_memory", "activation_memory")
BUDGETS = {"max_params": "params", "max_macs": "macs", "max_flops": "flops",
           "max_param_memory": "param_memory", "max_activation_memory": "activation_memory"}
LAYER_KEYS = ("output_shape", "params", "trainable_params", "buffers", "macs", "flops")
KEYS = (*TOTALS, *BUDGETS, "output_shape", "layers")
_UNITS = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
          "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40, "B": 1}
_AMOUNT = re.compile(r"^\s*([0-9][0-9_,]*(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*$")


@dataclass
class Outcome:
    what: str  # "params", "max_macs", "layers.C3.params", "output_shape"
    expected: object
    actual: object
    ok: bool
    loc: Location
    budget: bool = False

    def message(self) -> str:
        if self.budget:
            verdict = "is within" if self.ok else "exceeds"
            return f"{self.what}: {figure_text(self.actual)} {verdict} the budget of {figure_text(self.expected)}"
        return f"{self.what}: expected {figure_text(self.expected)}, got {figure_text(self.actual)}"

    def to_dict(self) -> dict:
        return {"what": self.what, "expected": _plain(self.expected), "actual": _plain(self.actual),
                "ok": self.ok, "file": self.loc.file, "line": self.loc.line, "col": self.loc.col}


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def figure_text(value) -> str:
    """A figure as messages show it: 1,516 or [6, 28, 28]."""
    if isinstance(value, (list, tuple)):
        return shape_str(value)
    return f"{value:,}" if isinstance(value, int) else str(value)


def amount(value, loc: Location, what: str) -> int:
    """An integer, or a string such as '60,840', '25.6M', '1.5GiB'."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _AMOUNT.match(value) if isinstance(value, str) else None
    unit = match.group(2).upper() if match else None
    if not match or unit not in _UNITS:
        raise SpecError(f"expect '{what}' must be a number such as 1516, '25.6M' or '1.5GiB', got {value!r}", loc)
    number = match.group(1).replace(",", "").replace("_", "")
    if "." not in number:
        return int(number) * _UNITS[unit]
    # Decimal, not float: '25.6M' must be exact, and huge amounts must not overflow
    from decimal import Decimal

    return int((Decimal(number) * _UNITS[unit]).to_integral_value())


def _shape(value, loc: Location, what: str) -> tuple:
    if not isinstance(value, list) or not all(isinstance(d, int) and not isinstance(d, bool) for d in value):
        raise SpecError(f"expect '{what}' must be a list of integers such as [10], got {value!r}", loc)
    return tuple(value)


def check(summary, expect: Mapping | None) -> list[Outcome]:
    """Compare a summary with an `expect:` mapping; invalid keys are SpecErrors."""
    if not expect:
        return []
    outcomes = []
    totals = summary.totals.to_dict()
    for key, value in expect.items():
        loc = expect.where(key)
        if key in TOTALS:
            wanted = amount(value, loc, key)
            outcomes.append(Outcome(key, wanted, totals[key], wanted == totals[key], loc))
        elif key in BUDGETS:
            limit = amount(value, loc, key)
            actual = totals[BUDGETS[key]]
            outcomes.append(Outcome(key, limit, actual, actual <= limit, loc, budget=True))
        elif key == "output_shape":
            wanted = _shape(value, loc, key)
            outcomes.append(Outcome(key, wanted, tuple(summary.output_shape),
                                    wanted == tuple(summary.output_shape), loc))
        elif key == "layers":
            outcomes.extend(_check_layers(summary, value, loc))
        else:
            raise SpecError(f"unknown expect key '{key}'", expect.key_locs[key],
                            hint=did_you_mean(key, KEYS, "expect keys"))
    return outcomes


def _check_layers(summary, layers, loc: Location) -> list[Outcome]:
    if not isinstance(layers, Mapping):
        raise SpecError("expect 'layers' must map layer names to figures, e.g. {C3: {params: 1516}}", loc)
    records = {record.name: record for record in summary.layers}
    outcomes = []
    for name, figures in layers.items():
        where = layers.key_locs[name]
        record = records.get(str(name))
        if record is None:
            raise SpecError(f"expect names layer '{name}', which the spec does not have", where,
                            hint=did_you_mean(str(name), records, "layers") if len(records) < 50
                            else did_you_mean(str(name), records))
        if not isinstance(figures, Mapping):
            raise SpecError(f"expect for layer '{name}' must be a mapping such as {{params: 1516}}", where)
        actual = record.to_dict()
        for key, value in figures.items():
            at = figures.where(key)
            if key == "output_shape":
                wanted, got = _shape(value, at, key), tuple(record.output_shape)
            elif key in LAYER_KEYS:
                wanted, got = amount(value, at, key), actual[key]
            else:
                raise SpecError(f"unknown expect key '{key}' for layer '{name}'", figures.key_locs[key],
                                hint=did_you_mean(key, LAYER_KEYS, "layer keys"))
            outcomes.append(Outcome(f"layers.{name}.{key}", wanted, got, wanted == got, at))
    return outcomes
