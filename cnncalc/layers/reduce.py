"""Reductions over chosen axes: mean (torch.mean(x, dims), as ShuffleNetV2's and RegNet's
heads use)."""
from __future__ import annotations

from ..diagnostics import SpecError
from .base import Arg, Layer, prod, shape_str, torch_call, torch_dim
from .reads import IDENTITY, Reads
from .norm import mean
from .saving import NOTHING


class Mean(Layer):
    """The mean over `axes` of the per-sample shape (0 = channels, -1 = the last), which are
    dropped (kept as size 1 with keepdims). FLOPs: for each output element, n - 1 adds and a
    divide over its n inputs: as many as the input has elements."""

    type = "mean"
    category = "pooling"
    args = {
        "axes": Arg("ints", doc="the per-sample axes averaged over, e.g. [1, 2] (0 = channels, -1 = last)"),
        "keepdims": Arg("bool", False, "keep the averaged axes as size 1 (torch.mean's keepdim)"),
    }

    def torch_code(self, x):
        return torch_call("Mean", tuple(torch_dim(axis) for axis in self.reduced(x)), self.keepdims)

    def onnx_nodes(self, builder, inputs, output, x):
        builder.node("ReduceMean", [*inputs, builder.ints(axis + 1 for axis in self.reduced(x))], output,
                     keepdims=int(self.keepdims))

    def reduced(self, x) -> tuple:
        """The averaged axes, counted from 0, in order."""
        if not self.axes:
            raise SpecError("axes must list one or more axes", arg="axes",
                            hint="e.g. axes: [1, 2] for the positions of a [C, H, W] input")
        axes = []
        for axis in self.axes:
            if not -len(x) <= axis < len(x):
                raise SpecError(f"axis {axis} is out of range for a {len(x)}-D input {shape_str(x)}",
                                arg="axes", hint=f"per-sample axes are 0..{len(x) - 1} (or -{len(x)}..-1)")
            axes.append(axis % len(x))
        if len(set(axes)) != len(axes):
            raise SpecError(f"axes {list(self.axes)} name an axis twice (input {shape_str(x)})", arg="axes")
        return tuple(sorted(axes))

    def output_shape(self, x):
        axes = self.reduced(x)
        if self.keepdims:
            return tuple(1 if i in axes else d for i, d in enumerate(x))
        return tuple(d for i, d in enumerate(x) if i not in axes)

    def reads(self, out, x):
        """The averaged axes whole (kept as size 1, or dropped), the others as they are."""
        axes = self.reduced(x)
        kept = (((0, a, IDENTITY),) if a not in axes else () for a in range(len(x)) if self.keepdims or a not in axes)
        return Reads(tuple(kept), whole=tuple((0, a) for a in axes))

    def flops(self, out, x):
        return prod(x)

    def workspace(self, batch, out, x):
        return 0  # the sums are the output, divided in place

    def saved(self, out, x, *, needs):
        return NOTHING  # the gradient is spread evenly: only sizes are needed

    def forward(self, ops, params, x):
        axes = tuple(sorted(a % (x.ndim - 1) + 1 for a in self.axes))
        return mean(ops.xp, x, axes, self.keepdims)
