"""ptflops 0.7.5: `get_model_complexity_info(model, input_res)` -> (MACs, params), its default
pytorch backend with `count_functional` on (the default).

From ptflops/pytorch_ops.py: MODULES_MAPPING (a forward hook per module class) and
FUNCTIONAL_MAPPING (torch.nn.functional calls that pytorch_engine.py `patch_functional`
wraps for the run and adds to the total). A module whose `forward` calls one of those
functionals is counted twice: by its hook and by the patched functional (nn.ReLU calls
F.relu, nn.MaxPool2d F.max_pool2d, ...; ptflops#139, whose workaround is
`backend_specific_config={'count_functional': False}`). The totals are per sample (`__batch_counter__`),
and params are those with requires_grad (`get_model_parameters_number`).
"""
from __future__ import annotations

import math

from .core import ZERO, Count, Figure, Seen, Tool


def _conv(seen: Seen) -> Count:
    # conv_flops_counter_hook: kernel x in_channels x out_channels / groups per position
    # (the input's positions when transposed) + the bias: 1 per output element
    weight = seen.params["weight"]
    positions = math.prod(seen.inputs[0][1:] if seen.transposed else seen.output[1:])
    per_position = math.prod(weight[2:]) * weight[0] * weight[1]
    bias = math.prod(seen.output) if seen.has("bias") else 0
    return Count(per_position * positions + bias, "bias: 1 per output element" if bias else "")


def _output_numel(seen: Seen) -> Count:
    return Count(math.prod(seen.output), "1 per output element")


def _input_numel(seen: Seen) -> Count:
    return Count(math.prod(seen.inputs[0]), "1 per input element")


# the torch module classes with an `affine` attribute (nn.LayerNorm's is `elementwise_affine`)
HAS_AFFINE = {*(f"{kind}{rank}d" for kind in ("BatchNorm", "InstanceNorm") for rank in (1, 2, 3)), "GroupNorm"}


def _norm(seen: Seen) -> Count:
    # bn_flops_counter_hook: 1 per input element, 2 when `hasattr(module, "affine") and module.affine`
    affine = seen.module in HAS_AFFINE and seen.has("weight")
    return Count(math.prod(seen.inputs[0]) * (2 if affine else 1), f"{2 if affine else 1} per input element")


def _linear(seen: Seen) -> Count:
    out_features, in_features = seen.params["weight"]
    rows = math.prod(seen.inputs[0][:-1])
    return Count((in_features * out_features + (out_features if seen.has("bias") else 0)) * rows,
                 "bias: 1 per output element" if seen.has("bias") else "")


def _interpolate(seen: Seen) -> Count:
    # _interpolate_functional_flops_hook: the size's product x channels, or input elements x scale^dims
    return Count(math.prod(seen.output), "1 per output element")


# MODULES_MAPPING: module class -> forward hook
HOOKS = {
    "Conv1d": _conv, "Conv2d": _conv, "Conv3d": _conv,
    "ConvTranspose1d": _conv, "ConvTranspose2d": _conv, "ConvTranspose3d": _conv,
    "ReLU": _output_numel, "PReLU": _output_numel, "ELU": _output_numel, "LeakyReLU": _output_numel,
    "ReLU6": _output_numel, "GELU": _output_numel,
    **{f"{kind}{rank}d": _input_numel for kind in ("MaxPool", "AvgPool", "AdaptiveMaxPool", "AdaptiveAvgPool")
       for rank in (1, 2, 3)},
    "BatchNorm1d": _norm, "BatchNorm2d": _norm, "BatchNorm3d": _norm,
    "InstanceNorm1d": _norm, "InstanceNorm2d": _norm, "InstanceNorm3d": _norm,
    "GroupNorm": _norm, "LayerNorm": _norm,
    "Linear": _linear, "Upsample": _output_numel,
}

# The patched functional each module's forward calls (torch 2.13), with its FUNCTIONAL_MAPPING rule.
# nn.ReLU6 calls F.hardtanh and nn.LeakyReLU F.leaky_relu, which are not patched: counted once.
CALLS = {
    "ReLU": ("F.relu", _input_numel), "PReLU": ("F.prelu", _input_numel), "ELU": ("F.elu", _input_numel),
    "GELU": ("F.gelu", _input_numel), "SiLU": ("F.silu", _input_numel),
    **{f"{kind}{rank}d": (f"F.{function}{rank}d", _input_numel)
       for kind, function in (("MaxPool", "max_pool"), ("AvgPool", "avg_pool"), ("AdaptiveMaxPool", "adaptive_max_pool"),
                              ("AdaptiveAvgPool", "adaptive_avg_pool")) for rank in (1, 2, 3)},
    "Softmax": ("F.softmax", _input_numel), "Upsample": ("F.interpolate", _interpolate),
    "Subsampling": ("F.avg_pool2d", _input_numel),  # cnncalc export's LeNet-5 subsampling
}


def count(seen: Seen) -> dict:
    hook = HOOKS.get(seen.module)
    function, call = CALLS.get(seen.module, ("", None))
    hooked = hook(seen) if hook else ZERO
    called = call(seen) if call else ZERO
    reasons = [hooked.why] if hooked.why else []
    if call:
        reasons.append(f"{'again ' if hook else ''}by the patched {function} its forward calls: {called.why}")
    if not hook and not call:
        reasons.append(f"ptflops has no hook for {seen.module or 'this layer type'}: 0")
    params = seen.param_count if seen.trainable else 0
    return {"macs": Count(hooked.value + called.value, "; ".join(reasons)),
            "params": Count(params, "" if seen.trainable else "frozen: only requires_grad params count")}


TOOL = Tool(
    name="ptflops", version="0.7.5", source="ptflops/pytorch_ops.py (MODULES_MAPPING, FUNCTIONAL_MAPPING), pytorch_engine.py",
    figures=(Figure("macs", "MACs", lambda f: f.macs), Figure("params", "params", lambda f: f.params)),
    count=count, per_sample=True,
    remarks=("per sample: ptflops runs a batch of 1 (--batch is ignored)",
             "modules that call a patched torch.nn.functional are counted twice (hook + functional)"))
