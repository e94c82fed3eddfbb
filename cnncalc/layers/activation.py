"""Element-wise activations and the learnable per-channel scale: the shape passes through
unchanged. FLOPs per element as each class's comment counts them (a comparison, max or
min is one; a transcendental function - exp, log, tanh, erf - is one)."""
from __future__ import annotations

from ..diagnostics import SpecError
from .base import Arg, Layer, prod, torch_call, torch_dim
from .reads import pointwise
from .parameters import SCALE, Param
from .saving import INPUT, NOTHING, OUTPUT


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


def softplus(xp, x):
    """log(1 + exp(x)) as max(x, 0) + log1p(exp(-|x|)): no overflow for large |x|."""
    y = xp.abs(x)
    y *= -1.0
    y = xp.exp(y)  # each step a new array, the one before it freed: two at once
    y = xp.log1p(y)
    y += xp.clip(x, min=0.0)
    return y


class Elementwise(Layer):
    """Output shape = input shape; FLOPs = elements x `flops_per_element`."""

    category = "activation"
    flops_per_element = 1
    keeps_output = False  # training: the gradient reads the output (else the input)

    onnx_op = ""  # the ONNX operator that computes it as it is, if one does

    def torch_code(self, x):
        return f"nn.{type(self).__name__}()"  # the classes are named as torch's

    def onnx_nodes(self, builder, inputs, output, x):
        builder.node(self.onnx_op, inputs, output)

    def output_shape(self, x):
        return x

    def flops(self, out, x):
        return prod(out) * self.flops_per_element

    def saved(self, out, x, *, needs):
        return OUTPUT if self.keeps_output else INPUT


class ReLU(Elementwise):
    type = "relu"  # max(x, 0)
    onnx_op = "Relu"
    keeps_output = True

    def forward(self, ops, params, x):
        return ops.xp.clip(x, min=0.0)


class ReLU6(Elementwise):
    type = "relu6"  # min(max(x, 0), 6)
    flops_per_element = 2

    def onnx_nodes(self, builder, inputs, output, x):
        builder.node("Clip", [*inputs, builder.floats(0.0), builder.floats(6.0)], output)

    def forward(self, ops, params, x):
        return ops.xp.clip(x, min=0.0, max=6.0)


class LeakyReLU(Elementwise):
    type = "leaky_relu"  # x if x > 0 else slope * x: compare, multiply
    flops_per_element = 2
    args = {"negative_slope": Arg("float", 0.01, "slope for negative inputs")}

    def torch_code(self, x):
        return torch_call("nn.LeakyReLU", self.negative_slope)

    def onnx_nodes(self, builder, inputs, output, x):
        builder.node("LeakyRelu", inputs, output, alpha=self.negative_slope)

    def forward(self, ops, params, x):
        return ops.xp.where(x >= 0, x, x * self.negative_slope)


class Sigmoid(Elementwise):
    type = "sigmoid"  # 1 / (1 + exp(-x)): negate, exp, add, divide
    onnx_op = "Sigmoid"
    flops_per_element = 4
    keeps_output = True

    def forward(self, ops, params, x):
        return sigmoid(ops.xp, x)


class Tanh(Elementwise):
    type = "tanh"  # one transcendental op
    onnx_op = "Tanh"
    keeps_output = True

    def forward(self, ops, params, x):
        return ops.xp.tanh(x)


class GELU(Elementwise):
    """x/2 * (1 + erf(x/sqrt 2)): divide, erf, add, multiply, multiply = 5 per element;
    `approximate: tanh`: x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))): cube (2
    multiplies), multiply, add, multiply, tanh, add, multiply, multiply = 9."""

    type = "gelu"
    flops_per_element = 5
    args = {"approximate": Arg("choice", "none", "'tanh': the tanh approximation (as PyTorch's)",
                               choices=("none", "tanh"))}

    def torch_code(self, x):
        return torch_call("nn.GELU", approximate=self.approximate)

    def onnx_nodes(self, builder, inputs, output, x):
        builder.node("Gelu", inputs, output, approximate=self.approximate)

    def flops(self, out, x):
        return prod(out) * (9 if self.approximate == "tanh" else self.flops_per_element)

    def workspace(self, batch, out, x):
        return (2 if self.approximate == "tanh" else 5) * batch * prod(out)  # erf's temporaries

    def forward(self, ops, params, x):
        if self.approximate == "tanh":
            inner = x * x
            inner *= x
            inner *= 0.044715
            inner += x
            inner *= 0.7978845608028654  # sqrt(2 / pi)
            y = ops.xp.tanh(inner)
            del inner
        else:
            y = erf(ops.xp, x * 0.7071067811865476)
        y += 1.0
        y *= x
        y *= 0.5
        return y


