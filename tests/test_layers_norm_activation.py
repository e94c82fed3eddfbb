"""Normalisation, activations and the small per-element layers of issue 9: layer_norm,
group_norm, instance_norm, batchnorm3d; hardswish, hardsigmoid, mish, elu, selu,
softplus, gelu's tanh approximation; dropout1d/2d/3d, stochastic_depth; scale (ConvNeXt's
layer scale); mean over chosen axes.

The family's cases (families.py) run in the generic tests: TORCH_CASES and TORCH_ERRORS in
test_layers_torch.py (shapes, parameters and buffers against the torch module; refusals),
FORWARD_CASES in test_verify_layers.py (numerics on identical weights, executed MACs, on
NumPy and array-api-strict) and test_verify_memory.py (the workspace bound), PARAM_LAWS in
test_verify_params.py. Here: FLOPs against the README's rules, written out again below
(torch.utils.flop_counter counts none of these ops: a test says so), the refusals where
PyTorch only warns or goes on, and hostile input through the CLI.
"""
from __future__ import annotations

import math
import time

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import cnncalc
from cnncalc import SpecError

from case_types import ForwardCase, TorchCase, fn
from helpers import refused_at, verifies

try:  # the twins torchvision defines, when it is installed; else the same code, copied
    from torchvision.models.convnext import LayerNorm2d as _LayerNorm2d
    from torchvision.ops import StochasticDepth
except Exception:  # not installed, or not loadable beside this torch  # pragma: no cover
    _LayerNorm2d = None

    class StochasticDepth(nn.Module):
        """torchvision.ops.StochasticDepth (0.28): the checks, and the identity at inference."""

        def __init__(self, p: float, mode: str):
            super().__init__()
            if p < 0.0 or p > 1.0:
                raise ValueError(f"drop probability has to be between 0 and 1, but got {p}")
            if mode not in ["batch", "row"]:
                raise ValueError(f"mode has to be either 'batch' or 'row', but got {mode}")
            self.p, self.mode = p, mode

        def forward(self, x):
            if not self.training or self.p == 0.0:
                return x
            raise NotImplementedError("training mode is not needed here")


class ChannelsLayerNorm(nn.LayerNorm):
    """torchvision's LayerNorm2d (ConvNeXt) for any rank: the channel axis moved last,
    normalised, moved back."""

    def forward(self, x):
        x = F.layer_norm(x.movedim(1, -1), self.normalized_shape, self.weight, self.bias, self.eps)
        return x.movedim(-1, 1)


def layer_norm_2d(channels: int, **kwargs) -> nn.Module:
    return (_LayerNorm2d or ChannelsLayerNorm)(channels, **kwargs)


class LayerScale(nn.Module):
    """A per-channel factor: torchvision's CNBlock layer_scale, held as [C] (CNBlock holds
    [C, 1, 1]: the same count, test_scale_counts_what_cnblock_holds)."""

    def __init__(self, channels: int, init: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.full((channels,), init))

    def forward(self, x):
        return x * self.weight.view(-1, *(1,) * (x.dim() - 2))


def channels_last_norm(xs, p, eps=1e-5):
    x = xs[0].movedim(1, -1)
    return F.layer_norm(x, x.shape[-1:], p.get("weight"), p.get("bias"), eps).movedim(-1, 1)


def per_channel(values, x):
    return values.view(-1, *(1,) * (x.dim() - 2))


# ---------------------------------------------------------------------------
# cases for the generic tests
# ---------------------------------------------------------------------------

ACTIVATIONS = {  # type: (spec arguments, torch module)
    "hardswish": ({}, nn.Hardswish),
    "hardsigmoid": ({}, nn.Hardsigmoid),
    "mish": ({}, nn.Mish),
    "elu": ({"alpha": 0.5}, lambda: nn.ELU(0.5)),
    "selu": ({}, nn.SELU),
    "softplus": ({"beta": 2, "threshold": 5}, lambda: nn.Softplus(2, 5)),
    "gelu": ({"approximate": "tanh"}, lambda: nn.GELU(approximate="tanh")),
}

