"""Sizes as formulas: `input: [3, H, W]` runs the layer types' own shape and cost rules on
symbols instead of numbers.

A `Size` is an integer polynomial over atoms, where an atom is a symbol (H) or the floor
of a polynomial over an integer (⌊(H + 1)/2⌋): exactly what the rules' + - * // make.
Floors are kept in a normal form (numerator coefficients reduced below the divisor, nested
floors merged: ⌊(⌊x/a⌋ + c)/b⌋ = ⌊(x + ac)/(ab)⌋), so that one network's many sizes stay
few atoms and equal sizes compare equal.

Each size also carries its value at a witness (the spec's own numbers, or a size where the
network is valid). Where a rule compares sizes (`if out <= 0: raise`, `max`, a merge's
shapes being equal), the witness decides the branch and the comparison is recorded as a
condition: the formulas hold wherever every recorded condition does (see conditions.py).
"""
from __future__ import annotations

from contextlib import contextmanager
from itertools import count
from math import gcd
from typing import NamedTuple
from weakref import WeakValueDictionary

from .diagnostics import SpecError

DEFAULT_WITNESS = 224  # a symbol's value where the spec gives none: the usual image size
MAX_SYMBOL = 32  # characters in a symbol's name: formulas repeat it many times
MAX_FORMULA = 4000  # characters of a formula printed; a longer one is cut, and says so


class NeedsNumber(SpecError):
    """A rule that cannot take a formula (it needs the number itself)."""


class Atom:
    """A symbol, or ⌊numerator / divisor⌋; interned (while in use), so that equal atoms are
    one object. `order` (of creation) sorts the atoms of a product."""

    __slots__ = ("name", "numerator", "divisor", "order", "__weakref__")
    _interned: WeakValueDictionary = WeakValueDictionary()
    _made = count()

    def __init__(self, name, numerator, divisor):
        self.name, self.numerator, self.divisor, self.order = name, numerator, divisor, next(self._made)

    @classmethod
    def get(cls, name: str | None = None, numerator: "Size | None" = None, divisor: int = 1) -> "Atom":
        key = name if name is not None else (numerator.key(), divisor)
        atom = cls._interned.get(key)
        if atom is None:
            atom = cls._interned[key] = cls(name, numerator, divisor)
        return atom

    def value(self, bindings: dict) -> int:
        if self.name is not None:
            return bindings[self.name]
        return self.numerator.evaluate(bindings) // self.divisor

    def symbols(self) -> set:
        return {self.name} if self.name is not None else self.numerator.symbols()

    def __str__(self) -> str:
        if self.name is not None:
            return self.name
        numerator = self.numerator
        # ⌊(x + d - 1)/d⌋ reads better as ⌈x/d⌉
        constant = numerator.terms.get((), 0)
        if constant == self.divisor - 1 and len(numerator.terms) > 1:
            rest = str(numerator - constant)
            return f"⌈{_grouped(rest)}/{self.divisor}⌉"
        return f"⌊{_grouped(str(numerator))}/{self.divisor}⌋"


def _grouped(text: str) -> str:
    return f"({text})" if any(sign in text for sign in " +-") else text


