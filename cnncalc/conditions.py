"""Where a symbolic summary's formulas hold, said plainly: `H ≥ 32`, `H ≡ 0 (mod 16)`.

The comparisons the rules made at the witness (symbolic.Condition) become statements
E ≥ 0, E = 0 or E ≠ 0 on an integer formula E. Those in one symbol are solved: a
monotone E gives a bound (binary search); a periodic one (floors of the symbol over
divisors with lcm P) gives the residues mod P where it holds, read off one period. What
remains (several symbols at once, or no pattern) is stated as the formula itself.
"""
from __future__ import annotations

from math import gcd
from typing import NamedTuple

from .limits import MAX_DIM
from .symbolic import Size

MAX_PERIOD = 4096  # periods read off one by one; beyond, the statement is printed as it is


class Requirement(NamedTuple):
    """One plain statement about the input sizes, and the layers whose rules impose it."""

    text: str
    layers: tuple

    def to_dict(self) -> dict:
        return {"condition": self.text, "layers": list(self.layers)}


def statements(conditions, limits: bool = True) -> list:
    """(E, kind, layer) with kind '>=0', '==0' or '!=0', one per distinct statement (without
    cnncalc's own size limits unless `limits`)."""
    seen, found = set(), []
    for difference, relation, outcome, layer, limit in conditions:
        if limit and not limits:
            continue
        formula, kind = _normal(difference, relation, outcome)
        key = (formula.key() if isinstance(formula, Size) else formula, kind)
        if key not in seen and isinstance(formula, Size):
            seen.add(key)
            found.append((formula, kind, layer))
    return found


def _normal(d, relation: str, outcome: bool):
    """The statement that held, as E ≥ 0, E = 0 or E ≠ 0 (integers: d < 0 is -d - 1 ≥ 0)."""
    if relation == "==":
        return d, "==0" if outcome else "!=0"
    holds = {("<", True): (-d - 1), ("<", False): d, ("<=", True): -d, ("<=", False): d - 1,
             (">", True): d - 1, (">", False): -d, (">=", True): d, (">=", False): -d - 1}
    return holds[relation, outcome], ">=0"


def requirements(conditions, witnesses: dict) -> list[Requirement]:
    """The conditions as plain statements: per symbol, its range and residues; then any
    statement in several symbols. `witnesses`: each symbol's value where they all held."""
    per_symbol: dict = {name: _Range(name, witnesses[name]) for name in witnesses}
    rest = []
    for formula, kind, layer in statements(conditions, limits=False):
        names = formula.symbols()
        if len(names) == 1 and per_symbol[next(iter(names))].add(formula, kind, layer):
            continue
        rest.append(Requirement(f"{formula} {_RELATION[kind]} 0", (layer,)))
    found = []
    for symbol in per_symbol.values():
        found += symbol.requirements()
    return found + rest


_RELATION = {">=0": "≥", "==0": "=", "!=0": "≠"}


