"""torchinfo 1.8.0: `summary(model).total_params / trainable_params / total_mult_adds`.

From torchinfo/layer_info.py `LayerInfo.calculate_macs`, run by a forward hook on every
leaf module (torchinfo.py `construct_hooks`): for each parameter of the module,
- named `weight` or `bias`, in a class whose name contains "Conv": the parameter's elements
  times the output's batch and spatial sizes (`output_size[:1] + output_size[2:]`);
- named `weight` or `bias`, in any other class: the parameter's elements times the batch;
- any other name containing "weight" or "bias": times the batch and the output's first axis.
Totals (model_statistics.py) add the leaf layers' MACs and params; trainable params are
those with `requires_grad`. Buffers are not params.

So it counts by parameter, never by operation: layers without parameters cost nothing, a
convolution's bias costs one MAC per output element, a transposed convolution is priced by
its output, a module holding a ParameterList not at all, a linear layer on a sequence by the batch only (torchinfo#77), and every
norm, scale or embedding its parameter count once per sample.
"""
from __future__ import annotations

import math

from .core import Count, Figure, Seen, Tool


# calculate_macs, by parameter name: these two are priced per output position in a class whose
# name contains "Conv", once per sample elsewhere; any other name containing one of them is
# priced per sample and output channel (`prod(output_size[:2])`, meant for RNN weights)
WHOLE = ("weight", "bias")
CONV = "Conv"
WHY = {"bias": "bias: 1 MAC per output element"}


def _per_parameter(seen: Seen, name: str, shape: tuple) -> Count:
    elements = math.prod(shape)
    if name in WHOLE:
        if CONV in (seen.module or ""):
            return Count(elements * seen.batch * math.prod(seen.output[1:]),
                         WHY.get(name, "priced by the output's size, not the input's" if seen.transposed else ""))
        return Count(seen.batch * elements, WHY.get(name, f"{name}: its {elements:,} elements once per sample"
                                                    + (" (not per position: torchinfo#77)" if len(seen.output) > 1
                                                       else "")))
    if any(part in name for part in WHOLE):
        return Count(seen.batch * seen.output[0] * elements, f"{name}: its elements times the output's first axis")
    return Count(0)


def _mult_adds(seen: Seen) -> Count:
    if seen.module is None:
        return Count(None, "no PyTorch module for this layer type")
    if any("." in name for name in seen.params):  # held by a child module (an nn.ParameterList)
        return Count(0, "a module with child modules is no leaf layer: torchinfo leaves out its MACs")
    parts = [_per_parameter(seen, name, shape) for name, shape in seen.params.items()]
    reasons = [part.why for part in parts if part.why]
    return Count(sum(part.value for part in parts),
                 "; ".join(reasons) or ("a layer without parameters counts 0" if not parts else ""))


def count(seen: Seen) -> dict:
    frozen = "" if seen.trainable else "frozen: not trainable"
    return {"params": Count(seen.param_count), "trainable": Count(seen.param_count if seen.trainable else 0, frozen),
            "mult_adds": _mult_adds(seen)}


TOOL = Tool(
    name="torchinfo", version="1.8.0", source="torchinfo/layer_info.py (calculate_macs), model_statistics.py",
    figures=(Figure("params", "params", lambda f: f.params), Figure("trainable", "trainable params",
                                                                  lambda f: f.trainable_params),
             Figure("mult_adds", "Mult-Adds", lambda f: f.macs)),
    count=count,
    remarks=("Mult-Adds come from parameters, never from operations: layers without parameters count 0",
             "buffers (batch norm's running statistics) are not params"))
