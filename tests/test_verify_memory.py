"""verify's memory estimate is an upper bound of what the forward pass allocates.

Every layer type's forward pass runs on NumPy under tracemalloc (NumPy reports its
buffers to it): the traced peak must stay within the layer's output plus its declared
`workspace()`. Whole networks must stay within `estimate()`. The hostile cases of the
issue (an RBF's [positions, units, features] temporary, LRN with a huge `size`, a conv
with a huge kernel) are run, scaled where needed, and refused by `--max-memory` when
too big. Also: adaptive pooling's FLOPs in closed form, and verify's refusals (seed,
batch, memory) as exit 2.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
import time
import tracemalloc
import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import test_verify_layers as layer_cases
from cnncalc.backend import verify
from cnncalc.backend.memory import estimate
from cnncalc.backend.namespace import _Compat, namespace
from cnncalc.backend.ops import Ops
from cnncalc.backend.params import Params, draw, materialise, random_input
from cnncalc.diagnostics import SpecError, UsageError
from cnncalc.layers import REGISTRY, prod
from cnncalc.layers.parameters import BIAS, RUNNING_MEAN, SCALE, GlorotUniform, HeNormal, Normal, Param
from cnncalc.layers.window import adaptive_window_total
from cnncalc.network import INPUT
from cnncalc.language.build import load, loads
from cnncalc.summary import infer_shapes, summarize

from case_types import windowed
from helpers import ROOT, SPECS

ITEMSIZE = 4  # float32
# NumPy's ufunc buffers (8192 elements per operand, for broadcast in-place operations)
# and the Python objects of a forward pass are not arrays the estimate counts
SLACK = 64 * 1024
NETWORK_SLACK = 256 * 1024  # and a whole run's records, summary and first-call caches


def batch_for(case) -> int:
    """Large enough that the arrays (some 2**18 input elements) dominate the traced bytes."""
    return max(2, 2**18 // sum(prod(shape) for shape in case.inputs))


def _case(id, type, args, inputs, torch_fn, **extra):
    return layer_cases.Case(id, type, args, inputs, torch_fn, **extra)


# Paths the small cases in test_verify_layers.py do not take: kernels with fewer windows
# than offsets (im2col and window_reduce loop over windows), LRN wider than the channels.
WIDE_CASES = [
    _case("conv2d-kernel-wider-than-windows", "conv2d", {"out_channels": 3, "kernel_size": [7, 2], "stride": [1, 3]},
          [(2, 9, 9)], lambda xs, p: F.conv2d(xs[0], p["weight"], p["bias"], stride=(1, 3))),
    _case("conv1d-kernel-fills-input", "conv1d", {"out_channels": 2, "kernel_size": 12, "dilation": 1, "padding": 1},
          [(3, 12)], lambda xs, p: F.conv1d(xs[0], p["weight"], p["bias"], padding=1)),
    _case("conv2d-dilated-wide", "conv2d", {"out_channels": 2, "kernel_size": 4, "dilation": 2, "bias": False},
          [(2, 8, 9)], lambda xs, p: F.conv2d(xs[0], p["weight"], None, dilation=2)),
    _case("maxpool2d-wide-dilated", "maxpool2d", {"kernel_size": [5, 2], "stride": 1, "dilation": [1, 3]},
          [(2, 6, 9)], lambda xs, p: F.max_pool2d(xs[0], (5, 2), 1, dilation=(1, 3))),
    _case("maxpool1d-wide-ceil", "maxpool1d", {"kernel_size": 6, "stride": 4, "padding": 3, "ceil_mode": True},
          [(2, 11)], lambda xs, p: F.max_pool1d(xs[0], 6, 4, 3, ceil_mode=True)),
    _case("avgpool2d-wide-exclude-pad", "avgpool2d",
          {"kernel_size": [6, 4], "stride": [2, 1], "padding": [3, 2], "ceil_mode": True, "count_include_pad": False},
          [(2, 7, 5)], lambda xs, p: F.avg_pool2d(xs[0], (6, 4), (2, 1), (3, 2), ceil_mode=True,
                                                 count_include_pad=False)),
    _case("avgpool1d-wide", "avgpool1d", {"kernel_size": 8, "stride": 1, "padding": 4}, [(3, 9)],
          lambda xs, p: F.avg_pool1d(xs[0], 8, 1, 4)),
    _case("subsampling-wide", "subsampling", {"kernel_size": 5, "stride": 1}, [(3, 6, 7)],
          lambda xs, p: layer_cases.subsampling(xs, p, 5, 1)),
    _case("lrn-wider-than-channels", "lrn", {"size": 11, "alpha": 1e-2, "k": 1.5}, [(4, 3, 5)],
          lambda xs, p: F.local_response_norm(xs[0], 11, 1e-2, 0.75, 1.5)),
    _case("adaptive_maxpool1d-upsampling", "adaptive_maxpool1d", {"output_size": 9}, [(2, 4)],
          lambda xs, p: F.adaptive_max_pool1d(xs[0], 9)),
]
CASES = layer_cases.CASES + WIDE_CASES


@pytest.mark.parametrize("case", WIDE_CASES, ids=[c.id for c in WIDE_CASES])
@pytest.mark.parametrize("backend", ["numpy", "array_api_strict"])
def test_wide_windows_match_torch(case, backend):
    """Shapes, numbers, MACs and parameters as for every layer case (same assertions)."""
    layer_cases.test_forward_matches_torch(case, namespace(backend))


@settings(max_examples=150, deadline=None)
@given(windowed(rank=2, max_kernel=7, max_size=16))
def test_windows_of_any_width_match_torch(case):
    try:
        layer_cases.build(case).output_shape(*case.inputs)
    except SpecError:  # a shape the rule refuses: PyTorch refuses it too (test_shapes_property.py)
        return
    layer_cases.test_forward_matches_torch(case, namespace("numpy"))


def _forward_peak(layer, case, batch):
    """The traced peak of one forward pass beyond its inputs and parameters, and its output."""
    rng = np.random.default_rng(0)
    params, buffers = ({n: draw(rng, p, "float32") for n, p in declared(*case.inputs).items()}
                       for declared in (layer.parameters, layer.buffers))
    if case.tokens:
        inputs = [rng.integers(0, case.tokens, (batch, *shape)) for shape in case.inputs]
    else:
        inputs = [rng.standard_normal((batch, *shape), dtype=np.float32) for shape in case.inputs]
    accessor = Params(params, buffers, make=None)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        y = layer.forward(Ops(namespace("numpy")), accessor, *inputs)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    return peak, y


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_forward_stays_within_its_workspace(case):
    layer = layer_cases.build(case)
    out = tuple(layer.output_shape(*case.inputs))
    batch = batch_for(case)
    peak, y = _forward_peak(layer, case, batch)
    assert tuple(y.shape[1:]) == out
    workspace = layer.workspace(batch, out, *case.inputs) * ITEMSIZE
    bound = batch * prod(out) * ITEMSIZE + workspace
    assert peak <= bound + SLACK, f"{case.id}: traced {peak:,} bytes, estimated {bound:,}"
    # and not wildly above it: views (reshape, identity, ...) allocate nothing and declare nothing
    assert workspace <= 3 * peak + SLACK, f"{case.id}: traced {peak:,} bytes, workspace {workspace:,}"


def test_every_layer_type_has_a_memory_case():
    missing = sorted(set(REGISTRY) - {case.type for case in CASES})
    assert not missing, f"layer types without a memory case: {missing}"


# --- whole networks -------------------------------------------------------------------

def _traced_verify(network, **options):
    verify(loads("input: [1]\nlayers: [{type: identity}]\n"))  # imports and caches: not the run's
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        result = verify(network, **options)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    return result, peak


@pytest.mark.parametrize("spec,batch", [("lenet5", 64), ("mnist_cnn", 16), ("numpy_cnn", 32), ("textcnn", 8),
                                        ("nin", 1), ("resnet18", 1)])
def test_zoo_run_stays_within_the_estimate(spec, batch):
    result, peak = _traced_verify(load(str(SPECS / f"{spec}.yaml")), batch=batch)
    assert result.ok
    assert peak <= result.estimate.total + NETWORK_SLACK, f"traced {peak:,}, estimated {result.estimate.total:,}"



@pytest.mark.parametrize("spec", ["resnet18", "lenet5", "textcnn"])
def test_the_estimate_counts_every_parameter_and_buffer(spec):
    network = load(str(SPECS / f"{spec}.yaml"))
    totals = summarize(network).totals
    assert estimate(network, infer_shapes(network), 1, ITEMSIZE).params == (totals.params + totals.buffers) * ITEMSIZE


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("text", ["input: [50]\nlayers:\n  - {type: embedding, num_embeddings: 7, embedding_dim: 3}\n",
                                  "input: [50]\nlayers:\n  - {type: linear, out_features: 3}\n"],
                         ids=["tokens", "floats"])
def test_the_estimate_counts_the_input_as_drawn(text, dtype):
    """At the first layer: the input with the bytes verify draws it in (integer tokens are
    int64 whatever the dtype), the layer's output and its workspace."""
    network = loads(text)
    shapes, node, batch = infer_shapes(network), network.nodes[0], 4
    x = random_input(network, namespace("numpy"), batch, dtype)
    itemsize = np.dtype(dtype).itemsize
    out = shapes[node.name]
    expected = x.nbytes + (batch * prod(out) + node.layer.workspace(batch, out, shapes[INPUT])) * itemsize
    assert estimate(network, shapes, batch, itemsize).activations == expected