class Size:
    """An integer-valued polynomial over atoms, with its value at the witness. Arithmetic
    with ints and Sizes gives a Size, or an int where the result is a constant."""

    __slots__ = ("terms", "value")

    def __init__(self, terms: dict, value: int):
        self.terms = terms  # {monomial (a tuple of atoms, sorted by order): integer coefficient}
        self.value = value

    @classmethod
    def symbol(cls, name: str, witness: int) -> "Size":
        return cls({(Atom.get(name),): 1}, witness)

    # --- making ---
    @staticmethod
    def made(terms: dict, value: int):
        terms = {m: c for m, c in terms.items() if c}
        if not terms:
            return 0
        if len(terms) == 1 and () in terms:
            return terms[()]
        return Size(terms, value)

    def key(self):
        return frozenset(self.terms.items())

    def __add__(self, other):
        if isinstance(other, int) and not isinstance(other, bool):
            if other == 0:
                return self
            terms = dict(self.terms)
            terms[()] = terms.get((), 0) + other
            return Size.made(terms, self.value + other)
        if isinstance(other, Size):
            terms = dict(self.terms)
            for monomial, coefficient in other.terms.items():
                terms[monomial] = terms.get(monomial, 0) + coefficient
            return Size.made(terms, self.value + other.value)
        return NotImplemented

    __radd__ = __add__

    def __neg__(self):
        return Size({m: -c for m, c in self.terms.items()}, -self.value)

    def __pos__(self):
        return self

    def __sub__(self, other):
        if isinstance(other, (int, Size)) and not isinstance(other, bool):
            return self + (-other)
        return NotImplemented

    def __rsub__(self, other):
        if isinstance(other, int) and not isinstance(other, bool):
            return (-self) + other
        return NotImplemented

    def __mul__(self, other):
        if isinstance(other, int) and not isinstance(other, bool):
            if other == 0:
                return 0
            return Size({m: c * other for m, c in self.terms.items()}, self.value * other)
        if isinstance(other, Size):
            terms: dict = {}
            for m1, c1 in self.terms.items():
                for m2, c2 in other.terms.items():
                    monomial = tuple(sorted(m1 + m2, key=_order)) if m1 and m2 else m1 or m2
                    terms[monomial] = terms.get(monomial, 0) + c1 * c2
            return Size.made(terms, self.value * other.value)
        return NotImplemented

    __rmul__ = __mul__

    # a size that a rule divides by, or divides exactly, is pinned at its witness (__index__)
    def __floordiv__(self, other):
        if isinstance(other, Size):
            other = other.__index__()
        if not isinstance(other, int) or isinstance(other, bool):
            return NotImplemented
        if other == 1:
            return self
        if other <= 0:
            raise NeedsNumber(f"cannot floor-divide a formula by {other}")
        return _floor(self, other)

    def __rfloordiv__(self, other):
        return other // self.__index__()

    def __mod__(self, other):
        if isinstance(other, Size):
            other = other.__index__()
        if isinstance(other, int) and not isinstance(other, bool):
            return self - other * (self // other)
        return NotImplemented

    def __rmod__(self, other):
        return other % self.__index__()

    def __truediv__(self, other):
        return self.__index__() / (other.__index__() if isinstance(other, Size) else other)

    def __rtruediv__(self, other):
        return other / self.__index__()

    # --- comparing: the witness decides, the comparison is recorded ---
    def __lt__(self, other):
        return _relate(self, other, "<")

    def __le__(self, other):
        return _relate(self, other, "<=")

    def __gt__(self, other):
        return _relate(self, other, ">")

    def __ge__(self, other):
        return _relate(self, other, ">=")

    def __eq__(self, other):
        if not isinstance(other, (int, Size)) or isinstance(other, bool):
            return NotImplemented
        return _relate(self, other, "==")

    def __ne__(self, other):
        if not isinstance(other, (int, Size)) or isinstance(other, bool):
            return NotImplemented
        return not _relate(self, other, "==")

    def __bool__(self):
        return not _relate(self, 0, "==")

    def __hash__(self):
        return hash(self.key())

    def __index__(self):
        """A rule that needs the number itself (math.gcd, float) gets the witness's, and
        the formulas then hold where this size has that value: a recorded condition."""
        record(self - self.value, "==", True)
        return self.value

    __int__ = __index__

    def __float__(self):
        return float(self.__index__())

    # --- reading ---
    def evaluate(self, bindings: dict) -> int:
        total = 0
        for monomial, coefficient in self.terms.items():
            term = coefficient
            for atom in monomial:
                term *= atom.value(bindings)
            total += term
        return total

    def symbols(self) -> set:
        names = set()
        for monomial in self.terms:
            for atom in monomial:
                names |= atom.symbols()
        return names

    def __str__(self) -> str:
        factors = _factored(self.terms)
        if factors is None:
            return _sum_text(self.terms)
        scale, parts = factors
        texts = [_grouped(_sum_text(part)) for part in parts]
        return "·".join(([] if scale == 1 else ["-" if scale == -1 else str(scale)]) + texts).replace("-·", "-")

    __repr__ = __str__

    def shown(self) -> str:
        """The formula as printed: cut after MAX_FORMULA characters, saying how long it is."""
        text = str(self)
        if len(text) <= MAX_FORMULA:
            return text
        return f"{text[:MAX_FORMULA]}… (a formula of {len(text):,} characters, cut; --set a size for its value)"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec.replace(",", "").replace("d", "")) if spec else str(self)


