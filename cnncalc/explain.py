"""How each figure is derived: the rule in symbols, the same rule with the layer's numbers,
and the result (`cnncalc explain`).

There is no second copy of any rule here. A layer's own shape, parameter and cost rules
run on `Term`s: numbers that remember how they were computed. Each argument and each
input size is a named leaf (k_h, s_w, C_out; C, H, W), so the expression a rule builds
is the rule itself, printed once with the names and once with the numbers; its value is
what the summary computes, because it is the same computation.
"""
from __future__ import annotations

import copy
import operator
from typing import NamedTuple

from .layers.base import prod
from .network import DTYPES

# short names for the arguments people write in formulas; others keep their own name
SHORT = {"kernel_size": "k", "stride": "s", "padding": "p", "dilation": "d", "groups": "g",
         "out_channels": "C_out", "in_channels": "C_in", "out_features": "F_out", "in_features": "F_in",
         "output_padding": "op", "scale_factor": "r", "upscale_factor": "r", "downscale_factor": "r",
         "num_groups": "G", "output_size": "O", "size": "O", "num_embeddings": "V", "embedding_dim": "E"}
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "neg": 3, "floor": 4, "ceil": 4, "name": 5, "num": 5}


class Term:
    """An integer that remembers its expression: a named leaf, a number, or an operation."""

    __slots__ = ("op", "args", "value")

    def __init__(self, op: str, args: tuple, value: int):
        self.op, self.args, self.value = op, args, value

    @classmethod
    def leaf(cls, name: str, value: int) -> "Term":
        return cls("name", (name,), value)

    # --- arithmetic builds the expression (ints stay ints where nothing is named) ---
    def __add__(self, other):
        return _binary("+", self, other, operator.add)

    def __radd__(self, other):
        return _binary("+", other, self, operator.add)

    def __sub__(self, other):
        return _binary("-", self, other, operator.sub)

    def __rsub__(self, other):
        return _binary("-", other, self, operator.sub)

    def __mul__(self, other):
        return _binary("*", self, other, operator.mul)

    def __rmul__(self, other):
        return _binary("*", other, self, operator.mul)

    def __floordiv__(self, other):
        return _binary("floor", self, other, operator.floordiv)

    def __rfloordiv__(self, other):
        return _binary("floor", other, self, operator.floordiv)

    def __mod__(self, other):
        return self - other * (self // other)

    def __rmod__(self, other):
        return other - self * (other // self)

    def __neg__(self):
        if self.op == "floor" and _negated(self.args[0]) is not None:  # -⌊-a/b⌋ is ⌈a/b⌉
            return Term("ceil", (_negated(self.args[0]), self.args[1]), -self.value)
        return Term("neg", (self,), -self.value)

    def __pos__(self):
        return self

    # --- comparisons and conversions use the value: a rule's branches go as for numbers ---
    def __lt__(self, other):
        return self.value < _value(other)

    def __le__(self, other):
        return self.value <= _value(other)

    def __gt__(self, other):
        return self.value > _value(other)

    def __ge__(self, other):
        return self.value >= _value(other)

    def __eq__(self, other):
        return isinstance(other, (int, Term)) and self.value == _value(other)

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash(self.value)

    def __bool__(self):
        return bool(self.value)

    def __index__(self):
        return self.value

    __int__ = __index__

    def __float__(self):
        return float(self.value)

    def __truediv__(self, other):
        return self.value / _value(other)

    def __rtruediv__(self, other):
        return _value(other) / self.value

    def text(self, numbers: bool = False, latex: bool = False) -> str:
        """The expression with its names, or (numbers) with their values; in LaTeX."""
        return _text(self, numbers, latex)

    def __str__(self) -> str:
        return self.text()

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


def _value(x):
    return x.value if isinstance(x, Term) else x


def _negated(term):
    """a where term is -a (or a negative number), else None."""
    if isinstance(term, Term) and term.op == "neg":
        return term.args[0]
    return None


def _binary(op: str, a, b, function):
    value = function(_value(a), _value(b))
    if not isinstance(a, Term) and not isinstance(b, Term):
        return value
    # the identities a reader drops: 0·x, 1·x, x·1, 0 + x, x + 0, x - 0, ⌊x/1⌋
    if op == "*" and (a == 0 and not isinstance(a, Term) or b == 0 and not isinstance(b, Term)):
        return 0
    if op == "*" and (a == 1 and not isinstance(a, Term) or b == 1 and not isinstance(b, Term)):
        return b if not isinstance(a, Term) else a
    if op in "+-" and not isinstance(b, Term) and b == 0:
        return a
    if op == "+" and not isinstance(a, Term) and a == 0:
        return b
    if op == "floor" and not isinstance(b, Term) and b == 1:
        return a
    if op == "-" and not isinstance(a, Term) and a == 0:
        return -b
    return Term(op, (a, b), value)


def _text(term, numbers: bool, latex: bool = False) -> str:
    if not isinstance(term, Term):
        return str(term) if term >= 0 else f"({term})"
    op, args = term.op, term.args
    if op == "name":
        return str(term.value) if numbers else _latex_name(args[0]) if latex else args[0]
    minus = "-" if latex else "−"
    if op == "neg":
        return minus + _wrapped(args[0], 3, numbers, latex)
    if op in ("floor", "ceil"):
        if latex:
            left, right = ("\\lfloor", "\\rfloor") if op == "floor" else ("\\lceil", "\\rceil")
            return (f"\\left{left} \\frac{{{_text(args[0], numbers, latex)}}}{{{_text(args[1], numbers, latex)}}}"
                    f" \\right{right}")
        left, right = ("⌊", "⌋") if op == "floor" else ("⌈", "⌉")
        return f"{left}{_wrapped(args[0], 4, numbers)}/{_wrapped(args[1], 4, numbers)}{right}"
    a, b = args
    if op == "*":
        dot = " \\cdot " if latex else "·"
        return f"{_wrapped(a, 2, numbers, latex)}{dot}{_wrapped(b, 2, numbers, latex, right=True)}"
    return _sum_text(term, numbers, latex)


def _latex_name(name: str) -> str:
    """k_h -> k_{h}, C_out -> C_{\\mathrm{out}}, bytes -> \\mathrm{bytes}."""
    base, _, sub = name.partition("_")
    if len(base) > 1 and not sub:
        return f"\\mathrm{{{base}}}"
    if not sub:
        return base
    subscript = sub if len(sub) == 1 else "\\mathrm{" + sub + "}"
    return f"{base}_{{{subscript}}}"


def _sum_text(term, numbers: bool, latex: bool = False) -> str:
    """A chain of + and − with equal terms counted once (a sum over the rows of a
    connection table reads 6·(3·k_h·k_w) + 9·(4·k_h·k_w) + …, not sixteen terms)."""
    terms: list = []  # [text, term, count], in the order they first appear; count < 0: subtracted
    constant = 0
    for sign, part in _addends(term, 1):
        if not isinstance(part, Term):
            constant += sign * part
            continue
        key = _text(part, False)
        for entry in terms:
            if entry[0] == key:
                entry[2] += sign
                break
        else:
            terms.append([key, part, sign])
    terms = [entry for entry in terms if entry[2]]  # x − x cancels
    if constant or not terms:
        terms.append([None, abs(constant), 1 if constant >= 0 else -1])
    minus, dot = ("-", " \\cdot ") if latex else ("−", "·")
    text = ""
    for _, part, count in terms:
        body = _wrapped(part, 1, numbers, latex, right=count < 0)
        if abs(count) > 1:
            body = f"{abs(count)}{dot}{_wrapped(part, 2, numbers, latex, right=True)}"
        if not text:
            text = body if count > 0 else f"{minus}{body}" if abs(count) > 1 else f"{minus}{_wrapped(part, 3, numbers, latex)}"
        else:
            text += f" + {body}" if count > 0 else f" {minus} {body}"
    return text


def _addends(term, sign: int):
    """(sign, term) for each addend of a chain of + and − (what is subtracted stays whole,
    in parentheses, as it was written: H − d·(k − 1) − 1)."""
    if isinstance(term, Term) and term.op in ("+", "-"):
        a, b = term.args
        yield from _addends(a, sign)
        if term.op == "+":
            yield from _addends(b, sign)
        else:
            yield -sign, b
    elif not isinstance(term, Term) and term < 0:
        yield -sign, -term
    else:
        yield sign, term


def _wrapped(term, level: int, numbers: bool, latex: bool = False, right: bool = False) -> str:
    """term's text, in parentheses where its operator binds less tightly than `level`
    (or as tightly, on the right of a product, where a reader would regroup it)."""
    text = _text(term, numbers, latex)
    if isinstance(term, Term) and not (term.op == "name" and numbers):
        own = _PRECEDENCE[term.op]
        if term.op in ("+", "-") and not any(f" {sign} " in text for sign in "+−-"):
            own = _PRECEDENCE["name"]  # a sum that cancelled down to one term
        if own < level or (right and own == level and level < 4):
            return f"\\left({text}\\right)" if latex else f"({text})"
    return text


# --- explaining a layer -------------------------------------------------------------------

class Line(NamedTuple):
    """One figure of one layer: its name, the rule in symbols, with numbers, the result,
    and the value of each symbol."""

    figure: str
    symbols: str
    numbers: str
    result: int
    values: dict
    latex_symbols: str
    latex_numbers: str

    def to_dict(self) -> dict:
        """For JSON: a size that is a formula (symbolic input) as its text."""
        data = self._asdict()
        from .summary import json_value

        data["result"] = json_value(self.result)
        data["values"] = json_value(self.values)
        return data


def leaves(term, found: dict | None = None) -> dict:
    """The named leaves of an expression and their values."""
    found = {} if found is None else found
    if isinstance(term, Term):
        if term.op == "name":
            found[term.args[0]] = term.value
        else:
            for arg in term.args:
                leaves(arg, found)
    return found


class Explanation(NamedTuple):
    layer: str
    type: str
    lines: list

    def to_dict(self) -> dict:
        return {"layer": self.layer, "type": self.type, "figures": [line.to_dict() for line in self.lines]}


def axis_names(rank: int) -> list:
    """Names of an input's axes: [N] for one axis, [C, L], [C, H, W], [C, D, H, W]."""
    if rank == 1:
        return ["N"]
    spatial = {1: ["L"], 2: ["H", "W"], 3: ["D", "H", "W"]}.get(rank - 1) or [f"X{i}" for i in range(rank - 1)]
    return ["C", *spatial]


def _symbolic_layer(layer):
    """A copy of `layer` whose numeric arguments are named leaves (tuples: one per axis,
    with the axis in the name: k_h, k_w)."""
    twin = copy.copy(layer)
    for name, arg in layer.args.items():
        value = getattr(layer, name, None)
        short = SHORT.get(name, name)
        if isinstance(value, int) and not isinstance(value, bool) and arg.kind == "int":
            setattr(twin, name, Term.leaf(short, value))
        elif isinstance(value, tuple) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value) \
                and arg.kind in ("sizes", "choice_or_sizes", "optional_sizes"):
            axes = [a.lower() for a in axis_names(len(value) + 1)[1:]]
            setattr(twin, name, tuple(Term.leaf(f"{short}_{axis}", v) for axis, v in zip(axes, value)))
    return twin


def _named_inputs(shapes: list) -> list:
    """Each input's sizes as leaves: C, H, W (C₀, H₀, … for the inputs of a merge)."""
    many = len(shapes) > 1
    return [tuple(Term.leaf(f"{axis}{index if many else ''}", size)
                  for axis, size in zip(axis_names(len(shape)), shape))
            for index, shape in enumerate(shapes)]


def explain_layer(node, shapes: dict, dtype: str = "float32", batch: int = 1) -> Explanation:
    """Every figure of one layer: each output axis, params, MACs, FLOPs and activation
    memory, by the layer type's own rules run on named sizes and arguments."""
    layer = _symbolic_layer(node.layer)
    inputs = _named_inputs([shapes[name] for name in node.inputs])
    out = layer.output_shape(*inputs)
    lines = []
    out_names = [f"{axis}_out" for axis in axis_names(len(out))]
    for name, size in zip(out_names, out):
        lines.append(_line(name, size))
    # the costs, over the output's sizes by name (H_out, not its whole formula)
    named_out = tuple(Term.leaf(name, _value(size)) for name, size in zip(out_names, out))
    params = sum((prod(shape) for shape in layer.param_shapes(*inputs).values()), 0)
    lines.append(_line("params", params))
    buffers = sum((prod(shape) for shape in layer.buffer_shapes(*inputs).values()), 0)
    if _value(buffers):
        lines.append(_line("buffers", buffers))
    lines.append(_line("MACs", layer.macs(named_out, *inputs) * _batch(batch)))
    lines.append(_line("FLOPs", layer.flops(named_out, *inputs) * _batch(batch)))
    width = Term.leaf("bytes", DTYPES[dtype])
    lines.append(_line("activation memory (B)", prod(named_out) * _batch(batch) * width))
    return Explanation(node.name, node.layer.type, lines)


def _batch(batch: int):
    return 1 if batch == 1 else Term.leaf("N_batch", batch)


def _line(figure: str, formula) -> Line:
    if not isinstance(formula, Term):
        return Line(figure, str(formula), str(formula), formula, {}, str(formula), str(formula))
    return Line(figure, formula.text(), formula.text(numbers=True), formula.value, leaves(formula),
                formula.text(latex=True), formula.text(numbers=True, latex=True))


def explain(network, names=None, dtype: str | None = None, batch: int = 1) -> list[Explanation]:
    """The explanations of the layers named (qualified names; all when None), in order."""
    from .diagnostics import UsageError, did_you_mean
    from .summary import infer_shapes

    shapes = infer_shapes(network)
    nodes = network.nodes
    if names:
        known = {node.name for node in nodes}
        for name in names:
            if name not in known:
                raise UsageError(f"no layer named {name!r}", hint=did_you_mean(name, known))
        nodes = [node for node in nodes if node.name in set(names)]
    return [explain_layer(node, shapes, dtype or network.dtype, batch) for node in nodes]
