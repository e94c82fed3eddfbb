"""The records every layer-type test is written in, shared by the test files and by the
family modules that add layer types (see families.py).

* TorchCase: a small spec whose last layer is the layer under test, and the torch module
  that does the same (test_layers_torch.py: shapes, parameters, buffers, refusals);
* ForwardCase: a layer's arguments and input shapes, and a torch function of the inputs
  and parameters (test_verify_layers.py: forward numerics and executed MACs; also the
  memory and parameter-law tests).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

BATCH = 2  # of ForwardCase inputs


class Lambda(nn.Module):
    """A parameter-free function of the inputs, as a module."""

    def __init__(self, fn: Callable):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


def batched(dim: int) -> int:
    """A per-sample axis as torch numbers it with the batch axis in front."""
    return dim + 1 if dim >= 0 else dim


@dataclass
class TorchCase:
    id: str
    input: tuple
    layer: dict  # the layer under test: the spec's last layer
    torch: Callable[[], nn.Module]
    before: list = field(default_factory=list)  # earlier layers (branches for merge layers)
    dtype: torch.dtype = torch.float32

    @property
    def type(self) -> str:
        return self.layer["type"]

    def spec(self) -> str:
        layers = "".join(f"  - {json.dumps(layer)}\n" for layer in [*self.before, self.layer])
        return f"name: {self.id}\ninput: {json.dumps(list(self.input))}\nlayers:\n{layers}"


def fn(f: Callable) -> Callable[[], nn.Module]:
    return lambda: Lambda(f)


@dataclass
class ForwardCase:
    id: str
    type: str
    args: dict
    inputs: list  # per-sample input shapes
    torch_fn: Callable  # (inputs as tensors, params as tensors) -> tensor
    tokens: int = 0  # > 0: the input is integer tokens below this
    scale: float = 1.0  # of the N(0, 1) inputs