TORCH_CASES = [
    # --- layer norm ---
    TorchCase("layer_norm-channels", (8, 5, 6), {"type": "layer_norm", "axis": "channels", "eps": 0.001},
              lambda: layer_norm_2d(8, eps=1e-3)),
    TorchCase("layer_norm-channels-1d", (8, 7), {"type": "layer_norm", "axis": "channels"},
              lambda: ChannelsLayerNorm(8)),
    TorchCase("layer_norm-channels-given", (8, 5, 6),
              {"type": "layer_norm", "axis": "channels", "normalized_shape": [8], "bias": False},
              lambda: ChannelsLayerNorm(8, bias=False)),
    TorchCase("layer_norm-default", (4, 10), {"type": "layer_norm"}, lambda: nn.LayerNorm(10)),
    TorchCase("layer_norm-1d", (10,), {"type": "layer_norm"}, lambda: nn.LayerNorm(10)),
    TorchCase("layer_norm-axes2", (3, 4, 5), {"type": "layer_norm", "axes": 2}, lambda: nn.LayerNorm((4, 5))),
    TorchCase("layer_norm-all-axes", (3, 4, 5), {"type": "layer_norm", "axes": 3}, lambda: nn.LayerNorm((3, 4, 5))),
    TorchCase("layer_norm-normalized_shape", (3, 4, 5), {"type": "layer_norm", "normalized_shape": [4, 5]},
              lambda: nn.LayerNorm([4, 5])),
    TorchCase("layer_norm-no-affine", (4, 10), {"type": "layer_norm", "elementwise_affine": False},
              lambda: nn.LayerNorm(10, elementwise_affine=False)),
    TorchCase("layer_norm-no-bias", (4, 10), {"type": "layer_norm", "bias": False},
              lambda: nn.LayerNorm(10, bias=False)),
    # --- group norm ---
    TorchCase("group_norm", (8, 5, 5), {"type": "group_norm", "num_groups": 4}, lambda: nn.GroupNorm(4, 8)),
    TorchCase("group_norm-given", (8, 5, 5), {"type": "group_norm", "num_groups": 2, "num_channels": 8, "eps": 1e-3},
              lambda: nn.GroupNorm(2, 8, eps=1e-3)),
    TorchCase("group_norm-no-affine", (6, 9), {"type": "group_norm", "num_groups": 3, "affine": False},
              lambda: nn.GroupNorm(3, 6, affine=False)),
    TorchCase("group_norm-1d", (6,), {"type": "group_norm", "num_groups": 2}, lambda: nn.GroupNorm(2, 6)),
    TorchCase("group_norm-3d", (8, 2, 3, 4), {"type": "group_norm", "num_groups": 8}, lambda: nn.GroupNorm(8, 8)),
    # --- instance norm: one type, PyTorch's 1d/2d/3d chosen by the input's rank ---
    TorchCase("instance_norm-1d", (4, 9), {"type": "instance_norm"}, lambda: nn.InstanceNorm1d(4)),
    TorchCase("instance_norm-2d-affine", (4, 5, 6), {"type": "instance_norm", "affine": True, "num_features": 4},
              lambda: nn.InstanceNorm2d(4, affine=True)),
    TorchCase("instance_norm-3d-tracked", (4, 3, 4, 5), {"type": "instance_norm", "track_running_stats": True},
              lambda: nn.InstanceNorm3d(4, track_running_stats=True)),
    TorchCase("instance_norm-2d-tracked-affine", (4, 5, 6),
              {"type": "instance_norm", "track_running_stats": True, "affine": True, "momentum": 0.2},
              lambda: nn.InstanceNorm2d(4, affine=True, track_running_stats=True, momentum=0.2)),
    # --- batch norm 3-D ---
    TorchCase("batchnorm3d", (6, 3, 4, 5), {"type": "batchnorm3d"}, lambda: nn.BatchNorm3d(6)),
    TorchCase("batchnorm3d-no-affine", (6, 3, 4, 5), {"type": "batchnorm3d", "affine": False, "eps": 1e-3},
              lambda: nn.BatchNorm3d(6, affine=False, eps=1e-3)),
    # --- activations ---
    *[TorchCase(f"{name}-{len(shape)}d", shape, {"type": name, **args}, module)
      for name, (args, module) in ACTIVATIONS.items() for shape in [(7,), (3, 5, 6)]],
    TorchCase("gelu-none", (3, 5), {"type": "gelu", "approximate": "none"}, lambda: nn.GELU("none")),
    TorchCase("elu-default", (3, 5), {"type": "elu"}, nn.ELU),
    TorchCase("softplus-default", (3, 5), {"type": "softplus"}, nn.Softplus),
    # --- regularisers: identities at inference ---
    TorchCase("dropout1d", (4, 9), {"type": "dropout1d", "p": 0.2}, lambda: nn.Dropout1d(0.2)),
    TorchCase("dropout2d", (4, 5, 6), {"type": "dropout2d"}, nn.Dropout2d),
    TorchCase("dropout3d", (4, 3, 5, 6), {"type": "dropout3d", "p": 0.1}, lambda: nn.Dropout3d(0.1)),
    TorchCase("stochastic_depth-row", (4, 5, 6), {"type": "stochastic_depth", "p": 0.1},
              lambda: StochasticDepth(0.1, "row")),
    TorchCase("stochastic_depth-batch", (10,), {"type": "stochastic_depth", "p": 0.5, "mode": "batch"},
              lambda: StochasticDepth(0.5, "batch")),
    # --- scale ---
    TorchCase("scale", (8, 5, 5), {"type": "scale", "init": 0.001}, lambda: LayerScale(8, 1e-3)),
    TorchCase("scale-1d", (12,), {"type": "scale", "num_features": 12}, lambda: LayerScale(12)),
    TorchCase("scale-3d", (3, 2, 4, 5), {"type": "scale"}, lambda: LayerScale(3)),
    # --- mean ---
    TorchCase("mean-positions", (8, 5, 6), {"type": "mean", "axes": [1, 2]}, fn(lambda x: x.mean([2, 3]))),
    TorchCase("mean-keepdims", (8, 5, 6), {"type": "mean", "axes": [2, 1], "keepdims": True},
              fn(lambda x: x.mean([3, 2], keepdim=True))),
    TorchCase("mean-channels", (8, 5, 6), {"type": "mean", "axes": [0]}, fn(lambda x: x.mean([1]))),
    TorchCase("mean-negative", (8, 5, 6), {"type": "mean", "axes": [-1]}, fn(lambda x: x.mean([-1]))),
    TorchCase("mean-3d", (4, 3, 5, 6), {"type": "mean", "axes": [-3, -2, -1]}, fn(lambda x: x.mean([-3, -2, -1]))),
    TorchCase("mean-all-keep", (4, 5), {"type": "mean", "axes": [0, 1], "keepdims": True},
              fn(lambda x: x.mean([1, 2], keepdim=True))),
]

