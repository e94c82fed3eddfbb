"""Transposed convolution, 1-D, 2-D and 3-D (PyTorch's ConvTransposeNd): every input
position spreads its channels, weighted by the kernel, over a window of the output.

Input position i and kernel offset j land on output position i*s + j*d - p; the output
is (L - 1)*s - 2p + d(k - 1) + output_padding + 1 long, output_padding adding positions
at the end only. The weight is [C_in, C_out/groups, *k], as PyTorch stores it.
"""
from __future__ import annotations

from itertools import product
from math import gcd

from ..diagnostics import SpecError
from .base import Arg, Layer, prod, shape_str, torch_call, torch_keywords
from .conv import block_positions, blocking, blocks
from .parameters import BIAS, HeNormal, Param
from .reads import MAX_PERIOD, Reads, Window, too_long
from .window import axes_names

# elements a strided in-place add may buffer (NumPy: 8192 per operand, three operands)
ADD_BUFFERS = 3 * 8192


def transposed_length(length, kernel, stride, padding, output_padding, dilation):
    """(L - 1)*s - 2p + d(k - 1) + output_padding + 1, as PyTorch."""
    return (length - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def _inputs_of(c: int, kernel: int, stride: int, dilation: int):
    """(first, last) of the input positions i with i·stride = c - t·dilation for an offset
    0 <= t < kernel, or None: t runs over one residue class modulo stride/gcd, solved
    directly (a kernel may be long)."""
    g = gcd(dilation, stride)
    if c % g:
        return None
    step = stride // g
    low = c // g * pow(dilation // g, -1, step) % step  # the least offset that lands on an input
    if low >= kernel:
        return None
    high = low + (kernel - 1 - low) // step * step
    return (c - high * dilation) // stride, (c - low * dilation) // stride


class _ConvTranspose(Layer):
    category = "convolution"
    args = {
        "out_channels": Arg("int", doc="number of output channels", minimum=1),
        "kernel_size": Arg("sizes", doc="window size, one int or one per spatial axis", minimum=1),
        "stride": Arg("sizes", 1, "output step between neighbouring input positions (the upsampling factor)",
                      minimum=1),
        "padding": Arg("sizes", 0, "positions cropped from both ends of each output axis", minimum=0),
        "output_padding": Arg("sizes", 0, "positions added at the end of each output axis "
                                          "(below max(stride, dilation))", minimum=0),
        "dilation": Arg("sizes", 1, "spacing between kernel elements", minimum=1),
        "groups": Arg("int", 1, "channel groups (groups = in_channels: depthwise)", minimum=1),
        "bias": Arg("bool", True, "one additive bias per output channel"),
        "in_channels": Arg("int", None, "input channels (inferred; checked when given)", minimum=1),
    }

    def torch_code(self, x):
        return torch_call(f"nn.ConvTranspose{self.rank}d", x[0], self.out_channels, **torch_keywords(
            {"stride": 1, "padding": 0, "output_padding": 0, "groups": 1, "bias": True, "dilation": 1},
            kernel_size=self.kernel_size, stride=self.stride, padding=self.padding,
            output_padding=self.output_padding, groups=self.groups, bias=self.bias, dilation=self.dilation))

    def onnx_nodes(self, builder, inputs, output, x):
        """ConvTranspose. onnxruntime refuses an output_padding of the stride or more (which
        the dilation allows): there, less cropping at the end, then zeros past the reach,
        then the bias."""
        window = {"kernel_shape": list(self.kernel_size), "strides": list(self.stride),
                  "dilations": list(self.dilation), "group": self.groups}
        if all(extra < s for extra, s in zip(self.output_padding, self.stride)):
            bias = [builder.param("bias")] if self.bias else []
            builder.node("ConvTranspose", [*inputs, builder.param("weight"), *bias], output,
                         pads=[*self.padding, *self.padding], output_padding=list(self.output_padding), **window)
            return
        cropped = [p - min(p, extra) for p, extra in zip(self.padding, self.output_padding)]
        y = builder.node("ConvTranspose", [*inputs, builder.param("weight")], pads=[*self.padding, *cropped], **window)
        beyond = [extra - min(p, extra) for p, extra in zip(self.padding, self.output_padding)]
        y = builder.node("Pad", [y, builder.ints([0] * (len(x) + 1) + [0, 0, *beyond])], None if self.bias else output)
        if self.bias:
            builder.node("Add", [y, builder.per_channel("bias", (self.out_channels, *x[1:]))], output)

    def validate(self):
        if self.out_channels % self.groups:
            raise SpecError(f"out_channels ({self.out_channels}) must be divisible by groups ({self.groups})",
                            arg="groups")
        for axis, extra, s, d in zip(axes_names(self.rank), self.output_padding, self.stride, self.dilation):
            if extra >= max(s, d):
                raise SpecError(f"output_padding {extra} on axis {axis} must be smaller than the stride ({s}) "
                                f"or the dilation ({d})", arg="output_padding",
                                hint="PyTorch refuses output_padding >= max(stride, dilation): it only picks "
                                     "among the output sizes a strided convolution maps back to one input size")

    def output_shape(self, x):
        self.require_rank(x, self.rank + 1, "channels first: [C, " + ", ".join(axes_names(self.rank)) + "]")
        channels = x[0]
        self.check_inferred("in_channels", self.in_channels, channels, "channels")
        if channels % self.groups:
            raise SpecError(f"input channels ({channels}) must be divisible by groups ({self.groups})",
                            arg="groups", hint=f"input shape is {shape_str(x)}")
        lengths = []
        for axis, n, k, s, p, extra, d in zip(axes_names(self.rank), x[1:], self.kernel_size, self.stride,
                                             self.padding, self.output_padding, self.dilation):
            out = transposed_length(n, k, s, p, extra, d)
            if out <= 0:
                raise SpecError(
                    f"output {axis} would be {out}: {axis}_out = ({n}-1)*{s} - 2*{p} + {d}*({k}-1) + {extra} + 1 "
                    f"= {out}", arg="padding",
                    hint=f"padding {p} crops more than the input's {axis} ({n}) spreads over; use less padding, "
                         "a larger kernel or stride, or a larger input")
            lengths.append(out)
        return (self.out_channels, *lengths)

    def parameters(self, x):
        """The kernel as PyTorch stores it, [C_in, C_out/groups, *k], He-normal over the
        products one output position sums on average, C_in/groups * k / prod(stride)
        (at least 1); and the bias."""
        per_group, taps = x[0] // self.groups, prod(self.kernel_size)
        fan_in = max(1, per_group * taps // prod(self.stride))
        params = {"weight": Param((x[0], self.out_channels // self.groups, *self.kernel_size), HeNormal(fan_in))}
        if self.bias:
            params["bias"] = Param((self.out_channels,), BIAS)
        return params

    def macs(self, out, x):
        """Every input value times every weight of its group: input positions * C_in *
        C_out/groups * k (padding crops some of these products away; they are done all the same)."""
        return prod(x[1:]) * x[0] * (self.out_channels // self.groups) * prod(self.kernel_size)

    def flops(self, out, x):
        return 2 * self.macs(out, x) + (prod(out) if self.bias else 0)

    def reads(self, out, x):
        """Every input channel (of its group); on each spatial axis, output o reads the inputs
        i with i·s + t·d - p = o for a kernel offset t, d/gcd(d, s) apart: a pattern of s
        outputs per input position (some may read none when k·d leaves stride phases out)."""
        axes, note = [()], ""
        for axis, k, s, p, d in zip(range(1, len(x)), self.kernel_size, self.stride, self.padding, self.dilation):
            if s > MAX_PERIOD:
                axes.append(())
                note = too_long(s, f"{self.type}'s stride")
            else:
                spans = tuple(_inputs_of(q + p, k, s, d) for q in range(s))
                axes.append(((0, axis, Window(s, 1, spans, d // gcd(d, s))),))
        return Reads(tuple(axes), whole=((0, 0),), note=note)

    def workspace(self, batch, out, x):
        """The weights reordered for the GEMM, per block of input positions (conv's
        blocking) the GEMM's result: every product of an input position and a kernel offset,
        and what the strided adds of col2im buffer."""
        per_position = self.out_channels * prod(self.kernel_size)
        samples, axis, rows = blocking(batch, x[1:], per_position)
        weights = x[0] * (self.out_channels // self.groups) * prod(self.kernel_size)
        return weights + samples * block_positions(x[1:], axis, rows) * per_position + ADD_BUFFERS

    def forward(self, ops, params, x):
        """One GEMM, weights^T x input, gives every input position's contribution for every
        kernel offset; then col2im: for each kernel offset, one strided slice-add of all
        positions at once into the output, less what padding crops. Groups are one batched
        GEMM. Products beyond conv's COLUMN_BLOCK elements are made and scattered a block
        of samples, or of input rows of one sample, at a time (conv's blocking)."""
        xp = ops.xp
        batch, channels, spatial = x.shape[0], x.shape[1], tuple(x.shape[2:])
        groups, kernel = self.groups, self.kernel_size
        in_group, out_group, taps = channels // groups, self.out_channels // groups, prod(kernel)
        weight = params("weight", (channels, out_group, *kernel))
        # [C_in, C_out/g, *k] -> [g, k * C_out/g, C_in/g]: one row per (offset, output channel)
        weight = xp.permute_dims(xp.reshape(weight, (groups, in_group, out_group, taps)), (0, 3, 2, 1))
        weight = xp.reshape(weight, (groups, taps * out_group, in_group))
        # where the scatter reaches, cropped by padding and lengthened by output_padding
        lengths = [(n - 1) * s + d * (k - 1) + 1 - 2 * p + extra for n, k, s, p, extra, d
                   in zip(spatial, kernel, self.stride, self.padding, self.output_padding, self.dilation)]
        y = xp.zeros((batch, groups, out_group, *lengths), dtype=x.dtype)
        samples, axis, rows = blocking(batch, spatial, taps * self.out_channels)
        whole = (slice(None), slice(None))
        for samples_cut, region in blocks(batch, spatial, samples, axis, rows):
            sources = (*region, *(slice(0, n) for n in spatial[axis + 1:]))
            block = x[(samples_cut, slice(None), *sources)]
            sizes = tuple(r.stop - r.start for r in sources)
            part = ops.matmul(weight, xp.reshape(block, (block.shape[0], groups, in_group, prod(sizes))))
            part = xp.reshape(part, (part.shape[0], groups, *kernel, out_group, *sizes))
            for offsets in product(*(range(k) for k in kernel)):
                cut = self.tap_slices(offsets, sources, lengths)
                if cut is not None:
                    target, source = cut
                    y[(samples_cut, *whole, *target)] += part[(*whole, *offsets, slice(None), *source)]
            del part
        y = xp.reshape(y, (batch, self.out_channels, *lengths))
        if self.bias:
            y += xp.reshape(params("bias", (self.out_channels,)), (-1, *(1 for _ in lengths)))
        return y

    def tap_slices(self, offsets, sources, lengths):
        """For one kernel offset per axis: (output slices, slices of the block) of the
        block's input positions (`sources`: a range per axis) that land inside the output,
        i*s + j*d - p in [0, L_out); or None where none does."""
        target, source = [], []
        for j, block, length, s, d, p in zip(offsets, sources, lengths, self.stride, self.dilation, self.padding):
            shift = j * d - p
            first, stop = max(block.start, -(shift // s)), min(block.stop, -((shift - length) // s))
            if stop <= first:
                return None
            target.append(slice(shift + first * s, shift + (stop - 1) * s + 1, s))
            source.append(slice(first - block.start, stop - block.start))
        return target, source


class ConvTranspose1d(_ConvTranspose):
    type = "conv_transpose1d"
    rank = 1


class ConvTranspose2d(_ConvTranspose):
    type = "conv_transpose2d"
    rank = 2


class ConvTranspose3d(_ConvTranspose):
    type = "conv_transpose3d"
    rank = 3
