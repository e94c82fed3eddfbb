"""Resampling: upsample (interpolate) by a scale factor or to a size, pixel shuffle and
unshuffle, channel shuffle.

Interpolation follows PyTorch's CPU kernels (ATen UpSample.h, UpSampleKernel.cpp), one
spatial axis at a time (every mode is separable): output position i of an axis reads
input coordinate

    src = r * i                        (align_corners, and nearest)
    src = r * (i + 0.5) - 0.5          (otherwise; clamped at 0 except for bicubic)

with r = (L - 1) / (O - 1) under align_corners, else 1 / scale_factor when a scale factor
was given (and not recomputed), else L / O, all in the input's dtype. Nearest reads
floor(src); linear reads floor(src) and the next position with weights 1 - t and t;
bicubic reads four positions around it (clamped to the edges) with Keys' cubic
convolution, A = -0.75.

>>> scaled_length(5, 1.5)   # 7.5: sizes are floored, as PyTorch does
7
>>> scaled_length(10, 0.7)  # the double product 10 * 0.7 is 7.000000000000001
7
"""
from __future__ import annotations

import math
from functools import cmp_to_key

from ..diagnostics import SpecError
from .base import Arg, Layer, prod, shape_str, torch_call
from .reads import IDENTITY, MAX_PERIOD, Reads, Window, slide, too_long
from .saving import NOTHING
from .window import axes_names

# taps per axis, and the spatial axes a mode interpolates (None: nearest works on 1 to 3)
MODES = {"nearest": (1, None), "linear": (2, 1), "bilinear": (2, 2), "trilinear": (2, 3), "bicubic": (4, 2)}
CUBIC_A = -0.75  # Keys' cubic convolution parameter, as PyTorch (and OpenCV)
INDEX_WORK = 16  # elements per output coordinate for the index and weight arrays of one axis


def scaled_length(length: int, scale: float) -> int:
    """floor(L * scale), the product taken in double precision as PyTorch takes it
    (ATen compute_output_size: static_cast<double>(L) * scale, then truncated; Python's
    float product is the same correctly rounded IEEE double product). A whole scale is an
    exact product, which a symbolic length can take too."""
    if float(scale).is_integer():
        return length * int(scale)
    return math.floor(float(length) * scale)


def interpolation_flops(taps: int, axes: int) -> int:
    """FLOPs of one output element: the weighted sum of its taps**axes neighbours, nested
    axis by axis as PyTorch's kernel computes it (each level: `taps` multiplies and
    `taps - 1` adds over the level below): (2n - 1)(n**d - 1)/(n - 1); 0 for nearest."""
    if taps == 1:
        return 0
    return (2 * taps - 1) * (taps**axes - 1) // (taps - 1)


class PerAxis(Arg):
    """One value for every spatial axis, or a list of one per axis (its length is checked
    against the input, which the argument does not know). null: not given."""

    def __init__(self, item: Arg, doc: str, allow_null_items: bool = False):
        super().__init__(item.kind, None, doc, minimum=item.minimum)
        self.item, self.allow_null_items = item, allow_null_items

    def convert(self, name, value, evaluate, rank):
        if value is None:
            return None
        if isinstance(value, list):
            if not value:
                raise SpecError(f"argument '{name}' must not be an empty list", arg=name)
            return tuple(None if v is None and self.allow_null_items else self.item.convert(name, v, evaluate, rank)
                         for v in value)
        return self.item.convert(name, value, evaluate, rank)


def per_axis(layer: Layer, name: str, value, spatial: int) -> tuple:
    """`value` spread over `spatial` axes (one value), or checked to have one per axis."""
    if not isinstance(value, tuple):
        return (value,) * spatial
    if len(value) != spatial:
        axes = ", ".join(axes_names(spatial))
        raise SpecError(f"{name} has {len(value)} value{'s' if len(value) != 1 else ''} but the input has "
                        f"{spatial} spatial {'axis' if spatial == 1 else 'axes'} ({axes})", arg=name,
                        hint="give one value for every spatial axis, or a single value for all")
    return value


