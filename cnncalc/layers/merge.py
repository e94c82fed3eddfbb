"""Layers that join several inputs: concatenation, and element-wise arithmetic that
broadcasts (add, mul, sub, div)."""
from __future__ import annotations

import operator
from typing import Callable, ClassVar

from ..diagnostics import SpecError
from .base import Arg, Layer, prod, shape_str


class Concat(Layer):
    """Join inputs along `axis` (per sample; 0 = channels); all other axes must match."""

    type = "concat"
    category = "merge"
    arity = None
    args = {"axis": Arg("int", 0, "the axis to join along (per sample; 0 = channels, -1 = last)")}

    def output_shape(self, *xs):
        first = xs[0]
        axis = self.axis + len(first) if self.axis < 0 else self.axis
        if not 0 <= axis < len(first):
            raise SpecError(f"axis {self.axis} is out of range for {len(first)}-D inputs", arg="axis")
        for index, x in enumerate(xs[1:], start=1):
            if len(x) != len(first) or any(a != b for i, (a, b) in enumerate(zip(x, first)) if i != axis):
                raise SpecError(
                    f"input {index} has shape {shape_str(x)} but input 0 has {shape_str(first)}; "
                    f"all axes except {self.axis} must match",
                    hint="check the branches' strides and padding, or concatenate along another axis")
        return (*first[:axis], sum(x[axis] for x in xs), *first[axis + 1:])

    def forward(self, ops, params, *xs):
        return ops.xp.concat(list(xs), axis=self.axis + 1 if self.axis >= 0 else self.axis)


BROADCAST = ("shapes broadcast as in NumPy and PyTorch: aligned from the right, each pair of sizes is equal "
             "or one of them is 1, and a missing leading axis counts as 1 (e.g. [C, 1, 1] with [C, H, W])")


class _Elementwise(Layer):
    """Element-wise arithmetic on inputs that broadcast (NumPy's and PyTorch's rules, on the
    per-sample shapes), folded from the left: ((x0 op x1) op x2) …. One operation per
    output element for each input after the first."""

    category = "merge"
    arity = None
    combine: ClassVar[Callable] = operator.add  # the operation on two arrays, giving a new one
    combine_into: ClassVar[Callable] = operator.iadd  # the same, into the first (in place)

    def output_shape(self, *xs):
        out = tuple(xs[0])
        for index, x in enumerate(xs[1:], start=1):
            out = self._broadcast(out, tuple(x), index)
        return out

    def _broadcast(self, a: tuple, b: tuple, index: int) -> tuple:
        rank = max(len(a), len(b))
        left, right = (1,) * (rank - len(a)) + a, (1,) * (rank - len(b)) + b
        for p, q in zip(left, right):
            if p != q and p != 1 and q != 1:
                first = "input 0" if index == 1 else f"inputs 0 … {index - 1} broadcast together"
                raise SpecError(f"{self.type} cannot broadcast {shape_str(a)} ({first}) with {shape_str(b)} "
                                f"(input {index}): aligned from the right, sizes {p} and {q} are neither equal "
                                "nor 1", hint=self.mismatch_hint(a, b))
        return tuple(q if p == 1 else p for p, q in zip(left, right))

    def mismatch_hint(self, a: tuple, b: tuple) -> str:
        return BROADCAST

    def forward(self, ops, params, *xs):
        xp = ops.xp
        rank = max(x.ndim for x in xs)  # per-sample ranks made equal: a missing leading axis is 1
        xs = [x if x.ndim == rank else xp.reshape(x, (x.shape[0], *(1,) * (rank - x.ndim), *x.shape[1:]))
              for x in xs]
        total = type(self).combine(xs[0], xs[1])
        for x in xs[2:]:
            if all(q == 1 or p == q for p, q in zip(total.shape, x.shape)):
                total = type(self).combine_into(total, x)
            else:  # x widens the result: a new array
                total = type(self).combine(total, x)
        return total

    def flops(self, out, *xs):
        return (len(xs) - 1) * prod(out)

    def workspace(self, batch, out, *xs):
        """Two inputs: none beside the output. More: the result so far, while a wider one is made."""
        return 0 if len(xs) == 2 else batch * prod(out)


class Add(_Elementwise):
    """Element-wise sum of two or more inputs that broadcast (a residual connection; a bias)."""

    type = "add"

    def mismatch_hint(self, a, b):
        if len(a) == len(b):  # a residual connection whose branches differ
            return (BROADCAST + "; for a residual connection, a projection on the shortcut (a 1x1 conv with "
                    "the block's stride) makes the shapes equal")
        return BROADCAST


class Mul(_Elementwise):
    """Element-wise product of two or more inputs that broadcast (squeeze-and-excitation:
    [C, 1, 1] × [C, H, W])."""

    type = "mul"
    combine, combine_into = operator.mul, operator.imul


class Sub(_Elementwise):
    """The first input minus the second, broadcasting."""

    type = "sub"
    arity = 2
    combine, combine_into = operator.sub, operator.isub


class Div(_Elementwise):
    """The first input divided by the second, broadcasting."""

    type = "div"
    arity = 2
    combine, combine_into = operator.truediv, operator.itruediv
