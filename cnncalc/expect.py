"""The spec's `expect:` section: exact figures and budgets that a summary must meet."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .diagnostics import ECHO_LIMIT, Location, SpecError, did_you_mean, shown
from .layers.base import shape_str
from .limits import MAX_RANK
from .language.reader import Mapping

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
MAX_AMOUNT_CHARS = 64  # far beyond any real figure; int() of thousands of digits is refused by Python


@dataclass(frozen=True)
class Amount:
    """An `expect:` amount: the integer it names, and the figures it matches, low..high.

    An amount with a unit ('4.09G', '25.6M', '4G') is rounded to the last digit written:
    it matches every figure that rounds (half up) to it in that unit, so '4.09G' matches
    4,085,000,000..4,094,999,999. Without a unit ('60,840', 60840) it is exact."""

    value: int
    low: int
    high: int
    written: str

    def matches(self, figure: int) -> bool:
        return self.low <= figure <= self.high

    def __str__(self) -> str:
        if self.low == self.high:
            return f"{self.value:,}"
        return f"{self.written} (≈ {self.low:,}–{self.high:,})"


@dataclass
class Outcome:
    what: str  # "params", "max_macs", "layers.C3.params", "output_shape"
    expected: object  # an Amount, a budget's limit (int) or a shape (tuple)
    actual: object
    ok: bool
    loc: Location
    budget: bool = False

    def message(self) -> str:
        what = shown(self.what, ECHO_LIMIT)  # holds a layer name from the spec
        if self.budget:
            verdict = "is within" if self.ok else "exceeds"
            return f"{what}: {figure_text(self.actual)} {verdict} the budget of {figure_text(self.expected)}"
        return f"{what}: expected {figure_text(self.expected)}, got {figure_text(self.actual)}"

    def to_dict(self) -> dict:
        data = {"what": self.what, "expected": _plain(self.expected), "actual": _plain(self.actual),
                "ok": self.ok, "file": self.loc.file, "line": self.loc.line, "col": self.loc.col}
        if isinstance(self.expected, Amount) and self.expected.low != self.expected.high:
            data["expected_range"] = [self.expected.low, self.expected.high]
        return data


def _plain(value):
    if isinstance(value, Amount):
        return value.value
    return list(value) if isinstance(value, tuple) else value


def figure_text(value) -> str:
    """A figure as messages show it: 1,516, [6, 28, 28], or 4.09G (≈ 4,085,000,000–4,094,999,999)."""
    if isinstance(value, (list, tuple)):
        return shape_str(value)
    return f"{value:,}" if isinstance(value, int) else str(value)


def amount(value, loc: Location, what: str) -> int:
    """The integer an amount names: an integer, or a string such as '60,840', '25.6M', '1.5GiB'."""
    return parse_amount(value, loc, what).value


def parse_amount(value, loc: Location, what: str) -> Amount:
    """An amount with the figures it matches (see Amount)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return Amount(value, value, value, str(value))
    text = value if isinstance(value, str) else ""
    match = _AMOUNT.match(text) if len(text) <= MAX_AMOUNT_CHARS else None
    unit = match.group(2).upper() if match else None
    if not match or unit not in _UNITS:
        longer = f" (at most {MAX_AMOUNT_CHARS} characters)" if len(text) > MAX_AMOUNT_CHARS else ""
        raise SpecError(f"expect '{what}' must be a number such as 1516, '25.6M' or '1.5GiB'{longer}, "
                        f"got {value!r}", loc)
    # Decimal, not float: '25.6M' must be exact, and huge amounts must not overflow
    from decimal import ROUND_CEILING, Decimal

    number = Decimal(match.group(1).replace(",", "").replace("_", ""))
    scale = _UNITS[unit]
    exact = int((number * scale).to_integral_value())
    if scale == 1:
        return Amount(exact, exact, exact, text.strip())
    half_step = Decimal(scale).scaleb(number.as_tuple().exponent) / 2  # half of the last written digit
    low = int((number * scale - half_step).to_integral_value(ROUND_CEILING))
    high = int((number * scale + half_step).to_integral_value(ROUND_CEILING)) - 1
    return Amount(exact, max(low, 0), high, text.strip())


def _shape(value, loc: Location, what: str) -> tuple:
    if not isinstance(value, list) or not all(isinstance(d, int) and not isinstance(d, bool) for d in value):
        raise SpecError(f"expect '{what}' must be a list of integers such as [10], got {value!r}", loc)
    if len(value) > MAX_RANK:  # no layer's output has more axes: it could never match
        raise SpecError(f"expect '{what}' has {len(value):,} axes; an output has at most {MAX_RANK}", loc)
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
            wanted = parse_amount(value, loc, key)
            outcomes.append(Outcome(key, wanted, totals[key], wanted.matches(totals[key]), loc))
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
                ok = wanted == got
            elif key in LAYER_KEYS:
                wanted, got = parse_amount(value, at, key), actual[key]
                ok = wanted.matches(got)
            else:
                raise SpecError(f"unknown expect key '{key}' for layer '{name}'", figures.key_locs[key],
                                hint=did_you_mean(key, LAYER_KEYS, "layer keys"))
            outcomes.append(Outcome(f"layers.{name}.{key}", wanted, got, ok, at))
    return outcomes
