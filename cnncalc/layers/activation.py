"""Element-wise activations and dropout: the shape passes through unchanged."""
from __future__ import annotations

from ..errors import SpecError
from .base import Arg, Layer, prod


class Elementwise(Layer):
    """Output shape = input shape; FLOPs = elements x `flops_per_element`."""

    category = "activation"
    flops_per_element = 1

    def output_shape(self, x):
        return x

    def flops(self, out, x):
        return prod(out) * self.flops_per_element


class ReLU(Elementwise):
    type = "relu"  # max(x, 0)


class ReLU6(Elementwise):
    type = "relu6"  # min(max(x, 0), 6)
    flops_per_element = 2


class LeakyReLU(Elementwise):
    type = "leaky_relu"  # x if x > 0 else slope * x: compare, multiply
    flops_per_element = 2
    args = {"negative_slope": Arg("float", 0.01, "slope for negative inputs")}


class Sigmoid(Elementwise):
    type = "sigmoid"  # 1 / (1 + exp(-x)): negate, exp, add, divide
    flops_per_element = 4


class Tanh(Elementwise):
    type = "tanh"  # one transcendental op


class GELU(Elementwise):
    type = "gelu"  # x/2 * (1 + erf(x/sqrt 2)): divide, erf, add, multiply, multiply
    flops_per_element = 5


class SiLU(Elementwise):
    type = "silu"  # x * sigmoid(x)
    flops_per_element = 5


class PReLU(Elementwise):
    """Leaky ReLU with a trainable slope per channel (axis 0), or one shared slope."""

    type = "prelu"
    flops_per_element = 2
    args = {"num_parameters": Arg("int", None, "slopes: 1 (shared) or the channel count (default)", minimum=1)}

    def output_shape(self, x):
        if self.num_parameters not in (None, 1) and self.num_parameters != x[0]:
            raise SpecError(f"num_parameters={self.num_parameters} but the input has {x[0]} channels",
                            arg="num_parameters", hint="use 1 for one shared slope, or omit it for one per channel")
        return x

    def param_shapes(self, x):
        return {"weight": (self.num_parameters or x[0],)}


class Softmax(Layer):
    """exp(x - max) / sum along `axis` (per-sample axes; -1 is the last)."""

    type = "softmax"
    category = "activation"
    args = {"axis": Arg("int", -1, "the axis that sums to one (per sample; -1 = last)")}

    def length(self, x):
        if not -len(x) <= self.axis < len(x):
            raise SpecError(f"axis {self.axis} is out of range for a {len(x)}-D input {list(x)}", arg="axis")
        return x[self.axis]

    def output_shape(self, x):
        self.length(x)
        return x

    def flops(self, out, x):
        n = self.length(x)
        # max (n-1), subtract (n), exp (n), sum (n-1), divide (n) per slice
        return prod(x) // n * (5 * n - 2)


class Dropout(Elementwise):
    """Identity at inference; FLOPs 0."""

    type = "dropout"
    category = "regularisation"
    flops_per_element = 0
    args = {"p": Arg("float", 0.5, "probability of zeroing an element during training")}

    def validate(self):
        if not 0 <= self.p <= 1:
            raise SpecError(f"p must be between 0 and 1, got {self.p}", arg="p")
