"""Every FLOPs and memory figure cnncalc prints, against references computed on the
PyTorch side (tests/torch_zoo.py), never from cnncalc's own layer code.

* conv/linear FLOPs: cnncalc's FLOPs less the bias additions equal what
  ``torch.utils.flop_counter.FlopCounterMode`` counts for the same module
  (2·M·N·K for aten.convolution / aten.mm / aten.addmm; it ignores biases).
  FlopCounterMode sees LeNet-5's sparse C3 (its twin runs one F.conv2d per
  connection row) but not the RBF output layer (sub, pow, sum: no matmul) nor
  the subsampling layers (avg_pool2d): those are checked by the README rules.
* per-layer FLOPs of every zoo layer: the README's rule table ("Conventions: what
  each figure counts"), re-implemented here as ``README_FLOPS`` and evaluated on the
  torch module (kernel, bias, affine, weight tensors) and the input/output shapes
  that our own forward hooks record on the twin.
* memory: activation memory = bytes of every traced output; parameter memory =
  bytes of torch's parameters plus BN running mean/var; batch and dtype scaling.
* batch scaling of MACs and FLOPs (×N exactly), also against FlopCounterMode.

Layers are paired by position: summary.layers[i] <-> i-th executed leaf module of
the twin (the same pairing as tests/test_zoo.py), with a type/module check so a rule
is never evaluated on the wrong module. For the torchvision networks the twin is
torchvision's model and the pairing is tests/graph_twin.py's: summary.layers[i] <-> the
i-th tensor op of the torch.fx graph, a leaf module or a function (add, mul, cat, chunk,
channel_shuffle, mean, interpolate, layer scale), described by graph_twin's records.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import cnncalc
from graph_twin import (AddOp, CatOp, ChannelShuffleOp, FlattenOp, InterpolateOp, MeanOp, MulOp, PieceOp, ScaleOp,
                        pair_up)
from torch_zoo import (RBF, TORCH_ZOO, Add, Concat, Crop, LayerTrace, Permute, SparseConv2d, Subsampling, trace,
                      traced_modules)
from torchvision_models import TORCHVISION_ZOO, torchvision, twin_ops

from helpers import SPECS, ZOO

FLOAT32_BYTES = torch.tensor([], dtype=torch.float32).element_size()


# --------------------------------------------------------------------------
# Our own hooks: the module, input shapes and output of every executed leaf
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    module: nn.Module
    name: str  # FlopCounterMode's name for the module: "<RootClass>.<fqn>"
    inputs: tuple  # per-sample input shapes (batch axis removed), one per tensor argument
    output: tuple  # per-sample output shape
    output_bytes: int  # bytes of the whole output tensor (all of the batch)


def run_twin(model: nn.Module, shape, dtype, batch: int = 1):
    """One forward pass (torch_zoo.trace's own) under FlopCounterMode, with our hooks
    recording each leaf call. Returns (calls, torch_zoo trace, flop counts per module)."""
    root = type(model).__name__
    names = {m: f"{root}.{n}" for n, m in model.named_modules() if n}
    calls: list[Call] = []

    def hook(module, args, output):
        calls.append(Call(
            module=module, name=names[module],
            inputs=tuple(tuple(a.shape[1:]) for a in args if isinstance(a, torch.Tensor)),
            output=tuple(output.shape[1:]),
            output_bytes=output.numel() * output.element_size()))

    handles = [m.register_forward_hook(hook) for m in set(traced_modules(model))]
    try:
        with FlopCounterMode(display=False) as counter:
            layers = trace(model, shape, dtype, batch=batch)
    finally:
        for handle in handles:
            handle.remove()
    counts = {name: sum(ops.values()) for name, ops in counter.get_flop_counts().items()}
    assert counter.get_total_flops() == counts.get("Global", 0)
    return calls, layers, counts


def run_torchvision_twin(network, summary, stem: str):
    """The torchvision twin's ops paired with the spec's rows (graph_twin.pair_up), as the
    same (calls, layers, counts, model) run_twin gives; FlopCounterMode counts one forward
    pass of the model itself."""
    model, ops = twin_ops(stem)
    pair_up(network, summary, ops)
    root = type(model).__name__
    calls = [Call(module=op.module, name=f"{root}.{op.where}", inputs=op.input_shapes, output=op.output_shape,
                  output_bytes=op.output_bytes) for op in ops]
    layers = [LayerTrace(kind=op.kind, output_shape=op.output_shape, params=op.params, macs=op.macs) for op in ops]
    _, shape, dtype = TORCHVISION_ZOO[stem]
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.randn(1, *shape, dtype=dtype))
    counts = {name: sum(ops.values()) for name, ops in counter.get_flop_counts().items()}
    return calls, layers, counts, model


# --------------------------------------------------------------------------
# The README's FLOPs rules, evaluated on the torch side
# --------------------------------------------------------------------------


def numel(shape) -> int:
    return math.prod(shape)


def _sizes(value, rank: int) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * rank


def _bias_adds(module: nn.Module, out) -> int:
    """One addition per output element where the torch module has a bias."""
    return numel(out) if getattr(module, "bias", None) is not None else 0


def _weighted_sum_macs(module: nn.Module, out) -> int:
    """MACs from torch's own weight tensors: every stored weight is used once per
    output position (conv) or per leading position (linear, rbf)."""
    if isinstance(module, SparseConv2d):
        return sum(w.numel() for w in module.weight) * numel(out[1:])
    if isinstance(module, nn.modules.conv._ConvTransposeNd):  # a _ConvNd too, but counted per input position
        raise TypeError(f"{type(module).__name__}: use _conv_transpose")
    if isinstance(module, nn.modules.conv._ConvNd):
        return module.weight.numel() * numel(out[1:])
    if isinstance(module, (nn.Linear, RBF)):
        return module.weight.numel() * (numel(out) // module.out_features)
    raise TypeError(type(module).__name__)


def _conv_linear(module, ins, out):  # 2·MACs + out (bias)
    return 2 * _weighted_sum_macs(module, out) + _bias_adds(module, out)


def _conv_transpose(module, ins, out):  # 2·MACs + out (bias), MACs = L_in · C_in · C_out/groups · k
    """Transposed convolution: every input value times every weight of its group, so the
    stored weight [C_in, C_out/groups, *k] is used once per input position."""
    (x,) = ins
    return 2 * module.weight.numel() * numel(x[1:]) + _bias_adds(module, out)


def _rbf(module, ins, out):  # 3·MACs: subtract, square, accumulate
    return 3 * _weighted_sum_macs(module, out)


def _maxpool(module, ins, out):  # out·(k − 1) comparisons
    return numel(out) * (numel(_sizes(module.kernel_size, len(out) - 1)) - 1)


def _avgpool(module, ins, out):  # out·k: k − 1 adds, 1 divide
    return numel(out) * numel(_sizes(module.kernel_size, len(out) - 1))


def _global_max(module, ins, out):  # C·(S − 1)
    (x,) = ins
    return x[0] * (numel(x[1:]) - 1)


def _global_avg(module, ins, out):  # C·S
    (x,) = ins
    return x[0] * numel(x[1:])


def _window_total(length: int, size: int) -> int:
    """Σ over the adaptive windows [⌊iL/O⌋, ⌈(i+1)L/O⌉) of their sizes."""
    return sum(-(-(i + 1) * length // size) - (i * length) // size for i in range(size))


def _adaptive_avg(module, ins, out):  # C·ΠΣw
    (x,) = ins
    return x[0] * numel(_window_total(n, o) for n, o in zip(x[1:], out[1:]))


def _adaptive_max(module, ins, out):  # C·ΠΣw − out
    return _adaptive_avg(module, ins, out) - numel(out)


def _subsampling(module, ins, out):  # out·(k + 1): window sum, ×coefficient, +bias
    return numel(out) * (numel(_sizes(module.kernel_size, len(out) - 1)) + 1)


def _per_element(ops: int):
    return lambda module, ins, out: numel(out) * ops


def _softmax(module, ins, out):  # (out/n)·(5n − 2) along the axis of length n
    (x,) = ins
    axis = module.dim - 1 if module.dim >= 0 else module.dim  # torch's dim counts the batch axis
    n = x[axis]
    return numel(x) // n * (5 * n - 2)


def _batchnorm(module, ins, out):  # out·4 (2 without affine) + 2C
    return numel(out) * (4 if module.affine else 2) + 2 * module.num_features


def _layer_norm(module, ins, out):
    """out·7 + 2G (6 without bias, 5 without affine), G = out / n groups of n elements
    normalised together: mean n, deviations n, variance 2n, +eps and sqrt 2, divide n,
    scale and shift 2n."""
    n = numel(module.normalized_shape)
    per_element = 5 if not module.elementwise_affine else 6 if module.bias is None else 7
    return numel(out) * per_element + 2 * (numel(out) // n)


def _gelu(module, ins, out):  # out·5 (approximate tanh: 9)
    return numel(out) * (9 if module.approximate == "tanh" else 5)


def _add(module, ins, out):  # (inputs − 1)·out; mul the same
    return (len(ins) - 1) * numel(out)


def _mean(module, ins, out):  # input elements: n − 1 adds and 1 divide per output of n inputs
    (x,) = ins
    return numel(x)


# upsampling: the weighted sum of n^d neighbours nested axis by axis, (2n−1)(n^d−1)/(n−1)
# per output element (n taps per axis: 2 for the linear modes, 4 bicubic; d spatial axes)
UPSAMPLE_TAPS = {"nearest": 1, "linear": 2, "bilinear": 2, "trilinear": 2, "bicubic": 4}


def _upsample(module, ins, out):
    n, d = UPSAMPLE_TAPS[module.mode], len(out) - 1
    return 0 if n == 1 else numel(out) * (2 * n - 1) * (n ** d - 1) // (n - 1)


def _free(module, ins, out):
    return 0


# cnncalc layer type -> (torch modules it may pair with, README FLOPs rule)
README_FLOPS = {
    "conv1d": ((nn.Conv1d,), _conv_linear),
    "conv2d": ((nn.Conv2d, SparseConv2d), _conv_linear),  # SparseConv2d: conv with `connections`
    "conv3d": ((nn.Conv3d,), _conv_linear),
    "conv_transpose2d": ((nn.ConvTranspose2d,), _conv_transpose),
    "linear": ((nn.Linear,), _conv_linear),
    "rbf": ((RBF,), _rbf),
    "subsampling": ((Subsampling,), _subsampling),
    "maxpool1d": ((nn.MaxPool1d,), _maxpool),
    "maxpool2d": ((nn.MaxPool2d,), _maxpool),
    "avgpool1d": ((nn.AvgPool1d,), _avgpool),
    "avgpool2d": ((nn.AvgPool2d,), _avgpool),
    "global_max_pool": ((nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d), _global_max),
    "global_avg_pool": ((nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d), _global_avg),
    "adaptive_avgpool1d": ((nn.AdaptiveAvgPool1d,), _adaptive_avg),
    "adaptive_avgpool2d": ((nn.AdaptiveAvgPool2d,), _adaptive_avg),
    "adaptive_avgpool3d": ((nn.AdaptiveAvgPool3d,), _adaptive_avg),
    "adaptive_maxpool1d": ((nn.AdaptiveMaxPool1d,), _adaptive_max),
    "adaptive_maxpool2d": ((nn.AdaptiveMaxPool2d,), _adaptive_max),
    "relu": ((nn.ReLU,), _per_element(1)),
    "sigmoid": ((nn.Sigmoid,), _per_element(4)),
    "tanh": ((nn.Tanh,), _per_element(1)),
    "hardswish": ((nn.Hardswish,), _per_element(5)),  # x·min(max(x+3, 0), 6)/6
    "hardsigmoid": ((nn.Hardsigmoid,), _per_element(4)),  # min(max(x+3, 0), 6)/6
    "silu": ((nn.SiLU,), _per_element(5)),
    "gelu": ((nn.GELU,), _gelu),
    "softmax": ((nn.Softmax,), _softmax),
    "batchnorm2d": ((nn.BatchNorm2d,), _batchnorm),
    "batchnorm3d": ((nn.BatchNorm3d,), _batchnorm),
    "layer_norm": ((nn.LayerNorm,), _layer_norm),  # torchvision's LayerNorm2d is one
    "scale": ((ScaleOp,), _per_element(1)),  # ConvNeXt's layer scale: one multiply
    "embedding": ((nn.Embedding,), _free),
    "flatten": ((nn.Flatten, FlattenOp), _free),
    "permute": ((Permute, torchvision.ops.misc.Permute), _free),
    "dropout": ((nn.Dropout,), _free),
    "stochastic_depth": ((torchvision.ops.StochasticDepth,), _free),
    "concat": ((Concat, CatOp), _free),
    "crop": ((Crop,), _free),
    "chunk": ((PieceOp,), _free),
    "channel_shuffle": ((ChannelShuffleOp,), _free),
    "mean": ((MeanOp,), _mean),
    "upsample": ((InterpolateOp,), _upsample),
    "add": ((Add, AddOp), _add),
    "mul": ((MulOp,), _add),
}

# what FlopCounterMode counts (as 2·MACs; for a transposed convolution it counts the input's
# positions, as the README's rule does)
WEIGHTED_SUM_TYPES = {"conv1d", "conv2d", "conv3d", "conv_transpose2d", "linear"}


# --------------------------------------------------------------------------
# One twin per zoo spec, built and run once per module
# --------------------------------------------------------------------------


@dataclass
class Pair:
    stem: str
    network: object
    summary: cnncalc.Summary
    model: nn.Module
    calls: list
    layers: list  # torch_zoo.LayerTrace
    counts: dict  # FlopCounterMode: module name -> FLOPs (and "Global")


@pytest.fixture(scope="module", params=ZOO)
def pair(request) -> Pair:
    stem = request.param
    network = cnncalc.load(str(SPECS / f"{stem}.yaml"))
    summary = cnncalc.summarize(network)
    if stem in TORCHVISION_ZOO:
        calls, layers, counts, model = run_torchvision_twin(network, summary, stem)
    else:
        build, shape, dtype = TORCH_ZOO[stem]
        torch.manual_seed(0)
        model = build()
        calls, layers, counts = run_twin(model, shape, dtype)
    # the pairing every test below relies on
    assert len(summary.layers) == len(layers) == len(calls), (stem, len(summary.layers), len(layers), len(calls))
    for record, traced, call in zip(summary.layers, layers, calls):
        assert tuple(record.output_shape) == traced.output_shape == call.output, (stem, record.name)
        modules, _ = README_FLOPS[record.type]
        assert isinstance(call.module, modules), f"{stem}: {record.name} ({record.type}) paired with {call.name}"
    return Pair(stem, network, summary, model, calls, layers, counts)


def _zip(p: Pair):
    return zip(p.summary.layers, p.calls)


def test_readme_rules_cover_every_zoo_layer_type():
    seen = {r.type for stem in ZOO for r in cnncalc.summarize(cnncalc.load(str(SPECS / f"{stem}.yaml"))).layers}
    assert seen <= set(README_FLOPS), sorted(seen - set(README_FLOPS))


# --------------------------------------------------------------------------
# 1. conv/linear FLOPs == torch.utils.flop_counter
# --------------------------------------------------------------------------


def test_conv_linear_flops_match_flop_counter_per_layer(pair):
    """Each conv/linear layer: cnncalc FLOPs − bias adds == FlopCounterMode's count for
    that torch module == 2·MACs."""
    bad = []
    for record, call in _zip(pair):
        if record.type not in WEIGHTED_SUM_TYPES:
            continue
        ours = record.flops - _bias_adds(call.module, call.output)
        theirs = pair.counts.get(call.name, 0)
        if not ours == theirs == 2 * record.macs:
            bad.append((record.name, record.flops, ours, theirs, 2 * record.macs))
    assert not bad, f"{pair.stem}: (layer, flops, flops - bias, flop_counter, 2*MACs): {bad}"


def test_conv_linear_flops_match_flop_counter_total(pair):
    """FlopCounterMode's whole-forward total == Σ 2·MACs over cnncalc's conv/linear
    layers: it counts nothing else in these twins (RBF, subsampling, pooling,
    normalisation and activations are invisible to it)."""
    weighted = sum(r.flops - _bias_adds(c.module, c.output) for r, c in _zip(pair) if r.type in WEIGHTED_SUM_TYPES)
    assert pair.counts["Global"] == weighted == 2 * sum(r.macs for r in pair.summary.layers if r.type != "rbf")


def test_flop_counter_blind_spots_are_what_we_think():
    """LeNet-5: FlopCounterMode counts the sparse C3 (16 small F.conv2d calls) in full,
    and nothing for the RBF output or the subsampling layers — which is why the RBF is
    left out of the comparison above and checked by its README rule instead."""
    build, shape, dtype = TORCH_ZOO["lenet5"]
    calls, _, counts = run_twin(build(), shape, dtype)
    summary = cnncalc.summarize(cnncalc.load(str(SPECS / "lenet5.yaml")))
    by_kind = {type(c.module).__name__: c for c in calls}
    c3 = summary.layer("C3")
    assert counts[by_kind["SparseConv2d"].name] == 2 * c3.macs == 2 * 100 * 60 * 25
    assert counts.get(by_kind["RBF"].name, 0) == 0
    assert summary.layer("OUTPUT").macs == 840 and summary.layer("OUTPUT").flops == 3 * 840
    assert all(counts.get(c.name, 0) == 0 for c in calls if isinstance(c.module, Subsampling))
    assert counts["Global"] == 2 * (summary.totals.macs - 840)


# --------------------------------------------------------------------------
# 2. every layer's FLOPs == the README rule, evaluated on the torch side
# --------------------------------------------------------------------------


def test_every_layer_flops_follow_readme_rule(pair):
    bad = []
    for record, call in _zip(pair):
        _, rule = README_FLOPS[record.type]
        expected = rule(call.module, call.inputs, call.output)
        if record.flops != expected:
            bad.append((record.name, record.type, record.flops, expected))
    assert not bad, f"{pair.stem}: (layer, type, cnncalc flops, README rule): {bad}"


def test_total_flops_is_sum_of_readme_rules(pair):
    expected = sum(README_FLOPS[r.type][1](c.module, c.inputs, c.output) for r, c in _zip(pair))
    assert pair.summary.totals.flops == expected


# --------------------------------------------------------------------------
# 3. memory
# --------------------------------------------------------------------------


def _param_bytes(model: nn.Module) -> int:
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    running = sum(b.numel() * b.element_size() for name, b in model.named_buffers()
                  if name.endswith(("running_mean", "running_var")))
    return params + running


def test_activation_memory_is_every_traced_output(pair):
    assert pair.summary.dtype == "float32"
    torch_bytes = sum(c.output_bytes for c in pair.calls)  # batch 1, as torch allocated them
    assert pair.summary.totals.activation_memory == torch_bytes
    assert pair.summary.totals.activation_memory == FLOAT32_BYTES * sum(numel(t.output_shape) for t in pair.layers)


def test_param_memory_is_parameters_and_running_stats(pair):
    running = sum(b.numel() for name, b in pair.model.named_buffers() if name.endswith(("running_mean", "running_var")))
    params = sum(p.numel() for p in pair.model.parameters())
    assert pair.summary.totals.param_memory == _param_bytes(pair.model) == FLOAT32_BYTES * (params + running)


def test_batch_scales_activation_memory_only(pair):
    one, three = pair.summary.totals, cnncalc.summarize(pair.network, batch=3).totals
    assert three.activation_memory == 3 * one.activation_memory
    assert (three.param_memory, three.params, three.buffers) == (one.param_memory, one.params, one.buffers)


@pytest.mark.parametrize("stem", ["lenet5", "mnist_cnn", "textcnn"])
def test_batched_activation_memory_matches_torch(stem):
    build, shape, dtype = TORCH_ZOO[stem]
    calls, _, _ = run_twin(build(), shape, dtype, batch=3)
    summary = cnncalc.summarize(cnncalc.load(str(SPECS / f"{stem}.yaml")), batch=3)
    assert summary.totals.activation_memory == sum(c.output_bytes for c in calls)


TINY = """\
name: tiny
input: [3, 8, 8]
dtype: {dtype}
layers:
  - {{name: conv, type: conv2d, out_channels: 4, kernel_size: 3, padding: 1}}
  - {{name: bn, type: batchnorm2d}}
  - {{name: act, type: relu}}
  - {{name: pool, type: maxpool2d, kernel_size: 2}}
  - {{name: flat, type: flatten}}
  - {{name: fc, type: linear, out_features: 5}}
"""


def tiny_twin() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 5))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_dtype_sets_bytes_per_element(dtype):
    """The spec's dtype: memory in that dtype's bytes, as torch allocates them
    (float64 = 2 x float32 exactly); MACs and FLOPs do not depend on it."""
    torch_dtype = getattr(torch, dtype)
    model = tiny_twin().to(torch_dtype)
    calls, _, _ = run_twin(model, (3, 8, 8), torch_dtype, batch=2)
    network = cnncalc.loads(TINY.format(dtype=dtype))
    summary = cnncalc.summarize(network, batch=2)
    reference = cnncalc.summarize(cnncalc.loads(TINY.format(dtype="float32")), batch=2)
    width = torch.tensor([], dtype=torch_dtype).element_size()
    assert summary.dtype == dtype
    assert summary.totals.param_memory == _param_bytes(model)
    assert summary.totals.activation_memory == sum(c.output_bytes for c in calls)
    assert summary.totals.param_memory * FLOAT32_BYTES == reference.totals.param_memory * width
    assert summary.totals.activation_memory * FLOAT32_BYTES == reference.totals.activation_memory * width
    assert (summary.totals.macs, summary.totals.flops) == (reference.totals.macs, reference.totals.flops)


def test_float64_doubles_zoo_memory():
    text = (SPECS / "resnet18.yaml").read_text()
    assert "dtype:" not in text  # the default, float32
    f32 = cnncalc.summarize(cnncalc.loads(text)).totals
    f64 = cnncalc.summarize(cnncalc.loads("dtype: float64\n" + text)).totals
    assert f64.param_memory == 2 * f32.param_memory
    assert f64.activation_memory == 2 * f32.activation_memory
    assert (f64.params, f64.macs, f64.flops) == (f32.params, f32.macs, f32.flops)


# --------------------------------------------------------------------------
# 4. batch scaling of MACs and FLOPs
# --------------------------------------------------------------------------


@pytest.mark.parametrize("stem", ZOO)
def test_batch_scales_macs_and_flops_exactly(stem):
    network = cnncalc.load(str(SPECS / f"{stem}.yaml"))
    one, four = cnncalc.summarize(network), cnncalc.summarize(network, batch=4)
    assert [(r.macs * 4, r.flops * 4) for r in one.layers] == [(r.macs, r.flops) for r in four.layers]
    assert (four.totals.macs, four.totals.flops) == (4 * one.totals.macs, 4 * one.totals.flops)
    assert four.batch == 4


@pytest.mark.parametrize("stem", ["lenet", "mnist_cnn", "textcnn"])
def test_batched_flops_match_flop_counter(stem):
    """FlopCounterMode at batch 4 == cnncalc --batch 4's conv/linear FLOPs less 4x the bias adds."""
    build, shape, dtype = TORCH_ZOO[stem]
    calls, _, counts = run_twin(build(), shape, dtype, batch=4)
    four = cnncalc.summarize(cnncalc.load(str(SPECS / f"{stem}.yaml")), batch=4)
    weighted = sum(r.flops - 4 * _bias_adds(c.module, c.output)
                   for r, c in zip(four.layers, calls) if r.type in WEIGHTED_SUM_TYPES)
    assert counts["Global"] == weighted == 2 * four.totals.macs


# --------------------------------------------------------------------------
# What the CLI prints is these figures
# --------------------------------------------------------------------------


def test_cli_json_prints_the_checked_figures():
    from typer.testing import CliRunner

    from cnncalc.cli import app

    spec = str(SPECS / "resnet18.yaml")
    result = CliRunner().invoke(app, ["summary", spec, "--batch", "3", "--format", "json"])
    printed = json.loads(result.stdout)
    # expect: figures are per sample: the batch-1 block still holds at --batch 3
    assert printed["expect"] and all(outcome["ok"] for outcome in printed["expect"])
    assert result.exit_code == 0, result.output
    expected = cnncalc.summarize(cnncalc.load(spec), batch=3).to_dict()
    assert printed["totals"] == expected["totals"]
    assert [(r["name"], r["macs"], r["flops"]) for r in printed["layers"]] == \
        [(r["name"], r["macs"], r["flops"]) for r in expected["layers"]]


# --------------------------------------------------------------------------
# The same README rules off the zoo's easy cases: uneven adaptive windows,
# dilation, groups, ceil_mode, no bias
# --------------------------------------------------------------------------

ODD = """\
name: odd
input: [4, 23, 19]
layers:
  - {name: conv, type: conv2d, out_channels: 6, kernel_size: [3, 2], stride: 2, padding: 1, dilation: 2, groups: 2, bias: false}
  - {name: mp, type: maxpool2d, kernel_size: 3, stride: 2, padding: 1, dilation: 2, ceil_mode: true}
  - {name: ap, type: adaptive_avgpool2d, output_size: [3, 2]}
  - {name: am, type: adaptive_maxpool2d, output_size: [2, null]}
  - {name: flat, type: flatten}
  - {name: fc, type: linear, out_features: 7}
"""


def odd_twin() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(4, 6, (3, 2), stride=2, padding=1, dilation=2, groups=2, bias=False),
        nn.MaxPool2d(3, 2, 1, dilation=2, ceil_mode=True),
        nn.AdaptiveAvgPool2d((3, 2)), nn.AdaptiveMaxPool2d((2, None)),
        nn.Flatten(), nn.Linear(6 * 2 * 2, 7))


def test_readme_rules_off_the_zoo():
    calls, _, counts = run_twin(odd_twin(), (4, 23, 19), torch.float32)
    summary = cnncalc.summarize(cnncalc.loads(ODD))
    assert [tuple(r.output_shape) for r in summary.layers] == [c.output for c in calls]
    # overlapping adaptive windows really happen: 5 -> 3 visits 2+3+2, 5 -> 2 visits 3+3, 3 -> 2 visits 2+2
    assert [c.inputs[0][1:] + c.output[1:] for c in calls[2:4]] == [(5, 5, 3, 2), (3, 2, 2, 2)]
    assert summary.layer("ap").flops == 6 * 7 * 6 and summary.layer("am").flops == 6 * 4 * 2 - 6 * 2 * 2
    for record, call in zip(summary.layers, calls):
        modules, rule = README_FLOPS[record.type]
        assert isinstance(call.module, modules)
        assert record.flops == rule(call.module, call.inputs, call.output), record.name
        if record.type in WEIGHTED_SUM_TYPES:
            assert record.flops - _bias_adds(call.module, call.output) == counts[call.name] == 2 * record.macs
    assert summary.totals.activation_memory == sum(c.output_bytes for c in calls)
