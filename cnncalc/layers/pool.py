"""Pooling: windowed max/avg (1-D, 2-D, 3-D), global and adaptive pooling (any number of axes)."""
from __future__ import annotations

from math import gcd

from ..diagnostics import SpecError
from .base import Arg, Layer, prod, torch_call, torch_keywords
from .reads import IDENTITY, MAX_PERIOD, Reads, Window, slide, too_long
from .saving import INPUT, INT64, NOTHING, Own, Saved
from .window import adaptive_window_total, axes_names, check_positive, conv_length, pool_length


def _with_indices(out) -> Saved:
    """What max pooling keeps for training: its input, and where each maximum was (int64)."""
    return Saved(inputs=(0,), own=(Own(prod(out), kind=INT64),))


def _spatial_input(layer: Layer, x):
    layer.require_rank(x, layer.rank + 1, "channels first: [C, " + ", ".join(axes_names(layer.rank)) + "]")


class _WindowPool(Layer):
    category = "pooling"
    args = {
        "kernel_size": Arg("sizes", doc="window size", minimum=1),
        "stride": Arg("sizes", None, "step between windows (default: kernel_size)", minimum=1),
        "padding": Arg("sizes", 0, "implicit padding on both sides", minimum=0),
        "ceil_mode": Arg("bool", False, "round the output size up instead of down"),
    }
    # extra per-window cost beyond (window - 1) pairwise operations
    final_ops_per_window = 0

    def validate(self):
        if self.stride is None:
            self.stride = self.kernel_size
        for k, p in zip(self.kernel_size, self.padding):
            if p > k // 2:  # PyTorch's own check
                raise SpecError(f"padding {p} is more than half the kernel size {k}", arg="padding",
                                hint="PyTorch refuses pooling padding above kernel_size // 2")

    def output_shape(self, x):
        _spatial_input(self, x)
        dilation = self.dilations()
        lengths = tuple(pool_length(n, k, s, p, d, self.ceil_mode)
                        for n, k, s, p, d in zip(x[1:], self.kernel_size, self.stride, self.padding, dilation))
        check_positive(lengths, x[1:], self.kernel_size, self.stride, self.padding, dilation, self.ceil_mode,
                       axes=axes_names(self.rank))
        return (x[0], *lengths)

    def flops(self, out, x):
        # every window counted as full, including those clipped by padding or ceil_mode
        return prod(out) * (prod(self.kernel_size) - 1 + self.final_ops_per_window)

    def reads(self, out, x):
        """Each channel alone; on each spatial axis k positions d apart, every s, from minus
        the padding (ceil_mode's last window too: it starts inside)."""
        return Reads((((0, 0, IDENTITY),), *(((0, axis, slide(s, -p, k, d)),) for axis, k, s, p, d
                                             in zip(range(1, len(x)), self.kernel_size, self.stride, self.padding,
                                                    self.dilations()))))

    # --- forward pass ---
    def window_pads(self):
        """(left, right) padding per spatial axis; ceil_mode pads stride-1 more on the right
        so that partial windows exist (reduce_windows then drops one that starts there)."""
        return tuple((p, p + (s - 1 if self.ceil_mode else 0)) for p, s in zip(self.padding, self.stride))

    def dilations(self):
        """Spacing between window elements per axis: none but max pooling's own."""
        return (1,) * self.rank

    def reduce_windows(self, ops, padded, spatial, combine: str):
        """Each window's max or sum over an already padded array, less a last ceil_mode
        window that starts in the right padding (as PyTorch)."""
        result = ops.window_reduce(padded, self.kernel_size, self.stride, self.dilations(), combine)
        keep = [...]
        for count, length, s, p in zip(result.shape[2:], spatial, self.stride, self.padding):
            keep.append(slice(0, count - 1 if self.ceil_mode and (count - 1) * s >= length + p else count))
        return result[tuple(keep)]

    def window_work(self, planes: int, x) -> int:
        """Elements held while reducing `planes` padded planes of the spatial shape x[1:]
        (ops.window_reduce): the padded copy, and per axis the partly reduced array and the
        next one (two temporaries at most); an axis with a window of one is a strided view."""
        padded = [n + left + right for n, (left, right) in zip(x[1:], self.window_pads())]
        counts = [max(0, conv_length(n, k, s, 0, d))
                  for n, k, s, d in zip(padded, self.kernel_size, self.stride, self.dilations())]
        stages = sum(prod(counts[:a + 1]) * prod(padded[a + 1:]) for a in range(len(padded))
                     if self.kernel_size[a] > 1)
        return planes * ((prod(padded) if padded != list(x[1:]) else 0) + 2 * stages)