TORCH_ERRORS = [
    TorchCase("layer_norm-shape-mismatch", (4, 5, 6), {"type": "layer_norm", "normalized_shape": [5]},
              lambda: nn.LayerNorm(5)),
    TorchCase("layer_norm-shape-longer-than-input", (5, 6), {"type": "layer_norm", "normalized_shape": [2, 5, 6]},
              lambda: nn.LayerNorm([2, 5, 6])),
    TorchCase("layer_norm-axes-beyond-input", (5, 6), {"type": "layer_norm", "axes": 3},
              lambda: nn.LayerNorm([2, 5, 6])),
    TorchCase("layer_norm-channels-mismatch", (4, 5, 5), {"type": "layer_norm", "axis": "channels",
                                                          "normalized_shape": [3]},
              lambda: layer_norm_2d(3)),
    TorchCase("group_norm-indivisible", (6, 4, 4), {"type": "group_norm", "num_groups": 4},
              lambda: nn.GroupNorm(4, 6)),
    TorchCase("group_norm-channels", (8, 4, 4), {"type": "group_norm", "num_groups": 2, "num_channels": 6},
              lambda: nn.GroupNorm(2, 6)),
    TorchCase("instance_norm-rank", (4, 3, 3, 3, 3), {"type": "instance_norm"}, lambda: nn.InstanceNorm3d(4)),
    TorchCase("instance_norm-one-position", (4, 1, 1), {"type": "instance_norm"}, lambda: nn.InstanceNorm2d(4)),
    TorchCase("instance_norm-features", (4, 5, 5), {"type": "instance_norm", "affine": True, "num_features": 3},
              lambda: nn.InstanceNorm2d(3, affine=True)),
    TorchCase("batchnorm3d-rank", (4, 5, 5), {"type": "batchnorm3d"}, lambda: nn.BatchNorm3d(4)),
    TorchCase("batchnorm3d-features", (4, 2, 5, 5), {"type": "batchnorm3d", "num_features": 3},
              lambda: nn.BatchNorm3d(3)),
    TorchCase("dropout2d-p", (4, 5, 5), {"type": "dropout2d", "p": 1.5}, lambda: nn.Dropout2d(1.5)),
    TorchCase("dropout3d-p", (4, 2, 5, 5), {"type": "dropout3d", "p": -0.5}, lambda: nn.Dropout3d(-0.5)),
    TorchCase("dropout1d-rank", (4, 5, 5), {"type": "dropout1d"}, lambda: nn.Dropout1d()),
    TorchCase("stochastic_depth-p", (4, 5, 5), {"type": "stochastic_depth", "p": 1.2},
              lambda: StochasticDepth(1.2, "row")),
    TorchCase("stochastic_depth-mode", (4, 5, 5), {"type": "stochastic_depth", "p": 0.2, "mode": "column"},
              lambda: StochasticDepth(0.2, "column")),
    TorchCase("gelu-approximate", (4, 5), {"type": "gelu", "approximate": "sigmoid"},
              lambda: nn.GELU(approximate="sigmoid")),
    TorchCase("mean-out-of-range", (4, 5), {"type": "mean", "axes": [2]}, fn(lambda x: x.mean([3]))),
    TorchCase("mean-twice", (4, 5), {"type": "mean", "axes": [1, -1]}, fn(lambda x: x.mean([2, -1]))),
]


