"""Element-wise activations and dropout: the shape passes through unchanged."""
from __future__ import annotations

from ..diagnostics import SpecError
from .base import Arg, Layer, prod
from .parameters import SCALE, Param


def sigmoid(xp, x):
    """1 / (1 + exp(-x)) as (tanh(x/2) + 1) / 2: no overflow for large |x|."""
    y = xp.tanh(x * 0.5)
    y += 1.0
    y *= 0.5
    return y


def erf(xp, x):
    """erf from standard functions (the array API has none): Abramowitz & Stegun 7.1.26,
    absolute error below 1.5e-7."""
    z = xp.abs(x)
    t = z * 0.3275911
    t += 1.0
    t = 1.0 / t
    poly = t * 1.061405429  # Horner, in place: a few arrays of x's size at once
    for coefficient in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += coefficient
        poly *= t
    del t
    z *= z
    poly *= xp.exp(-z)
    del z
    poly -= 1.0  # -erf(|x|)
    return xp.where(x < 0, poly, -poly)


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

    def forward(self, ops, params, x):
        return ops.xp.clip(x, min=0.0)


class ReLU6(Elementwise):
    type = "relu6"  # min(max(x, 0), 6)
    flops_per_element = 2

    def forward(self, ops, params, x):
        return ops.xp.clip(x, min=0.0, max=6.0)


class LeakyReLU(Elementwise):
    type = "leaky_relu"  # x if x > 0 else slope * x: compare, multiply
    flops_per_element = 2
    args = {"negative_slope": Arg("float", 0.01, "slope for negative inputs")}

    def forward(self, ops, params, x):
        return ops.xp.where(x >= 0, x, x * self.negative_slope)


class Sigmoid(Elementwise):
    type = "sigmoid"  # 1 / (1 + exp(-x)): negate, exp, add, divide
    flops_per_element = 4

    def forward(self, ops, params, x):
        return sigmoid(ops.xp, x)


class Tanh(Elementwise):
    type = "tanh"  # one transcendental op

    def forward(self, ops, params, x):
        return ops.xp.tanh(x)


class GELU(Elementwise):
    type = "gelu"  # x/2 * (1 + erf(x/sqrt 2)): divide, erf, add, multiply, multiply
    flops_per_element = 5

    def workspace(self, batch, out, x):
        return 5 * batch * prod(out)  # erf's temporaries and its scaled input

    def forward(self, ops, params, x):
        y = erf(ops.xp, x * 0.7071067811865476)
        y += 1.0
        y *= x
        y *= 0.5
        return y


class SiLU(Elementwise):
    type = "silu"  # x * sigmoid(x)
    flops_per_element = 5

    def forward(self, ops, params, x):
        return x * sigmoid(ops.xp, x)


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

    def parameters(self, x):
        return {"weight": Param((self.num_parameters or x[0],), SCALE)}

    def forward(self, ops, params, x):
        slopes = params("weight", (self.num_parameters or x.shape[1],))
        slopes = ops.xp.reshape(slopes, (-1, *(1 for _ in x.shape[2:])))  # per channel (axis 1)
        return ops.xp.where(x >= 0, x, x * slopes)


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

    def workspace(self, batch, out, x):
        return 3 * batch * prod(out)  # the shifted input, its exponentials, the sums and maxima

    def forward(self, ops, params, x):
        xp = ops.xp
        axis = self.axis + 1 if self.axis >= 0 else self.axis  # past the batch axis
        e = xp.exp(x - xp.max(x, axis=axis, keepdims=True))
        return e / xp.sum(e, axis=axis, keepdims=True)


class Dropout(Elementwise):
    """Identity at inference; FLOPs 0."""

    type = "dropout"
    moves_no_data = True
    category = "regularisation"
    flops_per_element = 0
    args = {"p": Arg("float", 0.5, "probability of zeroing an element during training")}

    def validate(self):
        if not 0 <= self.p <= 1:
            raise SpecError(f"p must be between 0 and 1, got {self.p}", arg="p")

    def forward(self, ops, params, x):
        return x  # inference
