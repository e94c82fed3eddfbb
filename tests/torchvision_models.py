"""torchvision's model definitions, the oracle for the zoo's torchvision networks.

The only torchvision wheel that installs here (0.29.1, `pip install --no-deps
torchvision==0.29.1`) is built for CUDA torch. Beside torch 2.13 CPU its import fails in
two modules that register its C++ operators' meta and autograd kernels
(`torchvision::nms does not exist`). Nothing the model definitions do needs those
operators, so the two modules are stubbed in sys.modules before torchvision is imported.
This module is the one place that does it: import `models` from here, never torchvision
directly.

`TORCHVISION_ZOO` maps a zoo spec's stem to (builder, per-sample input shape, dtype),
like torch_zoo.TORCH_ZOO; a builder returns the model as torchvision defines it, with no
weights loaded, giving one tensor (a segmentation model's `["out"]`). `twin_ops` builds one
in eval mode and traces it (tests/graph_twin.py).
"""
from __future__ import annotations

import sys
import types
from typing import Callable

import torch
from torch import nn

_STUBBED = ("torchvision._meta_registrations", "torchvision._autograd_registrations")


def _import_torchvision():
    for name in _STUBBED:
        sys.modules.setdefault(name, types.ModuleType(name))
    try:
        import torchvision  # noqa: E402  (after the stubs, on purpose)
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError("the zoo's torchvision twins need torchvision: "
                                  "pip install --no-deps torchvision==0.29.1 (see the README's Quickstart)") from error
    import torchvision.models
    import torchvision.models.segmentation
    import torchvision.models.video
    import torchvision.ops

    return torchvision


torchvision = _import_torchvision()
models = torchvision.models


class OutOnly(nn.Module):
    """A segmentation model giving its `["out"]` map: the one tensor the zoo spec ends in."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)["out"]


def deeplabv3_resnet50() -> nn.Module:
    return OutOnly(models.segmentation.deeplabv3_resnet50(weights=None, weights_backbone=None, aux_loss=False))


def _plain(builder: Callable[..., nn.Module]) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        return builder(weights=None)
    build.__name__ = builder.__name__
    return build


IMAGE = (3, 224, 224)
CLIP = (3, 16, 112, 112)  # channels, frames, height, width: the video models' input

TORCHVISION_ZOO: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...], torch.dtype]] = {
    "regnet_x_400mf": (_plain(models.regnet_x_400mf), IMAGE, torch.float32),
    "shufflenet_v2_x1_0": (_plain(models.shufflenet_v2_x1_0), IMAGE, torch.float32),
    "mobilenet_v3_large": (_plain(models.mobilenet_v3_large), IMAGE, torch.float32),
    "efficientnet_b0": (_plain(models.efficientnet_b0), IMAGE, torch.float32),
    "convnext_tiny": (_plain(models.convnext_tiny), IMAGE, torch.float32),
    "deeplabv3_resnet50": (deeplabv3_resnet50, IMAGE, torch.float32),
    "r3d_18": (_plain(models.video.r3d_18), CLIP, torch.float32),
}

# Functions a model calls that are one cnncalc layer: traced as one op (graph_twin's `wrap`).
WRAPPED = {
    "shufflenet_v2_x1_0": (models.shufflenetv2.channel_shuffle,),
}


def twin_ops(stem: str, batch: int = 1, shape: tuple | None = None):
    """(model, its ops as graph_twin.graph_ops traces them) for a TORCHVISION_ZOO stem: a
    new model each call (seeded), so that a test may load weights into it. `shape`: another
    per-sample input shape to trace it at (default the zoo's)."""
    from graph_twin import graph_ops

    build, zoo_shape, dtype = TORCHVISION_ZOO[stem]
    torch.manual_seed(0)
    model = build().eval()
    return model, graph_ops(model, shape or zoo_shape, dtype, batch=batch, wrap=WRAPPED.get(stem, ()))