class Upsample(Layer):
    """Resize the spatial axes of [C, L], [C, H, W] or [C, D, H, W] by `scale_factor` or to
    `size`, as torch.nn.Upsample / F.interpolate."""

    type = "upsample"
    category = "resampling"
    args = {
        "size": PerAxis(Arg("int", minimum=1), "output size: one for every spatial axis, or a list per axis"),
        "scale_factor": PerAxis(Arg("float"), "multiplier of the spatial sizes (one, or a list per axis); "
                                               "sizes are floor(L * scale)"),
        "mode": Arg("choice", "nearest", "nearest, linear (1-D), bilinear (2-D), bicubic (2-D), trilinear (3-D)",
                    choices=tuple(MODES)),
        "align_corners": Arg("bool", None, "interpolating modes: corner pixels map to corner pixels "
                                           "(default false; not for nearest)"),
        "recompute_scale_factor": Arg("bool", False, "interpolate by the ratio of sizes instead of the given "
                                                     "scale_factor (as PyTorch's option)"),
    }

    def torch_code(self, x):
        return torch_call("nn.Upsample", self.size, self.scale_factor, self.mode, self.align_corners,
                          self.recompute_scale_factor)

    def onnx_nodes(self, builder, inputs, output, x):
        """The forward pass's own taps, axis by axis: a Gather of the positions each tap
        reads, times its weights, summed. (ONNX's Resize sizes a float scale in single
        precision, and so may give another length than PyTorch's double product.)"""
        xp = builder.ops.xp
        spatial, value = tuple(x[1:]), inputs[0]
        sizes, scales = self.target(spatial), self.kernel_scales(len(spatial))
        for a in self.order(spatial, sizes):
            length, size, scale = spatial[a], sizes[a], scales[a]
            if self.identity(length, size, scale, len(spatial)):
                continue
            total = None
            for index, weight in self.taps_of_axis(xp, length, size, scale, xp.float32):
                part = builder.node("Gather", [value, builder.ints(index)], axis=a + 2)
                if weight is not None:
                    weights = xp.reshape(weight, (-1, *(1,) * (len(spatial) - 1 - a)))
                    part = builder.node("Mul", [part, builder.floats(weights)])
                total = part if total is None else builder.node("Add", [total, part])
            value = total
        builder.node("Identity", [value], output)

    def validate(self):
        if (self.size is None) == (self.scale_factor is None):
            raise SpecError("give exactly one of 'size' and 'scale_factor'",
                            arg="size" if self.size is not None else None,
                            hint="size: the output's spatial sizes; scale_factor: a multiplier of the input's")
        scales = self.scale_factor if isinstance(self.scale_factor, tuple) else (self.scale_factor,)
        if self.scale_factor is not None and not all(s > 0 for s in scales):  # not s > 0: also NaN
            raise SpecError(f"scale_factor must be positive, got {self.scale_factor}", arg="scale_factor")
        if self.mode == "nearest" and self.align_corners is not None:
            raise SpecError("align_corners applies to the interpolating modes only (linear, bilinear, bicubic, "
                            "trilinear), not to nearest", arg="align_corners",
                            hint="remove align_corners, as PyTorch requires for mode nearest")
        if self.recompute_scale_factor and self.size is not None:
            raise SpecError("recompute_scale_factor applies to scale_factor, not to an explicit size",
                            arg="recompute_scale_factor")

    @property
    def taps(self) -> int:
        return MODES[self.mode][0]

    @property
    def aligned(self) -> bool:
        return bool(self.align_corners)

    def target(self, spatial: tuple) -> tuple:
        """The output's spatial sizes for input sizes `spatial` (the forward pass uses it too,
        as PyTorch's operator computes its own output size)."""
        if self.size is not None:
            return per_axis(self, "size", self.size, len(spatial))
        return tuple(scaled_length(n, s)
                     for n, s in zip(spatial, per_axis(self, "scale_factor", self.scale_factor, len(spatial))))

    def kernel_scales(self, spatial: int) -> tuple:
        """The scale factor per axis that the kernel interpolates by (None: the ratio of sizes)."""
        if self.scale_factor is None or self.recompute_scale_factor:
            return (None,) * spatial
        return per_axis(self, "scale_factor", self.scale_factor, spatial)

    def output_shape(self, x):
        spatial = len(x) - 1
        if not 1 <= spatial <= 3:
            raise SpecError(f"{self.type} expects [C, L], [C, H, W] or [C, D, H, W] (1 to 3 spatial axes), "
                            f"got {len(x)}-D {shape_str(x)}",
                            hint="add a reshape before this layer")
        needs = MODES[self.mode][1]
        if needs is not None and needs != spatial:
            raise SpecError(f"mode '{self.mode}' interpolates {needs} spatial {'axis' if needs == 1 else 'axes'}, "
                            f"but the input {shape_str(x)} has {spatial}", arg="mode",
                            hint="linear is for [C, L], bilinear and bicubic for [C, H, W], trilinear for "
                                 "[C, D, H, W]; nearest for any")
        lengths = self.target(x[1:])
        for axis, n, o in zip(axes_names(spatial), x[1:], lengths):
            if o < 1:
                rule = "" if self.size is not None else f": floor({n} * {_number(self.scale_factor, axis, spatial)})"
                raise SpecError(f"output {axis} would be {o}{rule}", arg="scale_factor",
                                hint=f"a scale factor of at least 1/{n} keeps the input's {axis} ({n}) non-empty")
        return (x[0], *lengths)

    def flops(self, out, x):
        return prod(out) * interpolation_flops(self.taps, len(out) - 1)

    def reads(self, out, x):
        """Each channel alone; on a resized axis, output i reads the positions its taps
        address around the source coordinate src(i) (the module's docstring), less a tap of
        weight 0 (src a whole number): floor(src) for nearest, floor and ceil for linear,
        floor - 1 … floor + 2 for bicubic. A pattern that repeats every denominator of the
        ratio r. Exact arithmetic, with a scale factor as written: PyTorch computes src in
        floating point, where a ratio binary cannot hold may move a whole-number src by a
        rounding error (and so the field of that position by one)."""
        from fractions import Fraction

        axes, note, rank = [((0, 0, IDENTITY),)], "", len(x) - 1
        for axis, n, o, scale in zip(range(1, len(x)), x[1:], out[1:], self.kernel_scales(rank)):
            if self.identity(n, o, scale, rank):
                axes.append(((0, axis, IDENTITY),))
                continue
            if self.aligned:
                ratio = Fraction(n - 1, o - 1) if o > 1 else Fraction(0)
            else:
                ratio = Fraction(n, o) if scale is None else 1 / Fraction(repr(scale))
            if ratio.denominator > MAX_PERIOD:
                axes.append(())
                note = too_long(ratio.denominator, f"{self.type}'s ratio {ratio}")
                continue
            half = 0 if self.taps == 1 or self.aligned else Fraction(1, 2)
            spans = tuple(self.tapped(ratio * (q + half) - half) for q in range(ratio.denominator))
            axes.append(((0, axis, Window(ratio.denominator, ratio.numerator, spans)),))
        return Reads(tuple(axes), note=note)

    def tapped(self, source) -> tuple:
        """(first, last) of the positions read, with non-zero weight, at source coordinate `source`."""
        first = math.floor(source)
        if self.taps == 1 or source == first:
            return first, first
        return (first, first + 1) if self.taps == 2 else (first - 1, first + 2)

    def saved(self, out, x, *, needs):
        return NOTHING  # the backward kernels need only the sizes

    # --- forward pass ---
    def identity(self, length: int, size: int, scale, rank: int) -> bool:
        """An axis the kernel leaves as it is: PyTorch copies a linear axis of unchanged size
        outright, and so does its 2-D nearest kernel whatever the scale (1-D and 3-D nearest
        read floor(i / scale)); elsewhere the coordinates are i itself when the ratio is 1."""
        if size != length:
            return False
        return self.taps == 2 or scale is None or scale == 1.0 or self.aligned or (self.taps == 1 and rank == 2)

    def order(self, spatial: tuple, sizes: tuple) -> list:
        """Axes in the order they are resampled: the most shrinking first, so that the
        intermediate arrays stay small (ratios compared exactly, by cross-multiplying)."""
        return sorted(range(len(spatial)), key=cmp_to_key(lambda a, b: sizes[a] * spatial[b] - sizes[b] * spatial[a]))

    def workspace(self, batch, out, x):
        """Per resampled axis: the array before it (unless it is the input), the array after
        it (unless it is the output) and, for interpolation, one weighted tap beside it;
        plus the index and weight arrays."""
        spatial, sizes, scales = list(x[1:]), out[1:], self.kernel_scales(len(x) - 1)
        stages = [a for a in self.order(x[1:], sizes)
                  if not self.identity(x[1 + a], sizes[a], scales[a], len(sizes))]
        peak, before = 0, 0
        for k, axis in enumerate(stages):
            spatial[axis] = sizes[axis]
            after = batch * x[0] * prod(spatial)
            held = before + (0 if k == len(stages) - 1 else after) + (after if self.taps > 1 else 0)
            peak, before = max(peak, held), after
        return peak + INDEX_WORK * self.taps * sum(sizes)

    def forward(self, ops, params, x):
        xp = ops.xp
        spatial = tuple(x.shape[2:])
        sizes, scales = self.target(spatial), self.kernel_scales(len(spatial))
        for a in self.order(spatial, sizes):
            length, size, scale = spatial[a], sizes[a], scales[a]
            if not self.identity(length, size, scale, len(spatial)):
                x = gather(xp, x, a + 2, self.taps_of_axis(xp, length, size, scale, x.dtype))
        return x

    def taps_of_axis(self, xp, length: int, size: int, scale, dtype) -> list:
        """[(input index, weight or None)] per tap: what each output position reads."""
        if self.aligned:
            ratio = xp.asarray(length - 1 if size > 1 else 0, dtype=dtype) / xp.asarray(max(size - 1, 1), dtype=dtype)
        elif scale is not None:
            ratio = xp.asarray(1.0 / scale, dtype=dtype)
        else:
            ratio = xp.asarray(length, dtype=dtype) / xp.asarray(size, dtype=dtype)
        position = xp.arange(size, dtype=dtype)
        if self.taps == 1 or self.aligned:
            source = ratio * position
        else:
            source = ratio * (position + 0.5) - 0.5
            if self.taps == 2:
                source = xp.clip(source, min=0.0)
        # PyTorch floors in single precision (floorf), also for float64 inputs
        index = xp.clip(xp.astype(xp.floor(xp.astype(source, xp.float32)), xp.int64), max=length - 1)
        if self.taps == 1:
            return [(index, None)]
        t = xp.clip(source - xp.astype(index, dtype), min=0.0, max=1.0)
        if self.taps == 2:
            return [(index, 1.0 - t), (xp.where(index < length - 1, index + 1, index), t)]
        weights = (_cubic_far(t + 1.0), _cubic_near(t), _cubic_near(1.0 - t), _cubic_far(2.0 - t))
        return [(xp.clip(index + (j - 1), min=0, max=length - 1), w) for j, w in enumerate(weights)]


