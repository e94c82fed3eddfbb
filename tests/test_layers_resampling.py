"""Resampling and pieces of space: upsample / interpolate, pixel_shuffle, pixel_unshuffle,
channel_shuffle, pad and crop, against their PyTorch twins (nn.Upsample / F.interpolate,
nn.PixelShuffle, nn.PixelUnshuffle, nn.ChannelShuffle, F.pad, and slicing for crop).

The generic tests take TORCH_CASES, TORCH_ERRORS and FORWARD_CASES from here (families.py);
below them: the size rule for float scale factors, nearest's source indices exactly (also
in float64), the README's FLOPs rules, U-Net's crop-and-concat, and hostile input.
"""
from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import cnncalc
from cnncalc import SpecError
from cnncalc.backend.namespace import namespace
from cnncalc.backend.ops import Ops
from cnncalc.backend.params import Params
from cnncalc.layers import REGISTRY
from cnncalc.layers.resampling import scaled_length

from case_types import ForwardCase, TorchCase, fn
from helpers import invoke, refused_at, verifies, write_spec


def interp(**options):
    """F.interpolate with these options, as a function of the inputs (ForwardCase)."""
    return lambda xs, p: F.interpolate(xs[0], **options)


def crop_window(x, sizes):
    """x cut to `sizes` on its trailing axes, centred with offset (L - size) // 2."""
    window = [slice((n - s) // 2, (n - s) // 2 + s) for n, s in zip(x.shape[-len(sizes):], sizes)]
    return x[(..., *window)]


# ---------------------------------------------------------------------------
# shapes against torch modules
# ---------------------------------------------------------------------------

UPSAMPLE = [  # (id, input, arguments): nn.Upsample takes the same arguments
    ("nearest-2d-x2", (3, 5, 7), {"scale_factor": 2}),
    ("nearest-1d-1.5-odd", (3, 7), {"scale_factor": 1.5}),
    ("nearest-2d-per-axis", (2, 5, 7), {"scale_factor": [1.5, 0.5]}),
    ("nearest-3d-size", (2, 3, 4, 5), {"size": [5, 7, 3]}),
    ("nearest-2d-size-one", (2, 5, 7), {"size": 9}),
    ("nearest-2d-tenths", (2, 10, 30), {"scale_factor": [0.7, 0.1]}),
    ("linear", (3, 9), {"scale_factor": 2.5, "mode": "linear"}),
    ("linear-align", (3, 9), {"size": 4, "mode": "linear", "align_corners": True}),
    ("bilinear", (3, 5, 6), {"scale_factor": 2, "mode": "bilinear"}),
    ("bilinear-align-down", (3, 9, 8), {"size": [4, 3], "mode": "bilinear", "align_corners": True}),
    ("bicubic", (2, 5, 6), {"scale_factor": [1.7, 0.6], "mode": "bicubic"}),
    ("bicubic-align", (2, 5, 6), {"size": [11, 2], "mode": "bicubic", "align_corners": False}),
    ("trilinear", (2, 3, 4, 5), {"scale_factor": [2, 1.5, 0.5], "mode": "trilinear"}),
    ("trilinear-recompute", (2, 3, 4, 5), {"scale_factor": 1.3, "mode": "trilinear",
                                           "recompute_scale_factor": True}),
]


def _upsample_module(arguments):
    args = {k: tuple(v) if isinstance(v, list) else v for k, v in arguments.items()}
    if "scale_factor" in args and isinstance(args["scale_factor"], tuple):
        args["scale_factor"] = tuple(float(s) for s in args["scale_factor"])
    return lambda: nn.Upsample(**args)


PADS = [  # (id, input, arguments, F.pad's pad and keywords)
    ("constant-w", (3, 5, 6), {"pad": [1, 2]}, [1, 2], {}),
    ("constant-value-hw", (3, 5, 6), {"pad": [0, 1, 2, 3], "value": -1.5}, [0, 1, 2, 3], {"value": -1.5}),
    ("constant-channels-too", (3, 5, 6), {"pad": [1, 0, 0, 1, 2, 2]}, [1, 0, 0, 1, 2, 2], {}),
    ("constant-one-for-all", (3, 5, 6), {"pad": 2}, [2, 2, 2, 2], {}),
    ("reflect-1d", (3, 6), {"pad": [2, 5], "mode": "reflect"}, [2, 5], {"mode": "reflect"}),
    ("reflect-2d", (3, 5, 6), {"pad": [1, 3, 4, 0], "mode": "reflect"}, [1, 3, 4, 0], {"mode": "reflect"}),
    ("reflect-3d", (2, 3, 4, 5), {"pad": 1, "mode": "reflect"}, [1] * 6, {"mode": "reflect"}),
    ("reflect-whole", (3, 5, 6), {"pad": [1, 1, 1, 1, 1, 1], "mode": "reflect"}, [1] * 6, {"mode": "reflect"}),
    ("replicate-2d", (3, 5, 6), {"pad": [3, 0, 7, 2], "mode": "replicate"}, [3, 0, 7, 2], {"mode": "replicate"}),
    ("circular-2d", (3, 5, 6), {"pad": [6, 0, 2, 5], "mode": "circular"}, [6, 0, 2, 5], {"mode": "circular"}),
    ("circular-1d", (2, 4), {"pad": [4, 3], "mode": "circular"}, [4, 3], {"mode": "circular"}),
]

BRANCHES = [{"name": "enc", "type": "conv2d", "out_channels": 4, "kernel_size": 1, "from": "input"},
            {"name": "dec", "type": "maxpool2d", "kernel_size": [2, 3], "from": "input"}]

TORCH_CASES = [
    *[TorchCase(f"upsample-{id}", shape, {"type": "upsample", **args}, _upsample_module(args))
      for id, shape, args in UPSAMPLE],
    TorchCase("interpolate-bilinear", (3, 5, 6), {"type": "interpolate", "size": [7, 3], "mode": "bilinear"},
              fn(lambda x: F.interpolate(x, size=(7, 3), mode="bilinear"))),
    TorchCase("interpolate-nearest-1d", (3, 5), {"type": "interpolate", "scale_factor": 0.5},
              fn(lambda x: F.interpolate(x, scale_factor=0.5))),
    TorchCase("pixel_shuffle", (12, 5, 6), {"type": "pixel_shuffle", "upscale_factor": 2},
              lambda: nn.PixelShuffle(2)),
    TorchCase("pixel_shuffle-leading-axis", (2, 18, 2, 3), {"type": "pixel_shuffle", "upscale_factor": 3},
              lambda: nn.PixelShuffle(3)),
    TorchCase("pixel_unshuffle", (3, 6, 4), {"type": "pixel_unshuffle", "downscale_factor": 2},
              lambda: nn.PixelUnshuffle(2)),
    TorchCase("pixel_unshuffle-one", (3, 6, 4), {"type": "pixel_unshuffle", "downscale_factor": 1},
              lambda: nn.PixelUnshuffle(1)),
    TorchCase("channel_shuffle", (12, 5, 5), {"type": "channel_shuffle", "groups": 3},
              lambda: nn.ChannelShuffle(3)),
    TorchCase("channel_shuffle-1d", (6, 7), {"type": "channel_shuffle", "groups": 2}, lambda: nn.ChannelShuffle(2)),
    *[TorchCase(f"pad-{id}", shape, {"type": "pad", **args}, fn(lambda x, p=pad, k=kw: F.pad(x, p, **k)))
      for id, shape, args, pad, kw in PADS],
    TorchCase("crop-size", (3, 9, 8), {"type": "crop", "size": [4, 5]}, fn(lambda x: crop_window(x, (4, 5)))),
    TorchCase("crop-one-size", (3, 9, 8), {"type": "crop", "size": 7}, fn(lambda x: crop_window(x, (7, 7)))),
    TorchCase("crop-keep-axis", (3, 9, 8), {"type": "crop", "size": [None, 3]},
              fn(lambda x: crop_window(x, (9, 3)))),
    TorchCase("crop-1d", (3, 9), {"type": "crop", "size": 4}, fn(lambda x: crop_window(x, (4,)))),
    TorchCase("crop-to-reference", (3, 9, 8), {"type": "crop", "from": ["enc", "dec"]},
              fn(lambda x, ref: crop_window(x, ref.shape[2:])), before=BRANCHES),
]

TORCH_ERRORS = [
    TorchCase("upsample-size-and-scale", (3, 4, 4), {"type": "upsample", "size": 8, "scale_factor": 2},
              lambda: nn.Upsample(size=8, scale_factor=2)),
    TorchCase("upsample-neither", (3, 4, 4), {"type": "upsample"}, lambda: nn.Upsample()),
    TorchCase("upsample-nearest-align", (3, 4, 4), {"type": "upsample", "scale_factor": 2, "align_corners": False},
              lambda: nn.Upsample(scale_factor=2, align_corners=False)),
    TorchCase("upsample-bilinear-1d", (3, 4), {"type": "upsample", "scale_factor": 2, "mode": "bilinear"},
              lambda: nn.Upsample(scale_factor=2, mode="bilinear")),
    TorchCase("upsample-linear-2d", (3, 4, 4), {"type": "upsample", "scale_factor": 2, "mode": "linear"},
              lambda: nn.Upsample(scale_factor=2, mode="linear")),
    TorchCase("upsample-bicubic-3d", (3, 4, 4, 4), {"type": "upsample", "scale_factor": 2, "mode": "bicubic"},
              lambda: nn.Upsample(scale_factor=2, mode="bicubic")),
    TorchCase("upsample-trilinear-2d", (3, 4, 4), {"type": "upsample", "scale_factor": 2, "mode": "trilinear"},
              lambda: nn.Upsample(scale_factor=2, mode="trilinear")),
    TorchCase("upsample-empty-output", (3, 4, 9), {"type": "upsample", "scale_factor": 0.2},
              lambda: nn.Upsample(scale_factor=0.2)),
    TorchCase("upsample-negative-scale", (3, 4, 9), {"type": "upsample", "scale_factor": -2},
              lambda: nn.Upsample(scale_factor=-2.0)),
    TorchCase("upsample-size-count", (3, 4, 9), {"type": "upsample", "size": [4, 4, 4]},
              lambda: nn.Upsample(size=(4, 4, 4))),
    TorchCase("upsample-scale-count", (3, 4, 9), {"type": "upsample", "scale_factor": [2.0]},
              lambda: nn.Upsample(scale_factor=(2.0,))),
    TorchCase("upsample-rank-low", (9,), {"type": "upsample", "scale_factor": 2}, lambda: nn.Upsample(scale_factor=2)),
    TorchCase("upsample-rank-high", (2, 2, 2, 2, 2), {"type": "upsample", "scale_factor": 2},
              lambda: nn.Upsample(scale_factor=2)),
    TorchCase("upsample-recompute-size", (3, 4), {"type": "upsample", "size": 8, "mode": "linear",
                                                  "recompute_scale_factor": True},
              fn(lambda x: F.interpolate(x, size=8, mode="linear", recompute_scale_factor=True))),
    TorchCase("interpolate-neither", (3, 4, 4), {"type": "interpolate"}, fn(lambda x: F.interpolate(x))),
    TorchCase("pixel_shuffle-channels", (10, 4, 4), {"type": "pixel_shuffle", "upscale_factor": 2},
              lambda: nn.PixelShuffle(2)),
    TorchCase("pixel_shuffle-zero", (8, 4, 4), {"type": "pixel_shuffle", "upscale_factor": 0},
              lambda: nn.PixelShuffle(0)),
    TorchCase("pixel_shuffle-rank", (8, 4), {"type": "pixel_shuffle", "upscale_factor": 2},
              lambda: nn.PixelShuffle(2)),
    TorchCase("pixel_unshuffle-height", (2, 5, 4), {"type": "pixel_unshuffle", "downscale_factor": 2},
              lambda: nn.PixelUnshuffle(2)),
    TorchCase("pixel_unshuffle-width", (2, 4, 5), {"type": "pixel_unshuffle", "downscale_factor": 2},
              lambda: nn.PixelUnshuffle(2)),
    TorchCase("channel_shuffle-groups", (10, 3, 3), {"type": "channel_shuffle", "groups": 3},
              lambda: nn.ChannelShuffle(3)),
    TorchCase("channel_shuffle-rank", (12,), {"type": "channel_shuffle", "groups": 3}, lambda: nn.ChannelShuffle(3)),
    TorchCase("pad-odd", (3, 5, 6), {"type": "pad", "pad": [1, 2, 3]}, fn(lambda x: F.pad(x, [1, 2, 3]))),
    TorchCase("pad-too-many-axes", (3, 5), {"type": "pad", "pad": [1] * 6}, fn(lambda x: F.pad(x, [1] * 8))),
    TorchCase("pad-reflect-too-wide", (3, 5, 6), {"type": "pad", "pad": [6, 0], "mode": "reflect"},
              fn(lambda x: F.pad(x, [6, 0], mode="reflect"))),
    TorchCase("pad-reflect-too-high", (3, 5, 6), {"type": "pad", "pad": [0, 0, 1, 5], "mode": "reflect"},
              fn(lambda x: F.pad(x, [0, 0, 1, 5], mode="reflect"))),
    TorchCase("pad-circular-twice", (3, 5, 6), {"type": "pad", "pad": [7, 0], "mode": "circular"},
              fn(lambda x: F.pad(x, [7, 0], mode="circular"))),
    TorchCase("pad-reflect-value", (3, 5, 6), {"type": "pad", "pad": [1, 1], "mode": "reflect", "value": 2.0},
              fn(lambda x: F.pad(x, [1, 1], mode="reflect", value=2.0))),
    TorchCase("pad-replicate-rank", (2, 3, 5, 6), {"type": "pad", "pad": [1, 1], "mode": "replicate"},
              fn(lambda x: F.pad(x, [1, 1], mode="replicate"))),
    TorchCase("pad-replicate-five-axes", (2, 2, 3, 5, 6), {"type": "pad", "pad": [1] * 6, "mode": "replicate"},
              fn(lambda x: F.pad(x, [1] * 6, mode="replicate"))),
]


# ---------------------------------------------------------------------------
# forward numerics on the same inputs
# ---------------------------------------------------------------------------

FORWARD_CASES = [
    ForwardCase("upsample-nearest-2d", "upsample", {"scale_factor": 2}, [(3, 5, 4)], interp(scale_factor=2)),
    ForwardCase("upsample-nearest-fractional", "upsample", {"scale_factor": [1.7, 0.6]}, [(3, 7, 11)],
                interp(scale_factor=(1.7, 0.6))),
    ForwardCase("upsample-nearest-1.2-same-size", "upsample", {"scale_factor": 1.2}, [(2, 3)],
                interp(scale_factor=1.2)),
    ForwardCase("upsample-nearest-size-3d", "upsample", {"size": [5, 2, 7]}, [(2, 3, 4, 5)],
                interp(size=(5, 2, 7))),
    ForwardCase("upsample-nearest-tenths", "upsample", {"scale_factor": [0.7, 0.3]}, [(2, 10, 30)],
                interp(scale_factor=(0.7, 0.3))),
    ForwardCase("upsample-linear", "upsample", {"scale_factor": 2.5, "mode": "linear"}, [(3, 9)],
                interp(scale_factor=2.5, mode="linear")),
    ForwardCase("upsample-linear-down", "upsample", {"scale_factor": 0.45, "mode": "linear"}, [(3, 13)],
                interp(scale_factor=0.45, mode="linear")),
    ForwardCase("upsample-linear-align", "upsample", {"size": 17, "mode": "linear", "align_corners": True},
                [(3, 6)], interp(size=17, mode="linear", align_corners=True)),
    ForwardCase("upsample-linear-align-one", "upsample", {"size": 1, "mode": "linear", "align_corners": True},
                [(3, 6)], interp(size=1, mode="linear", align_corners=True)),
    ForwardCase("upsample-bilinear", "upsample", {"scale_factor": 2, "mode": "bilinear"}, [(3, 5, 6)],
                interp(scale_factor=2, mode="bilinear")),
    ForwardCase("upsample-bilinear-align", "upsample", {"scale_factor": [1.5, 3], "mode": "bilinear",
                                                        "align_corners": True}, [(3, 5, 6)],
                interp(scale_factor=(1.5, 3.0), mode="bilinear", align_corners=True)),
    ForwardCase("upsample-bilinear-size-down", "upsample", {"size": [3, 8], "mode": "bilinear"}, [(2, 9, 8)],
                interp(size=(3, 8), mode="bilinear")),
    ForwardCase("upsample-bilinear-same-size-scale", "upsample", {"scale_factor": 1.2, "mode": "bilinear"},
                [(2, 3, 4)], interp(scale_factor=1.2, mode="bilinear")),
    ForwardCase("upsample-bicubic", "upsample", {"scale_factor": 2, "mode": "bicubic"}, [(2, 5, 6)],
                interp(scale_factor=2, mode="bicubic")),
    ForwardCase("upsample-bicubic-down-align", "upsample", {"size": [3, 2], "mode": "bicubic",
                                                            "align_corners": True}, [(2, 8, 7)],
                interp(size=(3, 2), mode="bicubic", align_corners=True)),
    ForwardCase("upsample-bicubic-fractional", "upsample", {"scale_factor": [1.2, 0.7], "mode": "bicubic"},
                [(2, 3, 10)], interp(scale_factor=(1.2, 0.7), mode="bicubic")),
    ForwardCase("upsample-bicubic-tiny", "upsample", {"size": [4, 5], "mode": "bicubic"}, [(2, 1, 2)],
                interp(size=(4, 5), mode="bicubic")),
    ForwardCase("upsample-trilinear", "upsample", {"scale_factor": [2, 1.5, 0.5], "mode": "trilinear"},
                [(2, 3, 4, 6)], interp(scale_factor=(2.0, 1.5, 0.5), mode="trilinear")),
    ForwardCase("upsample-trilinear-align-recompute", "upsample",
                {"scale_factor": 1.7, "mode": "trilinear", "align_corners": True, "recompute_scale_factor": True},
                [(2, 3, 4, 5)],
                interp(scale_factor=1.7, mode="trilinear", align_corners=True, recompute_scale_factor=True)),
    ForwardCase("upsample-bilinear-recompute", "upsample",
                {"scale_factor": 1.7, "mode": "bilinear", "recompute_scale_factor": True}, [(2, 5, 3)],
                interp(scale_factor=1.7, mode="bilinear", recompute_scale_factor=True)),
    ForwardCase("interpolate-bilinear", "interpolate", {"size": [7, 3], "mode": "bilinear"}, [(3, 5, 6)],
                interp(size=(7, 3), mode="bilinear")),
    ForwardCase("pixel_shuffle", "pixel_shuffle", {"upscale_factor": 2}, [(12, 5, 6)],
                lambda xs, p: F.pixel_shuffle(xs[0], 2)),
    ForwardCase("pixel_shuffle-leading-axis", "pixel_shuffle", {"upscale_factor": 3}, [(2, 18, 2, 3)],
                lambda xs, p: F.pixel_shuffle(xs[0], 3)),
    ForwardCase("pixel_unshuffle", "pixel_unshuffle", {"downscale_factor": 2}, [(3, 6, 4)],
                lambda xs, p: F.pixel_unshuffle(xs[0], 2)),
    ForwardCase("pixel_unshuffle-three", "pixel_unshuffle", {"downscale_factor": 3}, [(2, 9, 6)],
                lambda xs, p: F.pixel_unshuffle(xs[0], 3)),
    ForwardCase("channel_shuffle", "channel_shuffle", {"groups": 3}, [(12, 4, 5)],
                lambda xs, p: F.channel_shuffle(xs[0], 3)),
    ForwardCase("channel_shuffle-1d", "channel_shuffle", {"groups": 2}, [(6, 7)],
                lambda xs, p: F.channel_shuffle(xs[0], 2)),
    *[ForwardCase(f"pad-{id}", "pad", args, [shape], lambda xs, p, pad=pad, kw=kw: F.pad(xs[0], pad, **kw))
      for id, shape, args, pad, kw in PADS],
    ForwardCase("crop-size", "crop", {"size": [4, 5]}, [(3, 9, 8)], lambda xs, p: crop_window(xs[0], (4, 5))),
    ForwardCase("crop-keep-axis", "crop", {"size": [None, 3]}, [(3, 9, 8)],
                lambda xs, p: crop_window(xs[0], (9, 3))),
    ForwardCase("crop-3d-odd", "crop", {"size": [2, 4, 1]}, [(2, 5, 7, 4)],
                lambda xs, p: crop_window(xs[0], (2, 4, 1))),
    ForwardCase("crop-to-reference", "crop", {}, [(4, 9, 9), (2, 6, 5)],
                lambda xs, p: crop_window(xs[0], xs[1].shape[2:])),
]


# ---------------------------------------------------------------------------
# sizes and indices, exactly as PyTorch
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("length", [1, 2, 3, 5, 7, 10, 13, 30, 99, 224, 1000, 12345])
@pytest.mark.parametrize("scale", [0.1, 0.3, 0.45, 0.5, 0.7, 1.0, 1.2, 1.5, 1.7, 2.0, 2.5, 3.3, 1 / 3, 2 / 3, 7.1])
def test_scaled_sizes_match_torch(length, scale):
    """floor(L * scale) with the double product torch takes: 10 * 0.7 is 7 there, not 6."""
    expected = math.floor(float(length) * scale)
    if expected < 1:
        return
    out = F.interpolate(torch.zeros(1, 1, length), scale_factor=scale)
    assert scaled_length(length, scale) == out.shape[-1] == expected


def _nearest_rows(length, size=None, scale=None, dtype="float32"):
    """Which input position each output position of a nearest upsample reads: ours and torch's."""
    layer = REGISTRY["upsample"].from_spec({"size": size} if size else {"scale_factor": scale}, None)
    x = np.arange(length, dtype=dtype).reshape(1, 1, length)
    ours = layer.forward(Ops(namespace("numpy")), Params({}, {}, make=None), x)
    theirs = F.interpolate(torch.from_numpy(x), **({"size": size} if size else {"scale_factor": scale}))
    return ours[0, 0].astype(int).tolist(), theirs[0, 0].numpy().astype(int).tolist()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_nearest_reads_the_positions_torch_reads(dtype):
    """A wrong floor in the index arithmetic moves one output by a whole pixel: compared
    exactly, for sizes and scale factors where float rounding decides."""
    for length in [3, 5, 7, 10, 13, 29, 100, 333]:
        for size in sorted({1, 2, length - 1, length + 1, 2 * length + 1, 3 * length - 1, 7} - {0}):
            ours, theirs = _nearest_rows(length, size=size, dtype=dtype)
            assert ours == theirs, (length, size)
        for scale in [0.3, 0.7, 1.1, 1.2, 1.3, 1.7, 2.9, 3.1, 1 / 3, 2 / 3]:
            if math.floor(length * scale) >= 1:
                ours, theirs = _nearest_rows(length, scale=scale, dtype=dtype)
                assert ours == theirs, (length, scale)


@pytest.mark.parametrize("mode, shape", [("linear", (2, 7)), ("bilinear", (2, 5, 7)), ("bicubic", (2, 5, 7)),
                                         ("trilinear", (2, 3, 4, 5))])
@pytest.mark.parametrize("align", [False, True])
def test_interpolation_in_float64(mode, shape, align):
    """The same coordinates in double precision (PyTorch computes them in the input's dtype)."""
    spatial = len(shape) - 1
    for scale in [0.4, 0.75, 1.3, 2.0, 3.7]:
        layer = REGISTRY["upsample"].from_spec({"scale_factor": scale, "mode": mode, "align_corners": align}, None)
        x = np.random.default_rng(1).standard_normal((2, *shape))
        ours = layer.forward(Ops(namespace("numpy")), Params({}, {}, make=None), x)
        theirs = F.interpolate(torch.from_numpy(x), scale_factor=(scale,) * spatial, mode=mode, align_corners=align)
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------
# random arguments: cnncalc refuses exactly what torch refuses, and computes what it computes
# ---------------------------------------------------------------------------

SCALES = [0.1, 0.25, 0.3, 0.5, 0.7, 0.75, 1.0, 1.2, 1.5, 1 / 3, 2.0, 2.5, 3.7, -1.0]


def _both(case: TorchCase, torch_call):
    """cnncalc's summary and torch's output of a random case: equal refusal, equal shapes, and
    (where both run) equal numbers on the same input."""
    try:
        layer = cnncalc.summarize(cnncalc.loads(case.spec())).layers[-1]
    except SpecError:
        layer = None
    x = torch.randn(2, *case.input)
    try:
        expected = torch_call(x)
    except (RuntimeError, ValueError, IndexError, TypeError):
        expected = None
    assert (layer is None) == (expected is None), (case.layer, case.input)
    if layer is None:
        return
    assert layer.output_shape == tuple(expected.shape[1:])
    built = REGISTRY[case.type].from_spec({k: v for k, v in case.layer.items() if k != "type"}, None)
    got = built.forward(Ops(namespace("numpy")), Params({}, {}, make=None), x.numpy())
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-4, atol=1e-5)


@st.composite
def _resizes(draw):
    spatial = draw(st.integers(1, 3))
    shape = (draw(st.integers(1, 3)), *(draw(st.integers(1, 9)) for _ in range(spatial)))
    mode = draw(st.sampled_from(["nearest", "linear", "bilinear", "bicubic", "trilinear"]))
    args, options = {"mode": mode}, {"mode": mode}
    count = draw(st.sampled_from([spatial, spatial, 1, 2, 3]))
    if draw(st.booleans()):
        sizes = [draw(st.integers(1, 20)) for _ in range(count)]
        args["size"] = options["size"] = sizes[0] if draw(st.booleans()) else sizes
    else:
        scales = [draw(st.sampled_from(SCALES)) for _ in range(count)]
        args["scale_factor"] = options["scale_factor"] = scales[0] if draw(st.booleans()) else scales
        if draw(st.integers(0, 3)) == 0:
            args["recompute_scale_factor"] = options["recompute_scale_factor"] = True
    if draw(st.integers(0, 2)) == 0:
        args["align_corners"] = options["align_corners"] = draw(st.booleans())
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
    return TorchCase("random", shape, {"type": "upsample", **args}, None), options


@settings(max_examples=300, deadline=None)
@given(_resizes())
def test_random_resizes_agree_with_torch(drawn):
    case, options = drawn
    _both(case, lambda x: F.interpolate(x, **options))


@st.composite
def _pads(draw):
    shape = tuple(draw(st.integers(1, 6)) for _ in range(draw(st.integers(1, 4))))
    mode = draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
    pad = [draw(st.integers(0, 7)) for _ in range(draw(st.integers(1, 4)) * 2)]
    value = draw(st.sampled_from([0.0, 0.0, 1.5]))
    return TorchCase("random", shape, {"type": "pad", "pad": pad, "mode": mode, "value": value}, None)


@settings(max_examples=300, deadline=None)
@given(_pads())
def test_random_pads_agree_with_torch(case):
    pad, mode, value = case.layer["pad"], case.layer["mode"], case.layer["value"]
    if mode == "constant" and len(pad) // 2 == len(case.input) + 1:  # torch pads the batch axis
        with pytest.raises(SpecError, match="has"):
            cnncalc.summarize(cnncalc.loads(case.spec()))
        return
    _both(case, lambda x: F.pad(x, pad, mode=mode, value=value if mode == "constant" or value else None))


# ---------------------------------------------------------------------------
# FLOPs: torch's counter counts none of these; the README's rules, written out here
# ---------------------------------------------------------------------------

PER_OUTPUT_ELEMENT = {"nearest": 0, "linear": 3, "bilinear": 9, "trilinear": 21, "bicubic": 35}


def readme_flops(layer: dict, out: tuple) -> int:
    """README: upsample counts the weighted sum of each output element's neighbours, nested
    axis by axis as PyTorch's kernel computes it; everything else in the family moves data."""
    if layer["type"] in ("upsample", "interpolate"):
        return math.prod(out) * PER_OUTPUT_ELEMENT[layer.get("mode", "nearest")]
    return 0


def test_per_element_rule_is_the_nested_weighted_sum():
    """linear: w0*a + w1*b = 3; bilinear: two of those and one more = 9; trilinear: 2*9 + 3;
    bicubic: four taps (4 multiplies, 3 adds = 7), then 4*7 + 7 = 35."""
    assert PER_OUTPUT_ELEMENT["linear"] == 2 + 1
    assert PER_OUTPUT_ELEMENT["bilinear"] == 2 * 3 + 3
    assert PER_OUTPUT_ELEMENT["trilinear"] == 2 * 9 + 3
    assert PER_OUTPUT_ELEMENT["bicubic"] == 4 * 7 + 7


@pytest.mark.parametrize("case", TORCH_CASES, ids=[c.id for c in TORCH_CASES])
def test_flops_follow_the_readme_rule(case):
    record = cnncalc.summarize(cnncalc.loads(case.spec())).layers[-1]
    assert record.flops == readme_flops(case.layer, record.output_shape)
    assert record.macs == 0


@pytest.mark.parametrize("case", TORCH_CASES, ids=[c.id for c in TORCH_CASES])
def test_torch_flop_counter_counts_none_of_these(case):
    """torch.utils.flop_counter counts matmuls and convolutions only: 0 for upsampling
    (peers leave it uncounted too, calflops#22), shuffles, padding and cropping. Should a
    torch version start counting one, this test names it."""
    summary = cnncalc.summarize(cnncalc.loads(case.spec()))
    shapes = {"input": summary.input_shape, **{r.name: r.output_shape for r in summary.layers}}
    inputs = [torch.randn(2, *shapes[name]) for name in summary.layers[-1].inputs]
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        case.torch().eval()(*inputs)
    assert counter.get_total_flops() == 0


def test_flops_scale_with_the_batch():
    spec = "input: [3, 8, 8]\nlayers:\n  - {type: upsample, scale_factor: 2, mode: bicubic}\n  - {type: pad, pad: 1}\n"
    one = cnncalc.summarize(cnncalc.loads(spec)).totals.flops
    assert one == 3 * 16 * 16 * 35
    assert cnncalc.summarize(cnncalc.loads(spec), batch=4).totals.flops == 4 * one


# ---------------------------------------------------------------------------
# crop: the odd-difference rule, and U-Net's crop-and-concat
# ---------------------------------------------------------------------------

def test_crop_offsets_put_the_odd_row_at_the_end():
    """Offset (L - size) // 2: from 7 to 4 keeps rows 1..4 (the extra cut row is the last)."""
    layer = REGISTRY["crop"].from_spec({"size": [4, 6]}, None)
    x = np.arange(7 * 6, dtype="float32").reshape(1, 1, 7, 6)
    y = layer.forward(Ops(namespace("numpy")), Params({}, {}, make=None), x)
    np.testing.assert_array_equal(y, x[:, :, 1:5, :])


def test_crop_against_torchvision_center_crop_rule():
    """torchvision's CenterCrop puts the window at int(round((L - size) / 2.0))
    (functional._center_crop_compute_crop_anchor): Python's round, half to even. Ours,
    (L - size) // 2, is the same for every even difference and for odd differences
    1, 5, 9, ...; for 3, 7, 11, ... torchvision starts one pixel later (the README says so)."""
    for length in range(1, 40):
        for size in range(1, length + 1):
            ours, theirs = (length - size) // 2, int(round((length - size) / 2.0))
            assert ours == theirs if (length - size) % 4 != 3 else theirs == ours + 1, (length, size)


UNET_LEVEL = """\
name: unet-level
input: [1, 36, 36]
layers:
  - {name: enc1, type: conv2d, out_channels: 8, kernel_size: 3}
  - {name: enc2, type: conv2d, out_channels: 8, kernel_size: 3}
  - {name: down, type: maxpool2d, kernel_size: 2}
  - {name: mid1, type: conv2d, out_channels: 16, kernel_size: 3}
  - {name: mid2, type: conv2d, out_channels: 16, kernel_size: 3}
  - {name: up, type: upsample, scale_factor: 2}
  - {name: upconv, type: conv2d, out_channels: 8, kernel_size: 1}
  - {name: skip, type: crop, from: [enc2, upconv]}
  - {name: cat, type: concat, from: [skip, upconv]}
  - {name: dec, type: conv2d, out_channels: 8, kernel_size: 3}
  - {name: head, type: conv2d, out_channels: 2, kernel_size: 1}
"""


class UNetLevel(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc1, self.enc2 = nn.Conv2d(1, 8, 3), nn.Conv2d(8, 8, 3)
        self.mid1, self.mid2 = nn.Conv2d(8, 16, 3), nn.Conv2d(16, 16, 3)
        self.upconv, self.dec, self.head = nn.Conv2d(16, 8, 1), nn.Conv2d(16, 8, 3), nn.Conv2d(8, 2, 1)

    def forward(self, x):
        skip = self.enc2(self.enc1(x))
        up = self.upconv(F.interpolate(self.mid2(self.mid1(F.max_pool2d(skip, 2))), scale_factor=2))
        return self.head(self.dec(torch.cat([crop_window(skip, up.shape[2:]), up], dim=1)))


def test_unet_crop_and_concat():
    """Ronneberger et al. 2015: the encoder map (32x32) is cropped to the decoder's (24x24)
    and concatenated: the shapes and parameters torch's twin has, and verify runs it."""
    summary = cnncalc.summarize(cnncalc.loads(UNET_LEVEL))
    shapes = {r.name: r.output_shape for r in summary.layers}
    assert shapes["enc2"] == (8, 32, 32) and shapes["upconv"] == (8, 24, 24)
    assert shapes["skip"] == (8, 24, 24) and shapes["cat"] == (16, 24, 24)
    twin = UNetLevel()
    with torch.no_grad():
        assert summary.output_shape == tuple(twin(torch.zeros(1, 1, 36, 36)).shape[1:]) == (2, 22, 22)
    assert summary.totals.params == sum(p.numel() for p in twin.parameters())
    from cnncalc.backend import verify

    assert verify(cnncalc.loads(UNET_LEVEL), batch=2).ok


# ---------------------------------------------------------------------------
# refusals without a torch twin (crop), and hostile input
# ---------------------------------------------------------------------------

REFUSED = [  # (input, layer, words of the message)
    ((3, 8, 8), {"type": "crop", "size": 9}, "cannot crop the input's H (8) to 9"),
    ((3, 8, 8), {"type": "crop", "size": [4, 4, 4]}, "3 values but the input has 2 spatial axes"),
    ((3, 8, 8), {"type": "crop"}, "needs 'size'"),
    ((8,), {"type": "crop", "size": 2}, "spatial axes after the channels"),
    ((3, 8, 8), {"type": "crop", "size": 0}, "must be positive"),
    ((3, 8, 8), {"type": "pad", "pad": [-1, 1]}, "must be >= 0"),
    ((3, 8, 8), {"type": "pad", "pad": [1, 1, 1, 1, 1, 1, 1, 1]}, "has 3"),  # torch would pad the batch axis
    ((8,), {"type": "pad", "pad": 1}, "has none"),
    ((3, 8, 8), {"type": "upsample", "scale_factor": 2, "mode": "area"}, "must be one of"),
    ((3, 8, 8), {"type": "upsample", "size": [4, None]}, "must be an integer"),
]


@pytest.mark.parametrize("shape, layer, words", REFUSED, ids=[f"{l['type']}-{i}" for i, (_, l, _) in enumerate(REFUSED)])
def test_refused(shape, layer, words):
    with pytest.raises(SpecError) as caught:
        cnncalc.summarize(cnncalc.loads(TorchCase("refused", shape, layer, None).spec()))
    assert words in caught.value.message


def test_crop_with_size_and_reference_is_refused():
    text = ("input: [3, 8, 8]\nlayers:\n  - {name: a, type: identity}\n  - {name: b, type: maxpool2d, kernel_size: 2}\n"
            "  - {type: crop, from: [a, b], size: 2}\n")
    with pytest.raises(SpecError, match="not both"):
        cnncalc.summarize(cnncalc.loads(text))
    text = text.replace(", size: 2", "").replace("from: [a, b]", "from: [a, b, a]")
    with pytest.raises(SpecError, match="names 3"):
        cnncalc.summarize(cnncalc.loads(text))
    text = text.replace("{name: b, type: maxpool2d, kernel_size: 2}", "{name: b, type: flatten}")
    with pytest.raises(SpecError, match="axes"):
        cnncalc.summarize(cnncalc.loads(text.replace("[a, b, a]", "[a, b]")))


BAD = [  # (layer as written in the spec, the text the caret points at, words of the message)
    ("{type: upsample, scale_factor: 0}", "0}", "positive"),
    ("{type: upsample, scale_factor: .nan}", ".nan", "finite"),
    ("{type: upsample, scale_factor: two}", "two", "a number"),
    ("{type: upsample, scale_factor: 2, mode: bilinear, align_corners: maybe}", "maybe", "true or false"),
    ("{type: upsample, scale_factor: 2, align_corners: true}", "true}", "not to nearest"),
    ("{type: upsample, scale_factor: 2, mode: linear}", "linear", "mode 'linear'"),
    ("{type: upsample, size: [3, 4, 5]}", "[3, 4, 5]", "3 values"),
    ("{type: upsample, scale_factor: 0.01}", "0.01", "output H would be 0"),
    ("{type: upsample}", "{type: upsample}", "exactly one"),
    ("{type: interpolate, size: []}", "[]", "empty"),
    ("{type: pixel_shuffle, upscale_factor: 3}", "3}", "divisible"),
    ("{type: pixel_unshuffle, downscale_factor: 4}", "4}", "divisible"),
    ("{type: channel_shuffle, groups: 5}", "5}", "divisible"),
    ("{type: pad, pad: [1, 2, 3]}", "[1, 2, 3]", "pairs"),
    ("{type: pad, pad: [6, 6, 0, 0], mode: reflect}", "[6, 6, 0, 0]", "less than the input's W (6)"),
    ("{type: pad, pad: 1, mode: mirror}", "mirror", "must be one of"),
    ("{type: pad, pad: 1, mode: replicate, value: 3}", "3}", "no fill value"),
    ("{type: crop, size: [7, 2]}", "[7, 2]", "to 7"),
]


@pytest.mark.parametrize("layer, at, words", BAD, ids=[b[0] for b in BAD])
def test_bad_arguments_exit_2_at_the_place(tmp_path, layer, at, words):
    refused_at(tmp_path, layer, at, words)


HUGE = 10**9


@pytest.mark.parametrize("layer", [
    "{type: upsample, scale_factor: 2, mode: bicubic}", "{type: upsample, size: 2000000000, mode: bilinear}",
    "{type: pixel_shuffle, upscale_factor: 1}", "{type: pixel_unshuffle, downscale_factor: 1000}",
    "{type: channel_shuffle, groups: 1000}", "{type: pad, pad: 100000000, mode: circular}",
    "{type: pad, pad: 500000000, mode: reflect}", "{type: crop, size: [1, 7]}",
])
def test_huge_sizes_are_quick(layer):
    """Every figure is closed-form in the sizes."""
    spec = f"input: [1000, {HUGE}, {HUGE}]\nlayers:\n  - {layer}\n"
    start = time.perf_counter()
    summary = cnncalc.summarize(cnncalc.loads(spec))
    assert time.perf_counter() - start < 1.0
    assert summary.totals.flops >= 0


@pytest.mark.parametrize("layer", ["{type: upsample, scale_factor: 1.0e+14}", "{type: pad, pad: 1.0e+14}"])
def test_sizes_beyond_the_limit_are_refused_quickly(tmp_path, layer):
    path = write_spec(tmp_path, f"input: [3, {HUGE}, {HUGE}]\nlayers:\n  - {layer}\n")
    start = time.perf_counter()
    result = invoke("summary", str(path))
    assert result.exit_code == 2 and "above 2,147,483,647" in result.stderr, result.stderr
    assert time.perf_counter() - start < 1.0


def test_verify_refuses_a_huge_upsample_before_allocating(tmp_path):
    path = write_spec(tmp_path, "input: [3, 64, 64]\nlayers:\n  - {type: upsample, size: 2000000000, mode: bicubic}\n")
    start = time.perf_counter()
    result = invoke("verify", str(path))
    assert result.exit_code == 2 and "memory" in result.stderr, result.stderr
    assert time.perf_counter() - start < 2.0


def test_verify_runs_the_family(tmp_path):
    """One network with every type of the family verifies on NumPy."""
    text = ("input: [8, 6, 6]\nlayers:\n"
            "  - {type: upsample, scale_factor: 1.5, mode: bilinear}\n  - {type: interpolate, size: [8, 10]}\n"
            "  - {type: upsample, scale_factor: [0.5, 0.6], mode: bicubic, align_corners: true}\n"
            "  - {type: pixel_unshuffle, downscale_factor: 2}\n  - {type: channel_shuffle, groups: 4}\n"
            "  - {type: pixel_shuffle, upscale_factor: 2}\n  - {type: pad, pad: [1, 2, 0, 3], mode: reflect}\n"
            "  - {type: pad, pad: 1, mode: replicate}\n  - {type: pad, pad: [2, 2, 0, 0], mode: circular}\n"
            "  - {type: pad, pad: 1, value: 0.5}\n  - {name: c, type: crop, size: [5, 5]}\n"
            "  - {type: reshape, shape: [8, 5, 5, 1]}\n  - {type: upsample, scale_factor: [1, 2, 3], mode: trilinear}\n"
            "  - {type: reshape, shape: [8, 5, 30]}\n  - {type: upsample, size: [3, 7]}\n")
    verifies(tmp_path, text)


@pytest.mark.parametrize("shape", [(1, 3), (1, 2, 5), (1, 3, 5), (1, 2, 3, 5)], ids=str)
def test_nearest_on_an_axis_of_unchanged_size_reads_as_pytorch(shape):
    """PyTorch's 2-D nearest kernel copies an axis whose size the scale leaves unchanged;
    its 1-D and 3-D kernels read floor(i / scale) there (found by the random test above)."""
    layer = REGISTRY["upsample"].from_spec({"mode": "nearest", "scale_factor": 1.2}, evaluate=None)
    x = np.arange(math.prod(shape), dtype=np.float32).reshape(1, *shape)
    y = layer.forward(Ops(namespace("numpy")), Params({}, {}, make=None), x)
    expected = F.interpolate(torch.from_numpy(x), scale_factor=1.2, mode="nearest").numpy()
    np.testing.assert_array_equal(np.asarray(y), expected)
