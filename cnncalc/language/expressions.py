"""A small, safe arithmetic language for spec arguments: `4 * width`, `c // 2`,
`2 if index == 0 else 1`, `[k, 2 * k]`, `kernel[0] // 2`.

Never Python's eval: a tokenizer and a precedence-climbing parser over numbers,
the spec's own variables, + - * / // % **, comparisons, and/or/not, a conditional,
lists and indexing (`[a, b]`, `sizes[i]`), and the functions min, max, abs, ceil and
floor. Nothing else can be named.
"""
from __future__ import annotations

import math
import operator
import re
from functools import lru_cache

from ..diagnostics import SpecError, did_you_mean

MAX_MAGNITUDE = 10**15
MAX_LENGTH = 500
MAX_NESTING = 64  # parentheses, prefix operators and operator chains, counted together

_TOKEN = re.compile(r"\s*(?:((?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)|([A-Za-z_][A-Za-z_0-9]*)|(//|\*\*|==|!=|<=|>=|[-+*/%()<>,\[\]]))")

_BINARY = {  # operator: (precedence, function)
    "or": (1, None), "and": (2, None),
    "==": (4, operator.eq), "!=": (4, operator.ne), "<": (4, operator.lt),
    "<=": (4, operator.le), ">": (4, operator.gt), ">=": (4, operator.ge),
    "+": (5, operator.add), "-": (5, operator.sub),
    "*": (6, operator.mul), "/": (6, operator.truediv), "//": (6, operator.floordiv),
    "%": (6, operator.mod), "**": (8, None),
}
_FUNCTIONS = {"min": min, "max": max, "abs": abs, "ceil": math.ceil, "floor": math.floor}
_CONSTANTS = {"true": True, "false": False, "True": True, "False": False}
_SHAPE_HINT = ("the incoming shape (in, in_channels) can be read in a layer's own arguments only, not in when, "
               "repeat, vars or block arguments, which are known before any shape is")


def _tokenize(text: str) -> list[str | int | float]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise SpecError(f"cannot read expression '{text}' at '{text[pos:].strip()}'",
                            hint="expressions may use numbers, variables, + - * / // % **, "
                                 "comparisons, and/or/not, 'a if c else b', lists [a, b] and "
                                 "indexing x[i], min/max/abs/ceil/floor")
        number, name, symbol = match.groups()
        if number is not None:
            if "." in number or "e" in number.lower():  # 1.5, 1e-6 (YAML reads 1e-6 as a string), 2.5E3
                value = float(number)
                if not math.isfinite(value):
                    raise SpecError(f"number {number} in expression '{text}' is too large for a float")
                tokens.append(value)
            else:
                tokens.append(int(number))
        else:
            tokens.append(("name", name) if name else symbol)
        pos = match.end()
    return tokens


