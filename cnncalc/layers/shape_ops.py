"""Layers that only rearrange elements: flatten, reshape, permute, identity."""
from __future__ import annotations

from ..diagnostics import SpecError
from .base import Arg, Layer, prod, shape_str, torch_call, torch_dim, torch_keywords
from .reads import IDENTITY, Reads
from .saving import VIEW


class _Rearrangement(Layer):
    """Views of the input (or the input itself): no arithmetic, no working arrays."""

    category = "reshape"
    moves_no_data = True

    def saved(self, out, x, *, needs):
        return VIEW  # PyTorch's view of a contiguous input: the same tensor


def _kept_axes(out, x) -> Reads:
    """For a reshape (flatten's too): an output axis of the same size as an input axis,
    after as many elements, is that axis position for position (row-major order keeps its
    stride); the others mix several input axes, or cut one: their positions are no input
    axis's."""
    found, before = {}, 1
    for axis, size in enumerate(x):
        found[before, size] = axis
        before *= size
    axes, before = [], 1
    for size in out:
        axis = found.get((before, size))
        axes.append(() if axis is None else ((0, axis, IDENTITY),))
        before *= size
    return Reads(tuple(axes))


class Flatten(_Rearrangement):
    """Merge per-sample axes start_dim..end_dim into one (default: all of them)."""

    type = "flatten"
    args = {
        "start_dim": Arg("int", 0, "first per-sample axis to merge"),
        "end_dim": Arg("int", -1, "last per-sample axis to merge"),
    }

    def torch_code(self, x):
        return torch_call("nn.Flatten", **torch_keywords(
            {"start_dim": 1, "end_dim": -1}, start_dim=torch_dim(self.start_dim), end_dim=torch_dim(self.end_dim)))

    def onnx_nodes(self, builder, inputs, output, x):
        builder.reshape(*inputs, self.output_shape(x), output)

    def output_shape(self, x):
        start = self.start_dim + len(x) if self.start_dim < 0 else self.start_dim
        end = self.end_dim + len(x) if self.end_dim < 0 else self.end_dim
        if not 0 <= start <= end < len(x):
            raise SpecError(f"axes {self.start_dim}..{self.end_dim} do not fit a {len(x)}-D input {shape_str(x)}")
        return (*x[:start], prod(x[start:end + 1]), *x[end + 1:])

    def reads(self, out, x):
        return _kept_axes(out, x)

    def forward(self, ops, params, x):
        start = self.start_dim + 1 if self.start_dim >= 0 else self.start_dim + x.ndim
        end = self.end_dim + 1 if self.end_dim >= 0 else self.end_dim + x.ndim
        return ops.xp.reshape(x, (*x.shape[:start], prod(x.shape[start:end + 1]), *x.shape[end + 1:]))


class Reshape(_Rearrangement):
    """A new per-sample shape with the same number of elements; one entry may be -1."""

    type = "reshape"
    args = {"shape": Arg("ints", doc="the new per-sample shape (one -1 is inferred)")}

    def torch_code(self, x):
        return torch_call("Reshape", *self.shape)

    def onnx_nodes(self, builder, inputs, output, x):
        builder.reshape(*inputs, self.output_shape(x), output)

    def output_shape(self, x):
        total = prod(x)
        unknown = [i for i, d in enumerate(self.shape) if d == -1]
        if len(unknown) > 1 or any(d == 0 or d < -1 for d in self.shape):
            raise SpecError(f"shape {list(self.shape)} may hold positive sizes and at most one -1", arg="shape")
        known = prod(d for d in self.shape if d != -1)
        if unknown:
            if total % known:
                raise SpecError(f"cannot reshape {shape_str(x)} ({total} elements) to {list(self.shape)}: "
                                f"{total} is not divisible by {known}", arg="shape")
            return tuple(total // known if d == -1 else d for d in self.shape)
        if known != total:
            raise SpecError(f"cannot reshape {shape_str(x)} ({total} elements) to {list(self.shape)} "
                            f"({known} elements)", arg="shape")
        return tuple(self.shape)

    def reads(self, out, x):
        return _kept_axes(out, x)

    def forward(self, ops, params, x):
        return ops.xp.reshape(x, (x.shape[0], *self.shape))


class Permute(_Rearrangement):
    """Reorder per-sample axes: dims [1, 0] turns [L, E] into [E, L]."""

    type = "permute"
    args = {"dims": Arg("ints", doc="the new order of the per-sample axes")}

    def torch_code(self, x):
        return torch_call("Permute", *(torch_dim(dim % len(x)) for dim in self.dims))

    def onnx_nodes(self, builder, inputs, output, x):
        builder.transpose(*inputs, self.dims, output)

    def output_shape(self, x):
        if sorted(self.dims) != list(range(len(x))):
            raise SpecError(f"dims {list(self.dims)} is not a permutation of 0..{len(x) - 1} "
                            f"for the input {shape_str(x)}", arg="dims")
        return tuple(x[d] for d in self.dims)

    def reads(self, out, x):
        return Reads(tuple(((0, axis, IDENTITY),) for axis in self.dims))

    def forward(self, ops, params, x):
        return ops.xp.permute_dims(x, (0, *(d + 1 for d in self.dims)))


class Identity(_Rearrangement):
    type = "identity"

    def torch_code(self, x):
        return "nn.Identity()"

    def onnx_nodes(self, builder, inputs, output, x):
        builder.node("Identity", inputs, output)

    def output_shape(self, x):
        return x

    def forward(self, ops, params, x):
        return x