class _MaxPool(_WindowPool):
    args = {**_WindowPool.args,
            "dilation": Arg("sizes", 1, "spacing between window elements", minimum=1)}

    def torch_code(self, x):
        return torch_call(f"nn.MaxPool{self.rank}d", **torch_keywords(
            {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False}, kernel_size=self.kernel_size,
            stride=self.stride, padding=self.padding, dilation=self.dilation, ceil_mode=self.ceil_mode))

    def onnx_nodes(self, builder, inputs, output, x):
        """MaxPool padded to give exactly the output's windows (ceil_mode's last ones too). As a
        Pad of -inf first: padding of a whole kernel or more (which onnxruntime refuses), and
        padding around an axis shorter than the dilation, where a window may read padding
        alone (-inf in PyTorch and verify, the lowest float in onnxruntime's padding)."""
        kernel = list(self.kernel_size)
        pads = builder.window_pads(x, self.output_shape(x), kernel, self.stride, self.dilation, self.padding)
        gaps = any(n < d for n, d in zip(x[1:], self.dilation)) and any(pads)
        if gaps or any(p >= k for p, k in zip(pads, kernel * 2)):
            rank = len(kernel)
            inputs = [builder.node("Pad", [*inputs, builder.ints([0, 0, *pads[:rank], 0, 0, *pads[rank:]]),
                                           builder.floats(-float("inf"))])]
            pads = [0] * len(pads)
        builder.node("MaxPool", inputs, output, kernel_shape=kernel, strides=list(self.stride),
                     dilations=list(self.dilation), pads=pads)

    def dilations(self):
        return self.dilation

    def workspace(self, batch, out, x):
        return self.window_work(batch * x[0], x)

    def saved(self, out, x, *, needs):
        return _with_indices(out)

    def forward(self, ops, params, x):
        padded = ops.pad(x, self.window_pads(), -float("inf"))
        return self.reduce_windows(ops, padded, x.shape[2:], "max")


