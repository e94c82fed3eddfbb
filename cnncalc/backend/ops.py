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


def _prod(values) -> int:
    result = 1
    for value in values:
        result *= int(value)
    return result


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
        self.macs += _prod(y.shape) * int(a.shape[-1])
        return y

    def fma(self, a, b, c):
        """a * b + c, element-wise: one MAC per output element."""
        y = a * b
        self.macs += _prod(y.shape)
        y += c
        return y

    def sum_of_squares(self, d, axis: int):
        """sum(d * d) along `axis`: one MAC per element of d."""
        self.macs += _prod(d.shape)
        return self.xp.sum(d * d, axis=axis)

    # --- windows ---
    def pad(self, x, pads, value: float = 0.0):
        """x with `pads` = ((left, right), ...) added to its trailing axes, filled with `value`."""
        if all(left == 0 and right == 0 for left, right in pads):
            return x
        lead = x.ndim - len(pads)
        shape = (*x.shape[:lead], *(n + left + right for n, (left, right) in zip(x.shape[lead:], pads)))
        out = self.xp.full(shape, value, dtype=x.dtype)
        out[(..., *(slice(left, left + n) for n, (left, _) in zip(x.shape[lead:], pads)))] = x
        return out

    def windows(self, x, kernel, stride, dilation):
        """One strided view of x per kernel offset (row-major over the kernel), over its
        trailing len(kernel) axes: view[..., i, j] is element (offset) of window (i, j).

        The number of windows per axis is whatever the slices hold: from offset o*d up
        to where the last kernel element still fits, in steps of the stride."""
        lead = x.ndim - len(kernel)
        lengths = x.shape[lead:]
        views = []
        for offsets in product(*(range(k) for k in kernel)):
            index = [...]
            for n, k, s, d, o in zip(lengths, kernel, stride, dilation, offsets):
                start = o * d
                index.append(slice(start, max(start, n - (k - 1 - o) * d), s))
            views.append(x[tuple(index)])
        return views
