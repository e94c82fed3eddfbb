"""thop 0.1.1.post2209072238 (`pip install thop`): `thop.profile(model, inputs)` -> (ops, params).

From thop/profile.py `register_hooks` (the module classes it has a rule for) and
thop/vision/basic_hooks.py + calc_func.py (the rules). A module class without a rule counts
0 ops and 0 params: thop adds `total_params` only in the hook of a class it knows.
Everything includes the batch.
"""
from __future__ import annotations

import math

from .core import ZERO, Count, Figure, Seen, Tool


def _conv(seen: Seen) -> Count:
    # calculate_conv2d_flops: output elements x (input channels // groups) x kernel elements, bias left out;
    # for a transposed convolution it is still priced by the output, with the input's channels
    weight = seen.params["weight"]  # [out, in / groups, *k]; transposed: [in, out / groups, *k]
    per_group = seen.inputs[0][0] * weight[1] // seen.output[0] if seen.transposed else weight[1]
    return Count(seen.out_numel * per_group * math.prod(weight[2:]),
                 "transposed: priced by the output's elements, not the input's (pytorch-OpCounter#93, "
                 "ultralytics/thop#92)" if seen.transposed else "")


def _norm(seen: Seen) -> Count:
    # count_normalization: calculate_norm = 2 per input element, doubled when affine
    affine = seen.has("weight")
    return Count(seen.in_numel * (4 if affine else 2), f"{4 if affine else 2} per input element")


def _softmax(seen: Seen) -> Count:
    # calculate_softmax: per row of n features, n exp + (n - 1) adds + n divisions
    features = (seen.inputs[0])[seen.layer.axis]
    return Count(seen.in_numel // features * (3 * features - 1), "3n - 1 per softmax of n")


def _avgpool(seen: Seen) -> Count:
    return Count(seen.out_numel, "1 per output element")


def _adaptive_avgpool(seen: Seen) -> Count:
    # count_adap_avgpool: (prod(input size / output size) + 1) x output elements, in float64
    kernel = math.prod(x / y for x, y in zip(seen.inputs[0][1:], seen.output[1:]))
    return Count(int((kernel + 1) * seen.out_numel), "the window's size + 1 per output element")


def _linear(seen: Seen) -> Count:
    return Count(seen.params["weight"][1] * seen.out_numel, "")


# count_upsample: per output element, by mode; any other mode ("trilinear") logs a warning and counts 0
UPSAMPLE = {"nearest": 1, "linear": 5, "bilinear": 11, "bicubic": 224 + 35}


def _upsample(seen: Seen) -> Count:
    per = UPSAMPLE.get(seen.layer.mode, 0)
    return Count(per * seen.out_numel, f"{per} per output element for mode '{seen.layer.mode}'")


def _prelu(seen: Seen) -> Count:
    return Count(seen.in_numel, "1 per input element (eval mode)")


# thop/profile.py register_hooks: module class -> rule (zero_ops: registered, counts 0 but its params)
RULES = {
    "ZeroPad2d": None, "Conv1d": _conv, "Conv2d": _conv, "Conv3d": _conv,
    "ConvTranspose1d": _conv, "ConvTranspose2d": _conv, "ConvTranspose3d": _conv,
    "BatchNorm1d": _norm, "BatchNorm2d": _norm, "BatchNorm3d": _norm, "LayerNorm": _norm,
    "InstanceNorm1d": _norm, "InstanceNorm2d": _norm, "InstanceNorm3d": _norm,
    "PReLU": _prelu, "Softmax": _softmax, "ReLU": None, "ReLU6": None, "LeakyReLU": None,
    "MaxPool1d": None, "MaxPool2d": None, "MaxPool3d": None,
    "AdaptiveMaxPool1d": None, "AdaptiveMaxPool2d": None, "AdaptiveMaxPool3d": None,
    "AvgPool1d": _avgpool, "AvgPool2d": _avgpool, "AvgPool3d": _avgpool,
    "AdaptiveAvgPool1d": _adaptive_avgpool, "AdaptiveAvgPool2d": _adaptive_avgpool,
    "AdaptiveAvgPool3d": _adaptive_avgpool, "Linear": _linear, "Dropout": None,
    "Upsample": _upsample, "UpsamplingBilinear2d": _upsample, "UpsamplingNearest2d": _upsample,
    "Sequential": None, "PixelShuffle": None,
}


def count(seen: Seen) -> dict:
    if seen.module not in RULES:
        missing = f"thop has no rule for {seen.module or 'this layer type'}: 0"
        return {"ops": Count(0, missing), "params": Count(0, missing)}
    rule = RULES[seen.module]
    return {"ops": rule(seen) if rule else ZERO, "params": Count(seen.param_count)}


TOOL = Tool(
    name="thop", version="0.1.1.post2209072238", source="thop/profile.py (register_hooks), thop/vision/basic_hooks.py, calc_func.py",
    figures=(Figure("ops", "ops (MACs)", lambda f: f.macs), Figure("params", "params", lambda f: f.params)),
    count=count,
    remarks=("a module class without a rule counts 0 ops and 0 params",
             "ops are MACs for convolutions and linear layers, bias left out; other rules add their own counts"))