def batchnorm(eps=1e-5):
    def run(xs, p):
        return F.batch_norm(xs[0], p["running_mean"], p["running_var"], p.get("weight"), p.get("bias"),
                            training=False, eps=eps)
    return run


FORWARD_CASES = [
    # normalisation
    ForwardCase("layer_norm-channels", "layer_norm", {"axis": "channels", "eps": 1e-6}, [(6, 4, 5)],
                lambda xs, p: channels_last_norm(xs, p, 1e-6)),
    ForwardCase("layer_norm-channels-1d-nobias", "layer_norm", {"axis": "channels", "bias": False}, [(6, 7)],
                channels_last_norm),
    ForwardCase("layer_norm-last", "layer_norm", {}, [(5, 12)],
                lambda xs, p: F.layer_norm(xs[0], (12,), p["weight"], p["bias"])),
    ForwardCase("layer_norm-axes2", "layer_norm", {"axes": 2, "eps": 1e-3}, [(3, 4, 5)],
                lambda xs, p: F.layer_norm(xs[0], (4, 5), p["weight"], p["bias"], 1e-3)),
    ForwardCase("layer_norm-no-affine", "layer_norm", {"elementwise_affine": False}, [(3, 9)],
                lambda xs, p: F.layer_norm(xs[0], (9,))),
    ForwardCase("layer_norm-no-bias", "layer_norm", {"normalized_shape": [9], "bias": False}, [(3, 9)],
                lambda xs, p: F.layer_norm(xs[0], (9,), p["weight"])),
    ForwardCase("group_norm", "group_norm", {"num_groups": 4}, [(8, 3, 4)],
                lambda xs, p: F.group_norm(xs[0], 4, p["weight"], p["bias"])),
    ForwardCase("group_norm-no-affine-1d", "group_norm", {"num_groups": 3, "affine": False, "eps": 1e-3}, [(6,)],
                lambda xs, p: F.group_norm(xs[0], 3, eps=1e-3)),
    ForwardCase("group_norm-3d", "group_norm", {"num_groups": 2}, [(4, 2, 3, 3)],
                lambda xs, p: F.group_norm(xs[0], 2, p["weight"], p["bias"])),
    ForwardCase("instance_norm-1d", "instance_norm", {}, [(4, 9)], lambda xs, p: F.instance_norm(xs[0])),
    ForwardCase("instance_norm-2d-affine", "instance_norm", {"affine": True, "eps": 1e-3}, [(4, 5, 6)],
                lambda xs, p: F.instance_norm(xs[0], weight=p["weight"], bias=p["bias"], eps=1e-3)),
    ForwardCase("instance_norm-3d-tracked", "instance_norm", {"track_running_stats": True, "affine": True},
                [(3, 2, 4, 5)],
                lambda xs, p: F.instance_norm(xs[0], p["running_mean"], p["running_var"], p["weight"], p["bias"],
                                              use_input_stats=False)),
    ForwardCase("instance_norm-tracked-no-affine", "instance_norm", {"track_running_stats": True}, [(3, 7)],
                lambda xs, p: F.instance_norm(xs[0], p["running_mean"], p["running_var"], use_input_stats=False)),
    ForwardCase("batchnorm3d", "batchnorm3d", {"eps": 1e-3}, [(4, 2, 3, 5)], batchnorm(1e-3)),
    ForwardCase("batchnorm3d-no-affine", "batchnorm3d", {"affine": False}, [(4, 2, 3, 5)], batchnorm()),
    # activations, on inputs wide enough to reach every branch (saturation, thresholds)
    ForwardCase("hardswish", "hardswish", {}, [(3, 40)], lambda xs, p: F.hardswish(xs[0]), scale=5.0),
    ForwardCase("hardsigmoid", "hardsigmoid", {}, [(3, 40)], lambda xs, p: F.hardsigmoid(xs[0]), scale=5.0),
    ForwardCase("mish", "mish", {}, [(3, 40)], lambda xs, p: F.mish(xs[0]), scale=10.0),
    ForwardCase("elu", "elu", {"alpha": 0.7}, [(3, 40)], lambda xs, p: F.elu(xs[0], 0.7), scale=5.0),
    ForwardCase("selu", "selu", {}, [(3, 4, 5)], lambda xs, p: F.selu(xs[0]), scale=5.0),
    ForwardCase("softplus", "softplus", {}, [(3, 40)], lambda xs, p: F.softplus(xs[0]), scale=10.0),
    ForwardCase("softplus-beta-threshold", "softplus", {"beta": 2.0, "threshold": 3.0}, [(3, 40)],
                lambda xs, p: F.softplus(xs[0], 2.0, 3.0), scale=3.0),
    ForwardCase("softplus-huge", "softplus", {"beta": 0.5}, [(3, 40)],
                lambda xs, p: F.softplus(xs[0], 0.5), scale=200.0),
    ForwardCase("gelu-tanh", "gelu", {"approximate": "tanh"}, [(3, 50)],
                lambda xs, p: F.gelu(xs[0], approximate="tanh"), scale=3.0),
    # regularisers: the identity at inference
    ForwardCase("dropout1d", "dropout1d", {"p": 0.3}, [(4, 6)], lambda xs, p: F.dropout1d(xs[0], 0.3, False)),
    ForwardCase("dropout2d", "dropout2d", {}, [(4, 3, 3)], lambda xs, p: F.dropout2d(xs[0], 0.5, False)),
    ForwardCase("dropout3d", "dropout3d", {}, [(4, 2, 3, 3)], lambda xs, p: F.dropout3d(xs[0], 0.5, False)),
    ForwardCase("stochastic_depth", "stochastic_depth", {"p": 0.2}, [(4, 3, 3)],
                lambda xs, p: StochasticDepth(0.2, "row").eval()(xs[0])),
    # scale, mean
    ForwardCase("scale", "scale", {}, [(6, 4, 5)], lambda xs, p: xs[0] * per_channel(p["weight"], xs[0])),
    ForwardCase("scale-1d", "scale", {"init": 0.1}, [(7,)], lambda xs, p: xs[0] * p["weight"]),
    ForwardCase("mean", "mean", {"axes": [1, 2]}, [(6, 4, 5)], lambda xs, p: xs[0].mean([2, 3])),
    ForwardCase("mean-keepdims-channels", "mean", {"axes": [0, -1], "keepdims": True}, [(6, 4, 5)],
                lambda xs, p: xs[0].mean([1, 3], keepdim=True)),
]