class _Parser:
    """Builds a tree of tuples: ('num', v) ('var', n) ('call', f, args) ('op', o, a, b) ..."""

    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0
        self.depth = 0

    def nest(self, step: int) -> None:
        """Count nesting so that no expression recurses deeper than Python allows."""
        self.depth += step
        if self.depth > MAX_NESTING:
            raise SpecError(f"expression '{self.text}' nests deeper than {MAX_NESTING} levels",
                            hint="simplify it, or split it into vars")

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected=None):
        token = self.peek()
        if token is None or (expected is not None and token != expected and token != ("name", expected)):
            want = f"'{expected}'" if expected else "more"
            got = "the end" if token is None else f"'{_show(token)}'"
            raise SpecError(f"in expression '{self.text}': expected {want}, found {got}")
        self.pos += 1
        return token

    def parse(self):
        tree = self.conditional()
        if self.peek() is not None:
            raise SpecError(f"in expression '{self.text}': unexpected '{_show(self.peek())}'")
        return tree

    def conditional(self):
        value = self.binary(1)
        if self.peek() == ("name", "if"):
            self.take()
            condition = self.binary(1)
            self.take("else")
            return ("if", condition, value, self.conditional())
        return value

    def binary(self, min_prec: int):
        self.nest(1)
        try:
            return self._binary(min_prec)
        finally:
            self.nest(-1)

    def _binary(self, min_prec: int):
        left = self.unary()
        while True:
            token = self.peek()
            symbol = token[1] if isinstance(token, tuple) and token[1] in ("and", "or") else token
            if not isinstance(symbol, str) or symbol not in _BINARY:
                return left
            prec = _BINARY[symbol][0]
            if prec < min_prec:
                return left
            self.take()
            # ** is right-associative; comparisons do not chain
            right = self.binary(prec if symbol == "**" else prec + 1)
            left = _folded(("op", symbol, left, right), self.text)

    def unary(self):
        token = self.peek()
        if token in ("-", "+"):
            self.take()
            return _folded(("neg" if token == "-" else "pos", self.binary(7)), self.text)
        if token == ("name", "not"):
            self.take()
            return ("not", self.binary(3))
        return self.postfix()

    def postfix(self):
        """An atom, then any indexing: `sizes[0]`, `[1, 7][index]`."""
        tree = self.atom()
        while self.peek() == "[":
            self.take()
            tree = ("index", tree, self.conditional())
            self.take("]")
        return tree

    def items(self, close: str) -> list:
        """Expressions separated by commas, up to `close` (taken)."""
        found = []
        while self.peek() != close:
            found.append(self.conditional())
            if self.peek() != close:
                self.take(",")
        self.take(close)
        return found

    def atom(self):
        token = self.take()
        if isinstance(token, (int, float)) and not isinstance(token, bool):
            return ("num", token)
        if token == "[":
            return ("list", self.items("]"))
        if token == "(":
            inner = self.conditional()
            if self.peek() == ",":  # `stride: (2, 2)`: a tuple, as Python would write it
                raise SpecError(f"in expression '{self.text}': a list in parentheses",
                                hint="write lists as [2, 2], not (2, 2)")
            self.take(")")
            return inner
        if isinstance(token, tuple):
            name = token[1]
            if self.peek() == "(":
                if name not in _FUNCTIONS:
                    raise SpecError(f"unknown function '{name}' in expression '{self.text}'",
                                    hint=did_you_mean(name, _FUNCTIONS, "functions"))
                self.take("(")
                args = [self.conditional()]
                while self.peek() == ",":
                    self.take()
                    args.append(self.conditional())
                self.take(")")
                return ("call", name, args)
            if name in _CONSTANTS:
                return ("num", _CONSTANTS[name])
            return ("var", name)
        raise SpecError(f"in expression '{self.text}': unexpected '{_show(token)}'")


def _folded(tree, text: str):
    """An operation on numbers alone, computed once when parsed (`10 ** 9`, `-1`): a repeated
    layer evaluates its expressions for every repetition. Left as it is when it fails, so
    that the error comes when, and only if, it is evaluated."""
    if all(part[0] == "num" for part in tree[1:] if isinstance(part, tuple)):
        try:
            return ("num", _eval(tree, {}, text))
        except SpecError:
            pass
    return tree


def _show(token) -> str:
    return token[1] if isinstance(token, tuple) else str(token)


@lru_cache(maxsize=4096)
def parse(text: str):
    if len(text) > MAX_LENGTH:
        raise SpecError(f"expression longer than {MAX_LENGTH} characters")
    try:
        return _Parser(text).parse()
    except RecursionError:  # a backstop: MAX_NESTING should stop it first
        raise SpecError(f"expression '{text}' nests too deeply") from None


def evaluate(text: str, variables: dict):
    """The value of expression `text` with the given variables (a SpecError otherwise)."""
    tree = parse(text)
    try:
        return _eval(tree, variables, text)
    except RecursionError:  # e.g. a long chain 1 + 1 + ... builds a deep tree
        raise SpecError(f"expression '{text}' nests too deeply") from None


