"""fvcore 0.1.5.post20221221: `FlopCountAnalysis(model, inputs).total()`, `.by_module()`, and
`parameter_count(model)`.

fvcore traces the model with torch.jit and prices each aten operator it has a handle for
(fvcore/nn/flop_count.py `_DEFAULT_SUPPORTED_OPS`, the handles in fvcore/nn/jit_handles.py);
every other operator (relu, add, max_pool2d, mean, ...) is skipped with a warning and
counts 0. Its "flops" are MACs ("one fused multiply-add as one flop"), batch included, and
the few element-wise operators it prices add their own counts.
"""
from __future__ import annotations

from .core import Count, Figure, Seen, Tool


def _convolution(seen: Seen) -> Count:
    # conv_flop_count: batch x weight elements x the output's positions (the input's when
    # transposed): a convolution's exact MACs, cnncalc's own figure (one call per connection
    # table row for cnncalc export's SparseConv, which add up to the same)
    return Count(seen.figures.macs, "")


def _linear(seen: Seen) -> Count:
    # linear_flop_jit: input elements x out_features, bias left out
    return Count(seen.in_numel * seen.params["weight"][0], "")


def _batch_norm(seen: Seen) -> Count:
    # batchnorm_flop_jit in eval mode: 1 per input element, 2 with an affine weight
    per = 2 if seen.has("weight") else 1
    return Count(seen.in_numel * per, f"eval-mode batch norm: {per} per input element")


def _norm(seen: Seen) -> Count:
    # norm_flop_counter: "5 is just a rough estimate" per input element with an affine weight, 4 without
    per = 5 if seen.has("weight") else 4
    return Count(seen.in_numel * per, f"{per} per input element")


def _elementwise(input_scale: int, output_scale: int, what: str):
    # elementwise_flop_counter(input_scale, output_scale)
    def handle(seen: Seen) -> Count:
        return Count(seen.in_numel * input_scale + seen.out_numel * output_scale, what)

    return handle


# _DEFAULT_SUPPORTED_OPS: aten operator -> handle
HANDLES = {
    "aten::_convolution": _convolution, "aten::linear": _linear, "aten::batch_norm": _batch_norm,
    "aten::group_norm": _norm, "aten::layer_norm": _norm, "aten::instance_norm": _norm,
    "aten::upsample_nearest2d": _elementwise(0, 1, "1 per output element"),
    "aten::upsample_bilinear2d": _elementwise(0, 4, "4 per output element"),
    "aten::adaptive_avg_pool2d": _elementwise(1, 0, "1 per input element"),
}

# The aten operator each module's forward traces to (torch 2.13), for those fvcore prices;
# the classes after SparseConv are cnncalc export's own (cnncalc/export/torch_modules.py).
OPERATORS = {
    **{f"Conv{rank}d": "aten::_convolution" for rank in (1, 2, 3)},
    **{f"ConvTranspose{rank}d": "aten::_convolution" for rank in (1, 2, 3)},
    "Linear": "aten::linear",
    **{f"BatchNorm{rank}d": "aten::batch_norm" for rank in (1, 2, 3)},
    **{f"InstanceNorm{rank}d": "aten::instance_norm" for rank in (1, 2, 3)},
    "GroupNorm": "aten::group_norm", "LayerNorm": "aten::layer_norm",
    "AdaptiveAvgPool2d": "aten::adaptive_avg_pool2d",
    "SparseConv": "aten::_convolution", "ChannelLayerNorm": "aten::layer_norm",
}


def operator(seen: Seen) -> str:
    if seen.module == "Upsample":  # F.interpolate traces to aten::upsample_<mode><rank>d
        return f"aten::upsample_{seen.layer.mode}{len(seen.output) - 1}d"
    return OPERATORS.get(seen.module, seen.module or "-")


def count(seen: Seen) -> dict:
    handle = HANDLES.get(operator(seen))
    flops = handle(seen) if handle else Count(0, "no handle for its operators: skipped, 0")
    if seen.module is None:
        flops = Count(None, "no PyTorch module for this layer type")
    return {"flops": flops, "params": Count(seen.param_count)}


TOOL = Tool(
    name="fvcore", version="0.1.5.post20221221", source="fvcore/nn/flop_count.py (_DEFAULT_SUPPORTED_OPS), jit_handles.py",
    figures=(Figure("flops", "flops (MACs)", lambda f: f.macs), Figure("params", "params", lambda f: f.params)),
    key=operator, count=count,
    remarks=("fvcore's 'flops' are MACs: one fused multiply-add counts 1, bias left out",
             "operators without a handle (activations, pooling but adaptive average 2-D, merges) count 0",
             "traced in eval mode: batch norm prices 1 or 2 per element, not 4-5"))
