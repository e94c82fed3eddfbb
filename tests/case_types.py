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
import torch.nn.functional as F
from hypothesis import strategies as st
from torch import nn

BATCH = 2  # of ForwardCase inputs


class Lambda(nn.Module):
    """A parameter-free function of the inputs, as a module."""

    def __init__(self, fn: Callable):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


class SparseConv(nn.Module):
    """A connection table (LeNet-5's C3, in any rank): output map j convolves only the input
    maps listed in connections[j]."""

    def __init__(self, connections, kernel, bias=True):
        super().__init__()
        self.connections, self.rank = connections, len(kernel)
        self.weight = nn.ParameterList(nn.Parameter(torch.zeros(len(row), *kernel)) for row in connections)
        self.bias = nn.Parameter(torch.zeros(len(connections))) if bias else None

    def forward(self, x):
        conv = getattr(F, f"conv{self.rank}d")
        maps = [conv(x[:, list(row)], w.unsqueeze(0)) for row, w in zip(self.connections, self.weight)]
        out = torch.cat(maps, dim=1)
        return out if self.bias is None else out + self.bias.view(1, -1, *[1] * self.rank)


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


@st.composite
def windowed(draw, rank: int, max_kernel: int, max_size: int) -> ForwardCase:
    """A random conv, max pool or average pool over `rank` spatial axes on a small input
    (kernels often wider than the windows), with the torch function that does the same."""
    conv, maxpool, avgpool = f"conv{rank}d", f"maxpool{rank}d", f"avgpool{rank}d"
    kind = draw(st.sampled_from([conv, maxpool, avgpool]))
    kernel = [draw(st.integers(1, max_kernel)) for _ in range(rank)]
    stride = [draw(st.integers(1, 3)) for _ in range(rank)]
    padding = [draw(st.integers(0, k // 2)) for k in kernel]
    dilation = [draw(st.integers(1, 2)) for _ in range(rank)] if kind != avgpool else [1] * rank
    spatial = [draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), max_size))
               for k, p, d in zip(kernel, padding, dilation)]
    args = {"kernel_size": kernel, "stride": stride, "padding": padding}
    if kind == conv:
        args |= {"out_channels": 2, "dilation": dilation}
        fn = lambda xs, p: getattr(F, conv)(xs[0], p["weight"], p["bias"], stride, padding, dilation)  # noqa: E731
    elif kind == maxpool:
        args |= {"dilation": dilation, "ceil_mode": draw(st.booleans())}
        fn = lambda xs, p: getattr(F, f"max_pool{rank}d")(  # noqa: E731
            xs[0], kernel, stride, padding, dilation, args["ceil_mode"])
    else:
        args |= {"ceil_mode": draw(st.booleans()), "count_include_pad": draw(st.booleans())}
        fn = lambda xs, p: getattr(F, f"avg_pool{rank}d")(  # noqa: E731
            xs[0], kernel, stride, padding, args["ceil_mode"], args["count_include_pad"])
    return ForwardCase(kind, kind, args, [(2, *spatial)], fn)
