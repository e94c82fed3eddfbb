"""darknet (AlexeyAB/darknet, as `darknet detector test` prints its layers): BFLOPs per layer
and "Total BFLOPS", for one image.

From its source (src/convolutional_layer.c, maxpool_layer.c, shortcut_layer.c) and its
printed output (quoted in tests/test_conventions.py):
- [convolutional]: 2 x weights x output positions / 10^9, `l.bflops = (2.0 * l.nweights *
  l.out_h*l.out_w) / 1000000000.`, bias left out; its batch_normalize=1 and activation=
  are part of the same layer and add nothing;
- [maxpool]: size x size x channels x output positions / 10^9;
- [shortcut]: 1 per output element; [route]: nothing.
A layer darknet has no section for, or whose rule cnncalc does not know, is not counted.
"""
from __future__ import annotations

import math

from .core import Count, Figure, Seen, Tool


def _convolutional(seen: Seen) -> Count:
    # 2 x nweights x out_h x out_w: twice a convolution's exact MACs, bias left out
    return Count(2 * seen.figures.macs, "")


def _folded(seen: Seen) -> Count:
    return Count(0, "folded into the [convolutional] before it (batch_normalize=1 / activation=)")


def _maxpool(seen: Seen) -> Count:
    return Count(math.prod(seen.layer.kernel_size) * math.prod(seen.output), "size x size per output element")


def _shortcut(seen: Seen) -> Count:
    return Count(math.prod(seen.output), "1 per output element")


def _route(seen: Seen) -> Count:
    return Count(0, "")


RULES = {"convolutional": _convolutional, "batch_normalize": _folded, "activation": _folded,
         "maxpool": _maxpool, "shortcut": _shortcut, "route": _route}

# cnncalc layer type -> the darknet section (or the [convolutional] option) that computes it
SECTIONS = {
    "conv2d": "convolutional", "batchnorm2d": "batch_normalize",
    **{kind: "activation" for kind in ("relu", "leaky_relu", "elu", "selu", "tanh", "sigmoid", "silu", "mish",
                                         "identity")},
    "maxpool2d": "maxpool", "add": "shortcut", "concat": "route",
}


def section(seen: Seen) -> str:
    return SECTIONS.get(seen.layer.type, "-")


def count(seen: Seen) -> dict:
    rule = RULES.get(section(seen))
    return {"flops": rule(seen) if rule else Count(None, f"no darknet rule known for '{seen.layer.type}'")}


def _bflops(value: int) -> str:
    return f"{value / 1e9:.3f}"


TOOL = Tool(
    name="darknet", version="AlexeyAB/darknet", source="src/convolutional_layer.c, maxpool_layer.c, shortcut_layer.c",
    figures=(Figure("flops", "BFLOPs", lambda f: 2 * f.macs, _bflops),),
    key=section, count=count, per_sample=True,
    remarks=("BFLOPs = 2 x MACs / 10^9, bias left out; per image (--batch is ignored)",
             "batch norm and activations are options of [convolutional]: no BFLOPs of their own"))
