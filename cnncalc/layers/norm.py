"""Normalisation: batch normalisation and local response normalisation."""
from __future__ import annotations

from ..diagnostics import SpecError
from .base import Arg, Layer, prod
from .parameters import BIAS, RUNNING_MEAN, SCALE, Param


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

    def output_shape(self, x):
        if len(x) < 2:
            raise SpecError(f"lrn expects a [C, ...] input with positions, got {list(x)}")
        return x

    def flops(self, out, x):
        return prod(x) * (2 * self.size + 3)

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
