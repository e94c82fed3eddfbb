"""Normalisation: batch, instance, group and layer normalisation, and local response
normalisation.

FLOPs (per sample; `out` = elements, which the input has too):
  with running statistics (batch norm; instance norm tracking them), per element:
    subtract the mean, divide by the deviation, and (affine) scale and shift = 4 (2),
    plus var + eps and a square root per channel = 2C;
  with statistics computed from the input (layer, group, instance norm), per group of
    n elements normalised together: the mean (n - 1 adds, 1 divide = n), the deviations
    (n subtracts), the variance (n squares, n - 1 adds, 1 divide = 2n), var + eps and a
    square root (2), the division (n), and the affine scale and shift (2n; n without a
    bias): out * 7 (5 without affine, 6 without a bias) + 2 * groups.
"""
from __future__ import annotations

from ..diagnostics import SpecError
from .base import Arg, Layer, prod, shape_str, torch_call, torch_keywords
from .parameters import BIAS, RUNNING_MEAN, SCALE, Param
from .reads import pointwise
from .saving import FLOAT32, Own, Saved


def per_channel(xp, values, ndim: int):
    """A [C] array shaped to broadcast over channels (axis 1) of a batch of `ndim` axes."""
    return xp.reshape(values, (-1, *(1 for _ in range(ndim - 2))))


def mean(xp, x, axes: tuple, keepdims: bool = True):
    """The mean over `axes` as a sum and one division (NumPy's own mean holds a buffer of
    128 KiB more)."""
    total = xp.sum(x, axis=axes, keepdims=keepdims)
    total /= prod(x.shape[a] for a in axes)
    return total


def standardise(xp, x, axes: tuple, eps: float):
    """(x - mean) / sqrt(var + eps) over `axes` (the biased variance, as PyTorch), as a new
    array: besides it, one array of x's size (the squares) and the statistics at once."""
    y = x - mean(xp, x, axes)
    variance = mean(xp, y * y, axes)
    variance += eps
    y /= xp.sqrt(variance)
    return y


def with_statistics(per_sample: int = 0, fixed: int = 0) -> Saved:
    """What normalisation keeps for training: its input, and the mean and 1/deviation of
    each group normalised together (float32 under mixed precision too)."""
    return Saved(inputs=(0,), own=(Own(per_sample, fixed, FLOAT32),))


def statistics_flops(elements: int, groups: int, affine: bool, bias: bool = True) -> int:
    """The module docstring's rule for statistics computed from the input."""
    per_element = 5 + (2 if affine and bias else 1 if affine else 0)
    return elements * per_element + 2 * groups


class _BatchNorm(Layer):
    """Per-channel (axis 0) normalisation with running statistics.

    Parameters: weight and bias (2C, as PyTorch's parameters()); buffers: running
    mean and variance (2C). FLOPs at inference: subtract, divide, and (affine) scale
    and shift per element, plus var + eps and a square root per channel.
    """

    category = "normalisation"
    args = {
        "num_features": Arg("int", None, "channels (inferred; checked when given)", minimum=1),
        "eps": Arg("float", 1e-5, "added to the variance"),
        "momentum": Arg("float", 0.1, "running statistics update rate"),
        "affine": Arg("bool", True, "learn a scale and shift per channel"),
    }
    ranks: tuple = ()

    def torch_code(self, x):
        return torch_call(f"nn.{type(self).__name__}", x[0], **torch_keywords(  # named as torch's
            {"eps": 1e-5, "momentum": 0.1, "affine": True}, eps=self.eps, momentum=self.momentum, affine=self.affine))

    def onnx_nodes(self, builder, inputs, output, x):
        """Inference with the running statistics; without affine, a scale of ones and a shift of zeros."""
        scale = [builder.param("weight"), builder.param("bias")] if self.affine else \
            [builder.full((x[0],), 1.0), builder.full((x[0],), 0.0)]
        builder.node("BatchNormalization", [*inputs, *scale, builder.buffer("running_mean"),
                                            builder.buffer("running_var")], output, epsilon=self.eps)

    def output_shape(self, x):
        if len(x) not in self.ranks:
            expected = " or ".join(f"{r}-D" for r in self.ranks)
            raise SpecError(f"{self.type} expects a {expected} input per sample, got {len(x)}-D {list(x)}")
        self.check_inferred("num_features", self.num_features, x[0], "channels")
        return x

    def parameters(self, x):
        return {"weight": Param((x[0],), SCALE), "bias": Param((x[0],), BIAS)} if self.affine else {}

    def buffers(self, x):
        return {"running_mean": Param((x[0],), RUNNING_MEAN), "running_var": Param((x[0],), SCALE)}

    def flops(self, out, x):
        return prod(x) * (4 if self.affine else 2) + 2 * x[0]

    def saved(self, out, x, *, needs):
        return with_statistics(fixed=2 * x[0])  # one mean and deviation per channel for the batch

    def forward(self, ops, params, x):
        """Inference: (x - running_mean) / sqrt(running_var + eps) * weight + bias, per channel
        (axis 1), folded into one scale and one shift."""
        xp = ops.xp
        channels = x.shape[1]
        mean = params.buffer("running_mean", (channels,))
        scale = 1.0 / xp.sqrt(params.buffer("running_var", (channels,)) + self.eps)
        if self.affine:
            scale = scale * params("weight", (channels,))
            shift = params("bias", (channels,)) - mean * scale
        else:
            shift = -mean * scale
        per_channel = (channels, *(1 for _ in x.shape[2:]))
        y = x * xp.reshape(scale, per_channel)
        y += xp.reshape(shift, per_channel)
        return y


