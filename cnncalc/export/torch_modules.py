"""The PyTorch modules an exported network uses where torch has none. cnncalc never
imports this file: `cnncalc export --to pytorch` copies the classes a network needs into
the file it writes (see pytorch.py), so that file needs torch alone. Each class's
parameter names are those cnncalc declares, so verify's weights load by name."""
import operator
from functools import reduce

import torch
import torch.nn.functional as F
from torch import nn


class Merge(nn.Module):
    """add, mul, sub or div of the inputs, left to right, broadcasting their samples: a
    sample of fewer axes gains leading ones after the batch axis ([B, 5] with [B, 4, 5])."""

    def __init__(self, op: str):
        super().__init__()
        self.op = op

    def forward(self, *xs):
        rank = max(x.dim() for x in xs)
        xs = [x.reshape(x.shape[0], *[1] * (rank - x.dim()), *x.shape[1:]) for x in xs]
        return reduce({"add": operator.add, "mul": operator.mul, "sub": operator.sub, "div": operator.truediv}[self.op],
                      xs)


class Concat(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, *xs):
        return torch.cat(xs, dim=self.dim)


class Reshape(nn.Module):
    """Each sample to `shape` (one -1 allowed)."""

    def __init__(self, *shape: int):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)


class Permute(nn.Module):
    def __init__(self, *dims: int):
        super().__init__()
        self.dims = dims

    def forward(self, x):
        return x.permute(0, *self.dims)


class Mean(nn.Module):
    def __init__(self, dims: tuple, keepdim: bool):
        super().__init__()
        self.dims, self.keepdim = dims, keepdim

    def forward(self, x):
        return x.mean(dim=self.dims, keepdim=self.keepdim)


class Slice(nn.Module):
    """x[start:stop:step] along `dim`."""

    def __init__(self, dim: int, start, stop, step: int):
        super().__init__()
        self.dim, self.start, self.stop, self.step = dim, start, stop, step

    def forward(self, x):
        return x[(slice(None),) * (self.dim % x.dim()) + (slice(self.start, self.stop, self.step),)]


class Piece(nn.Module):
    """One piece of torch.split(x, sizes, dim) or torch.chunk(x, chunks, dim)."""

    def __init__(self, how: str, sizes, dim: int, index: int):
        super().__init__()
        self.how, self.sizes, self.dim, self.index = how, sizes, dim, index

    def forward(self, x):
        return getattr(torch, self.how)(x, self.sizes, self.dim)[self.index]


class Pad(nn.Module):
    """F.pad: `pad` lists (before, after) from the last axis on."""

    def __init__(self, pad: tuple, mode: str, value: float):
        super().__init__()
        self.pad, self.mode, self.value = pad, mode, value

    def forward(self, x):
        return F.pad(x, self.pad, self.mode, self.value if self.mode == "constant" else None)


class Crop(nn.Module):
    """The centred window of the spatial axes: to `size` (None keeps an axis), or to the
    sizes of a second input (U-Net's crop-and-concat)."""

    def __init__(self, size=None):
        super().__init__()
        self.size = size

    def forward(self, x, ref=None):
        lengths = x.shape[2:]
        sizes = ref.shape[2:] if ref is not None else [n if s is None else s for n, s in zip(lengths, self.size)]
        window = tuple(slice((n - s) // 2, (n - s) // 2 + s) for n, s in zip(lengths, sizes))
        return x[(slice(None), slice(None), *window)]


class Scale(nn.Module):
    """A learnable factor per channel (ConvNeXt's layer scale)."""

    def __init__(self, channels: int, init: float):
        super().__init__()
        self.weight = nn.Parameter(torch.full((channels,), init))

    def forward(self, x):
        return x * self.weight.view(-1, *[1] * (x.dim() - 2))


class ChannelLayerNorm(nn.Module):
    """Layer norm over the channels at every position (ConvNeXt's LayerNorm2d)."""

    def __init__(self, channels: int, eps: float, affine: bool, bias: bool):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels)) if affine else None
        self.bias = nn.Parameter(torch.zeros(channels)) if affine and bias else None

    def forward(self, x):
        y = F.layer_norm(x.movedim(1, -1), (x.shape[1],), self.weight, self.bias, self.eps)
        return y.movedim(-1, 1)


class StochasticDepth(nn.Module):
    """torchvision.ops.StochasticDepth: in training, drops the branch per sample ('row')
    or for the whole batch ('batch') with probability p; the identity in eval mode."""

    def __init__(self, p: float, mode: str):
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        shape = [x.shape[0]] + [1] * (x.dim() - 1) if self.mode == "row" else [1] * x.dim()
        keep = torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(1.0 - self.p)
        return x * keep / (1.0 - self.p) if self.p < 1.0 else x * keep


class SparseConv(nn.Module):
    """A connection table (LeNet-5's C3): output map j convolves only the input maps
    listed in connections[j]."""

    def __init__(self, connections, kernel_size, stride, padding, dilation, bias: bool):
        super().__init__()
        self.connections, self.rank = connections, len(kernel_size)
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.weight = nn.ParameterList(nn.Parameter(torch.empty(len(row), *kernel_size)) for row in connections)
        self.bias = nn.Parameter(torch.zeros(len(connections))) if bias else None
        for weight in self.weight:
            nn.init.kaiming_normal_(weight.unsqueeze(0))

    def forward(self, x):
        conv = getattr(F, f"conv{self.rank}d")
        maps = [conv(x[:, list(row)], w.unsqueeze(0), None, self.stride, self.padding, self.dilation)
                for row, w in zip(self.connections, self.weight)]
        out = torch.cat(maps, dim=1)
        return out if self.bias is None else out + self.bias.view(1, -1, *[1] * self.rank)


class Subsampling(nn.Module):
    """LeNet-5's S2/S4: the sum of each window times a coefficient per map, plus a bias per map."""

    def __init__(self, channels: int, kernel_size, stride, padding, ceil_mode: bool):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.kernel_size, self.stride, self.padding, self.ceil_mode = kernel_size, stride, padding, ceil_mode

    def forward(self, x):
        area = self.kernel_size[0] * self.kernel_size[1]
        sums = F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            count_include_pad=True) * area
        return sums * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class RBF(nn.Module):
    """LeNet-5's output layer: y_j = sum_i (x_i - w_ji)^2 over the last axis."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))

    def forward(self, x):
        return ((x.unsqueeze(-2) - self.weight) ** 2).sum(-1)