SCALE = ("uniform", 0.5, 1.5)
BIAS = ("uniform", -0.1, 0.1)
RUNNING = {"running_mean": ("normal", 0.1), "running_var": SCALE}
PARAM_LAWS = [
    ("input: [10000]\nlayers: [{type: layer_norm}]", {"weight": SCALE, "bias": BIAS}),
    ("input: [10000, 1]\nlayers: [{type: group_norm, num_groups: 100}]", {"weight": SCALE, "bias": BIAS}),
    ("input: [10000, 2]\nlayers: [{type: instance_norm, affine: true, track_running_stats: true}]",
     {"weight": SCALE, "bias": BIAS, **RUNNING}),
    ("input: [10000, 1, 1, 1]\nlayers: [{type: batchnorm3d}]", {"weight": SCALE, "bias": BIAS, **RUNNING}),
    ("input: [10000]\nlayers: [{type: scale}]", {"weight": SCALE}),
]


# ---------------------------------------------------------------------------
# FLOPs: the README's rules, written out again
# ---------------------------------------------------------------------------

PER_ELEMENT = {  # (README) FLOPs per output element
    "hardswish": 5,  # add 3, max, min, multiply by x, divide by 6
    "hardsigmoid": 4,  # add 3, max, min, divide by 6
    "mish": 5,  # exp, add 1, log, tanh, multiply by x
    "elu": 4,  # compare, exp, subtract 1, multiply by alpha
    "selu": 5,  # compare, exp, subtract 1, multiply by alpha, multiply by scale
    "softplus": 6,  # multiply by beta, compare with threshold, exp, add 1, log, divide by beta
    "scale": 1,  # multiply
    "dropout": 0, "dropout1d": 0, "dropout2d": 0, "dropout3d": 0, "stochastic_depth": 0,
}