class BatchNorm1d(_BatchNorm):
    type = "batchnorm1d"
    ranks = (1, 2)


class BatchNorm2d(_BatchNorm):
    type = "batchnorm2d"
    ranks = (3,)


class BatchNorm3d(_BatchNorm):
    type = "batchnorm3d"
    ranks = (4,)


class InstanceNorm(_BatchNorm):
    """Each channel of each sample normalised over its own positions: one type for
    PyTorch's InstanceNorm1d, 2d and 3d, the rank taken from the input ([C, L], [C, H, W],
    [C, D, H, W]). With track_running_stats the running statistics are buffers and
    inference uses them, exactly as batch norm (and costs what batch norm costs)."""

    type = "instance_norm"
    ranks = (2, 3, 4)
    args = {
        **_BatchNorm.args,
        "affine": Arg("bool", False, "learn a scale and shift per channel"),
        "track_running_stats": Arg("bool", False, "keep running statistics (buffers), used at inference"),
    }

    def torch_code(self, x):
        return torch_call(f"nn.InstanceNorm{len(x) - 1}d", x[0], self.eps, self.momentum, self.affine,
                          self.track_running_stats)

    def onnx_nodes(self, builder, inputs, output, x):
        if self.track_running_stats:
            super().onnx_nodes(builder, inputs, output, x)
            return
        scale = [builder.param("weight"), builder.param("bias")] if self.affine else \
            [builder.full((x[0],), 1.0), builder.full((x[0],), 0.0)]
        builder.node("InstanceNormalization", [*inputs, *scale], output, epsilon=self.eps)

    def output_shape(self, x):
        super().output_shape(x)
        if not self.track_running_stats and prod(x[1:]) == 1:
            raise SpecError(f"instance_norm normalises each channel over its positions, but the input "
                            f"{shape_str(x)} has only one position",
                            hint="PyTorch refuses this too; normalise before the spatial size reaches 1")
        return x

    def reads(self, out, x):
        """Position for position, over statistics of all the positions (unless it uses running ones)."""
        return pointwise(len(x), whole=() if self.track_running_stats else tuple((0, a) for a in range(1, len(x))))

    def buffers(self, x):
        return super().buffers(x) if self.track_running_stats else {}

    def flops(self, out, x):
        if self.track_running_stats:
            return super().flops(out, x)
        return statistics_flops(prod(x), x[0], self.affine)

    def saved(self, out, x, *, needs):
        """As F.instance_norm, a batch norm of [1, N·C, ...]: statistics per channel and
        sample, and the per-sample copies it makes of the weight (affine) and of the
        running statistics (tracked)."""
        copies = self.affine + 2 * self.track_running_stats
        return with_statistics(per_sample=(2 + copies) * x[0])

    def workspace(self, batch, out, x):
        return batch * (prod(out) + 2 * x[0])  # the squares, and the statistics

    def forward(self, ops, params, x):
        if self.track_running_stats:
            return super().forward(ops, params, x)
        xp = ops.xp
        y = standardise(xp, x, tuple(range(2, x.ndim)), self.eps)
        if self.affine:
            y *= per_channel(xp, params("weight", (x.shape[1],)), x.ndim)
            y += per_channel(xp, params("bias", (x.shape[1],)), x.ndim)
        return y