# --- the issue's hostile cases ----------------------------------------------------------

RBF_SPEC = "input: [2000, 1000]\nlayers:\n  - {type: rbf, out_features: 100}\n"
LRN_SPEC = "input: [3, 8, 8]\nlayers:\n  - {type: lrn, size: 3000000}\n"
CONV_SPEC = "input: [1, {n}, {n}]\nlayers:\n  - {{type: conv2d, out_channels: 4, kernel_size: {n}}}\n"


@pytest.mark.parametrize("text", [RBF_SPEC, LRN_SPEC, CONV_SPEC.format(n=1024)], ids=["rbf", "lrn", "conv-wide"])
def test_hostile_case_stays_within_the_estimate(text):
    result, peak = _traced_verify(loads(text))
    assert result.ok
    assert peak <= result.estimate.total + NETWORK_SLACK, f"traced {peak:,}, estimated {result.estimate.total:,}"


def test_rbf_runs_in_blocks(monkeypatch):
    """With a small block, the RBF differences are computed by many blocks of positions and
    units: the same numbers, the same MACs, and a peak within the (smaller) workspace."""
    from cnncalc.layers import lenet

    case = _case("rbf-blocks", "rbf", {"out_features": 7}, [(5, 30)], None)
    layer = layer_cases.build(case)
    whole, y = _forward_peak(layer, case, 8)
    monkeypatch.setattr(lenet, "DIFFERENCE_BLOCK", 100)  # 3 units of 30 features: one position a block
    assert lenet.rbf_block(40, 7, 30) == (1, 3)
    ops = Ops(namespace("numpy"))
    rng = np.random.default_rng(0)
    weight = draw(rng, layer.parameters((5, 30))["weight"], "float32")
    x = rng.standard_normal((8, 5, 30), dtype=np.float32)
    blocked = layer.forward(ops, Params({"weight": weight}, {}, make=None), x)
    np.testing.assert_allclose(blocked, ((x[..., None, :] - weight) ** 2).sum(-1), rtol=1e-5)
    assert ops.macs == 8 * layer.macs((5, 7), (5, 30))
    peak, _ = _forward_peak(layer, case, 8)
    assert peak <= (8 * 5 * 7 + layer.workspace(8, (5, 7), (5, 30))) * ITEMSIZE + SLACK
    assert layer.workspace(8, (5, 7), (5, 30)) < 8 * 5 * 7 * 30  # smaller than one whole difference array


