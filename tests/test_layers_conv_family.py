"""Convolution and pooling in 3-D, and transposed convolution (issue 9): conv3d; maxpool3d,
avgpool3d; adaptive_avgpool3d, adaptive_maxpool3d; global pools on 3-D inputs;
conv_transpose1d, conv_transpose2d, conv_transpose3d.

The family's cases (families.py) run in the generic tests: TORCH_CASES and TORCH_ERRORS in
test_layers_torch.py (shapes, parameters and buffers against the torch module; refusals),
FORWARD_CASES in test_verify_layers.py (numerics on identical weights, executed MACs, on
NumPy and array-api-strict) and test_verify_memory.py (the workspace bound), PARAM_LAWS in
test_verify_params.py. Here: FLOPs against torch.utils.flop_counter (convolutions and
transposed convolutions) and against the README's rules written out again (pooling);
random arguments against torch (hypothesis); convolution and transposed convolution cut
into blocks; hostile input through the CLI.
"""
from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import cnncalc
from cnncalc import SpecError
from cnncalc.backend.namespace import namespace

from case_types import ForwardCase, SparseConv, TorchCase, windowed
from helpers import invoke, refused_at, verifies, write_spec

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")


TABLE = [[0, 1], [1, 2, 3], [3], [0, 1, 2, 3]]


def sparse_conv3d(xs, p):
    maps = [F.conv3d(xs[0][:, row], p[f"weight.{j}"].unsqueeze(0)) for j, row in enumerate(TABLE)]
    return torch.cat(maps, dim=1) + p["bias"].view(1, -1, 1, 1, 1)


# ---------------------------------------------------------------------------
# shapes, parameters and refusals against the torch modules
# ---------------------------------------------------------------------------

TORCH_CASES = [
    # --- conv3d: every argument of conv1d/2d ---
    TorchCase("conv3d", (3, 8, 9, 10), {"type": "conv3d", "out_channels": 4, "kernel_size": [3, 2, 3],
                                         "stride": [1, 2, 1], "padding": [1, 0, 2], "bias": False},
              lambda: nn.Conv3d(3, 4, (3, 2, 3), stride=(1, 2, 1), padding=(1, 0, 2), bias=False)),
    TorchCase("conv3d-same-dilated-groups", (4, 7, 8, 9),
              {"type": "conv3d", "out_channels": 6, "kernel_size": [2, 3, 2], "padding": "same",
               "dilation": [1, 2, 3], "groups": 2},
              lambda: nn.Conv3d(4, 6, (2, 3, 2), padding="same", dilation=(1, 2, 3), groups=2)),
    TorchCase("conv3d-valid-strided", (2, 16, 20, 20), {"type": "conv3d", "out_channels": 8, "kernel_size": [3, 7, 7],
                                                        "stride": [1, 2, 2], "padding": "valid", "in_channels": 2},
              lambda: nn.Conv3d(2, 8, (3, 7, 7), stride=(1, 2, 2), padding="valid")),
    TorchCase("conv3d-depthwise", (6, 5, 6, 7), {"type": "conv3d", "out_channels": 12, "kernel_size": 3, "groups": 6},
              lambda: nn.Conv3d(6, 12, 3, groups=6)),
    TorchCase("conv3d-connections", (4, 5, 6, 6), {"type": "conv3d", "kernel_size": 2, "connections": TABLE},
              lambda: SparseConv(TABLE, (2, 2, 2))),
    # --- 3-D pooling ---
    TorchCase("maxpool3d", (3, 9, 10, 11), {"type": "maxpool3d", "kernel_size": 3, "stride": 2, "padding": 1,
                                             "dilation": [1, 2, 1], "ceil_mode": True},
              lambda: nn.MaxPool3d(3, 2, 1, dilation=(1, 2, 1), ceil_mode=True)),
    TorchCase("maxpool3d-default-stride", (3, 16, 56, 56), {"type": "maxpool3d", "kernel_size": [1, 3, 3]},
              lambda: nn.MaxPool3d((1, 3, 3))),
    TorchCase("avgpool3d", (3, 7, 9, 8), {"type": "avgpool3d", "kernel_size": [2, 3, 2], "stride": [1, 2, 2],
                                           "padding": [1, 1, 0], "ceil_mode": True, "count_include_pad": False},
              lambda: nn.AvgPool3d((2, 3, 2), (1, 2, 2), (1, 1, 0), ceil_mode=True, count_include_pad=False)),
    TorchCase("avgpool3d-default", (2, 4, 6, 6), {"type": "avgpool3d", "kernel_size": 2}, lambda: nn.AvgPool3d(2)),
    TorchCase("adaptive_avgpool3d", (4, 7, 5, 9), {"type": "adaptive_avgpool3d", "output_size": [3, None, 2]},
              lambda: nn.AdaptiveAvgPool3d((3, None, 2))),
    TorchCase("adaptive_avgpool3d-one", (512, 2, 7, 7), {"type": "adaptive_avgpool3d", "output_size": 1},
              lambda: nn.AdaptiveAvgPool3d(1)),
    TorchCase("adaptive_maxpool3d", (4, 7, 5, 9), {"type": "adaptive_maxpool3d", "output_size": [2, 8, 4]},
              lambda: nn.AdaptiveMaxPool3d((2, 8, 4))),
    # --- transposed convolution ---
    TorchCase("conv_transpose1d", (6, 9), {"type": "conv_transpose1d", "out_channels": 4, "kernel_size": 5,
                                           "stride": 3, "padding": 2, "output_padding": 2, "dilation": 2},
              lambda: nn.ConvTranspose1d(6, 4, 5, stride=3, padding=2, output_padding=2, dilation=2)),
    TorchCase("conv_transpose2d-unet", (1024, 28, 28), {"type": "conv_transpose2d", "out_channels": 512,
                                                        "kernel_size": 2, "stride": 2},
              lambda: nn.ConvTranspose2d(1024, 512, 2, stride=2)),
    TorchCase("conv_transpose2d-dcgan", (512, 4, 4), {"type": "conv_transpose2d", "out_channels": 256,
                                                      "kernel_size": 4, "stride": 2, "padding": 1, "bias": False},
              lambda: nn.ConvTranspose2d(512, 256, 4, 2, 1, bias=False)),
    TorchCase("conv_transpose2d-dcgan-first", (100, 1, 1), {"type": "conv_transpose2d", "out_channels": 512,
                                                            "kernel_size": 4, "bias": False},
              lambda: nn.ConvTranspose2d(100, 512, 4, 1, 0, bias=False)),
    TorchCase("conv_transpose2d-groups", (6, 5, 7), {"type": "conv_transpose2d", "out_channels": 9,
                                                     "kernel_size": [3, 2], "stride": [2, 1], "padding": [1, 0],
                                                     "output_padding": [1, 0], "groups": 3, "in_channels": 6},
              lambda: nn.ConvTranspose2d(6, 9, (3, 2), (2, 1), (1, 0), output_padding=(1, 0), groups=3)),
    TorchCase("conv_transpose2d-dilated-output-padding", (2, 4, 4),
              {"type": "conv_transpose2d", "out_channels": 3, "kernel_size": 3, "dilation": 3, "output_padding": 2},
              lambda: nn.ConvTranspose2d(2, 3, 3, dilation=3, output_padding=2)),
    TorchCase("conv_transpose3d", (4, 3, 5, 6), {"type": "conv_transpose3d", "out_channels": 2,
                                                 "kernel_size": [3, 2, 3], "stride": [1, 2, 2],
                                                 "padding": [1, 0, 1], "output_padding": [0, 1, 1]},
              lambda: nn.ConvTranspose3d(4, 2, (3, 2, 3), (1, 2, 2), (1, 0, 1), output_padding=(0, 1, 1))),
    TorchCase("conv_transpose3d-depthwise", (4, 3, 3, 3), {"type": "conv_transpose3d", "out_channels": 4,
                                                           "kernel_size": 2, "stride": 2, "groups": 4},
              lambda: nn.ConvTranspose3d(4, 4, 2, 2, groups=4)),
]