class GroupNorm(Layer):
    """The channels split into `num_groups` groups; each group of each sample normalised
    over its channels and positions together; scale and shift per channel."""

    type = "group_norm"
    category = "normalisation"
    args = {
        "num_groups": Arg("int", doc="groups the channels are split into (they must divide the channels)",
                          minimum=1),
        "num_channels": Arg("int", None, "channels (inferred; checked when given)", minimum=1),
        "eps": Arg("float", 1e-5, "added to the variance"),
        "affine": Arg("bool", True, "learn a scale and shift per channel"),
    }

    def torch_code(self, x):
        return torch_call("nn.GroupNorm", self.num_groups, x[0], self.eps, self.affine)

    def onnx_nodes(self, builder, inputs, output, x):
        """Standardised over [channels of the group, positions] through a [groups, rest] view."""
        grouped = builder.standardise(builder.reshape(*inputs, (self.num_groups, -1)), [2], self.eps)
        normalised = builder.reshape(grouped, x, None if self.affine else output)
        if self.affine:
            builder.affine(normalised, x, True, True, output)

    def validate(self):
        if self.num_channels is not None and self.num_channels % self.num_groups:
            raise SpecError(f"num_channels ({self.num_channels}) must be divisible by num_groups "
                            f"({self.num_groups})", arg="num_groups")

    def output_shape(self, x):
        if not x:
            raise SpecError("group_norm needs an input with a channel axis")
        self.check_inferred("num_channels", self.num_channels, x[0], "channels")
        if x[0] % self.num_groups:
            raise SpecError(f"the input's channels ({x[0]}) must be divisible by num_groups ({self.num_groups})",
                            arg="num_groups", hint=f"input shape is {shape_str(x)}")
        return x

    def reads(self, out, x):
        """Position for position, over statistics of its group's channels at all positions."""
        return pointwise(len(x), whole=tuple((0, a) for a in range(len(x))))

    def parameters(self, x):
        return {"weight": Param((x[0],), SCALE), "bias": Param((x[0],), BIAS)} if self.affine else {}

    def flops(self, out, x):
        return statistics_flops(prod(x), self.num_groups, self.affine)

    def saved(self, out, x, *, needs):
        return with_statistics(per_sample=2 * self.num_groups)

    def workspace(self, batch, out, x):
        return batch * (prod(out) + 2 * self.num_groups)  # the squares, and the statistics

    def forward(self, ops, params, x):
        """Statistics over [channels of the group, positions], through a view of x as
        [N, groups, rest]."""
        xp = ops.xp
        grouped = xp.reshape(x, (x.shape[0], self.num_groups, -1))
        y = xp.reshape(standardise(xp, grouped, (2,), self.eps), x.shape)
        if self.affine:
            y *= per_channel(xp, params("weight", (x.shape[1],)), x.ndim)
            y += per_channel(xp, params("bias", (x.shape[1],)), x.ndim)
        return y