BLOCKED_CONVS = [c for c in layer_cases.CASES
                 if c.id in ("conv2d", "conv2d-groups", "conv2d-lenet5-c3", "conv1d-strided-groups", "conv2d-1x1-strided")]


@pytest.mark.parametrize("case", BLOCKED_CONVS, ids=[c.id for c in BLOCKED_CONVS])
@pytest.mark.parametrize("backend", ["numpy", "array_api_strict"])
def test_conv_runs_in_blocks_of_samples(case, backend, monkeypatch):
    """With a block smaller than one sample's columns, every sample is its own block: the
    same numbers, MACs and parameters as PyTorch, and a peak within the smaller workspace."""
    from cnncalc.layers import conv

    monkeypatch.setattr(conv, "COLUMN_BLOCK", 1)
    layer_cases.test_forward_matches_torch(case, namespace(backend))
    layer = layer_cases.build(case)
    out = tuple(layer.output_shape(*case.inputs))
    batch = batch_for(case)
    assert layer.block_samples(batch, 1) == 1
    blocked = layer.workspace(batch, out, *case.inputs)
    peak, _ = _forward_peak(layer, case, batch)
    assert peak <= (batch * prod(out) + blocked) * ITEMSIZE + SLACK
    monkeypatch.undo()
    assert blocked < layer.workspace(batch, out, *case.inputs)  # one sample's columns, not the batch's


