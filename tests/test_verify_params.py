"""verify draws every parameter and buffer from the law the initialiser table promises
(cnncalc/backend/params.py's docstring, README's verify section).

Each case materialises one layer large enough (10^4 values or more per array) that the
sample statistics tell the laws apart: a uniform must fill exactly its interval, a normal
must have its standard deviation and normal tails (4.6% beyond two deviations, which no
uniform of that deviation has). The expected laws are written out here, from the table,
not taken from the layer classes.
"""
from __future__ import annotations

import math
import re

import numpy as np
import pytest

import test_verify_layers as layer_cases
from families import family_cases
from cnncalc.backend.namespace import namespace
from cnncalc.backend.params import materialise
from cnncalc.language.build import loads
from cnncalc.summary import infer_shapes

ROWS = "[" + ", ".join(str(list(range(start, start + 400))) for start in (0, 100)) + "]"
BIAS = ("uniform", -0.1, 0.1)
SCALE = ("uniform", 0.5, 1.5)
BATCH_NORM = {"weight": SCALE, "bias": BIAS, "running_mean": ("normal", 0.1), "running_var": SCALE}

# (spec of one layer named `l`, {parameter: law}); laws: ("he", fan_in), ("glorot", fan_in, fan_out),
# ("normal", std), ("uniform", low, high)
LAYERS = [
    ("input: [3, 8, 8]\nlayers: [{type: conv2d, out_channels: 10000, kernel_size: 3}]",
     {"weight": ("he", 3 * 9), "bias": BIAS}),
    ("input: [8, 6, 6]\nlayers: [{type: conv2d, out_channels: 4000, kernel_size: 3, groups: 4}]",
     {"weight": ("he", 2 * 9)}),
    ("input: [4, 50]\nlayers: [{type: conv1d, out_channels: 10000, kernel_size: 5}]",
     {"weight": ("he", 4 * 5), "bias": BIAS}),
    # a connection row is one output map's whole fan-in
    (f"input: [500, 5, 5]\nlayers: [{{type: conv2d, kernel_size: 5, connections: {ROWS}, bias: false}}]",
     {"weight.0": ("he", 400 * 25), "weight.1": ("he", 400 * 25)}),
    ("input: [200]\nlayers: [{type: linear, out_features: 10000}]", {"weight": ("he", 200), "bias": BIAS}),
    ("input: [300]\nlayers: [{type: rbf, out_features: 100}]", {"weight": ("glorot", 300, 100)}),
    ("input: [4]\nlayers: [{type: embedding, num_embeddings: 1000, embedding_dim: 20}]",
     {"weight": ("normal", 1.0)}),
    ("input: [10000]\nlayers: [{type: batchnorm1d}]", BATCH_NORM),
    ("input: [10000, 1, 1]\nlayers: [{type: batchnorm2d}]", BATCH_NORM),
    ("input: [10000]\nlayers: [{type: prelu}]", {"weight": SCALE}),
    ("input: [10000, 2, 2]\nlayers: [{type: subsampling}]", {"weight": SCALE, "bias": BIAS}),
    *family_cases("PARAM_LAWS"),
]
LAWS = [(spec, name, law) for spec, laws in LAYERS for name, law in laws.items()]


def _type(spec: str) -> str:
    return re.search(r"type: (\w+)", spec)[1]


def _drawn(spec: str, name: str, dtype: str) -> np.ndarray:
    network = loads(spec.replace("[{type", "[{name: l, type"))
    params, buffers = materialise(network, infer_shapes(network), namespace("numpy"), dtype, seed=7)["l"]
    return np.asarray({**params, **buffers}[name], dtype=np.float64).ravel()


def _assert_uniform(values, low: float, high: float) -> None:
    """Inside [low, high], reaching within 1% of both ends, with the deviation of a uniform."""
    span = high - low
    assert values.min() >= low and values.max() <= high, (values.min(), values.max(), low, high)
    assert values.min() < low + 0.01 * span and values.max() > high - 0.01 * span, (values.min(), values.max())
    assert values.std() == pytest.approx(span / math.sqrt(12), rel=0.03)


def _assert_normal(values, std: float) -> None:
    """Mean 0, deviation `std` within 3%, and normal tails."""
    assert abs(values.mean()) < 5 * std / math.sqrt(values.size), values.mean()
    assert values.std() == pytest.approx(std, rel=0.03)
    assert 0.035 < np.mean(np.abs(values) > 2 * std) < 0.06


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("spec, name, law", LAWS, ids=[f"{_type(s)}-{n}" for s, n, _ in LAWS])
def test_parameters_follow_the_initialiser_table(spec, name, law, dtype):
    values = _drawn(spec, name, dtype)
    assert values.size >= 5000
    kind, *numbers = law
    if kind == "uniform":
        _assert_uniform(values, *numbers)
    elif kind == "glorot":
        limit = math.sqrt(6 / sum(numbers))
        _assert_uniform(values, -limit, limit)
    elif kind == "he":
        _assert_normal(values, math.sqrt(2 / numbers[0]))
    else:
        _assert_normal(values, numbers[0])


def test_every_declared_parameter_has_a_law_here():
    """A layer type that gains a parameter or buffer needs its law in LAWS."""
    covered = {(_type(spec), re.sub(r"\.\d+$", ".j", name)) for spec, name, _ in LAWS}
    declared = set()
    for case in layer_cases.CASES:
        layer = layer_cases.build(case)
        names = {**layer.parameters(*case.inputs), **layer.buffers(*case.inputs)}
        declared |= {(case.type, re.sub(r"\.\d+$", ".j", name)) for name in names}
    assert declared - covered == set()
