"""Layers that join several inputs: concatenation and residual addition."""
from __future__ import annotations

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


class Add(Layer):
    """Element-wise sum of inputs of exactly the same shape (a residual connection)."""

    type = "add"
    category = "merge"
    arity = None

    def output_shape(self, *xs):
        for index, x in enumerate(xs[1:], start=1):
            if tuple(x) != tuple(xs[0]):
                raise SpecError(f"cannot add shapes {shape_str(xs[0])} and {shape_str(x)} (input {index}); "
                                "add needs exactly equal shapes",
                                hint="give the shortcut a projection (1x1 conv with the same stride) to match")
        return xs[0]

    def forward(self, ops, params, *xs):
        for x in xs[1:]:
            if tuple(x.shape) != tuple(xs[0].shape):  # no broadcasting: add means equal shapes
                raise ValueError(f"add got arrays of shapes {tuple(xs[0].shape)} and {tuple(x.shape)}")
        return ops.fold(xs, "sum")

    def flops(self, out, *xs):
        return (len(xs) - 1) * prod(out)
