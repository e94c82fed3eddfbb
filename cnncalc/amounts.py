"""Amounts as a spec writes them ('60,840', '25.6M', '1.5GiB') and figures as messages show
them: shared by `expect:`, `--update-expect` and `--max-memory`."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .diagnostics import Location, SpecError
from .layers.base import shape_str

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