class _Range:
    """What one symbol's statements allow: a lower and an upper bound, and residues."""

    def __init__(self, name: str, witness: int):
        self.name, self.witness = name, witness
        self.low, self.low_layer = 1, None
        self.high, self.high_layer = MAX_DIM, None
        self.period, self.residues, self.residue_layers = 1, {0}, []

    def at(self, formula: Size, value: int) -> int:
        return formula.evaluate({self.name: value})

    def add(self, formula: Size, kind: str, layer) -> bool:
        """Take in one statement; False where it fits no pattern known here."""
        slope = _slope(formula, self.name)
        period = _period(formula)
        if kind == ">=0" and slope in (1, -1):
            self._bound(formula, slope, layer)
            return True
        if kind == "==0" and slope in (1, -1):  # E = 0 on an interval around the witness
            self._bound(formula * slope, 1, layer)
            self._bound(-formula * slope, -1, layer)
            return True
        if period is None or period > MAX_PERIOD:
            return False
        base = self.witness - self.witness % period
        drift = self.at(formula, base + period) - self.at(formula, base)
        if drift:  # E grows or shrinks each period: no residues say where it holds
            return False
        holding = {r for r in range(period) if holds(self.at(formula, base + r), kind)}
        if len(holding) == period:
            return True
        self._residues(period, holding, layer)
        return True

    def _bound(self, formula: Size, slope: int, layer) -> None:
        """E ≥ 0 with E monotone in the symbol: the first (or last) size where it holds."""
        if slope > 0:  # holds from some size on: binary search below the witness
            low, high = 1, self.witness
            while low < high:
                middle = (low + high) // 2
                if self.at(formula, middle) >= 0:
                    high = middle
                else:
                    low = middle + 1
            if low > self.low:
                self.low, self.low_layer = low, layer
        else:  # holds up to some size
            low, high = self.witness, MAX_DIM
            while low < high:
                middle = (low + high + 1) // 2
                if self.at(formula, middle) >= 0:
                    low = middle
                else:
                    high = middle - 1
            if low < self.high:
                self.high, self.high_layer = low, layer

    def _residues(self, period: int, holding: set, layer) -> None:
        combined = self.period * period // gcd(self.period, period)
        if combined > MAX_PERIOD:
            return
        self.residues = {r for r in range(combined) if r % self.period in self.residues and r % period in holding}
        self.period = combined
        self.residue_layers.append(layer)

    def requirements(self) -> list[Requirement]:
        found = []
        if self.low == self.high:  # a rule that needs the number itself, or an exact fit
            found.append(Requirement(f"{self.name} = {self.low}",
                                     tuple(dict.fromkeys((self.low_layer, self.high_layer)))))
        else:
            if self.low > 1:
                found.append(Requirement(f"{self.name} ≥ {self.low}", (self.low_layer,)))
            if self.high < MAX_DIM:
                found.append(Requirement(f"{self.name} ≤ {self.high}", (self.high_layer,)))
        if self.period > 1:
            found.append(Requirement(_residue_text(self.name, self.period, self.residues),
                                     tuple(dict.fromkeys(self.residue_layers))))
        return found


def holds(value, kind: str):
    """Whether a statement's formula, evaluated to `value` (a number, or a NumPy array of
    them), satisfies it."""
    return value >= 0 if kind == ">=0" else value == 0 if kind == "==0" else value != 0


def _residue_text(name: str, period: int, residues: set) -> str:
    if not residues:
        return f"no {name} (the conditions contradict each other)"
    ordered = sorted(residues)
    if len(ordered) == 1:
        return f"{name} ≡ {ordered[0]} (mod {period})" if ordered[0] else f"{name} divisible by {period}"
    step = ordered[1] - ordered[0]
    if all(b - a == step for a, b in zip(ordered, ordered[1:])) and period % step == 0 and len(ordered) == period // step:
        return f"{name} ≡ {ordered[0]} (mod {step})" if ordered[0] else f"{name} divisible by {step}"
    runs: list = []  # consecutive residues as first…last
    for r in ordered:
        if runs and runs[-1][1] == r - 1:
            runs[-1][1] = r
        else:
            runs.append([r, r])
    return f"{name} mod {period} in " + ", ".join(str(a) if a == b else f"{a}…{b}" for a, b in runs)


def _slope(formula: Size, name: str) -> int:
    """+1 where E never falls as the symbol grows, -1 where it never rises, else 0 (its
    atoms are nondecreasing in the symbol when every coefficient inside is positive)."""
    signs = set()
    for monomial, coefficient in formula.terms.items():
        if not monomial:
            continue
        if not all(_nondecreasing(atom) for atom in monomial):
            return 0
        signs.add(coefficient > 0)
    return 1 if signs == {True} else -1 if signs == {False} else 0


def _nondecreasing(atom) -> bool:
    if atom.name is not None:
        return True
    return all(c > 0 and all(_nondecreasing(a) for a in m) for m, c in atom.numerator.terms.items() if m)


def _period(formula: Size) -> int | None:
    """The lcm of the divisors in E's floors: E(x + P) - E(x) is then the same for every x
    when E is linear in the symbol (None where E is not)."""
    period = 1
    for monomial in formula.terms:
        if len(monomial) > 1:
            return None
        for atom in monomial:
            inner = _atom_period(atom)
            if inner is None:
                return None
            period = period * inner // gcd(period, inner)
    return period


def _atom_period(atom) -> int | None:
    if atom.name is not None:
        return 1
    inner = _period(atom.numerator)
    if inner is None:
        return None
    return inner * atom.divisor // gcd(inner, atom.divisor)