def readme_flops(layer: dict, x: tuple) -> int:
    """The README row for `layer` (a spec entry) on the per-sample input shape x."""
    kind = layer["type"]
    elements = math.prod(x)
    if kind in PER_ELEMENT:
        return elements * PER_ELEMENT[kind]
    if kind == "gelu":
        return elements * (9 if layer.get("approximate") == "tanh" else 5)
    if kind == "mean":
        return elements  # each output: n - 1 adds and a divide over its n inputs
    affine_ops = 2  # scale and shift per element
    if kind == "batchnorm3d" or (kind == "instance_norm" and layer.get("track_running_stats")):
        affine = layer.get("affine", kind == "batchnorm3d")
        return elements * (2 + (affine_ops if affine else 0)) + 2 * x[0]  # subtract, divide; var+eps, sqrt per C
    if kind == "layer_norm":
        if layer.get("axis") == "channels":
            size = x[0]
        else:
            count = layer.get("axes") or len(layer.get("normalized_shape", [0]))
            size = math.prod(x[-count:])
        affine = layer.get("elementwise_affine", True)
        affine_ops = (2 if layer.get("bias", True) else 1) if affine else 0
    elif kind == "group_norm":
        size, affine = elements // layer["num_groups"], layer.get("affine", True)
        affine_ops = 2 if affine else 0
    elif kind == "instance_norm":
        size, affine = math.prod(x[1:]), layer.get("affine", False)
        affine_ops = 2 if affine else 0
    else:
        raise AssertionError(f"no README rule written here for {kind}")
    groups = elements // size
    # per group of n: mean n (n-1 adds, 1 divide), deviations n, variance 2n (squares, n-1 adds,
    # 1 divide), var + eps and sqrt 2, divide n; then the affine ops per element
    return groups * (5 * size + 2) + elements * affine_ops


FLOP_CASES = [case for case in TORCH_CASES if not case.type.startswith("dropout")] + [
    TorchCase("dropout", (3, 4), {"type": "dropout"}, nn.Dropout)]


@pytest.mark.parametrize("case", FLOP_CASES, ids=[c.id for c in FLOP_CASES])
def test_flops_follow_the_readme_rule(case):
    record = cnncalc.summarize(cnncalc.loads(case.spec())).layers[-1]
    assert record.flops == readme_flops(case.layer, case.input)
    assert record.macs == 0


@pytest.mark.parametrize("case", TORCH_CASES, ids=[c.id for c in TORCH_CASES])
def test_torch_flop_counter_counts_none_of_these(case):
    """torch.utils.flop_counter counts matmuls and convolutions only: it reports 0 for every
    layer of this family (so the README's rules are the only reference; peers report 0 too).
    Should a torch version start counting one of them, this test names it."""
    module = case.torch().eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(torch.randn(2, *case.input))
    assert counter.get_total_flops() == 0


def test_flops_scale_with_the_batch():
    spec = ("input: [8, 6, 6]\nlayers:\n  - {type: layer_norm, axis: channels}\n  - {type: mish}\n"
            "  - {type: mean, axes: [1, 2]}\n")
    one = cnncalc.summarize(cnncalc.loads(spec)).totals.flops
    assert cnncalc.summarize(cnncalc.loads(spec), batch=5).totals.flops == 5 * one


