"""Property tests: cnncalc's sliding-window shape rules against PyTorch as the oracle.

For random convolutions and poolings (small sizes, so each example runs in
milliseconds) the equivalent torch module is built and run on a zero tensor of
batch 1. cnncalc must agree with torch on

* the output shape (per sample),
* the parameter count and every parameter's shape,
* where it fails: cnncalc raises SpecError exactly when torch raises, whether
  torch refuses the module at construction or the input at forward,
* (convolutions) MACs against a forward-hook count, and FLOPs by the documented
  rule: 2 * MACs, plus one add per output element for the bias.

Domain bounds that cnncalc enforces as argument validation (sizes >= 1,
padding >= 0) are kept inside the strategies; everything else, including
arguments torch refuses, is drawn freely.
"""
from __future__ import annotations

import json

import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from torch import nn

import cnncalc
from cnncalc import SpecError

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TORCH_ERRORS = (RuntimeError, ValueError)
MAX_SPATIAL = 40
MAX_CHANNELS = 16


# ---------------------------------------------------------------------------
# the two sides
# ---------------------------------------------------------------------------

def cnncalc_layer(input_shape, layer: dict):
    """The summary record of a one-layer spec, or the SpecError cnncalc raises."""
    text = (f"name: t\ninput: {json.dumps(list(input_shape))}\n"
            f"layers:\n  - {json.dumps(layer)}\n")
    try:
        return cnncalc.summarize(cnncalc.loads(text)).layers[0]
    except SpecError as exc:
        return exc