class SiLU(Elementwise):
    type = "silu"  # x * sigmoid(x)
    flops_per_element = 5

    def onnx_nodes(self, builder, inputs, output, x):
        builder.node("Mul", [*inputs, builder.node("Sigmoid", inputs)], output)

    def forward(self, ops, params, x):
        return x * sigmoid(ops.xp, x)


class PReLU(Elementwise):
    """Leaky ReLU with a trainable slope per channel (axis 0), or one shared slope."""

    type = "prelu"
    flops_per_element = 2
    args = {"num_parameters": Arg("int", None, "slopes: 1 (shared) or the channel count (default)", minimum=1)}

    def torch_code(self, x):
        return torch_call("nn.PReLU", self.num_parameters or x[0])

    def onnx_nodes(self, builder, inputs, output, x):
        slopes = self.num_parameters or x[0]
        builder.node("PRelu", [*inputs, builder.param("weight", (slopes, *(1,) * (len(x) - 1)))], output)

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

    def torch_code(self, x):
        return torch_call("nn.Softmax", torch_dim(self.axis))

    def onnx_nodes(self, builder, inputs, output, x):
        builder.node("Softmax", inputs, output, axis=torch_dim(self.axis))

    def length(self, x):
        if not -len(x) <= self.axis < len(x):
            raise SpecError(f"axis {self.axis} is out of range for a {len(x)}-D input {list(x)}", arg="axis")
        return x[self.axis]

    def output_shape(self, x):
        self.length(x)
        return x

    def reads(self, out, x):
        """Position for position, but each value is divided by a sum along `axis`: read whole."""
        return pointwise(len(x), whole=((0, self.axis % len(x)),))

    def flops(self, out, x):
        n = self.length(x)
        # max (n-1), subtract (n), exp (n), sum (n-1), divide (n) per slice
        return prod(x) // n * (5 * n - 2)

    def saved(self, out, x, *, needs):
        return OUTPUT  # the gradient reads the probabilities

    def workspace(self, batch, out, x):
        return 3 * batch * prod(out)  # the shifted input, its exponentials, the sums and maxima

    def forward(self, ops, params, x):
        xp = ops.xp
        axis = self.axis + 1 if self.axis >= 0 else self.axis  # past the batch axis
        e = xp.exp(x - xp.max(x, axis=axis, keepdims=True))
        return e / xp.sum(e, axis=axis, keepdims=True)


class Hardswish(Elementwise):
    type = "hardswish"  # x * min(max(x + 3, 0), 6) / 6: add, max, min, multiply, divide
    onnx_op = "HardSwish"
    flops_per_element = 5

    def forward(self, ops, params, x):
        y = ops.xp.clip(x + 3.0, min=0.0, max=6.0)
        y *= x
        y /= 6.0
        return y


class Hardsigmoid(Elementwise):
    type = "hardsigmoid"  # min(max(x + 3, 0), 6) / 6: add, max, min, divide
    flops_per_element = 4

    def onnx_nodes(self, builder, inputs, output, x):
        builder.node("HardSigmoid", inputs, output, alpha=1 / 6, beta=0.5)  # ONNX's default alpha is 0.2

    def forward(self, ops, params, x):
        y = ops.xp.clip(x + 3.0, min=0.0, max=6.0)
        y /= 6.0
        return y


class Mish(Elementwise):
    type = "mish"  # x * tanh(log(1 + exp(x))): exp, add, log, tanh, multiply
    onnx_op = "Mish"
    flops_per_element = 5

    def workspace(self, batch, out, x):
        return 3 * batch * prod(out)  # softplus's temporaries

    def forward(self, ops, params, x):
        y = ops.xp.tanh(softplus(ops.xp, x))
        y *= x
        return y