# ---------------------------------------------------------------------------
# parameters: ConvNeXt's layer scale, and what verify draws
# ---------------------------------------------------------------------------

def test_scale_counts_what_cnblock_holds():
    """torchvision's CNBlock: `self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * layer_scale)`."""
    dim = 96
    layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * 1e-6)
    summary = cnncalc.summarize(cnncalc.loads(f"input: [{dim}, 56, 56]\nlayers: [{{type: scale, init: 0.000001}}]"))
    assert summary.totals.params == layer_scale.numel() == dim


# ---------------------------------------------------------------------------
# refusals where PyTorch only warns, or computes nonsense
# ---------------------------------------------------------------------------

REFUSED = [  # (input, layer, words of the message)
    ((4, 5), {"type": "dropout2d"}, "[C, H, W]"),  # PyTorch: a warning, and dropout1d's behaviour
    ((4, 5, 6, 7, 8), {"type": "dropout2d"}, "[C, H, W]"),  # PyTorch: 'deprecated' warning
    ((4, 5, 6), {"type": "dropout3d"}, "[C, D, H, W]"),  # PyTorch: reads it as unbatched [C, D, H, W]
    ((4,), {"type": "instance_norm"}, "2-D or 3-D or 4-D"),  # PyTorch: reads [1, 4] as unbatched
    ((4, 5), {"type": "instance_norm", "num_features": 3}, "num_features=3"),  # PyTorch: a warning
    ((4, 1), {"type": "instance_norm", "affine": True}, "one position"),
    ((4, 5), {"type": "mean", "axes": []}, "one or more"),  # torch.mean(x, []) averages the batch too
    ((4, 5), {"type": "mean", "axes": [-3]}, "out of range"),  # in torch's batched numbering: the batch axis
    ((4, 5), {"type": "softplus", "beta": 0}, "beta"),  # PyTorch: NaN and Inf
    ((4, 5), {"type": "scale", "num_features": 3}, "num_features=3"),
    ((4, 5), {"type": "layer_norm", "axis": "channels", "axes": 1}, "not both"),
    ((4, 5), {"type": "layer_norm", "axes": 2, "normalized_shape": [5]}, "axes=2"),
    ((4, 5), {"type": "layer_norm", "axis": "channels", "normalized_shape": [4, 5]}, "one axis"),
    ((4, 5), {"type": "layer_norm", "normalized_shape": []}, "one or more"),
    ((4, 5), {"type": "layer_norm", "normalized_shape": [0, 5]}, "positive"),
    ((4, 5), {"type": "layer_norm", "axes": 0}, "positive"),
    ((6, 5), {"type": "group_norm", "num_groups": 4, "num_channels": 6}, "divisible"),
    ((6, 5), {"type": "group_norm", "num_groups": 0}, "positive"),
]


@pytest.mark.parametrize("shape, layer, words", REFUSED,
                         ids=[f"{layer['type']}-{i}" for i, (_, layer, _) in enumerate(REFUSED)])
def test_refused(shape, layer, words):
    case = TorchCase("refused", shape, layer, None)
    with pytest.raises(SpecError) as caught:
        cnncalc.summarize(cnncalc.loads(case.spec()))
    assert words in caught.value.message


def test_instance_norm_tracking_one_position_is_fine():
    """With running statistics there is nothing to compute from the positions (PyTorch agrees)."""
    case = TorchCase("tracked", (4, 1, 1), {"type": "instance_norm", "track_running_stats": True},
                     lambda: nn.InstanceNorm2d(4, track_running_stats=True))
    record = cnncalc.summarize(cnncalc.loads(case.spec())).layers[-1]
    with torch.no_grad():
        assert tuple(case.torch().eval()(torch.zeros(1, 4, 1, 1)).shape[1:]) == record.output_shape


# ---------------------------------------------------------------------------
# hostile input through the CLI: exit 2, file:line:col, no traceback; bounded time
# ---------------------------------------------------------------------------

