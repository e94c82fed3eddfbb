"""What one output position of a layer reads, axis by axis: the records of `Layer.reads`,
from which cnncalc/receptive.py composes every layer's receptive field.

A `Window` maps the positions of an output axis to input positions of an input axis.
Position i = n·period + q (0 <= q < period) reads the input positions first, first + step,
… last of spans[q] = (first, last), moved on by n·advance; or none when spans[q] is None.
A sliding window (convolution, pooling) has period 1, advances by its stride and steps by
its dilation; a transposed convolution of stride s gives s outputs per input position:
period s, advance 1 (a jump of 1/s). Positions past either end of an axis follow the same
rule: padding is positions like any other.

All of it is integer arithmetic, made only for `cnncalc summary --rf`.
"""
from __future__ import annotations

from typing import NamedTuple

# the longest pattern a layer's window (and a field, cnncalc/receptive.py) may repeat
# with: beyond it an axis gets no field, so that the work stays bounded
MAX_PERIOD = 4096


class Window(NamedTuple):
    period: int  # output positions before the pattern repeats
    advance: int  # input positions it moves on by each period (never negative)
    spans: tuple  # per phase q: (first, last) input positions read by position q, or None
    step: int = 1  # between the positions read from first to last

    def at(self, position: int):
        """The (first, last) input positions that output `position` reads, or None."""
        turns, phase = divmod(position, self.period)
        span = self.spans[phase]
        if span is None:
            return None
        shift = turns * self.advance
        return span[0] + shift, span[1] + shift


def slide(stride: int, start: int, count: int = 1, spacing: int = 1) -> Window:
    """Position i reads `count` positions `spacing` apart from stride·i + start (a
    convolution: minus its left padding, k taps, its dilation)."""
    return Window(1, stride, ((start, start + (count - 1) * spacing),), spacing)


IDENTITY = slide(1, 0)


class Reads(NamedTuple):
    """What a layer's output reads. `axes`: for each output axis, the (input index, input
    axis, Window) it reads position by position: one for most layers, one per input for
    a merge, none for an axis whose positions are no input axis's (channels of a
    convolution, features, merged axes). `whole`: the (input index, input axis) pairs that
    every output position reads in full (a reduction: global pooling, mean, statistics).
    `note`: why an axis has no window, where that is not plain."""

    axes: tuple
    whole: tuple = ()
    note: str = ""


def pointwise(rank: int, whole: tuple = ()) -> Reads:
    """Each output position reads the same position of its one input."""
    return Reads(tuple(((0, axis, IDENTITY),) for axis in range(rank)), whole)


def too_long(period: int, what: str) -> str:
    return (f"{what} repeats only every {period:,} positions (above {MAX_PERIOD:,}): no field is given "
            "from here on")
