"""What a layer's forward pass calls besides its array namespace.

`Ops` carries the namespace (`ops.xp`) and counts the multiply-accumulates that
actually execute, where they execute: a GEMM adds m*n*k for every matrix product it
computes, from the operands it was given. Windows for convolution and pooling are
cut by slicing, so their number (the output size) comes out of the slicing
arithmetic on the real array, never from a layer's shape rule. Everything here uses
only the array API standard, so the same code runs on NumPy, CuPy and
array-api-strict.
"""
from __future__ import annotations

from itertools import product

from ..layers.base import prod


class Ops:
    def __init__(self, xp):
        self.xp = xp
        self.macs = 0  # multiply-accumulates executed since the last reset

    def reset(self) -> int:
        done, self.macs = self.macs, 0
        return done

    # --- arithmetic that counts its multiply-accumulates ---
    def matmul(self, a, b):
        """a @ b (batched, broadcasting): m*n*k MACs for each matrix product computed."""
        y = self.xp.matmul(a, b)
        self.macs += prod(y.shape) * int(a.shape[-1])
        return y

    def fold(self, arrays, combine: str):
        """The element-wise sum or max (`combine`) of two or more arrays of one shape: the
        first two combined into a new array, then each next one into it (in place for a
        sum), so at most one array beside the inputs is held at once."""
        arrays = iter(arrays)
        first = next(arrays)
        if combine == "sum":
            total = first + next(arrays)
            for array in arrays:
                total += array
            return total
        result = self.xp.maximum(first, next(arrays))
        for array in arrays:
            result = self.xp.maximum(result, array)
        return result

    def sum_of_squares(self, d, axis: int):
        """sum(d * d) along `axis`: one MAC per element of d."""
        self.macs += prod(d.shape)
        return self.xp.sum(d * d, axis=axis)

    # --- windows ---
    def pad(self, x, pads, value: float = 0.0):
        """x with `pads` = ((left, right), ...) added to its trailing axes, filled with `value`."""
        if all(left == 0 and right == 0 for left, right in pads):
            return x
        lead = x.ndim - len(pads)
        sizes = x.shape[lead:]
        shape = (*x.shape[:lead], *(n + left + right for n, (left, right) in zip(sizes, pads)))
        out = self.xp.empty(shape, dtype=x.dtype)
        out[(..., *(slice(left, left + n) for n, (left, _) in zip(sizes, pads)))] = x
        # then only the margins are filled (a whole-array fill would cost a pass over it)
        for axis, (n, (left, right)) in enumerate(zip(sizes, pads)):
            before = (slice(None),) * (lead + axis)
            out[(*before, slice(0, left), ...)] = value
            out[(*before, slice(left + n, left + n + right), ...)] = value
        return out

    @staticmethod
    def window_counts(lengths, kernel, stride, dilation) -> list:
        """Windows per axis of these lengths, as slicing yields them (window_starts)."""
        return [len(window_starts(int(n), k, s, d)) for n, k, s, d in zip(lengths, kernel, stride, dilation)]

    def im2col(self, x, kernel, stride, dilation):
        """Convolution columns over x's trailing len(kernel) axes:
        cols[..., *offset, *window] = x[..., *(window * stride + offset * dilation)].

        Filled by strided copies: on each axis, one per kernel offset (all windows at
        once) or, where the windows are fewer than the offsets, one per window (all
        offsets at once), so a huge kernel over few windows costs few copies. A 1x1
        kernel with stride 1 is a view of x. Windows per axis: window_counts."""
        xp = self.xp
        lead = x.ndim - len(kernel)
        if all(k == 1 for k in kernel) and all(s == 1 for s in stride):
            return xp.reshape(x, (*x.shape[:lead], *kernel, *x.shape[lead:]))
        counts = self.window_counts(x.shape[lead:], kernel, stride, dilation)
        by_offset = [k <= count for k, count in zip(kernel, counts)]
        cols = xp.empty((*x.shape[:lead], *kernel, *counts), dtype=x.dtype)
        # a source block has one axis per spatial axis, of the windows' or the offsets' length;
        # in cols the per-window (offset) axes come first, then the per-offset (window) axes
        order = (*range(lead), *(lead + a for a, flag in enumerate(by_offset) if not flag),
                 *(lead + a for a, flag in enumerate(by_offset) if flag))
        loops = [range(k) if flag else range(count) for k, count, flag in zip(kernel, counts, by_offset)]
        for steps in product(*loops):
            source, offsets, windows = [], [], []
            for j, k, count, s, d, flag in zip(steps, kernel, counts, stride, dilation, by_offset):
                if flag:  # kernel offset j, every window
                    source.append(slice(j * d, j * d + (count - 1) * s + 1, s))
                    offsets.append(j)
                    windows.append(slice(None))
                else:  # window j, every kernel offset
                    source.append(slice(j * s, j * s + (k - 1) * d + 1, d))
                    offsets.append(slice(None))
                    windows.append(j)
            cols[(..., *offsets, *windows)] = xp.permute_dims(x[(..., *source)], order)
        return cols

    def window_reduce(self, x, kernel, stride, dilation, combine: str):
        """The max or sum (`combine`) of every window over x's trailing len(kernel) axes,
        one axis at a time (both are separable over a box). On each axis the loop runs
        over the kernel offsets (one strided view each, combined element-wise) or, where
        the windows are fewer, over the windows (one reduction each), so its length is
        min(k, windows). Windows per axis: range(0, L - d(k-1), s), as slicing yields."""
        lead = x.ndim - len(kernel)
        for axis, k, s, d in zip(range(lead, x.ndim), kernel, stride, dilation):
            x = self._reduce_axis(x, axis, k, s, d, combine)
        return x

    def _reduce_axis(self, x, axis: int, k: int, s: int, d: int, combine: str):
        xp = self.xp
        starts = window_starts(x.shape[axis], k, s, d)

        def cut(part):
            return x[(*(slice(None),) * axis, part, ...)]

        if k == 1:
            return cut(slice(0, None, s))
        if k <= len(starts):
            stop = (len(starts) - 1) * s + 1
            return self.fold((cut(slice(o * d, o * d + stop, s)) for o in range(k)), combine)
        reduce = xp.sum if combine == "sum" else xp.max
        return xp.concat([reduce(cut(slice(i, i + d * (k - 1) + 1, d)), axis=axis, keepdims=True)
                          for i in starts], axis=axis)


def window_starts(length: int, kernel: int, stride: int, dilation: int) -> range:
    """Where the windows on one axis start: every stride, while the last kernel element fits."""
    return range(0, max(0, length - dilation * (kernel - 1)), stride)