BAD = [  # (layer as written in the spec, the text the caret points at, words of the message)
    ("{type: layer_norm, axes: 0}", "0}", "must be positive"),
    ("{type: layer_norm, axes: 4}", "4}", "last 4 axes"),
    ("{type: layer_norm, axis: rows}", "rows", "must be one of channels"),
    ("{type: layer_norm, normalized_shape: [9, 9]}", "[9, 9]", "does not match"),
    ("{type: layer_norm, eps: tiny}", "tiny", "eps"),
    ("{type: group_norm, num_groups: 5}", "5}", "divisible by num_groups"),
    ("{type: group_norm}", "{type: group_norm}", "num_groups"),
    ("{type: instance_norm, track_running_stats: maybe}", "maybe", "true or false"),
    ("{type: batchnorm3d}", "{type: batchnorm3d}", "4-D"),
    ("{type: gelu, approximate: exact}", "exact", "none, tanh"),
    ("{type: elu, alpha: [1]}", "[1]", "a number"),
    ("{type: softplus, beta: 0}", "0}", "beta"),
    ("{type: stochastic_depth}", "{type: stochastic_depth}", "'p'"),
    ("{type: stochastic_depth, p: 2}", "2}", "between 0 and 1"),
    ("{type: stochastic_depth, p: 0.1, mode: column}", "column", "row, batch"),
    ("{type: dropout3d}", "{type: dropout3d}", "[C, D, H, W]"),
    ("{type: scale, num_features: 7}", "7}", "num_features=7"),
    ("{type: mean, axes: [0, 3]}", "[0, 3]", "axis 3 is out of range"),
    ("{type: mean, axes: 1}", "1}", "list of integers"),
    ("{type: mean, axes: [1, -2]}", "[1, -2]", "twice"),
]


@pytest.mark.parametrize("layer, at, words", BAD, ids=[b[0] for b in BAD])
def test_bad_arguments_exit_2_at_the_place(tmp_path, layer, at, words):
    refused_at(tmp_path, layer, at, words)


HUGE = 2**31 - 1  # the largest size an input may have (cnncalc.limits)


@pytest.mark.parametrize("layer", [
    "{type: layer_norm, axis: channels}", "{type: layer_norm, axes: 3}", "{type: group_norm, num_groups: 1024}",
    "{type: instance_norm, affine: true}", "{type: mean, axes: [0, 1, 2]}", "{type: scale}", "{type: mish}",
    "{type: stochastic_depth, p: 0.5}", "{type: dropout2d}", "{type: gelu, approximate: tanh}",
])
def test_huge_sizes_are_quick(layer):
    """Every figure is closed-form in the sizes: a 2^92-element input costs nothing."""
    spec = f"input: [{2**30}, {HUGE}, {HUGE}]\nlayers:\n  - {layer}\n"
    start = time.perf_counter()
    summary = cnncalc.summarize(cnncalc.loads(spec))
    assert time.perf_counter() - start < 1.0
    assert summary.totals.flops >= 0


def test_huge_axis_count_is_refused_quickly():
    start = time.perf_counter()
    with pytest.raises(SpecError):
        cnncalc.summarize(cnncalc.loads(f"input: [3, 4]\nlayers: [{{type: layer_norm, axes: {10**18}}}]"))
    with pytest.raises(SpecError):
        cnncalc.summarize(cnncalc.loads(f"input: [3, 4]\nlayers: [{{type: mean, axes: [{10**18}]}}]"))
    assert time.perf_counter() - start < 1.0


def test_verify_runs_the_family(tmp_path):
    """One network with every type of the family verifies on NumPy."""
    text = ("input: [8, 6, 6]\nlayers:\n"
            "  - {type: layer_norm, axis: channels, eps: 1.0e-6}\n  - {type: group_norm, num_groups: 2}\n"
            "  - {type: instance_norm, affine: true}\n  - {type: hardswish}\n  - {type: hardsigmoid}\n"
            "  - {type: mish}\n  - {type: elu}\n  - {type: selu}\n  - {type: softplus}\n"
            "  - {type: gelu, approximate: tanh}\n  - {type: dropout2d}\n  - {type: stochastic_depth, p: 0.1}\n"
            "  - {type: scale}\n  - {type: reshape, shape: [8, 2, 3, 6]}\n  - {type: batchnorm3d}\n"
            "  - {type: dropout3d}\n  - {type: instance_norm, track_running_stats: true}\n"
            "  - {type: mean, axes: [1, 2]}\n  - {type: dropout1d}\n  - {type: layer_norm}\n")
    verifies(tmp_path, text)