TORCH_ERRORS = [
    # (rank errors use one axis too many: with one too few, torch would take the batch axis for channels)
    TorchCase("conv3d-rank", (3, 8, 8, 8, 8), {"type": "conv3d", "out_channels": 4, "kernel_size": 3},
              lambda: nn.Conv3d(3, 4, 3)),
    TorchCase("conv3d-groups", (6, 8, 8, 8), {"type": "conv3d", "out_channels": 4, "kernel_size": 3, "groups": 4},
              lambda: nn.Conv3d(6, 4, 3, groups=4)),
    TorchCase("conv3d-too-small", (3, 2, 8, 8), {"type": "conv3d", "out_channels": 4, "kernel_size": 3},
              lambda: nn.Conv3d(3, 4, 3)),
    TorchCase("conv3d-same-strided", (3, 8, 8, 8), {"type": "conv3d", "out_channels": 4, "kernel_size": 3,
                                                    "padding": "same", "stride": [1, 1, 2]},
              lambda: nn.Conv3d(3, 4, 3, (1, 1, 2), padding="same")),
    TorchCase("conv3d-in-channels", (3, 8, 8, 8), {"type": "conv3d", "out_channels": 4, "kernel_size": 3,
                                                   "in_channels": 2}, lambda: nn.Conv3d(2, 4, 3)),
    TorchCase("maxpool3d-padding", (3, 8, 8, 8), {"type": "maxpool3d", "kernel_size": 3, "padding": [1, 2, 1]},
              lambda: nn.MaxPool3d(3, padding=(1, 2, 1))),
    TorchCase("avgpool3d-padding", (3, 8, 8, 8), {"type": "avgpool3d", "kernel_size": [2, 2, 1], "padding": [1, 1, 1]},
              lambda: nn.AvgPool3d((2, 2, 1), padding=(1, 1, 1))),
    TorchCase("avgpool3d-too-small", (3, 8, 2, 8), {"type": "avgpool3d", "kernel_size": 3}, lambda: nn.AvgPool3d(3)),
    # avg_pool3d (not max_pool3d, nor the 1-D and 2-D average pools) refuses an axis shorter
    # than the kernel even where padding makes room
    TorchCase("avgpool3d-shorter-than-kernel", (3, 1, 4, 4), {"type": "avgpool3d", "kernel_size": [2, 1, 1],
                                                              "padding": [1, 0, 0]},
              lambda: nn.AvgPool3d((2, 1, 1), padding=(1, 0, 0))),
    TorchCase("maxpool3d-rank", (3, 8, 8, 8, 8), {"type": "maxpool3d", "kernel_size": 2}, lambda: nn.MaxPool3d(2)),
    TorchCase("adaptive_avgpool3d-rank", (3, 8, 8, 8, 8), {"type": "adaptive_avgpool3d", "output_size": 2},
              lambda: nn.AdaptiveAvgPool3d(2)),
    TorchCase("adaptive_maxpool3d-rank", (3, 8, 8, 8, 8), {"type": "adaptive_maxpool3d", "output_size": 2},
              lambda: nn.AdaptiveMaxPool3d(2)),
    TorchCase("conv_transpose2d-output-padding", (3, 5, 5), {"type": "conv_transpose2d", "out_channels": 4,
                                                             "kernel_size": 2, "stride": 2, "output_padding": 2},
              lambda: nn.ConvTranspose2d(3, 4, 2, 2, output_padding=2)),
    TorchCase("conv_transpose1d-output-padding-dilation", (3, 5), {"type": "conv_transpose1d", "out_channels": 4,
                                                                   "kernel_size": 2, "dilation": 3,
                                                                   "output_padding": 3},
              lambda: nn.ConvTranspose1d(3, 4, 2, dilation=3, output_padding=3)),
    TorchCase("conv_transpose3d-output-padding", (3, 5, 5, 5), {"type": "conv_transpose3d", "out_channels": 4,
                                                                "kernel_size": 2, "stride": [2, 1, 2],
                                                                "output_padding": [1, 1, 1]},
              lambda: nn.ConvTranspose3d(3, 4, 2, (2, 1, 2), output_padding=(1, 1, 1))),
    TorchCase("conv_transpose2d-too-small", (3, 2, 2), {"type": "conv_transpose2d", "out_channels": 4,
                                                        "kernel_size": 1, "padding": 1},
              lambda: nn.ConvTranspose2d(3, 4, 1, padding=1)),
    TorchCase("conv_transpose1d-cropped-away", (3, 1), {"type": "conv_transpose1d", "out_channels": 4,
                                                        "kernel_size": 3, "padding": 2},
              lambda: nn.ConvTranspose1d(3, 4, 3, padding=2)),
    TorchCase("conv_transpose2d-in-groups", (3, 5, 5), {"type": "conv_transpose2d", "out_channels": 4,
                                                        "kernel_size": 2, "groups": 2},
              lambda: nn.ConvTranspose2d(3, 4, 2, groups=2)),
    TorchCase("conv_transpose2d-out-groups", (4, 5, 5), {"type": "conv_transpose2d", "out_channels": 3,
                                                         "kernel_size": 2, "groups": 2},
              lambda: nn.ConvTranspose2d(4, 3, 2, groups=2)),
    TorchCase("conv_transpose2d-in-channels", (3, 5, 5), {"type": "conv_transpose2d", "out_channels": 4,
                                                          "kernel_size": 2, "in_channels": 5},
              lambda: nn.ConvTranspose2d(5, 4, 2)),
    TorchCase("conv_transpose2d-rank", (3, 5, 5, 5), {"type": "conv_transpose2d", "out_channels": 4,
                                                      "kernel_size": 2}, lambda: nn.ConvTranspose2d(3, 4, 2)),
    TorchCase("conv_transpose3d-rank", (3, 5, 5, 5, 5), {"type": "conv_transpose3d", "out_channels": 4,
                                                         "kernel_size": 2}, lambda: nn.ConvTranspose3d(3, 4, 2)),
]


