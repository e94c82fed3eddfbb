"""Layers that join several inputs: concatenation, and element-wise arithmetic that
broadcasts (add, mul, sub, div)."""
from __future__ import annotations

import operator
from typing import Callable, ClassVar

from ..diagnostics import SpecError
from .base import Arg, Layer, prod, shape_str, torch_call, torch_dim
from .reads import IDENTITY, Reads
from .saving import NOTHING, Own, Saved


class Concat(Layer):
    """Join inputs along `axis` (per sample; 0 = channels); all other axes must match."""

    type = "concat"
    category = "merge"
    arity = None
    args = {"axis": Arg("int", 0, "the axis to join along (per sample; 0 = channels, -1 = last)")}

    def torch_code(self, *inputs):
        return torch_call("Concat", torch_dim(self.axis))

    def onnx_nodes(self, builder, inputs, output, *xs):
        builder.node("Concat", inputs, output, axis=torch_dim(self.axis))

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

    def reads(self, out, *xs):
        """Every other axis position for position from each input (their union); along the
        joined axis, positions come from different inputs: no field there."""
        axis = self.axis % len(out)
        return Reads(tuple(() if a == axis else tuple((k, a, IDENTITY) for k in range(len(xs)))
                           for a in range(len(out))),
                     note=f"joined along axis {axis}: its positions come from different inputs, so it has no field")

    def saved(self, out, *xs, needs):
        return NOTHING  # the gradient is cut into the inputs' pieces

    def forward(self, ops, params, *xs):
        return ops.xp.concat(list(xs), axis=self.axis + 1 if self.axis >= 0 else self.axis)


def _one(size) -> bool:
    return type(size) is int and size == 1


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

    def torch_code(self, *inputs):
        return torch_call("Merge", self.type)  # add, mul, sub, div: operator's names

    def onnx_nodes(self, builder, inputs, output, *xs):
        """Folded from the left, as the forward pass; an input of fewer per-sample axes gets
        size-1 axes after the batch axis (ONNX would align the batch axis from the right too)."""
        rank = max(len(x) for x in xs)
        values = [name if len(x) == rank else
                  builder.node("Unsqueeze", [name, builder.ints(range(1, rank - len(x) + 1))])
                  for name, x in zip(inputs, xs)]
        total = values[0]
        for index, value in enumerate(values[1:], start=2):
            total = builder.node(self.type.capitalize(), [total, value], output if index == len(values) else None)

    def output_shape(self, *xs):
        out = tuple(xs[0])
        for index, x in enumerate(xs[1:], start=1):
            out = self._broadcast(out, tuple(x), index)
        return out

    def reads(self, out, *xs):
        """Position for position from every input, aligned from the right (their union); an
        input broadcast along an axis (size 1) gives every position the same value: it is
        read whole there."""
        axes, whole = [[] for _ in out], []
        for k, x in enumerate(xs):
            for axis, size in enumerate(x):
                at = axis + len(out) - len(x)
                if size == out[at]:
                    axes[at].append((k, axis, IDENTITY))
                else:
                    whole.append((k, axis))
        return Reads(tuple(map(tuple, axes)), tuple(whole))

    def _broadcast(self, a: tuple, b: tuple, index: int) -> tuple:
        rank = max(len(a), len(b))
        left, right = (1,) * (rank - len(a)) + a, (1,) * (rank - len(b)) + b
        out = []
        for p, q in zip(left, right):
            # a written 1 first, then equality: a symbolic size is compared only where it matters
            if _one(p) or _one(q):
                out.append(q if _one(p) else p)
            elif p == q or p == 1 or q == 1:
                out.append(p if p == q or q == 1 else q)
            else:
                first = "input 0" if index == 1 else f"inputs 0 … {index - 1} broadcast together"
                raise SpecError(f"{self.type} cannot broadcast {shape_str(a)} ({first}) with {shape_str(b)} "
                                f"(input {index}): aligned from the right, sizes {p} and {q} are neither equal "
                                "nor 1", hint=self.mismatch_hint(a, b))
        return tuple(out)

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

    def saved(self, out, *xs, needs):
        return NOTHING  # add, sub: the gradients are the incoming one (negated)

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

    def saved(self, out, *xs, needs):
        """((x0 · x1) · x2) …: each product keeps each factor whose partner needs a gradient;
        the partial products (after the first factor) are tensors of its own."""
        kept, own, shape = set(), [], xs[0]
        for index in range(1, len(xs)):
            if any(needs.inputs[:index]):  # the product so far needs one
                kept.add(index)
            if needs.inputs[index]:
                if index == 1:
                    kept.add(0)
                else:
                    own.append(Own(prod(shape)))
            shape = self._broadcast(shape, xs[index], index)
        return Saved(inputs=tuple(sorted(kept)), own=tuple(own))


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

    def saved(self, out, x, y, *, needs):
        """x / y: x's gradient reads y, y's reads x and y."""
        return Saved(inputs=(0, 1) if needs.inputs[1] else (1,) if needs.inputs[0] else ())
