"""The two LeNet-5 layers (LeCun et al., 1998) that modern libraries lack."""
from __future__ import annotations

from .base import Arg, prod, torch_call
from .dense import Dense
from .parameters import BIAS, SCALE, GlorotUniform, Param
from .saving import Own, Saved
from .pool import _WindowPool

# elements of RBF differences made at once (16 MiB in float32), unless one position and unit need more
DIFFERENCE_BLOCK = 1 << 22


class Subsampling(_WindowPool):
    """Trainable subsampling (S2, S4): each map's window sum times one coefficient, plus one bias."""

    type = "subsampling"
    category = "pooling"
    rank = 2
    args = {
        "kernel_size": Arg("sizes", 2, "window size", minimum=1),
        "stride": Arg("sizes", None, "step between windows (default: kernel_size)", minimum=1),
        "padding": Arg("sizes", 0, "implicit padding on both sides", minimum=0),
        "ceil_mode": Arg("bool", False, "round the output size up instead of down"),
    }

    def torch_code(self, x):
        return torch_call("Subsampling", x[0], self.kernel_size, self.stride or self.kernel_size, self.padding,
                          self.ceil_mode)

    def onnx_nodes(self, builder, inputs, output, x):
        """The window sums as a depthwise Conv with a kernel of ones (zero padding, and
        ceil_mode's last windows, add nothing), times the coefficient, plus the bias."""
        pads = builder.window_pads(x, self.output_shape(x), self.kernel_size, self.stride, (1,) * self.rank,
                                   self.padding)
        ones = builder.full((x[0], 1, *self.kernel_size), 1.0)
        sums = builder.node("Conv", [*inputs, ones], group=x[0], kernel_shape=list(self.kernel_size),
                            strides=list(self.stride), pads=pads)
        builder.affine(sums, x, True, True, output)

    def parameters(self, x):
        return {"weight": Param((x[0],), SCALE), "bias": Param((x[0],), BIAS)}

    def flops(self, out, x):
        # window sum (k-1 adds), times the coefficient, plus the bias; not a weighted sum, so no MACs
        return prod(out) * (prod(self.kernel_size) + 1)

    def saved(self, out, x, *, needs):
        """As its PyTorch twin, avg_pool2d(x) · weight + bias: the pool keeps its input when
        that needs a gradient; the product keeps the window sums for the weight's."""
        return Saved(inputs=(0,) if needs.inputs[0] else (), own=(Own(prod(out)),) if needs.params else ())

    def workspace(self, batch, out, x):
        """The window sums and the scaled copy."""
        return self.window_work(batch * x[0], x) + batch * prod(out)

    def forward(self, ops, params, x):
        pads = self.window_pads()
        sums = self.reduce_windows(ops, ops.pad(x, pads, 0.0), x.shape[2:], "sum")
        per_map = (x.shape[1], *(1 for _ in pads))
        y = sums * ops.xp.reshape(params("weight", (x.shape[1],)), per_map)  # one product per window: no MACs
        y += ops.xp.reshape(params("bias", (x.shape[1],)), per_map)
        return y


class RBF(Dense):
    """Euclidean radial basis output units: y_j = sum_i (x_i - w_ji)^2 on the last axis."""

    type = "rbf"

    def torch_code(self, x):
        return torch_call("RBF", x[-1], self.out_features)

    def onnx_nodes(self, builder, inputs, output, x):
        """sum over the last axis of (x - w_j)^2: the differences [..., units, features]."""
        differences = builder.node("Sub", [builder.node("Unsqueeze", [*inputs, builder.ints([-2])]),
                                           builder.param("weight")])
        squares = builder.node("Mul", [differences, differences])
        builder.node("ReduceSum", [squares, builder.ints([-1])], output, keepdims=0)

    def parameters(self, x):
        """The centres, one per unit, Glorot-uniform."""
        return {"weight": Param((self.out_features, x[-1]), GlorotUniform(x[-1], self.out_features))}

    def flops(self, out, x):
        return 3 * self.macs(out, x)  # subtract, square, accumulate

    def saved(self, out, x, *, needs):
        """The differences x - w of every position and unit, which the square keeps."""
        return Saved(own=(Own(prod(x) * self.out_features),))

    def workspace(self, batch, out, x):
        """One block of differences and their squares, and the block's sums."""
        rows, units = rbf_block(batch * prod(x[:-1]), self.out_features, x[-1])
        return rows * units * (2 * x[-1] + 1)

    def forward(self, ops, params, x):
        """The differences [positions, units, features] by blocks of at most DIFFERENCE_BLOCK
        elements (all positions and units when they fit), each block's sums written into
        the output."""
        xp = ops.xp
        weight = params("weight", (self.out_features, x.shape[-1]))
        units, features = weight.shape
        points = xp.reshape(x, (-1, features))
        positions = points.shape[0]
        rows, per = rbf_block(positions, units, features)
        y = xp.empty((positions, units), dtype=x.dtype)
        for first in range(0, positions, rows):
            for unit in range(0, units, per):
                block = points[first:first + rows, None, :] - weight[unit:unit + per, :]
                y[first:first + rows, unit:unit + per] = ops.sum_of_squares(block, axis=-1)
        return xp.reshape(y, (*x.shape[:-1], units))


def rbf_block(positions: int, units: int, features: int) -> tuple:
    """Positions and units per block of RBF differences, at most DIFFERENCE_BLOCK elements
    (at least one position and one unit)."""
    per = max(1, min(units, DIFFERENCE_BLOCK // features))
    return max(1, min(positions, DIFFERENCE_BLOCK // (per * features))), per