# ---------------------------------------------------------------------------
# forward numerics on identical weights, executed MACs (test_verify_layers.py)
# ---------------------------------------------------------------------------

FORWARD_CASES = [
    ForwardCase("conv3d", "conv3d", {"out_channels": 5, "kernel_size": 3, "stride": [1, 2, 2], "padding": 1},
                [(3, 5, 9, 8)], lambda xs, p: F.conv3d(xs[0], p["weight"], p["bias"], stride=(1, 2, 2), padding=1)),
    ForwardCase("conv3d-same-dilated-groups", "conv3d",
                {"out_channels": 4, "kernel_size": [2, 3, 2], "padding": "same", "dilation": [2, 1, 2], "groups": 2,
                 "bias": False}, [(4, 5, 6, 7)],
                lambda xs, p: F.conv3d(xs[0], p["weight"], None, padding="same", dilation=(2, 1, 2), groups=2)),
    ForwardCase("conv3d-1x1", "conv3d", {"out_channels": 3, "kernel_size": 1}, [(4, 3, 4, 5)],
                lambda xs, p: F.conv3d(xs[0], p["weight"], p["bias"])),
    ForwardCase("conv3d-kernel-wider-than-windows", "conv3d", {"out_channels": 2, "kernel_size": [4, 1, 5],
                                                                "stride": [3, 1, 4], "padding": [0, 0, 2]},
                [(2, 5, 3, 9)], lambda xs, p: F.conv3d(xs[0], p["weight"], p["bias"], stride=(3, 1, 4),
                                                       padding=(0, 0, 2))),
    ForwardCase("conv3d-connections", "conv3d", {"kernel_size": 2, "connections": TABLE}, [(4, 3, 4, 4)],
                sparse_conv3d),
    ForwardCase("maxpool3d", "maxpool3d", {"kernel_size": 3, "stride": 2, "padding": 1}, [(3, 5, 9, 8)],
                lambda xs, p: F.max_pool3d(xs[0], 3, 2, 1)),
    ForwardCase("maxpool3d-dilated-ceil", "maxpool3d", {"kernel_size": [2, 3, 2], "stride": [1, 2, 3],
                                                         "dilation": [2, 1, 1], "ceil_mode": True}, [(2, 6, 8, 10)],
                lambda xs, p: F.max_pool3d(xs[0], (2, 3, 2), (1, 2, 3), dilation=(2, 1, 1), ceil_mode=True)),
    ForwardCase("avgpool3d", "avgpool3d", {"kernel_size": [1, 2, 2]}, [(3, 4, 6, 6)],
                lambda xs, p: F.avg_pool3d(xs[0], (1, 2, 2))),
    ForwardCase("avgpool3d-exclude-pad-ceil", "avgpool3d",
                {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False},
                [(2, 6, 8, 7)], lambda xs, p: F.avg_pool3d(xs[0], 3, 2, 1, ceil_mode=True, count_include_pad=False)),
    ForwardCase("avgpool3d-include-pad-ceil", "avgpool3d",
                {"kernel_size": [2, 3, 3], "stride": 2, "padding": [1, 1, 0], "ceil_mode": True},
                [(2, 5, 8, 7)], lambda xs, p: F.avg_pool3d(xs[0], (2, 3, 3), 2, (1, 1, 0), ceil_mode=True)),
    ForwardCase("adaptive_avgpool3d", "adaptive_avgpool3d", {"output_size": [2, 3, None]}, [(3, 5, 7, 4)],
                lambda xs, p: F.adaptive_avg_pool3d(xs[0], (2, 3, None))),
    ForwardCase("adaptive_avgpool3d-one", "adaptive_avgpool3d", {"output_size": 1}, [(4, 2, 7, 7)],
                lambda xs, p: F.adaptive_avg_pool3d(xs[0], 1)),
    ForwardCase("adaptive_maxpool3d", "adaptive_maxpool3d", {"output_size": [3, 2, 5]}, [(3, 5, 4, 7)],
                lambda xs, p: F.adaptive_max_pool3d(xs[0], (3, 2, 5))),
    ForwardCase("global_avg_pool-3d", "global_avg_pool", {}, [(4, 3, 5, 6)],
                lambda xs, p: F.adaptive_avg_pool3d(xs[0], 1)),
    ForwardCase("global_max_pool-3d-flat", "global_max_pool", {"keepdims": False}, [(4, 3, 5, 6)],
                lambda xs, p: torch.flatten(F.adaptive_max_pool3d(xs[0], 1), 1)),
    ForwardCase("conv_transpose1d", "conv_transpose1d",
                {"out_channels": 3, "kernel_size": 4, "stride": 3, "padding": 2, "output_padding": 2, "dilation": 2},
                [(4, 7)], lambda xs, p: F.conv_transpose1d(xs[0], p["weight"], p["bias"], 3, 2, 2, 1, 2)),
    ForwardCase("conv_transpose2d-unet", "conv_transpose2d", {"out_channels": 4, "kernel_size": 2, "stride": 2},
                [(6, 5, 7)], lambda xs, p: F.conv_transpose2d(xs[0], p["weight"], p["bias"], 2)),
    ForwardCase("conv_transpose2d-dcgan", "conv_transpose2d",
                {"out_channels": 3, "kernel_size": 4, "stride": 2, "padding": 1, "bias": False}, [(5, 4, 4)],
                lambda xs, p: F.conv_transpose2d(xs[0], p["weight"], None, 2, 1)),
    ForwardCase("conv_transpose2d-from-a-point", "conv_transpose2d", {"out_channels": 6, "kernel_size": 4},
                [(8, 1, 1)], lambda xs, p: F.conv_transpose2d(xs[0], p["weight"], p["bias"])),
    ForwardCase("conv_transpose2d-groups-dilated", "conv_transpose2d",
                {"out_channels": 6, "kernel_size": [3, 2], "stride": [2, 3], "padding": [2, 1],
                 "output_padding": [1, 2], "dilation": [2, 1], "groups": 2}, [(4, 5, 4)],
                lambda xs, p: F.conv_transpose2d(xs[0], p["weight"], p["bias"], (2, 3), (2, 1), (1, 2), 2, (2, 1))),
    ForwardCase("conv_transpose2d-cropped-more-than-a-tap", "conv_transpose2d",
                {"out_channels": 2, "kernel_size": 2, "stride": 3, "padding": 3, "output_padding": 2},
                [(3, 4, 5)], lambda xs, p: F.conv_transpose2d(xs[0], p["weight"], p["bias"], 3, 3, 2)),
    ForwardCase("conv_transpose3d", "conv_transpose3d",
                {"out_channels": 3, "kernel_size": [2, 3, 3], "stride": [1, 2, 2], "padding": [0, 1, 1],
                 "output_padding": [0, 1, 0]}, [(4, 3, 4, 5)],
                lambda xs, p: F.conv_transpose3d(xs[0], p["weight"], p["bias"], (1, 2, 2), (0, 1, 1), (0, 1, 0))),
    ForwardCase("conv_transpose3d-depthwise", "conv_transpose3d",
                {"out_channels": 4, "kernel_size": 2, "stride": 2, "groups": 4, "bias": False}, [(4, 2, 3, 3)],
                lambda xs, p: F.conv_transpose3d(xs[0], p["weight"], None, 2, groups=4)),
]