def _cubic_near(x):
    """Keys' cubic convolution for |x| <= 1: ((A + 2)x - (A + 3))x^2 + 1."""
    return ((CUBIC_A + 2.0) * x - (CUBIC_A + 3.0)) * x * x + 1.0


def _cubic_far(x):
    """Keys' cubic convolution for 1 < |x| < 2: ((Ax - 5A)x + 8A)x - 4A."""
    return ((CUBIC_A * x - 5.0 * CUBIC_A) * x + 8.0 * CUBIC_A) * x - 4.0 * CUBIC_A


def gather(xp, x, axis: int, taps: list):
    """sum over taps of x[..., index, ...] * weight along `axis` (the weights broadcast
    over the axes after it): one tap beside the sum at a time."""
    shape = (-1,) + (1,) * (x.ndim - 1 - axis)
    index, weight = taps[0]
    total = xp.take(x, index, axis=axis)
    if weight is None:
        return total
    total *= xp.reshape(weight, shape)
    for index, weight in taps[1:]:
        part = xp.take(x, index, axis=axis)
        part *= xp.reshape(weight, shape)
        total += part
        del part
    return total


def _number(value, axis: str, spatial: int):
    if isinstance(value, tuple):
        return value[axes_names(spatial).index(axis)]
    return value


class Interpolate(Upsample):
    """upsample under F.interpolate's name."""

    type = "interpolate"