def _cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "cnncalc", "verify", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_rbf_case_runs_under_its_limit(tmp_path):
    spec = tmp_path / "rbf.yaml"
    spec.write_text(RBF_SPEC)
    allowed = _cli(spec, "--max-memory", "50MB", "--format", "json")
    assert allowed.returncode == 0, allowed.stderr
    assert json.loads(allowed.stdout)["memory_estimate"]["total"] <= 50_000_000
    refused = _cli(spec, "--max-memory", "20MB")
    assert refused.returncode == 2 and "verify would need about" in refused.stderr


def test_lrn_with_huge_size_is_quick(tmp_path):
    spec = tmp_path / "lrn.yaml"
    spec.write_text(LRN_SPEC)
    result = _cli(spec, "--max-memory", "1MB", timeout=60)
    assert result.returncode == 0, result.stderr


def test_conv_with_huge_kernel_is_refused_above_the_limit(tmp_path):
    spec = tmp_path / "conv.yaml"
    spec.write_text(CONV_SPEC.format(n=4096))
    result = _cli(spec, "--max-memory", "100MB", timeout=60)
    assert result.returncode == 2 and "verify would need about" in result.stderr
    assert "Traceback" not in result.stderr


# --- adaptive pooling's FLOPs in closed form ----------------------------------------------

def _per_position_total(length: int, out: int) -> int:
    """The definition: the sum of every window's size."""
    return sum(-(-(i + 1) * length // out) - (i * length) // out for i in range(out))


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 400), st.integers(1, 400))
def test_adaptive_window_total_is_the_per_position_sum(length, out):
    assert adaptive_window_total(length, out) == _per_position_total(length, out)


def test_huge_adaptive_output_is_counted_at_once():
    network = loads("input: [3, 8, 8]\nlayers:\n  - {type: adaptive_avgpool2d, output_size: 2147483647}\n")
    start = time.perf_counter()
    flops = summarize(network).totals.flops
    assert time.perf_counter() - start < 5  # the per-position sum would take minutes
    out = 2147483647
    visited = 3 * (8 + out - math.gcd(8, out)) ** 2
    assert flops == visited  # avg: (visited - out) adds + out divisions


# --- refusals: exit 2, never 3 ----------------------------------------------------------

LENET5 = SPECS / "lenet5.yaml"


def test_negative_seed_is_a_usage_error():
    result = _cli(LENET5, "--seed", "-1")
    assert result.returncode == 2
    assert "--seed must be a non-negative integer" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("limit", ["999999999999999999999TB", str(10**40)])