def _order(atom: Atom) -> int:
    return atom.order


def _sum_text(terms: dict) -> str:
    """The polynomial written out, highest degree first: 216·⌈H/2⌉·⌈W/2⌉ + 8·⌈H/2⌉ - 4."""
    text = ""
    for monomial, coefficient in sorted(terms.items(), key=lambda mc: (-len(mc[0]), [a.order for a in mc[0]])):
        powers: list = []
        for atom in monomial:
            if powers and powers[-1][0] is atom:
                powers[-1][1] += 1
            else:
                powers.append([atom, 1])
        factors = "·".join(str(atom) + ("" if n == 1 else _SUPERSCRIPT[n]) for atom, n in powers)
        magnitude = abs(coefficient)
        body = str(magnitude) if not monomial else factors if magnitude == 1 else f"{magnitude}·{factors}"
        if not text:
            text = body if coefficient > 0 else f"-{body}"
        else:
            text += f" + {body}" if coefficient > 0 else f" - {body}"
    return text


_SUPERSCRIPT = {n: str(n).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")) for n in range(2, 100)}


def _factored(terms: dict):
    """(k, [P, Q, ...]) with terms = k·P·Q·..., each factor over the atoms of one symbol,
    where the polynomial splits so (a layer's figure: C·H_out·W_out); else None."""
    if len(terms) < 2:
        return None
    split = []  # each term as (atoms of the first symbol, the other atoms)
    first = None
    for monomial, coefficient in terms.items():
        mine, rest = [], []
        for atom in monomial:
            names = atom.symbols()
            if len(names) != 1:
                return None
            first = first or next(iter(names))
            (mine if names == {first} else rest).append(atom)
        split.append((tuple(mine), tuple(rest), coefficient))
    rows = {left for left, _, _ in split}
    columns = {right for _, right, _ in split}
    if len(rows) < 2 or len(columns) < 2 or len(split) != len(rows) * len(columns):
        return None
    table = {(left, right): c for left, right, c in split}
    row0, column0 = next(iter(rows)), next(iter(columns))
    pivot = table[row0, column0]
    if any(table[r, c] * pivot != table[r, column0] * table[row0, c] for r in rows for c in columns):
        return None  # not rank one: no product of a factor in `first` and one in the rest
    left = {r: table[r, column0] for r in rows}
    right = {c: table[row0, c] for c in columns}
    g_left, g_right = _content(left), _content(right)
    left = {r: v // g_left for r, v in left.items()}
    right = {c: v // g_right for c, v in right.items()}
    if pivot % (left[row0] * right[column0]):
        return None  # k would not be an integer
    scale = pivot // (left[row0] * right[column0])
    inner = _factored(right)
    parts = [left] + (inner[1] if inner else [right])
    return scale * (inner[0] if inner else 1), parts


def _content(polynomial: dict) -> int:
    """The gcd of the coefficients, signed like the leading term."""
    g = 0
    for value in polynomial.values():
        g = gcd(g, value)
    lead = max(polynomial.items(), key=lambda mc: (len(mc[0]), [a.order for a in mc[0]]))[1]
    return -g if lead < 0 else g


def _floor(numerator: Size, divisor: int):
    """⌊numerator / divisor⌋ in normal form: whole parts taken out of the floor, common
    factors cancelled, and a floor of a floor (with coefficient 1) merged. Atoms are
    integer-valued, so ⌊(n + t)/d⌋ = ⌊(n + ⌊t⌋)/d⌋ for any integer n makes each step exact."""
    value = numerator.value // divisor
    whole, rest = {}, {}
    for monomial, coefficient in numerator.terms.items():
        quotient, remainder = divmod(coefficient, divisor)
        if quotient:
            whole[monomial] = quotient
        if remainder:
            rest[monomial] = remainder
    constant = rest.pop((), 0)
    floor = 0
    if rest:
        (monomial, coefficient), = rest.items() if len(rest) == 1 else ((None, None),)
        if coefficient == 1 and len(monomial) == 1 and monomial[0].name is None:
            inner = monomial[0]  # ⌊(⌊x/a⌋ + c)/b⌋ = ⌊(x + ac)/(ab)⌋
            floor = _floor(inner.numerator + inner.divisor * constant, inner.divisor * divisor)
        else:
            common = divisor
            for coefficient in rest.values():
                common = gcd(common, coefficient)
            # ⌊(g·x + r)/(g·d)⌋ = ⌊(x + ⌊r/g⌋)/d⌋
            terms = {m: c // common for m, c in rest.items()}
            if constant // common:
                terms[()] = constant // common
            floor = Size({(Atom.get(numerator=Size(terms, 0), divisor=divisor // common),): 1}, 0)
    result = floor + Size.made(whole, 0) if whole else floor
    if isinstance(result, Size):
        result.value = value
    return result


# --- conditions -------------------------------------------------------------------------------

_trace: list | None = None  # the conditions recorded while a symbolic summary runs
_where: list = [None, False]  # the layer whose rules run now, and whether a limit is checked


class Condition(NamedTuple):
    """A comparison a rule made, as it came out at the witness: `difference relation 0`
    was `outcome` where `layer`'s rules ran. `limit`: one of cnncalc's own bounds on sizes
    (limits.py), which `sizes` keeps and the statements about the network leave out."""

    difference: Size
    relation: str  # "<", "<=", ">", ">=", "=="
    outcome: bool
    layer: str | None
    limit: bool = False


def record(difference, relation: str, outcome: bool) -> None:
    if _trace is not None and isinstance(difference, Size):
        _trace.append(Condition(difference, relation, outcome, _where[0], _where[1]))


def _relate(a, b, relation: str) -> bool:
    difference = a - b
    value = difference.value if isinstance(difference, Size) else difference
    outcome = {"<": value < 0, "<=": value <= 0, ">": value > 0, ">=": value >= 0, "==": value == 0}[relation]
    record(difference, relation, outcome)
    return outcome


def at(layer: str | None, limit: bool = False) -> None:
    """Name the layer whose rules run next (or whose sizes are checked against a limit),
    for the conditions they record."""
    _where[0], _where[1] = layer, limit


@contextmanager
def tracing():
    """Record the conditions of the comparisons made inside; yields their list."""
    global _trace
    outer, _trace = _trace, []
    try:
        yield _trace
    finally:
        _trace = outer
        _where[0], _where[1] = None, False


def witness(size) -> int:
    """A size's value at the witness (a number is its own)."""
    return size.value if isinstance(size, Size) else size


def is_symbolic(shape) -> bool:
    return any(isinstance(size, Size) for size in shape)


def with_witness(shape, values: dict) -> tuple:
    """`shape` with its symbols' witnesses replaced by `values` ({name: number})."""
    return tuple(Size.symbol(next(iter(size.symbols())), values[next(iter(size.symbols()))])
                 if isinstance(size, Size) else size for size in shape)


# sizes tried, after the spec's own, when a network is not valid at the witness
WITNESSES = (224, 256, 512, 572, 320, 384, 1024, 128, 96, 64, 32)


def at_a_witness(network, run):
    """(run(network), the conditions it recorded), at the first witness where the network is
    valid: the spec's own sizes, then WITNESSES. Where it is valid at none, the error at the
    first witness stands (with the sizes tried)."""
    symbols = {name: size.value for size in network.input_shape if isinstance(size, Size)
               for name in size.symbols()}
    written = network.input_shape
    first_error = None
    for values in [symbols, *({name: w for name in symbols} for w in WITNESSES)]:
        network.input_shape = with_witness(written, values)
        try:
            with tracing() as conditions:
                return run(network), conditions
        except SpecError as error:
            first_error = first_error or error
    network.input_shape = with_witness(written, symbols)
    raise first_error.with_numbers({"tried": ", ".join(f"{name}={value}" for name, value in symbols.items())
                                    + " and " + ", ".join(map(str, WITNESSES))})