# --- rearrangements of space and channels -------------------------------------------------

class _Rearrange(Layer):
    """A reshape, a transpose (a view) and a reshape: the last copies the elements once, into
    the output, so no array is held besides it."""

    def torch_code(self, x):
        return torch_call(f"nn.{type(self).__name__}", *(getattr(self, name) for name in self.args))  # named as torch's

    def workspace(self, batch, out, *inputs):
        return 0

    def saved(self, out, x, *, needs):
        return NOTHING  # the gradient is rearranged back

    def onnx_nodes(self, builder, inputs, output, x):
        """The forward pass's reshape, transpose and reshape (`steps`)."""
        split, perm = self.steps(x)
        moved = builder.transpose(builder.reshape(*inputs, split), perm)
        builder.reshape(moved, self.output_shape(x), output)


def _check_factor(name: str, factor: int, size: int, what: str):
    if size % factor:
        raise SpecError(f"{what} ({size}) is not divisible by {name} ({factor})", arg=name,
                        hint=f"the {what} must be a multiple of {factor}")


class PixelShuffle(_Rearrange):
    """[..., C*r^2, H, W] -> [..., C, H*r, W*r], as torch.nn.PixelShuffle (sub-pixel convolution)."""

    type = "pixel_shuffle"
    category = "resampling"
    args = {"upscale_factor": Arg("int", doc="r: each group of r^2 channels becomes an r x r block", minimum=1)}

    def output_shape(self, x):
        if len(x) < 3:
            self.require_rank(x, 3, "[C, H, W]")
        r = self.upscale_factor
        _check_factor("upscale_factor", r * r, x[-3], "the channel count")
        return (*x[:-3], x[-3] // (r * r), x[-2] * r, x[-1] * r)

    def reads(self, out, x):
        """Row (column) i of the output comes from row floor(i/r) of r² input channels: a
        pattern of r outputs per input position (a jump of 1/r)."""
        r, lead = self.upscale_factor, len(x) - 3
        if r > MAX_PERIOD:
            space, note = ((), ()), too_long(r, "pixel_shuffle's factor")
        else:
            space, note = tuple(((0, axis, Window(r, 1, ((0, 0),) * r)),) for axis in (lead + 1, lead + 2)), ""
        return Reads((*(((0, axis, IDENTITY),) for axis in range(lead)), (), *space), note=note)

    def steps(self, x) -> tuple:
        """(the split shape, the order of its axes) of a per-sample shape x."""
        r, (*lead, channels, height, width) = self.upscale_factor, x
        n = len(lead)  # ... C, r_h, r_w, H, W -> ... C, H, r_h, W, r_w
        return (*lead, channels // (r * r), r, r, height, width), (*range(n), n, n + 3, n + 1, n + 4, n + 2)

    def forward(self, ops, params, x):
        xp, r = ops.xp, self.upscale_factor
        *lead, channels, height, width = x.shape
        split, perm = self.steps(tuple(x.shape[1:]))
        moved = xp.permute_dims(xp.reshape(x, (x.shape[0], *split)), (0, *(p + 1 for p in perm)))
        return xp.reshape(moved, (*lead, channels // (r * r), height * r, width * r))


class PixelUnshuffle(_Rearrange):
    """[..., C, H*r, W*r] -> [..., C*r^2, H, W], as torch.nn.PixelUnshuffle."""

    type = "pixel_unshuffle"
    category = "resampling"
    args = {"downscale_factor": Arg("int", doc="r: each r x r block becomes r^2 channels", minimum=1)}

    def output_shape(self, x):
        if len(x) < 3:
            self.require_rank(x, 3, "[C, H, W]")
        r = self.downscale_factor
        _check_factor("downscale_factor", r, x[-2], "the height")
        _check_factor("downscale_factor", r, x[-1], "the width")
        return (*x[:-3], x[-3] * r * r, x[-2] // r, x[-1] // r)

    def reads(self, out, x):
        """Row (column) i of the output gathers rows r·i … r·i + r - 1 of the input, one into
        each of r² channels."""
        r, lead = self.downscale_factor, len(x) - 3
        return Reads((*(((0, axis, IDENTITY),) for axis in range(lead)), (),
                      *(((0, axis, slide(r, 0, r)),) for axis in (lead + 1, lead + 2))))

    def steps(self, x) -> tuple:
        """(the split shape, the order of its axes) of a per-sample shape x."""
        r, (*lead, channels, height, width) = self.downscale_factor, x
        n = len(lead)  # ... C, H, r_h, W, r_w -> ... C, r_h, r_w, H, W
        return (*lead, channels, height // r, r, width // r, r), (*range(n), n, n + 2, n + 4, n + 1, n + 3)

    def forward(self, ops, params, x):
        xp, r = ops.xp, self.downscale_factor
        *lead, channels, height, width = x.shape
        split, perm = self.steps(tuple(x.shape[1:]))
        moved = xp.permute_dims(xp.reshape(x, (x.shape[0], *split)), (0, *(p + 1 for p in perm)))
        return xp.reshape(moved, (*lead, channels * r * r, height // r, width // r))


class ChannelShuffle(_Rearrange):
    """Interleave the channels of `groups` groups (ShuffleNet): channel g*(C/groups) + k
    moves to k*groups + g, as torch.nn.ChannelShuffle."""

    type = "channel_shuffle"
    category = "reshape"
    args = {"groups": Arg("int", doc="number of groups the channels are split into", minimum=1)}

    def output_shape(self, x):
        if len(x) < 2:
            raise SpecError(f"channel_shuffle expects [C, ...] with at least one axis after the channels, "
                            f"got {shape_str(x)}", hint="as PyTorch, which needs [N, C, ...]")
        _check_factor("groups", self.groups, x[0], "the channel count")
        return x

    def steps(self, x) -> tuple:
        """(the split shape, the order of its axes) of a per-sample shape x."""
        channels, *rest = x
        return (self.groups, channels // self.groups, *rest), (1, 0, *range(2, len(x) + 1))

    def forward(self, ops, params, x):
        xp = ops.xp
        split, perm = self.steps(tuple(x.shape[1:]))
        moved = xp.permute_dims(xp.reshape(x, (x.shape[0], *split)), (0, *(p + 1 for p in perm)))
        return xp.reshape(moved, tuple(x.shape))