def names(text: str) -> set[str]:
    """The variable names an expression mentions."""
    found: set[str] = set()

    def walk(tree):
        if tree[0] == "var":
            found.add(tree[1])
        for part in tree[1:]:
            if isinstance(part, tuple):
                walk(part)
            elif isinstance(part, list):
                for item in part:
                    walk(item)

    walk(parse(text))
    return found


def _check(value, text):
    if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) > MAX_MAGNITUDE:
        raise SpecError(f"expression '{text}' gives {value:.3g}, beyond the limit of {MAX_MAGNITUDE:.0e}")
    return value


def _eval(tree, variables, text):
    kind = tree[0]
    if kind == "num":
        return tree[1]
    if kind == "var":
        if tree[1] not in variables:
            raise SpecError(f"unknown variable '{tree[1]}' in expression '{text}'",
                            hint=_SHAPE_HINT if tree[1] in ("in", "in_channels")
                            else did_you_mean(tree[1], variables, "known variables"))
        return variables[tree[1]]
    if kind == "if":
        branch = tree[2] if _eval(tree[1], variables, text) else tree[3]
        return _eval(branch, variables, text)
    if kind == "not":
        return not _eval(tree[1], variables, text)
    if kind == "list":
        return [_eval(item, variables, text) for item in tree[1]]
    if kind == "index":
        return _item(_eval(tree[1], variables, text), _eval(tree[2], variables, text), text)
    if kind in ("neg", "pos"):
        value = _number(_eval(tree[1], variables, text), text)
        return -value if kind == "neg" else value
    if kind == "call":
        args = [_number(_eval(arg, variables, text), text) for arg in tree[2]]
        try:
            return _check(_FUNCTIONS[tree[1]](*args), text)
        except (TypeError, ValueError, OverflowError) as exc:
            raise SpecError(f"{tree[1]}() in expression '{text}': {exc}") from None
    symbol, left_tree, right_tree = tree[1], tree[2], tree[3]
    left = _eval(left_tree, variables, text)
    if symbol == "and":
        return left and _eval(right_tree, variables, text)
    if symbol == "or":
        return left or _eval(right_tree, variables, text)
    right = _eval(right_tree, variables, text)
    if _BINARY[symbol][0] == 4:  # comparisons work on any pair of plain values
        try:
            return _BINARY[symbol][1](left, right)
        except TypeError:
            raise SpecError(f"cannot compare {left!r} and {right!r} in expression '{text}'") from None
    left, right = _number(left, text), _number(right, text)
    if symbol in ("/", "//", "%") and right == 0:
        raise SpecError(f"division by zero in expression '{text}'")
    if symbol == "**":
        if abs(right) > 64 or (abs(left) > 1 and abs(right) * math.log2(abs(left)) > 60):
            raise SpecError(f"{left} ** {right} is too large in expression '{text}'")
        if left == 0 and right < 0:
            raise SpecError(f"{left} ** {right} divides by zero in expression '{text}'")
        if left < 0 and right != int(right):  # Python would give a complex number
            raise SpecError(f"{left} ** {right} is not a real number in expression '{text}'")
        return _check(left ** right, text)
    return _check(_BINARY[symbol][1](left, right), text)


def _item(value, index, text):
    """`value[index]`: a list's item, counted from 0 (from the end when negative)."""
    if not isinstance(value, list):
        raise SpecError(f"expression '{text}' indexes {value!r}, which is not a list")
    if isinstance(index, float) and index.is_integer():
        index = int(index)
    if isinstance(index, bool) or not isinstance(index, int):
        raise SpecError(f"expression '{text}' indexes a list with {index!r}, which is not an integer")
    if not -len(value) <= index < len(value):
        raise SpecError(f"expression '{text}': index {index} is outside the list {value!r} "
                        f"({len(value)} item{'s' if len(value) != 1 else ''})",
                        hint="indexes count from 0; -1 is the last item")
    return value[index]


def _number(value, text):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"expression '{text}' does arithmetic on {value!r}, which is not a number",
                        hint="pick one item of a list with [i], e.g. kernel[0] // 2" if isinstance(value, list)
                        else None)
    return value
