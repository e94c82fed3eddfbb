"""Pure shape arithmetic for sliding windows (convolution and pooling), as PyTorch does it.

>>> conv_length(32, kernel=5, stride=1, padding=0, dilation=1)
28
>>> pool_length(112, kernel=3, stride=2, padding=1, dilation=1, ceil_mode=False)
56
>>> pool_length(5, kernel=2, stride=2, padding=0, dilation=1, ceil_mode=True)
3
>>> adaptive_window_total(7, 3)   # windows [0,3) [2,5) [4,7)
9
"""
from __future__ import annotations

import math

from ..diagnostics import SpecError


def conv_length(length, kernel, stride, padding, dilation):
    """floor((L + 2p - d(k-1) - 1) / s) + 1"""
    return (length + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def pool_length(length, kernel, stride, padding, dilation, ceil_mode):
    """As conv_length, rounding up with ceil_mode, where the last window must start
    inside the input or its left padding."""
    span = length + 2 * padding - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= length + padding:
        out = out - 1
    return out


def adaptive_window_total(length: int, out: int) -> int:
    """Sum of the window sizes adaptive pooling uses on one axis (windows overlap):
    sum over i < O of ceil((i+1)L/O) - floor(iL/O). Each ceiling is the floor, plus one
    where (i+1)L/O is not whole (O - gcd(L, O) of them); the floors telescope to L.
    gcd(L, O) = gcd(L mod O, O): for a symbolic L, a condition on L mod O only."""
    return length + out - math.gcd(length % out, out)


def formula(length, kernel, stride, padding, dilation, ceil_mode=None) -> str:
    """The output-size formula with the numbers in it, for error messages."""
    rounding = "ceil" if ceil_mode else "floor"
    return (f"{rounding}(({length} + 2*{padding} - {dilation}*({kernel}-1) - 1) / {stride}) + 1")


def check_positive(lengths, inputs, kernels, strides, paddings, dilations, ceil_mode=None,
                   axes=("L",)):
    for axis, out, length, k, s, p, d in zip(axes, lengths, inputs, kernels, strides, paddings, dilations):
        if out <= 0:
            raise SpecError(
                f"output {axis} would be {out}: {axis}_out = {formula(length, k, s, p, d, ceil_mode)} = {out}",
                hint=f"the input's {axis} ({length}) is too small for kernel {k} with dilation {d}; "
                     "use more padding, a smaller kernel, or a larger input")


def axes_names(rank: int) -> tuple:
    """The spatial axes' names in messages: L; H, W; D, H, W."""
    return {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}.get(rank) or tuple(f"D{i}" for i in range(rank))