class _AvgPool(_WindowPool):
    final_ops_per_window = 1  # the division
    args = {**_WindowPool.args,
            "count_include_pad": Arg("bool", True, "divide by the full window size at the borders")}

    def torch_code(self, x):
        return torch_call(f"nn.AvgPool{self.rank}d", **torch_keywords(
            {"stride": None, "padding": 0, "ceil_mode": False, "count_include_pad": True},
            kernel_size=self.kernel_size, stride=self.stride, padding=self.padding, ceil_mode=self.ceil_mode,
            count_include_pad=self.count_include_pad))

    def onnx_nodes(self, builder, inputs, output, x):
        """AveragePool; where ceil_mode adds windows that reach past the padding (whose
        divisors the operators' versions count differently), the window sums as a depthwise
        Conv with a kernel of ones, divided by the forward pass's own divisors."""
        kernel, stride, out = list(self.kernel_size), list(self.stride), self.output_shape(x)
        if all((n + 2 * p - k) // s + 1 == o for n, p, k, s, o in zip(x[1:], self.padding, kernel, stride, out[1:])):
            builder.node("AveragePool", inputs, output, kernel_shape=kernel, strides=stride,
                         pads=[*self.padding, *self.padding], count_include_pad=int(self.count_include_pad))
            return
        pads = builder.window_pads(x, out, kernel, stride, (1,) * len(kernel), self.padding)
        sums = builder.node("Conv", [*inputs, builder.full((x[0], 1, *kernel), 1.0)], group=x[0],
                            kernel_shape=kernel, strides=stride, pads=pads)
        divisors = self.divisors(builder.ops, x[1:], "float32")
        builder.node("Div", [sums, builder.floats(divisors[0])], output)

    def workspace(self, batch, out, x):
        """The window sums, the mask (one padded plane) and its window sums, and the quotient."""
        plane = prod(n + left + right for n, (left, right) in zip(x[1:], self.window_pads()))
        return self.window_work(batch * x[0], x) + self.window_work(1, x) + plane + batch * prod(out)

    def forward(self, ops, params, x):
        """Window sums over a divisor that is itself a window sum, of a mask of the cells
        that count (PyTorch: the padded input when count_include_pad, else the input;
        never the extra cells ceil_mode adds)."""
        spatial = x.shape[2:]
        sums = self.reduce_windows(ops, ops.pad(x, self.window_pads(), 0.0), spatial, "sum")
        return sums / self.divisors(ops, spatial, x.dtype)

    def divisors(self, ops, spatial, dtype):
        """Each window's divisor, [1, 1, *output lengths]: the window sums of a mask of the
        cells that count."""
        xp, pads = ops.xp, self.window_pads()
        if self.count_include_pad:
            mask = xp.zeros((1, 1, *(n + left + right for n, (left, right) in zip(spatial, pads))), dtype=dtype)
            mask[(..., *(slice(0, n + 2 * p) for n, p in zip(spatial, self.padding)))] = 1.0
        else:
            mask = ops.pad(xp.ones((1, 1, *spatial), dtype=dtype), pads, 0.0)
        return self.reduce_windows(ops, mask, spatial, "sum")


class MaxPool1d(_MaxPool):
    type = "maxpool1d"
    rank = 1


class MaxPool2d(_MaxPool):
    type = "maxpool2d"
    rank = 2


class MaxPool3d(_MaxPool):
    type = "maxpool3d"
    rank = 3


class AvgPool1d(_AvgPool):
    type = "avgpool1d"
    rank = 1


class AvgPool2d(_AvgPool):
    type = "avgpool2d"
    rank = 2


class AvgPool3d(_AvgPool):
    type = "avgpool3d"
    rank = 3

    def output_shape(self, x):
        """As the other average pools, but PyTorch's avg_pool3d also refuses an input axis
        shorter than the kernel, padding or not."""
        _spatial_input(self, x)
        for axis, n, k in zip(axes_names(self.rank), x[1:], self.kernel_size):
            if n < k:
                raise SpecError(f"input {axis} ({n}) is smaller than the kernel ({k})", arg="kernel_size",
                                hint="PyTorch's avg_pool3d refuses an input axis shorter than its kernel, "
                                     "even where padding would make room; use a smaller kernel")
        return super().output_shape(x)


class _GlobalPool(Layer):
    """Pool each channel over all its positions: [C, ...] -> [C, 1, ...] (or [C] with keepdims false)."""

    category = "pooling"
    args = {"keepdims": Arg("bool", True, "keep the pooled axes as size 1, as AdaptivePool(1) does")}
    final_ops_per_window = 0

    def torch_code(self, x):
        pool = f"nn.Adaptive{'Avg' if self.reduction == 'mean' else 'Max'}Pool{len(x) - 1}d(1)"
        return pool if self.keepdims else f"nn.Sequential({pool}, nn.Flatten())"

    def onnx_nodes(self, builder, inputs, output, x):
        builder.node(f"Reduce{self.reduction.capitalize()}", [*inputs, builder.ints(range(2, len(x) + 1))], output,
                     keepdims=int(self.keepdims))

    def output_shape(self, x):
        if len(x) < 2:
            raise SpecError(f"{self.type} needs a [C, ...] input with at least one position axis, got {list(x)}")
        return (x[0], *(1,) * (len(x) - 1)) if self.keepdims else (x[0],)

    def flops(self, out, x):
        return x[0] * (prod(x[1:]) - 1 + self.final_ops_per_window)

    def reads(self, out, x):
        """Each channel alone, over all its positions: no field, the whole input."""
        positions = range(1, len(x))
        return Reads((((0, 0, IDENTITY),), *(() for _ in out[1:])), whole=tuple((0, axis) for axis in positions))

    reduction = "max"  # the array namespace's function

    def saved(self, out, x, *, needs):
        """As PyTorch's adaptive pooling to one value: max keeps the input and the indices;
        mean keeps nothing."""
        return _with_indices(out) if self.reduction == "max" else NOTHING

    def forward(self, ops, params, x):
        reduce = getattr(ops.xp, self.reduction)
        return reduce(x, axis=tuple(range(2, x.ndim)), keepdims=self.keepdims)


class GlobalMaxPool(_GlobalPool):
    type = "global_max_pool"


class GlobalAvgPool(_GlobalPool):
    type = "global_avg_pool"
    final_ops_per_window = 1
    reduction = "mean"


class _AdaptivePool(Layer):
    """Output size fixed; windows [floor(i*L/O), ceil((i+1)*L/O)) as in PyTorch."""

    category = "pooling"
    args = {"output_size": Arg("optional_sizes", doc="output size per spatial axis (null keeps the input's)",
                               minimum=1)}
    final_ops_per_window = 0
    reduction = "max"  # the array namespace's function, as for the global pools

    def torch_code(self, x):
        return torch_call(f"nn.{type(self).__name__}", self.output_size)  # named as torch's

    def onnx_nodes(self, builder, inputs, output, x):
        """A pool whose kernel and stride are L/O where O divides every L; else one axis at a
        time, as the forward pass: a reshape and a reduction where O divides L, else one
        reduction per window [floor(iL/O), ceil((i+1)L/O)), joined."""
        out, reduce = self.output_shape(x), f"Reduce{self.reduction.capitalize()}"
        if all(n % o == 0 for n, o in zip(x[1:], out[1:])):
            kernel = [n // o for n, o in zip(x[1:], out[1:])]
            pool = "AveragePool" if self.reduction == "mean" else "MaxPool"
            builder.node(pool, inputs, output, kernel_shape=kernel, strides=kernel)
            return
        value, shape = inputs[0], list(x)
        axes = [axis for axis in range(1, len(x)) if out[axis] != x[axis]]
        for axis in axes:
            n, o, last = shape[axis], out[axis], output if axis == axes[-1] else None
            if n % o == 0:
                split = builder.reshape(value, (*shape[:axis], o, n // o, *shape[axis + 1:]))
                value = builder.node(reduce, [split, builder.ints([axis + 2])], last, keepdims=0)
            else:
                pieces = [builder.node(reduce, [builder.node("Slice", [value, builder.ints([i * n // o]),
                                                                       builder.ints([-(-(i + 1) * n // o)]),
                                                                       builder.ints([axis + 1])]),
                                                builder.ints([axis + 1])], keepdims=1) for i in range(o)]
                value = builder.node("Concat", pieces, last, axis=axis + 1)
            shape[axis] = o

    def output_shape(self, x):
        _spatial_input(self, x)
        return (x[0], *(n if o is None else o for n, o in zip(x[1:], self.output_size)))

    def flops(self, out, x):
        visited = x[0] * prod(adaptive_window_total(n, o) for n, o in zip(x[1:], out[1:]))
        return visited - prod(out) + self.final_ops_per_window * prod(out)

    def reads(self, out, x):
        """Each channel alone; on an axis pooled from L to O positions, position i reads
        [floor(iL/O), ceil((i + 1)L/O) - 1]: windows of varying size that repeat every
        O/gcd(L, O) positions. Pooled to one position, the axis is reduced whole (as by a
        global pool): no field."""
        axes, whole, note = [((0, 0, IDENTITY),)], [], ""
        for axis, (n, o) in enumerate(zip(x[1:], out[1:]), start=1):
            period = o // gcd(n, o)
            if o == 1 < n:
                axes.append(())
                whole.append((0, axis))
            elif period > MAX_PERIOD:
                axes.append(())
                note = too_long(period, f"{self.type}'s window from {n} to {o}")
            else:
                spans = tuple((q * n // o, -(-(q + 1) * n // o) - 1) for q in range(period))
                axes.append(((0, axis, Window(period, n // gcd(n, o), spans)),))
        return Reads(tuple(axes), tuple(whole), note)

    def saved(self, out, x, *, needs):
        """Max keeps the input and the indices; average keeps the input, except where every
        output axis is 1: PyTorch then takes a mean, which keeps nothing."""
        if self.reduction == "max":
            return _with_indices(out)
        return NOTHING if all(n == 1 for n in out[1:]) else INPUT

    def workspace(self, batch, out, x):
        """Per pooled axis, the pooled pieces and their concatenation (the input with the
        axes so far pooled)."""
        stages = sum(prod(out[:a + 1]) * prod(x[a + 1:]) for a in range(1, len(x)) if out[a] != x[a])
        return 2 * batch * stages

    def forward(self, ops, params, x):
        """One axis at a time (max and mean of a box are separable): windows
        [floor(i*L/O), ceil((i+1)*L/O)); equal windows by a reshape when O divides L."""
        xp = ops.xp
        reduce = getattr(xp, self.reduction)
        for axis, size in enumerate(self.output_size, start=2):
            length = x.shape[axis]
            if size is None or size == length:
                continue
            if length % size == 0:
                split = (*x.shape[:axis], size, length // size, *x.shape[axis + 1:])
                x = reduce(xp.reshape(x, split), axis=axis + 1)
                continue
            pieces = []
            for i in range(size):
                index = [slice(None)] * x.ndim
                index[axis] = slice(i * length // size, -(-(i + 1) * length // size))
                pieces.append(reduce(x[tuple(index)], axis=axis, keepdims=True))
            x = xp.concat(pieces, axis=axis)
        return x


class AdaptiveAvgPool1d(_AdaptivePool):
    type = "adaptive_avgpool1d"
    rank = 1
    final_ops_per_window = 1
    reduction = "mean"


class AdaptiveAvgPool2d(_AdaptivePool):
    type = "adaptive_avgpool2d"
    rank = 2
    final_ops_per_window = 1
    reduction = "mean"


class AdaptiveAvgPool3d(_AdaptivePool):
    type = "adaptive_avgpool3d"
    rank = 3
    final_ops_per_window = 1
    reduction = "mean"


class AdaptiveMaxPool1d(_AdaptivePool):
    type = "adaptive_maxpool1d"
    rank = 1


class AdaptiveMaxPool2d(_AdaptivePool):
    type = "adaptive_maxpool2d"
    rank = 2


class AdaptiveMaxPool3d(_AdaptivePool):
    type = "adaptive_maxpool3d"
    rank = 3
