"""The two LeNet-5 layers (LeCun et al., 1998) that modern libraries lack."""
from __future__ import annotations

from .base import Arg, prod
from .dense import Dense
from .pool import _WindowPool


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

    def param_shapes(self, x):
        return {"weight": (x[0],), "bias": (x[0],)}

    def flops(self, out, x):
        # window sum (k-1 adds), times the coefficient, plus the bias; not a weighted sum, so no MACs
        return prod(out) * (prod(self.kernel_size) + 1)

    def forward(self, ops, params, x):
        pads = self.window_pads()
        sums = self.window_sum(ops, ops.pad(x, pads, 0.0), x.shape[2:])
        per_map = (x.shape[1], *(1 for _ in pads))
        y = sums * ops.xp.reshape(params("weight", (x.shape[1],)), per_map)  # one product per window: no MACs
        y += ops.xp.reshape(params("bias", (x.shape[1],)), per_map)
        return y


class RBF(Dense):
    """Euclidean radial basis output units: y_j = sum_i (x_i - w_ji)^2 on the last axis."""

    type = "rbf"
    weight_init = "glorot_uniform"

    def param_shapes(self, x):
        return {"weight": (self.out_features, x[-1])}

    def flops(self, out, x):
        return 3 * self.macs(out, x)  # subtract, square, accumulate

    def forward(self, ops, params, x):
        weight = params("weight", (self.out_features, x.shape[-1]))
        return ops.sum_of_squares(x[..., None, :] - weight, axis=-1)  # [..., units, features] -> [..., units]
