"""What a layer type declares for each parameter and buffer: its shape, and the law that
`cnncalc verify` draws its values from.

A law draws with the generator it is handed (NumPy's, in backend/params.py), so nothing
here imports an array library. Each draws in `dtype` and scales in place: no temporary
beside the array (verify's memory estimate counts none). Records are named tuples: every
command imports this module, and they cost a fraction of a dataclass to define.
"""
from __future__ import annotations

import math
from typing import NamedTuple


class Uniform(NamedTuple):
    low: float
    high: float

    def draw(self, rng, shape: tuple, dtype: str):
        values = rng.random(shape, dtype=dtype)
        values *= self.high - self.low
        values += self.low
        return values


class Normal(NamedTuple):
    """N(0, std^2)."""

    std: float = 1.0

    def draw(self, rng, shape: tuple, dtype: str):
        values = rng.standard_normal(shape, dtype=dtype)
        if self.std != 1.0:
            values *= self.std
        return values


class HeNormal(NamedTuple):
    """N(0, 2 / fan_in): what each unit sums over keeps the activations' scale."""

    fan_in: int

    def draw(self, rng, shape: tuple, dtype: str):
        return Normal(math.sqrt(2.0 / max(self.fan_in, 1))).draw(rng, shape, dtype)


class GlorotUniform(NamedTuple):
    """U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out))."""

    fan_in: int
    fan_out: int

    def draw(self, rng, shape: tuple, dtype: str):
        limit = math.sqrt(6.0 / (self.fan_in + self.fan_out))
        return Uniform(-limit, limit).draw(rng, shape, dtype)


BIAS = Uniform(-0.1, 0.1)  # non-zero, so that a mis-wired bias shows
SCALE = Uniform(0.5, 1.5)  # per-channel factors: batch-norm scales and variances, slopes, coefficients
RUNNING_MEAN = Normal(0.1)


class Param(NamedTuple):
    """One parameter or buffer: its shape (per the layer's input shapes) and its law."""

    shape: tuple
    init: Uniform | Normal | HeNormal | GlorotUniform