def test_huge_batch_and_limit_are_refused_by_the_machine_size(limit):
    result = _cli(LENET5, "--batch", 2**31 - 1, "--max-memory", limit)
    assert result.returncode == 2, result.stderr
    assert "all the memory there is" in result.stderr


def test_huge_limit_alone_runs():
    assert _cli(LENET5, "--max-memory", "999999999999999999999TB").returncode == 0


def _fail_allocation(*args, **kwargs):
    raise MemoryError("Unable to allocate 9.99 TiB")


def test_memory_error_in_a_layer_names_it(monkeypatch):
    monkeypatch.setattr(REGISTRY["maxpool2d"], "forward", _fail_allocation)
    with pytest.raises(UsageError) as caught:
        verify(load(str(SPECS / "mnist_cnn.yaml")))
    assert caught.value.layer == "stage1.pool"
    assert "out of memory" in caught.value.message and "--batch" in caught.value.hint


def test_memory_error_materialising_or_drawing_the_input():
    network = loads("input: [4, 6, 6]\nlayers:\n  - {name: c, type: conv2d, out_channels: 2, kernel_size: 3}\n")
    full = types.SimpleNamespace(asarray=_fail_allocation)  # a backend with no memory left
    with pytest.raises(UsageError) as caught:
        materialise(network, {INPUT: (4, 6, 6), "c": (2, 4, 4)}, full)
    assert caught.value.layer == "c"
    with pytest.raises(UsageError) as caught:
        random_input(network, full, 1)
    assert caught.value.layer == "input"


def test_memory_error_exits_2_from_the_cli():
    code = ("import sys\nfrom typer.testing import CliRunner\nfrom cnncalc.cli import app\n"
            "from cnncalc.layers import REGISTRY\n"
            "def fail(*a, **k):\n    raise MemoryError('Unable to allocate')\n"
            "REGISTRY['conv2d'].forward = fail\n"
            "r = CliRunner().invoke(app, ['verify', 'specs/lenet5.yaml'])\n"
            "print(r.exit_code)\nprint(r.output)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    code_line, *rest = proc.stdout.splitlines()
    assert code_line == "2", proc.stdout + proc.stderr
    assert "out of memory" in "\n".join(rest) and "C1" in "\n".join(rest)


# --- the namespace shim for NumPy < 2.1 and CuPy ------------------------------------------

def test_cumulative_sum_fallback_matches():
    old = types.ModuleType("old_numpy")
    for name in dir(np):
        if name != "cumulative_sum":
            setattr(old, name, getattr(np, name))
    xp = _Compat(old)
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    for axis in (0, 1, 2):
        np.testing.assert_array_equal(xp.cumulative_sum(x, axis=axis, include_initial=True),
                                      np.cumulative_sum(x, axis=axis, include_initial=True))
    case = next(c for c in layer_cases.CASES if c.type == "lrn")
    layer = layer_cases.build(case)
    x = np.random.default_rng(0).standard_normal((2, *case.inputs[0]), dtype=np.float32)
    expected = F.local_response_norm(torch.from_numpy(x), 5, 1e-2, 0.75, 2.0).numpy()
    np.testing.assert_allclose(layer.forward(Ops(xp), Params({}, {}, make=None), x), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("param", [Param((1000, 1000), GlorotUniform(1000, 1000)),
                                   Param((1000, 1000), HeNormal(1000)),
                                   Param((1000, 1000), Normal(1.0)),
                                   Param((1_000_000,), BIAS),
                                   Param((1_000_000,), SCALE),
                                   Param((1_000_000,), RUNNING_MEAN)], ids=repr)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_parameters_are_drawn_without_a_temporary(param, dtype):
    """The estimate counts each parameter once: drawing one must not hold a float64 copy."""
    rng = np.random.default_rng(0)
    tracemalloc.start()
    try:
        values = draw(rng, param, dtype)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert values.dtype == np.dtype(dtype) and values.shape == param.shape
    assert peak <= values.nbytes + 64 * 1024, (peak, values.nbytes)