def torch_layer(build, input_shape):
    """(module, output, MACs counted by a forward hook) or the exception torch raised."""
    try:
        module = build()
    except TORCH_ERRORS as exc:
        return exc
    counted = []

    def count_macs(mod, inputs, output):
        if isinstance(mod, (nn.Conv1d, nn.Conv2d)):
            counted.append(output.numel() * (mod.in_channels // mod.groups) * _prod(mod.kernel_size))

    module.register_forward_hook(count_macs)
    try:
        with torch.no_grad():
            out = module(torch.zeros(1, *input_shape))
    except TORCH_ERRORS as exc:
        return exc
    return module, out, sum(counted)


def _prod(values) -> int:
    result = 1
    for v in values:
        result *= v
    return result


def check_against_torch(input_shape, layer: dict, build, *, costs: bool = False) -> str:
    """Asserts the agreement; returns the outcome, for hypothesis' statistics."""
    ours = cnncalc_layer(input_shape, layer)
    theirs = torch_layer(build, input_shape)
    context = f"input {list(input_shape)}, layer {layer}"
    if isinstance(theirs, Exception) or isinstance(ours, Exception):
        assert isinstance(ours, Exception) and isinstance(theirs, Exception), (
            f"{context}: cnncalc {'raised ' + repr(ours) if isinstance(ours, Exception) else 'accepted it'}"
            f" but torch {'raised ' + repr(theirs) if isinstance(theirs, Exception) else 'accepted it'}")
        return "both refused"
    module, out, hook_macs = theirs
    assert ours.output_shape == tuple(out.shape[1:]), context
    assert ours.params == sum(p.numel() for p in module.parameters()), context
    assert ours.param_shapes == {n: tuple(p.shape) for n, p in module.named_parameters()}, context
    assert ours.buffers == 0, context
    if costs:
        assert ours.macs == hook_macs, context
        bias_adds = out.numel() if module.bias is not None else 0
        assert ours.flops == 2 * hook_macs + bias_adds, context
    return "both accepted"


# ---------------------------------------------------------------------------
# strategies
# ---------------------------------------------------------------------------

@st.composite
def sizes(draw, rank: int, values):
    """(value for the spec, one int per axis): one int for all axes, or a list."""
    if rank == 1 or draw(st.booleans()):
        value = draw(values)
        return (value if draw(st.booleans()) else [value] * rank), (value,) * rank
    each = tuple(draw(values) for _ in range(rank))
    return list(each), each


def spatial(rank: int):
    return st.tuples(*[st.integers(1, MAX_SPATIAL)] * rank)


@st.composite
def conv_cases(draw, rank: int):
    channels = draw(st.integers(1, MAX_CHANNELS))
    groups = draw(st.one_of(st.sampled_from([1, 1, 2, 3, 4]), st.just(channels), st.integers(1, 8)))
    out_channels = draw(st.one_of(
        st.integers(1, MAX_CHANNELS),
        st.integers(1, max(1, MAX_CHANNELS // groups)).map(lambda m: m * groups)))
    kernel_value, kernel = draw(sizes(rank, st.integers(1, 7)))
    # stride 1 often, so that padding='same' is exercised where torch allows it
    stride_value, stride = draw(sizes(rank, st.one_of(st.just(1), st.integers(1, 4))))
    dilation_value, dilation = draw(sizes(rank, st.one_of(st.just(1), st.integers(1, 3))))
    padding_value, padding = draw(st.one_of(
        st.sampled_from([("same", "same"), ("valid", "valid")]),
        sizes(rank, st.integers(0, 4))))
    bias = draw(st.booleans())
    given_in = draw(st.one_of(st.none(), st.just(channels), st.integers(1, MAX_CHANNELS)))
    layer = {"type": f"conv{rank}d", "out_channels": out_channels, "kernel_size": kernel_value,
             "stride": stride_value, "padding": padding_value, "dilation": dilation_value,
             "groups": groups, "bias": bias}
    if given_in is not None:
        layer["in_channels"] = given_in
    module = nn.Conv1d if rank == 1 else nn.Conv2d

    def build():
        return module(channels if given_in is None else given_in, out_channels, kernel, stride=stride,
                      padding=padding, dilation=dilation, groups=groups, bias=bias)

    return (channels, *draw(spatial(rank))), layer, build


@st.composite
def window_pool_cases(draw, kind: str, rank: int):
    channels = draw(st.integers(1, MAX_CHANNELS))
    kernel_value, kernel = draw(sizes(rank, st.integers(1, 6)))
    layer = {"type": f"{kind}pool{rank}d", "kernel_size": kernel_value}
    stride = None
    if draw(st.booleans()):
        stride_value, stride = draw(sizes(rank, st.integers(1, 4)))
        layer["stride"] = stride_value
    padding = (0,) * rank
    if draw(st.booleans()):
        padding_value, padding = draw(sizes(rank, st.integers(0, 3)))
        layer["padding"] = padding_value
    ceil_mode = draw(st.booleans())
    layer["ceil_mode"] = ceil_mode
    if kind == "max":
        dilation = (1,) * rank
        if draw(st.booleans()):
            dilation_value, dilation = draw(sizes(rank, st.integers(1, 3)))
            layer["dilation"] = dilation_value
        module = nn.MaxPool1d if rank == 1 else nn.MaxPool2d

        def build():
            return module(kernel, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode)
    else:
        count_include_pad = draw(st.booleans())
        layer["count_include_pad"] = count_include_pad
        module = nn.AvgPool1d if rank == 1 else nn.AvgPool2d

        def build():
            return module(kernel, stride=stride, padding=padding, ceil_mode=ceil_mode,
                          count_include_pad=count_include_pad)

    return (channels, *draw(spatial(rank))), layer, build


@st.composite
def adaptive_pool_cases(draw, kind: str, rank: int):
    channels = draw(st.integers(1, MAX_CHANNELS))
    # output sizes above the input's are allowed by torch (windows then repeat)
    each = st.integers(1, 12) if rank == 1 else st.one_of(st.integers(1, 12), st.none())
    output_value, output = draw(sizes(rank, each))
    layer = {"type": f"adaptive_{kind}pool{rank}d", "output_size": output_value}
    module = {("avg", 1): nn.AdaptiveAvgPool1d, ("avg", 2): nn.AdaptiveAvgPool2d,
              ("max", 1): nn.AdaptiveMaxPool1d, ("max", 2): nn.AdaptiveMaxPool2d}[kind, rank]

    def build():
        return module(output[0] if rank == 1 else output)

    return (channels, *draw(spatial(rank))), layer, build


# ---------------------------------------------------------------------------
# the properties
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("rank", [1, 2])
@SETTINGS
@given(data=st.data())
def test_conv_matches_torch(rank, data):
    input_shape, layer, build = data.draw(conv_cases(rank))
    event(check_against_torch(input_shape, layer, build, costs=True))


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("rank", [1, 2])
@SETTINGS
@given(data=st.data())
def test_window_pool_matches_torch(kind, rank, data):
    input_shape, layer, build = data.draw(window_pool_cases(kind, rank))
    event(check_against_torch(input_shape, layer, build))


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("rank", [1, 2])
@SETTINGS
@given(data=st.data())
def test_adaptive_pool_matches_torch(kind, rank, data):
    input_shape, layer, build = data.draw(adaptive_pool_cases(kind, rank))
    event(check_against_torch(input_shape, layer, build))


# ---------------------------------------------------------------------------
# boundary cases the strategies might reach only rarely, pinned down explicitly
# ---------------------------------------------------------------------------

BOUNDARIES = [
    # conv: input exactly as large as the dilated kernel, and one smaller
    ((1, 5), {"type": "conv1d", "out_channels": 1, "kernel_size": 3, "dilation": 2}),
    ((1, 4), {"type": "conv1d", "out_channels": 1, "kernel_size": 3, "dilation": 2}),
    # conv 'same' with an even dilated kernel (asymmetric padding), and refused with stride 2
    ((2, 7, 6), {"type": "conv2d", "out_channels": 4, "kernel_size": [4, 2], "padding": "same", "dilation": [1, 3]}),
    ((2, 7, 6), {"type": "conv2d", "out_channels": 4, "kernel_size": 3, "padding": "same", "stride": [1, 2]}),
    ((2, 3), {"type": "conv1d", "out_channels": 4, "kernel_size": 5, "padding": "valid"}),
    # groups: input channels / output channels not divisible
    ((6, 8), {"type": "conv1d", "out_channels": 4, "kernel_size": 1, "groups": 4}),
    ((8, 8), {"type": "conv1d", "out_channels": 6, "kernel_size": 1, "groups": 4}),
    ((8, 8), {"type": "conv1d", "out_channels": 8, "kernel_size": 1, "groups": 8}),
    # pooling padding: exactly half the kernel, and one more
    ((1, 5), {"type": "maxpool1d", "kernel_size": 4, "padding": 2}),
    ((1, 5), {"type": "maxpool1d", "kernel_size": 3, "padding": 2}),
    ((1, 5, 5), {"type": "avgpool2d", "kernel_size": [2, 4], "padding": [1, 2]}),
    ((1, 5, 5), {"type": "avgpool2d", "kernel_size": [2, 4], "padding": [2, 1]}),
    # padding against the kernel, not the dilated kernel
    ((1, 9), {"type": "maxpool1d", "kernel_size": 2, "padding": 2, "dilation": 3}),
    # ceil_mode: a last window that would start in the right padding is dropped
    ((1, 5), {"type": "maxpool1d", "kernel_size": 2, "stride": 2, "ceil_mode": True}),
    ((1, 6), {"type": "maxpool1d", "kernel_size": 2, "stride": 2, "padding": 1, "ceil_mode": True}),
    ((1, 1), {"type": "avgpool1d", "kernel_size": 2, "stride": 3, "padding": 1, "ceil_mode": True}),
    # pooling window larger than the input
    ((1, 2), {"type": "maxpool1d", "kernel_size": 3}),
    ((1, 2), {"type": "avgpool1d", "kernel_size": 3, "padding": 1}),
]

_MODULES = {"conv1d": nn.Conv1d, "conv2d": nn.Conv2d, "maxpool1d": nn.MaxPool1d, "maxpool2d": nn.MaxPool2d,
            "avgpool1d": nn.AvgPool1d, "avgpool2d": nn.AvgPool2d}


@pytest.mark.parametrize("input_shape, layer", BOUNDARIES, ids=[f"{l['type']}-{i}" for i, (_, l) in enumerate(BOUNDARIES)])
def test_boundaries_match_torch(input_shape, layer):
    args = {k: (tuple(v) if isinstance(v, list) else v) for k, v in layer.items() if k != "type"}
    if layer["type"].startswith("conv"):
        args["in_channels"] = input_shape[0]

    def build():
        return _MODULES[layer["type"]](**args)

    check_against_torch(input_shape, layer, build, costs=layer["type"].startswith("conv"))