class LayerNorm(Layer):
    """Normalisation over the last `axes` axes (as nn.LayerNorm(normalized_shape) with
    normalized_shape = those axes' sizes), or with `axis: channels` over the channel axis
    at every position (ConvNeXt's LayerNorm2d). Parameters: weight and bias of the
    normalised shape ([C] over channels)."""

    type = "layer_norm"
    category = "normalisation"
    args = {
        "axes": Arg("int", None, "how many trailing axes are normalised together (default 1: the last)",
                    minimum=1),
        "axis": Arg("choice", None, "'channels': normalise over axis 0 at every position (LayerNorm2d)",
                    choices=("channels",)),
        "normalized_shape": Arg("ints", None, "the normalised axes' sizes, as PyTorch (checked against the input)"),
        "eps": Arg("float", 1e-5, "added to the variance"),
        "elementwise_affine": Arg("bool", True, "learn a scale (and shift) per normalised element"),
        "bias": Arg("bool", True, "learn the shift too (with elementwise_affine)"),
    }

    def torch_code(self, x):
        if self.trailing() == 0:
            return torch_call("ChannelLayerNorm", x[0], self.eps, self.elementwise_affine, self.bias)
        return torch_call("nn.LayerNorm", self.normalised(x), self.eps, self.elementwise_affine, self.bias)

    def onnx_nodes(self, builder, inputs, output, x):
        """LayerNormalization over the last axes; over the channels, standardised along axis 1."""
        affine, count = self.elementwise_affine, self.trailing()
        if count == 0:
            y = builder.standardise(*inputs, [1], self.eps)
            builder.affine(y, x, affine, affine and self.bias, output)
            return
        scale = [builder.param("weight")] if affine else [builder.full(self.normalised(x), 1.0)]
        bias = [builder.param("bias")] if affine and self.bias else []
        builder.node("LayerNormalization", [*inputs, *scale, *bias], output, axis=-count, epsilon=self.eps)

    def validate(self):
        if self.normalized_shape is not None:
            if not self.normalized_shape or any(d < 1 for d in self.normalized_shape):
                raise SpecError(f"normalized_shape {list(self.normalized_shape)} must list one or more "
                                "positive sizes", arg="normalized_shape")
            count = len(self.normalized_shape)
            if self.axes is not None and self.axes != count:
                raise SpecError(f"axes={self.axes} but normalized_shape {list(self.normalized_shape)} "
                                f"has {count} sizes", arg="axes", hint="give one of them")
            if self.axis == "channels" and count != 1:
                raise SpecError(f"axis: channels normalises one axis, but normalized_shape "
                                f"{list(self.normalized_shape)} has {count} sizes", arg="normalized_shape")
        if self.axis == "channels" and self.axes is not None:
            raise SpecError("give either axis: channels or axes (trailing axes), not both", arg="axes")

    def trailing(self) -> int:
        """How many trailing axes are normalised (0 over channels)."""
        if self.axis == "channels":
            return 0
        if self.axes is not None:
            return self.axes
        return len(self.normalized_shape) if self.normalized_shape is not None else 1

    def normalised(self, x) -> tuple:
        """The normalised axes' sizes (the parameters' shape)."""
        count = self.trailing()
        return (x[0],) if count == 0 else tuple(x[len(x) - count:])

    def output_shape(self, x):
        count = max(self.trailing(), 1)
        if len(x) < count:
            raise SpecError(f"layer_norm normalises the last {count} axes, but the input {shape_str(x)} "
                            f"has {len(x)}", arg="axes" if self.normalized_shape is None else "normalized_shape")
        if self.normalized_shape is not None and tuple(self.normalized_shape) != self.normalised(x):
            raise SpecError(f"normalized_shape {list(self.normalized_shape)} does not match the input's "
                            f"{'channels' if self.axis else 'last axes'} {list(self.normalised(x))} "
                            f"(input {shape_str(x)})", arg="normalized_shape",
                            hint="remove 'normalized_shape' to take it from the input")
        return x

    def reads(self, out, x):
        """Position for position, over statistics of the normalised axes (the channels, or the
        last ones)."""
        count = self.trailing()
        normalised = (0,) if count == 0 else range(len(x) - count, len(x))
        return pointwise(len(x), whole=tuple((0, a) for a in normalised))

    def parameters(self, x):
        if not self.elementwise_affine:
            return {}
        shape = self.normalised(x)
        params = {"weight": Param(shape, SCALE)}
        if self.bias:
            params["bias"] = Param(shape, BIAS)
        return params

    def flops(self, out, x):
        return statistics_flops(prod(x), prod(x) // prod(self.normalised(x)), self.elementwise_affine, self.bias)

    def saved(self, out, x, *, needs):
        return with_statistics(per_sample=2 * (prod(x) // prod(self.normalised(x))))

    def workspace(self, batch, out, x):
        return batch * (prod(out) + 2 * (prod(x) // prod(self.normalised(x))))  # the squares, the statistics

    def forward(self, ops, params, x):
        xp = ops.xp
        count = self.trailing()
        axes = (1,) if count == 0 else tuple(range(x.ndim - count, x.ndim))
        y = standardise(xp, x, axes, self.eps)
        if self.elementwise_affine:
            shape = tuple(x.shape[a] for a in axes)
            weight = params("weight", shape)
            y *= per_channel(xp, weight, x.ndim) if count == 0 else weight
            if self.bias:
                bias = params("bias", shape)
                y += per_channel(xp, bias, x.ndim) if count == 0 else bias
        return y


class LocalResponseNorm(Layer):
    """b = a / (k + alpha/n * sum of a^2 over n neighbouring channels)^beta (AlexNet paper).

    FLOPs per element: n squares, n-1 adds, scale, add k, power, divide = 2n + 3.
    """

    type = "lrn"
    category = "normalisation"
    args = {
        "size": Arg("int", doc="number of neighbouring channels (n)", minimum=1),
        "alpha": Arg("float", 1e-4, "scale"),
        "beta": Arg("float", 0.75, "exponent"),
        "k": Arg("float", 1.0, "additive constant"),
    }

    def torch_code(self, x):
        return torch_call("nn.LocalResponseNorm", self.size, self.alpha, self.beta, self.k)

    def onnx_nodes(self, builder, inputs, output, x):
        """As PyTorch (ONNX's LRN centres an even window the other way): the mean of squares over
        `size` channels, zero-padded size//2 before and (size-1)//2 after, as an AveragePool of
        the squares with the channels as its first spatial axis."""
        squares = builder.node("Mul", [*inputs, *inputs])
        planes = builder.node("Unsqueeze", [squares, builder.ints([1])])
        pads = [self.size // 2, *(0,) * (len(x) - 1), (self.size - 1) // 2, *(0,) * (len(x) - 1)]
        means = builder.node("AveragePool", [planes], kernel_shape=[self.size, *(1,) * (len(x) - 1)], pads=pads,
                             count_include_pad=1)
        total = builder.node("Mul", [builder.node("Squeeze", [means, builder.ints([1])]), builder.floats(self.alpha)])
        base = builder.node("Add", [total, builder.floats(self.k)])
        builder.node("Div", [*inputs, builder.node("Pow", [base, builder.floats(self.beta)])], output)

    def output_shape(self, x):
        if len(x) < 2:
            raise SpecError(f"lrn expects a [C, ...] input with positions, got {list(x)}")
        return x

    def flops(self, out, x):
        return prod(x) * (2 * self.size + 3)

    def saved(self, out, x, *, needs):
        """As F.local_response_norm: the input; the squares zero-padded to C + size - 1
        channels, which the window average keeps; and the power's base and result."""
        return Saved(inputs=(0,), own=(Own((3 * x[0] + self.size - 1) * prod(x[1:])),))

    def workspace(self, batch, out, x):
        """Running sums of squares over the channels (one plane more than the input), two
        gathers of them, then the power and the quotient: three such arrays at most."""
        return 3 * batch * (prod(x) + prod(x[1:]))

    def forward(self, ops, params, x):
        """As torch.nn.functional.local_response_norm: the mean of squares over `size`
        channels (zero-padded size//2 before, (size-1)//2 after), each window's sum taken
        as the difference of two running sums over the channels, so any `size` costs the
        same."""
        xp = ops.xp
        channels = x.shape[1]
        sums = xp.cumulative_sum(x * x, axis=1, include_initial=True)  # sums[c] = squares before c
        index = xp.arange(channels)
        total = xp.take(sums, xp.clip(index + ((self.size - 1) // 2 + 1), max=channels), axis=1)
        total -= xp.take(sums, xp.clip(index - self.size // 2, min=0), axis=1)
        del sums
        total *= self.alpha / self.size
        total += self.k
        return x / xp.pow(total, self.beta)