class ELU(Elementwise):
    type = "elu"  # x if x > 0 else alpha * (exp(x) - 1): compare, exp, subtract, multiply
    flops_per_element = 4
    args = {"alpha": Arg("float", 1.0, "the negative saturation value (-alpha)")}

    def torch_code(self, x):
        return torch_call("nn.ELU", self.alpha)

    def onnx_nodes(self, builder, inputs, output, x):
        builder.node("Elu", inputs, output, alpha=self.alpha)

    def forward(self, ops, params, x):
        xp = ops.xp
        negative = xp.expm1(xp.clip(x, max=0.0))  # exp of the negative part only: no overflow
        negative *= self.alpha
        return xp.where(x > 0, x, negative)


class SELU(Elementwise):
    """scale * (x if x > 0 else alpha * (exp(x) - 1)), PyTorch's constants: compare, exp,
    subtract, multiply, multiply."""

    type = "selu"
    flops_per_element = 5
    alpha = 1.6732632423543772848170429916717
    scale = 1.0507009873554804934193349852946

    def onnx_nodes(self, builder, inputs, output, x):
        builder.node("Selu", inputs, output, alpha=self.alpha, gamma=self.scale)

    def forward(self, ops, params, x):
        xp = ops.xp
        negative = xp.expm1(xp.clip(x, max=0.0))
        negative *= self.alpha
        y = xp.where(x > 0, x, negative)
        y *= self.scale
        return y


class Softplus(Elementwise):
    """log(1 + exp(beta x)) / beta, and x where beta x > threshold (as PyTorch): multiply,
    compare, exp, add, log, divide."""

    type = "softplus"
    flops_per_element = 6
    args = {
        "beta": Arg("float", 1.0, "sharpness: log(1 + exp(beta x)) / beta"),
        "threshold": Arg("float", 20.0, "above this beta x the output is x"),
    }

    def torch_code(self, x):
        return torch_call("nn.Softplus", self.beta, self.threshold)

    def onnx_nodes(self, builder, inputs, output, x):
        """ONNX's Softplus has no beta nor threshold: softplus(beta x) / beta, and x where beta x > threshold."""
        scaled = builder.node("Mul", [*inputs, builder.floats(self.beta)])
        soft = builder.node("Div", [builder.node("Softplus", [scaled]), builder.floats(self.beta)])
        linear = builder.node("Greater", [scaled, builder.floats(self.threshold)])
        builder.node("Where", [linear, *inputs, soft], output)

    def validate(self):
        if self.beta == 0:
            raise SpecError("beta must not be 0 (softplus divides by it)", arg="beta")

    def workspace(self, batch, out, x):
        return 3 * batch * prod(out)  # beta x, the mask, softplus's temporaries

    def forward(self, ops, params, x):
        xp = ops.xp
        z = x * self.beta
        linear = z > self.threshold
        y = softplus(xp, z)
        del z
        y /= self.beta
        return xp.where(linear, x, y)


class Scale(Elementwise):
    """A learnable factor per channel (axis 0), broadcast over the positions: ConvNeXt's
    layer scale (torchvision's CNBlock holds it as a [C, 1, 1] parameter: the same C
    elements). One multiply per element."""

    type = "scale"
    category = "elementwise"
    args = {
        "init": Arg("float", 1e-6, "the factors' initial value in training (ConvNeXt: 1e-6); "
                                   "no figure depends on it, and verify draws U(0.5, 1.5)"),
        "num_features": Arg("int", None, "channels (inferred; checked when given)", minimum=1),
    }

    def torch_code(self, x):
        return torch_call("Scale", x[0], self.init)

    def onnx_nodes(self, builder, inputs, output, x):
        builder.node("Mul", [*inputs, builder.per_channel("weight", x)], output)

    def output_shape(self, x):
        if not x:
            raise SpecError("scale needs an input with a channel axis")
        self.check_inferred("num_features", self.num_features, x[0], "channels")
        return x

    def parameters(self, x):
        return {"weight": Param((x[0],), SCALE)}

    def saved(self, out, x, *, needs):
        return INPUT if needs.params else NOTHING  # x · weight: only the weight's gradient reads x

    def forward(self, ops, params, x):
        weight = params("weight", (x.shape[1],))
        return x * ops.xp.reshape(weight, (-1, *(1 for _ in x.shape[2:])))