# ---------------------------------------------------------------------------
# the laws verify draws the new parameters from (test_verify_params.py)
# ---------------------------------------------------------------------------

BIAS = ("uniform", -0.1, 0.1)
ROWS = "[" + ", ".join(str(list(range(start, start + 400))) for start in (0, 100)) + "]"
PARAM_LAWS = [
    ("input: [2, 3, 4, 4]\nlayers: [{type: conv3d, out_channels: 10000, kernel_size: [1, 2, 3]}]",
     {"weight": ("he", 2 * 6), "bias": BIAS}),
    # a connection row is one output map's whole fan-in
    (f"input: [500, 3, 3, 3]\nlayers: [{{type: conv3d, kernel_size: 3, connections: {ROWS}, bias: false}}]",
     {"weight.0": ("he", 400 * 27), "weight.1": ("he", 400 * 27)}),
    # transposed: He-normal over the products one output position sums on average,
    # C_in/groups * k / prod(stride)
    ("input: [8, 3, 3]\nlayers: [{type: conv_transpose2d, out_channels: 10000, kernel_size: 4, stride: 2}]",
     {"weight": ("he", 8 * 16 // 4), "bias": BIAS}),
    ("input: [6, 5]\nlayers: [{type: conv_transpose1d, out_channels: 12000, kernel_size: 3, groups: 3}]",
     {"weight": ("he", 2 * 3), "bias": BIAS}),
    ("input: [4, 2, 2, 2]\nlayers: [{type: conv_transpose3d, out_channels: 10000, kernel_size: 2, stride: 2}]",
     {"weight": ("he", 4), "bias": BIAS}),  # 4 * 8 / 8: each output position sees one offset of each input map
]


# ---------------------------------------------------------------------------
# FLOPs: torch's flop counter for the convolutions, the README's rules for pooling
# ---------------------------------------------------------------------------

def _record(case: TorchCase):
    return cnncalc.summarize(cnncalc.loads(case.spec())).layers[-1]


CONVOLUTIONS = [case for case in TORCH_CASES if case.type.startswith("conv") and "connections" not in case.layer]


@pytest.mark.parametrize("case", CONVOLUTIONS, ids=[c.id for c in CONVOLUTIONS])
def test_conv_flops_match_torch_flop_counter(case):
    """torch.utils.flop_counter counts 2 per multiply-accumulate of aten.convolution, also
    transposed (input positions * C_in * C_out/groups * k), and no bias: cnncalc's FLOPs
    are that plus one addition per output element where there is a bias, and its MACs
    half of it."""
    record = _record(case)
    module = case.torch().eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = module(torch.zeros(3, *case.input))
    counted = counter.get_total_flops() // 3
    assert counted > 0
    assert record.macs * 2 == counted
    assert record.flops == counted + (out[0].numel() if module.bias is not None else 0)


def transposed_macs(layer: dict, x) -> int:
    """The README's rule, written out: input positions * C_in * C_out/groups * kernel elements."""
    kernel = layer["kernel_size"]
    taps = math.prod(kernel) if isinstance(kernel, list) else kernel ** (len(x) - 1)
    return math.prod(x[1:]) * x[0] * (layer["out_channels"] // layer.get("groups", 1)) * taps


@pytest.mark.parametrize("case", [c for c in TORCH_CASES if c.type.startswith("conv_transpose")],
                         ids=lambda c: c.id)
def test_transposed_macs_follow_the_readme_rule(case):
    assert _record(case).macs == transposed_macs(case.layer, case.input)


def _sizes(value, rank):
    return tuple(value) if isinstance(value, list) else (value,) * rank


def pool_flops(layer: dict, x, out) -> int:
    """The README's pooling rules, written out again: windowed pools count every window as
    full, max k - 1 comparisons and avg k (k - 1 adds, 1 divide) per output element; adaptive
    pools the exact window sizes, sum_i (ceil((i+1)L/O) - floor(iL/O)) per axis, one visit an
    element less one per window for max, plus one divide per window for avg."""
    kind = layer["type"]
    if kind in ("maxpool3d", "avgpool3d"):
        taps = math.prod(_sizes(layer["kernel_size"], 3))
        return math.prod(out) * (taps - 1 + (kind == "avgpool3d"))
    visited = x[0]
    for length, size in zip(x[1:], out[1:]):
        visited *= sum(-(-(i + 1) * length // size) - i * length // size for i in range(size))
    return visited - math.prod(out) + (math.prod(out) if kind == "adaptive_avgpool3d" else 0)


POOLS = [case for case in TORCH_CASES if "pool" in case.type]


@pytest.mark.parametrize("case", POOLS, ids=[c.id for c in POOLS])
def test_pool_flops_follow_the_readme_rule(case):
    record = _record(case)
    assert record.flops == pool_flops(case.layer, case.input, record.output_shape)
    assert record.macs == 0


@pytest.mark.parametrize("kind, extra", [("global_avg_pool", 1), ("global_max_pool", 0)])
def test_global_pools_on_3d_inputs(kind, extra):
    record = _record(TorchCase("g", (5, 3, 4, 6), {"type": kind}, None))
    assert record.output_shape == (5, 1, 1, 1)
    assert record.flops == 5 * (3 * 4 * 6 - 1 + extra)


# ---------------------------------------------------------------------------
# random arguments against torch
# ---------------------------------------------------------------------------

def _matches_torch(case: ForwardCase, backend: str = "numpy") -> None:
    """test_verify_layers' assertions (that module is not imported here: it imports every
    family module, which must not happen inside a hypothesis test): the numbers, the shape
    rule, the executed MACs and the parameters consumed, for a batch of 2."""
    from cnncalc.backend.namespace import to_numpy
    from cnncalc.backend.ops import Ops
    from cnncalc.backend.params import Params, draw
    from cnncalc.layers import REGISTRY

    xp = namespace(backend)
    layer = REGISTRY[case.type].from_spec(dict(case.args), evaluate=None)
    rng = np.random.default_rng(0)
    params = {n: draw(rng, p, "float32") for n, p in layer.parameters(*case.inputs).items()}
    inputs = [rng.standard_normal((2, *shape), dtype=np.float32) for shape in case.inputs]
    ops, accessor = Ops(xp), Params({n: xp.asarray(a) for n, a in params.items()}, {}, make=None)
    out = to_numpy(layer.forward(ops, accessor, *(xp.asarray(x) for x in inputs)))
    expected = case.torch_fn([torch.from_numpy(x) for x in inputs],
                             {n: torch.from_numpy(a) for n, a in params.items()}).numpy()
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)
    assert tuple(out.shape[1:]) == tuple(layer.output_shape(*case.inputs))
    assert ops.macs == 2 * layer.macs(tuple(out.shape[1:]), *case.inputs)
    assert accessor.problems == [] and accessor.unused() == []


@st.composite
def _transposed(draw):
    """A transposed convolution with random arguments that torch accepts."""
    rank = draw(st.integers(1, 3))
    kernel = [draw(st.integers(1, 4)) for _ in range(rank)]
    stride = [draw(st.integers(1, 3)) for _ in range(rank)]
    dilation = [draw(st.integers(1, 3)) for _ in range(rank)]
    extra = [draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation)]
    padding = [draw(st.integers(0, 3)) for _ in range(rank)]
    spatial = [draw(st.integers(1, 6)) for _ in range(rank)]
    groups = draw(st.sampled_from([1, 2]))
    bias = draw(st.booleans())
    args = {"out_channels": 2 * groups, "kernel_size": kernel, "stride": stride, "padding": padding,
            "output_padding": extra, "dilation": dilation, "groups": groups, "bias": bias}
    functional = [F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d][rank - 1]

    def fn(xs, p):
        return functional(xs[0], p["weight"], p.get("bias"), stride, padding, extra, groups, dilation)
    return ForwardCase("random", f"conv_transpose{rank}d", args, [(2 * groups, *spatial)], fn)


@settings(max_examples=150, deadline=None)
@given(_transposed())
def test_transposed_convolution_of_any_arguments_matches_torch(case):
    """Shapes, numbers, MACs and parameters; or, where an output axis would be empty or
    negative, a refusal where torch refuses or returns an empty tensor (it does either,
    depending on the kernel it picks; cnncalc's sizes are positive)."""
    from cnncalc.layers import REGISTRY

    layer = REGISTRY[case.type].from_spec(dict(case.args), evaluate=None)
    try:
        layer.output_shape(*case.inputs)
    except SpecError as refused:
        assert "would be" in refused.message
        params = {n: torch.zeros(p.shape) for n, p in layer.parameters(*case.inputs).items()}
        try:
            out = case.torch_fn([torch.zeros(1, *case.inputs[0])], params)
        except RuntimeError:  # "Output size is too small", or with groups a oneDNN error
            pass
        else:
            assert out.numel() == 0
        return
    _matches_torch(case)


@settings(max_examples=100, deadline=None)
@given(windowed(rank=3, max_kernel=4, max_size=9))
def test_3d_windows_of_any_arguments_match_torch(case):
    from cnncalc.layers import REGISTRY

    try:
        REGISTRY[case.type].from_spec(dict(case.args), evaluate=None).output_shape(*case.inputs)
    except SpecError:  # a shape the rule refuses: torch refuses it too
        with pytest.raises(RuntimeError):
            case.torch_fn([torch.zeros(1, *case.inputs[0])], {"weight": torch.zeros(2, 2, *case.args["kernel_size"]),
                                                              "bias": torch.zeros(2)})
        return
    _matches_torch(case)


# ---------------------------------------------------------------------------
# blocks: the same numbers and MACs, and the (smaller) workspace holds
# ---------------------------------------------------------------------------

C3_ROWS = [[0, 1, 2], [1, 2, 3], [2, 3, 4], [0, 1, 2, 3, 4, 5]]
BLOCKED = [case for case in FORWARD_CASES if case.type.startswith("conv")] + [  # and 1-D and 2-D, cut the same way
    ForwardCase("conv2d-strided-dilated", "conv2d", {"out_channels": 4, "kernel_size": [3, 2], "dilation": [2, 1],
                                                     "padding": [2, 0], "stride": [1, 2]}, [(3, 10, 10)],
                lambda xs, p: F.conv2d(xs[0], p["weight"], p["bias"], (1, 2), (2, 0), (2, 1))),
    ForwardCase("conv2d-same-even-groups", "conv2d", {"out_channels": 6, "kernel_size": 4, "padding": "same",
                                                      "groups": 3}, [(3, 7, 6)],
                lambda xs, p: F.conv2d(xs[0], p["weight"], p["bias"], padding="same", groups=3)),
    ForwardCase("conv2d-connections", "conv2d", {"kernel_size": 3, "connections": C3_ROWS}, [(6, 7, 8)],
                lambda xs, p: torch.cat([F.conv2d(xs[0][:, row], p[f"weight.{j}"].unsqueeze(0))
                                         for j, row in enumerate(C3_ROWS)], dim=1) + p["bias"].view(1, -1, 1, 1)),
    ForwardCase("conv1d-strided", "conv1d", {"out_channels": 4, "kernel_size": 5, "stride": 3, "padding": 2},
                [(4, 23)], lambda xs, p: F.conv1d(xs[0], p["weight"], p["bias"], stride=3, padding=2)),
]


@pytest.mark.parametrize("case", BLOCKED, ids=[c.id for c in BLOCKED])
@pytest.mark.parametrize("backend", ["numpy", "array_api_strict"])
def test_convolutions_run_in_blocks_of_rows(case, backend, monkeypatch):
    """With the smallest blocks (a convolution: one output position; a transposed one: one
    input position), the numbers, MACs and parameters are PyTorch's."""
    from cnncalc.layers import conv

    monkeypatch.setattr(conv, "COLUMN_BLOCK", 1)
    monkeypatch.setattr(conv, "MIN_POSITIONS", 1)
    _matches_torch(case, backend)


LARGER = [  # a few blocks a sample, large enough that the arrays dominate what tracemalloc sees
    ForwardCase("conv3d", "conv3d", {"out_channels": 6, "kernel_size": 3, "stride": [1, 2, 1], "padding": 1},
                [(8, 6, 20, 20)], None),
    ForwardCase("conv2d-dilated", "conv2d", {"out_channels": 6, "kernel_size": 3, "dilation": 2, "groups": 2},
                [(8, 40, 50)], None),
    ForwardCase("conv1d-connections", "conv1d", {"kernel_size": 5, "connections": [[0, 1], [2, 3, 4], [5]]},
                [(6, 3000)], None),
    ForwardCase("conv_transpose3d", "conv_transpose3d", {"out_channels": 6, "kernel_size": 3, "stride": 2,
                                                         "padding": 1}, [(4, 5, 12, 12)], None),
    ForwardCase("conv_transpose2d", "conv_transpose2d", {"out_channels": 8, "kernel_size": 2, "stride": 2},
                [(8, 30, 40)], None),
]


@pytest.mark.parametrize("case", LARGER, ids=[c.id for c in LARGER])
def test_blocks_stay_within_their_smaller_workspace(case, monkeypatch):
    """Blocks of about an eighth of a sample: the traced peak stays within the output plus
    the workspace, which is smaller than the unblocked workspace."""
    import test_verify_memory as memory
    from cnncalc.layers import REGISTRY, conv

    layer = REGISTRY[case.type].from_spec(dict(case.args), evaluate=None)
    out = tuple(layer.output_shape(*case.inputs))
    batch = 2
    whole = layer.workspace(batch, out, *case.inputs)
    monkeypatch.setattr(conv, "COLUMN_BLOCK", whole // 16)
    monkeypatch.setattr(conv, "MIN_POSITIONS", 1)
    blocked = layer.workspace(batch, out, *case.inputs)
    peak, y = memory._forward_peak(layer, case, batch)
    assert tuple(y.shape[1:]) == out
    assert peak <= (batch * math.prod(out) + blocked) * memory.ITEMSIZE + memory.SLACK
    assert blocked * 2 < whole
    assert blocked <= 3 * peak + memory.SLACK


def test_blocks_are_rows_of_the_outer_axes(monkeypatch):
    """Whole samples while one fits; else one sample's positions cut where its columns fit:
    rows of the outer axes, whole along the inner ones."""
    from cnncalc.layers import conv

    per_position = 64 * 27  # conv3d 64 -> 64, kernel 3
    assert conv.COLUMN_BLOCK // per_position == 1213
    assert conv.blocking(1, [16, 56, 56], per_position) == (1, 1, 1213 // 56)  # 21 rows of 56
    assert conv.blocking(8, [2, 7, 7], per_position) == (8, 0, 2)
    assert conv.blocking(20, [2, 7, 7], per_position) == (12, 0, 2)  # 12 samples' columns fit
    # at least MIN_POSITIONS positions a block, so the weights are read once for many of them
    assert conv.blocking(1, [2, 7, 7], 512 * 27 * 100) == (1, 0, 2)
    monkeypatch.setattr(conv, "MIN_POSITIONS", 1)
    assert conv.blocking(1, [2, 7, 7], conv.COLUMN_BLOCK // 7) == (1, 1, 1)
    assert conv.blocking(1, [2, 7, 7], conv.COLUMN_BLOCK) == (1, 2, 1)
    assert conv.blocking(3, [4, 4, 4], 0) == (3, 0, 4)  # 1x1 columns are a view: never cut
    blocks = list(conv.blocks(2, [2, 3], 1, 1, 2))
    assert blocks == [(slice(s, s + 1), (slice(i, i + 1), slice(j, min(3, j + 2))))
                      for s in range(2) for i in range(2) for j in (0, 2)]


BY_ROWS = [  # stride and dilation 1 on the outer axis; anything on the inner ones
    ForwardCase("conv3d-rows", "conv3d", {"out_channels": 6, "kernel_size": 3, "stride": [1, 2, 1], "padding": 1},
                [(8, 6, 20, 20)], lambda xs, p: F.conv3d(xs[0], p["weight"], p["bias"], (1, 2, 1), 1)),
    ForwardCase("conv3d-rows-groups-dilated", "conv3d", {"out_channels": 4, "kernel_size": [2, 3, 3], "groups": 2,
                                                         "dilation": [1, 2, 2], "padding": [1, 2, 0], "bias": False},
                [(6, 5, 9, 10)], lambda xs, p: F.conv3d(xs[0], p["weight"], None, 1, (1, 2, 0), (1, 2, 2), 2)),
    ForwardCase("conv2d-rows-strided-inner", "conv2d", {"out_channels": 5, "kernel_size": [3, 2], "stride": [1, 2],
                                                        "dilation": [1, 2]}, [(4, 9, 11)],
                lambda xs, p: F.conv2d(xs[0], p["weight"], p["bias"], (1, 2), 0, (1, 2))),
    ForwardCase("conv2d-rows-same-even", "conv2d", {"out_channels": 6, "kernel_size": 4, "padding": "same",
                                                    "groups": 3}, [(3, 7, 6)],
                lambda xs, p: F.conv2d(xs[0], p["weight"], p["bias"], padding="same", groups=3)),
]


def _rows_everywhere(monkeypatch):
    """Every convolution that may run a row of its outer axis at a time does."""
    from cnncalc.layers import conv

    for name in ("COLUMN_BLOCK", "ROW_POSITIONS", "ROW_DEPTH"):
        monkeypatch.setattr(conv, name, 1)


@pytest.mark.parametrize("case", BY_ROWS, ids=[c.id for c in BY_ROWS])
@pytest.mark.parametrize("backend", ["numpy", "array_api_strict"])
def test_convolutions_by_rows_of_the_outer_axis_match_torch(case, backend, monkeypatch):
    from cnncalc.layers import REGISTRY

    _rows_everywhere(monkeypatch)
    layer = REGISTRY[case.type].from_spec(dict(case.args), evaluate=None)
    assert layer.rows_of_outer_axis(case.inputs[0][0], layer.output_shape(*case.inputs)[1:])
    _matches_torch(case, backend)


@pytest.mark.parametrize("case", BY_ROWS, ids=[c.id for c in BY_ROWS])
def test_convolutions_by_rows_stay_within_their_workspace(case, monkeypatch):
    """k input rows' columns at most are alive at once, as the workspace says, and a
    batch runs a sample at a time once the columns exceed a block."""
    import test_verify_memory as memory
    from cnncalc.layers import REGISTRY

    _rows_everywhere(monkeypatch)
    layer = REGISTRY[case.type].from_spec(dict(case.args), evaluate=None)
    out = tuple(layer.output_shape(*case.inputs))
    batch = 3
    workspace = layer.workspace(batch, out, *case.inputs)
    peak, y = memory._forward_peak(layer, case, batch)
    assert tuple(y.shape[1:]) == out
    assert peak <= (batch * math.prod(out) + workspace) * memory.ITEMSIZE + memory.SLACK
    assert workspace <= 3 * peak + memory.SLACK


def test_rows_of_the_outer_axis_where_each_input_row_serves_k_output_rows():
    """R3D-18's 64-channel convolutions run by rows (each input row's 9-tap columns made
    once instead of three times); not where the outer axis is strided or dilated (an input
    row would serve fewer output rows), nor for small rows or shallow sums (measured slower)."""
    from cnncalc.layers import REGISTRY

    def by_rows(x, **args):
        layer = REGISTRY[args.pop("type", "conv3d")].from_spec({"out_channels": 64, "kernel_size": 3, **args},
                                                                 evaluate=None)
        return layer.rows_of_outer_axis(x[0], layer.output_shape(x)[1:])

    assert by_rows((64, 16, 56, 56), padding=1)
    assert not by_rows((64, 16, 56, 56), padding=1, stride=[2, 1, 1])
    assert not by_rows((64, 16, 56, 56), padding=[2, 1, 1], dilation=[2, 1, 1])
    assert not by_rows((64, 16, 56, 56), kernel_size=[1, 3, 3], padding=[0, 1, 1])
    assert not by_rows((3, 16, 112, 112), kernel_size=[3, 7, 7], padding=[1, 3, 3])  # 147 products a sum
    assert not by_rows((512, 2, 7, 7), padding=1)  # rows of 49 positions
    assert not by_rows((64, 3000), type="conv1d")
    assert not by_rows((6, 16, 56, 56), connections=[[0, 1]] * 64)
    assert by_rows((256, 300, 300), type="conv2d", padding=1)  # a wide 2-D image with deep sums
    assert not by_rows((64, 572, 572), type="conv2d")  # U-Net's: 192 products a sum (measured slower)


# ---------------------------------------------------------------------------
# hostile input through the CLI: exit 2, file:line:col, no traceback; bounded time
# ---------------------------------------------------------------------------

BAD = [  # (input, layer as written in the spec, the text the caret points at, words of the message)
    ("[8, 6, 6]", "{type: conv3d, out_channels: 4, kernel_size: 3}", "{type: conv3d", "4-D input"),
    ("[8, 6, 6, 6]", "{type: conv3d, out_channels: 4, kernel_size: [3, 3]}", "[3, 3]", "needs 3 values"),
    ("[8, 2, 6, 6]", "{type: conv3d, out_channels: 4, kernel_size: 3}", "{type: conv3d", "output D would be 0"),
    ("[8, 6, 6, 6]", "{type: maxpool3d, kernel_size: 2, padding: 2}", "2}", "more than half"),
    ("[8, 6, 6, 6]", "{type: avgpool3d, kernel_size: 2, count_include_pad: 1}", "1}", "true or false"),
    ("[8, 6, 6, 6]", "{type: adaptive_maxpool3d, output_size: [2, 0, 2]}", "[2, 0, 2]", "positive"),
    ("[8, 6, 6]", "{type: conv_transpose2d, out_channels: 4, kernel_size: 2, stride: 2, output_padding: 2}",
     "2}", "output_padding 2 on axis H must be smaller than the stride (2) or the dilation (1)"),
    ("[8, 6, 6]", "{type: conv_transpose2d, out_channels: 4, kernel_size: 1, padding: 4}", "4}",
     "output H would be -2: H_out = (6-1)*1 - 2*4 + 1*(1-1) + 0 + 1 = -2"),
    ("[8, 6, 6]", "{type: conv_transpose2d, out_channels: 4, kernel_size: 2, padding: same}", "same",
     "argument 'padding' (expected an integer)"),  # PyTorch has no 'same' for transposed convolution
    ("[8, 1, 6, 6]", "{type: avgpool3d, kernel_size: 2, padding: 1}", "2,",
     "input D (1) is smaller than the kernel (2)"),
    ("[8, 6, 6]", "{type: conv_transpose2d, out_channels: 6, kernel_size: 2, groups: 4}", "4}",
     "out_channels (6) must be divisible by groups (4)"),
    ("[6, 6, 6]", "{type: conv_transpose2d, out_channels: 8, kernel_size: 2, groups: 4}", "4}",
     "input channels (6) must be divisible by groups (4)"),
    ("[8, 6, 6]", "{type: conv_transpose2d, kernel_size: 2}", "{type: conv_transpose2d",
     "missing required argument 'out_channels'"),
    ("[8, 6, 6]", "{type: conv_transpose3d, out_channels: 4, kernel_size: 2}", "{type: conv_transpose3d",
     "4-D input"),
    ("[8, 6, 6]", "{type: conv_transpose2d, out_channels: 4, kernel_size: 2, output_padding: -1}", "-1",
     ">= 0"),
]


@pytest.mark.parametrize("shape, layer, at, words", BAD, ids=[b[1] for b in BAD])
def test_bad_arguments_exit_2_at_the_place(tmp_path, shape, layer, at, words):
    refused_at(tmp_path, layer, at, words, shape)


HUGE = 2**31 - 1  # the largest size an input may have (cnncalc.limits)


@pytest.mark.parametrize("layer", [
    f"{{type: conv3d, out_channels: {HUGE}, kernel_size: [1, 1, {HUGE}], stride: {HUGE}}}",
    f"{{type: conv_transpose3d, out_channels: {HUGE}, kernel_size: [1, 1, {HUGE}], padding: [0, 0, {HUGE // 2}]}}",
    f"{{type: maxpool3d, kernel_size: {HUGE}, padding: {HUGE // 2}, ceil_mode: true}}",
    f"{{type: avgpool3d, kernel_size: [1, 1, {HUGE}]}}",
    f"{{type: adaptive_avgpool3d, output_size: {HUGE}}}",
    f"{{type: adaptive_maxpool3d, output_size: [1, {HUGE}, 3]}}",
])
def test_huge_sizes_are_quick(layer):
    """Every figure is closed-form in the sizes: a 2^123-element input costs nothing."""
    spec = f"input: [{2**30}, {HUGE}, {HUGE}, {HUGE}]\nlayers:\n  - {layer}\n"
    start = time.perf_counter()
    summary = cnncalc.summarize(cnncalc.loads(spec))
    assert time.perf_counter() - start < 1.0
    assert summary.totals.flops > 0


def test_transposed_output_above_the_limit_is_refused_quickly():
    spec = (f"input: [{2**30}, {HUGE}, {HUGE}, {HUGE}]\nlayers:\n  - {{type: conv_transpose3d, out_channels: {HUGE}, "
            f"kernel_size: {HUGE}, stride: {HUGE}, dilation: {HUGE}}}\n")
    start = time.perf_counter()
    with pytest.raises(SpecError) as caught:
        cnncalc.summarize(cnncalc.loads(spec))
    assert "above 2,147,483,647" in caught.value.message
    assert time.perf_counter() - start < 1.0


def test_huge_transposed_convolution_is_refused_by_verify(tmp_path):
    """A transposed convolution whose products would fill terabytes: verify's estimate
    refuses it at once (exit 2), and the estimate holds its GEMM result."""
    text = "input: [512, 4096, 4096]\nlayers:\n  - {type: conv_transpose2d, out_channels: 512, kernel_size: 8}\n"
    start = time.perf_counter()
    result = invoke("verify", str(write_spec(tmp_path, text)), "--max-memory", "1GB")
    assert result.exit_code == 2, result.output + result.stderr
    assert "verify would need about" in result.stderr and "Traceback" not in result.stderr
    assert time.perf_counter() - start < 5


def test_verify_runs_the_family(tmp_path):
    """One network with every type of the family verifies on NumPy: a small 3-D
    encoder-decoder."""
    text = ("input: [2, 6, 12, 12]\nlayers:\n"
            "  - {type: conv3d, out_channels: 4, kernel_size: 3, padding: same}\n"
            "  - {type: maxpool3d, kernel_size: 2}\n"
            "  - {type: conv_transpose3d, out_channels: 4, kernel_size: 2, stride: 2}\n"
            "  - {type: avgpool3d, kernel_size: [1, 2, 2], ceil_mode: true, count_include_pad: false}\n"
            "  - {type: reshape, shape: [24, 6, 6]}\n"
            "  - {type: conv_transpose2d, out_channels: 6, kernel_size: 3, stride: 2, padding: 1, output_padding: 1}\n"
            "  - {type: reshape, shape: [6, 144]}\n"
            "  - {type: conv_transpose1d, out_channels: 4, kernel_size: 3, groups: 2}\n"
            "  - {type: reshape, shape: [4, 2, 73, 1]}\n"
            "  - {name: a, type: adaptive_avgpool3d, output_size: [1, 3, 3]}\n"
            "  - {type: adaptive_maxpool3d, output_size: [1, 2, 2], from: a}\n"
            "  - {type: global_avg_pool}\n")
    verifies(tmp_path, text)
