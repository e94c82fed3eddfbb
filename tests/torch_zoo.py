"""Independent PyTorch oracle for the cnncalc reference zoo.

Every network of the zoo is written here by hand (torchvision layouts where a
torchvision model exists) so that cnncalc's shapes, parameter counts and MACs
can be checked against what PyTorch actually does.

* ``TORCH_ZOO`` maps a zoo spec stem to ``(builder, per-sample input shape,
  input dtype)``.
* ``trace(model, input_shape)`` runs one forward pass and returns one
  ``LayerTrace`` per executed leaf module, in execution order.

Functional operations that cnncalc lists as layers (residual add, channel
concat, U-Net's crop, flatten, permute) are small parameter-free modules here so
that they appear in the trace at the place torch executes them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn
import torch.nn.functional as F

# --------------------------------------------------------------------------
# Parameter-free structural modules
# --------------------------------------------------------------------------


class Add(nn.Module):
    """Element-wise sum of its inputs (residual connection)."""

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return sum(xs[1:], xs[0])


class Concat(nn.Module):
    """Concatenation along the channel dimension."""

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.cat(xs, dim=1)


class Crop(nn.Module):
    """Centre crop of the first input's spatial axes to the second's sizes, the window
    starting at (L - size) // 2 (U-Net's crop-and-concat)."""

    kind = "crop"

    def forward(self, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        for axis in range(2, x.dim()):
            size = ref.shape[axis]
            x = x.narrow(axis, (x.shape[axis] - size) // 2, size)
        return x


class Permute(nn.Module):
    def __init__(self, *dims: int):
        super().__init__()
        self.dims = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(*self.dims)


# --------------------------------------------------------------------------
# LeNet-5 (LeCun et al. 1998) custom layers
# --------------------------------------------------------------------------


class Subsampling(nn.Module):
    """S2/S4: coef * sum(2x2 window) + bias, one coef and one bias per map."""

    kind = "subsampling"

    def __init__(self, channels: int, kernel_size: int = 2):
        super().__init__()
        self.kernel_size = kernel_size
        self.weight = nn.Parameter(torch.randn(channels))
        self.bias = nn.Parameter(torch.randn(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.kernel_size
        window_sum = F.avg_pool2d(x, k) * (k * k)
        return window_sum * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


def lenet5_c3_table() -> list[tuple[int, ...]]:
    """LeCun 1998 Table 1: input maps of S2 seen by each C3 output map."""
    table = [tuple((i + d) % 6 for d in range(3)) for i in range(6)]
    table += [tuple((i + d) % 6 for d in range(4)) for i in range(6)]
    table += [(0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5), tuple(range(6))]
    return table


class SparseConv2d(nn.Module):
    """Convolution where output map j only sees the input maps table[j].

    Only the connected kernels are stored: weight[j] has shape
    (len(table[j]), k, k); plus one bias per output map.
    """

    kind = "sparse_conv2d"

    def __init__(self, table: list[tuple[int, ...]], kernel_size: int = 5):
        super().__init__()
        self.table = [tuple(t) for t in table]
        self.kernel_size = kernel_size
        self.weight = nn.ParameterList(
            nn.Parameter(torch.randn(len(t), kernel_size, kernel_size) * 0.1) for t in self.table
        )
        self.bias = nn.Parameter(torch.zeros(len(self.table)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = [
            F.conv2d(x[:, list(inputs)], w.unsqueeze(0))
            for inputs, w in zip(self.table, self.weight)
        ]
        return torch.cat(maps, dim=1) + self.bias.view(1, -1, 1, 1)


class RBF(nn.Module):
    """Euclidean RBF output layer: y_j = sum_i (x_i - w_ji)^2."""

    kind = "rbf"

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = nn.Parameter(torch.randn(out_features, in_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((x.unsqueeze(1) - self.weight) ** 2).sum(dim=-1)


UNIT_MODULES = (Subsampling, SparseConv2d, RBF)


def lenet5() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.Tanh(),                        # C1
        Subsampling(6), nn.Tanh(),                            # S2
        SparseConv2d(lenet5_c3_table(), 5), nn.Tanh(),        # C3
        Subsampling(16), nn.Tanh(),                           # S4
        nn.Conv2d(16, 120, 5), nn.Tanh(),                     # C5
        nn.Flatten(),
        nn.Linear(120, 84), nn.Tanh(),                        # F6
        RBF(84, 10),                                          # OUTPUT
    )


# --------------------------------------------------------------------------
# Small classic networks
# --------------------------------------------------------------------------


def lenet() -> nn.Module:
    """Textbook LeNet (d2l.ai)."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2, 2),
        nn.Conv2d(6, 16, 5), nn.Sigmoid(), nn.AvgPool2d(2, 2),
        nn.Flatten(),
        nn.Linear(400, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10),
    )


def mnist_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 10),
    )


def numpy_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, bias=False), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(13 * 13 * 8, 10), nn.Softmax(dim=1),
    )


def alexnet(num_classes: int = 1000) -> nn.Module:
    """torchvision.models.alexnet layout."""
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.AdaptiveAvgPool2d((6, 6)),
        nn.Flatten(),
        nn.Dropout(0.5), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
        nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
        nn.Linear(4096, num_classes),
    )


VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M",
             512, 512, 512, "M", 512, 512, 512, "M"]


def vgg16(num_classes: int = 1000) -> nn.Module:
    """torchvision.models.vgg16 layout (no batch norm)."""
    layers: list[nn.Module] = []
    in_ch = 3
    for v in VGG16_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(in_ch, v, 3, padding=1), nn.ReLU(inplace=True)]
            in_ch = v
    return nn.Sequential(
        *layers,
        nn.AdaptiveAvgPool2d((7, 7)),
        nn.Flatten(),
        nn.Linear(512 * 7 * 7, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(4096, num_classes),
    )


def nin_block(in_ch: int, out_ch: int, kernel_size: int, stride: int, padding: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel_size, stride, padding), nn.ReLU(),
        nn.Conv2d(out_ch, out_ch, 1), nn.ReLU(),
        nn.Conv2d(out_ch, out_ch, 1), nn.ReLU(),
    )


def nin() -> nn.Module:
    """Network in Network (d2l.ai), 1x224x224 input, 10 classes."""
    return nn.Sequential(
        nin_block(1, 96, 11, 4, 0), nn.MaxPool2d(3, 2),
        nin_block(96, 256, 5, 1, 2), nn.MaxPool2d(3, 2),
        nin_block(256, 384, 3, 1, 1), nn.MaxPool2d(3, 2),
        nn.Dropout(0.5),
        nin_block(384, 10, 3, 1, 1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )


# --------------------------------------------------------------------------
# GoogLeNet (torchvision layout, aux_logits=False, transform_input=False)
# --------------------------------------------------------------------------


def basic_conv(in_ch: int, out_ch: int, kernel_size: int, stride: int = 1, padding: int = 0) -> nn.Module:
    """torchvision BasicConv2d: conv (no bias) + BN(eps=0.001) + ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel_size, stride, padding, bias=False),
        nn.BatchNorm2d(out_ch, eps=0.001),
        nn.ReLU(inplace=True),
    )


class Inception(nn.Module):
    def __init__(self, in_ch: int, ch1x1: int, ch3x3red: int, ch3x3: int,
                 ch5x5red: int, ch5x5: int, pool_proj: int):
        super().__init__()
        self.branch1 = basic_conv(in_ch, ch1x1, 1)
        self.branch2 = nn.Sequential(basic_conv(in_ch, ch3x3red, 1), basic_conv(ch3x3red, ch3x3, 3, padding=1))
        # torchvision uses a 3x3 kernel here (a known deviation from the paper's 5x5).
        self.branch3 = nn.Sequential(basic_conv(in_ch, ch5x5red, 1), basic_conv(ch5x5red, ch5x5, 3, padding=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True), basic_conv(in_ch, pool_proj, 1))
        self.concat = Concat()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.concat(self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x))


GOOGLENET_INCEPTIONS = {
    # name: (in, 1x1, 3x3red, 3x3, 5x5red, 5x5, pool_proj); "M" = ceil-mode max pool
    "3a": (192, 64, 96, 128, 16, 32, 32),
    "3b": (256, 128, 128, 192, 32, 96, 64),
    "M3": (3, 2),
    "4a": (480, 192, 96, 208, 16, 48, 64),
    "4b": (512, 160, 112, 224, 24, 64, 64),
    "4c": (512, 128, 128, 256, 24, 64, 64),
    "4d": (512, 112, 144, 288, 32, 64, 64),
    "4e": (528, 256, 160, 320, 32, 128, 128),
    "M4": (2, 2),
    "5a": (832, 256, 160, 320, 32, 128, 128),
    "5b": (832, 384, 192, 384, 48, 128, 128),
}


def googlenet(num_classes: int = 1000) -> nn.Module:
    layers: list[nn.Module] = [
        basic_conv(3, 64, 7, stride=2, padding=3), nn.MaxPool2d(3, 2, ceil_mode=True),
        basic_conv(64, 64, 1), basic_conv(64, 192, 3, padding=1), nn.MaxPool2d(3, 2, ceil_mode=True),
    ]
    for name, cfg in GOOGLENET_INCEPTIONS.items():
        layers.append(nn.MaxPool2d(*cfg, ceil_mode=True) if name.startswith("M") else Inception(*cfg))
    return nn.Sequential(
        *layers,
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Linear(1024, num_classes),
    )


# --------------------------------------------------------------------------
# ResNet (torchvision layout, v1.5)
# --------------------------------------------------------------------------


def conv_bn(in_ch: int, out_ch: int, kernel_size: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(in_ch, out_ch, kernel_size, stride, kernel_size // 2, bias=False), nn.BatchNorm2d(out_ch)]


class ResidualBlock(nn.Module):
    """BasicBlock / Bottleneck: body convs (each conv+bn, relu between),
    optional downsample (conv1x1+bn), add, relu."""

    def __init__(self, body: list[nn.Module], downsample: nn.Module | None):
        super().__init__()
        self.body = nn.Sequential(*body)
        self.downsample = downsample
        self.add = Add()
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(self.add(out, identity))


def basic_block(in_ch: int, width: int, stride: int) -> tuple[nn.Module, int]:
    body = [*conv_bn(in_ch, width, 3, stride), nn.ReLU(inplace=True), *conv_bn(width, width, 3)]
    return ResidualBlock(body, _downsample(in_ch, width, stride)), width


def bottleneck(in_ch: int, width: int, stride: int) -> tuple[nn.Module, int]:
    out_ch = width * 4
    body = [
        *conv_bn(in_ch, width, 1), nn.ReLU(inplace=True),
        *conv_bn(width, width, 3, stride), nn.ReLU(inplace=True),
        *conv_bn(width, out_ch, 1),
    ]
    return ResidualBlock(body, _downsample(in_ch, out_ch, stride)), out_ch


def _downsample(in_ch: int, out_ch: int, stride: int) -> nn.Module | None:
    if stride == 1 and in_ch == out_ch:
        return None
    return nn.Sequential(*conv_bn(in_ch, out_ch, 1, stride))


def resnet(block: Callable[[int, int, int], tuple[nn.Module, int]], depths: list[int],
           num_classes: int = 1000) -> nn.Module:
    layers: list[nn.Module] = [
        *conv_bn(3, 64, 7, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1),
    ]
    in_ch = 64
    for stage, depth in enumerate(depths):
        width = 64 * 2 ** stage
        for i in range(depth):
            blk, in_ch = block(in_ch, width, 2 if (i == 0 and stage > 0) else 1)
            layers.append(blk)
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(in_ch, num_classes))


def resnet18() -> nn.Module:
    return resnet(basic_block, [2, 2, 2, 2])


def resnet50() -> nn.Module:
    return resnet(bottleneck, [3, 4, 6, 3])


# --------------------------------------------------------------------------
# TextCNN
# --------------------------------------------------------------------------


class TextCNN(nn.Module):
    def __init__(self, vocab: int = 10000, embed: int = 100, channels: int = 100,
                 kernel_sizes: tuple[int, ...] = (3, 4, 5), num_classes: int = 2):
        super().__init__()
        self.embedding = nn.Embedding(vocab, embed)
        self.permute = Permute(0, 2, 1)
        self.branches = nn.ModuleList(
            nn.Sequential(
                nn.Conv1d(embed, channels, k), nn.ReLU(),
                nn.MaxPool1d(2, padding=1), nn.AdaptiveMaxPool1d(1),
            )
            for k in kernel_sizes
        )
        self.concat = Concat()
        self.head = nn.Sequential(
            nn.Flatten(), nn.Dropout(0.5), nn.Linear(channels * len(kernel_sizes), num_classes)
        )

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.permute(self.embedding(tokens))
        return self.head(self.concat(*(branch(x) for branch in self.branches)))


# --------------------------------------------------------------------------
# DCGAN generator (PyTorch's DCGAN tutorial: nz 100, ngf 64, nc 3)
# --------------------------------------------------------------------------


def dcgan_generator(nz: int = 100, ngf: int = 64, nc: int = 3) -> nn.Module:
    """The tutorial's Generator.main, as written there."""
    return nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
        nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh(),
    )


# --------------------------------------------------------------------------
# U-Net (Ronneberger et al. 2015, Fig. 1)
# --------------------------------------------------------------------------


def double_conv(in_ch: int, out_ch: int) -> nn.Module:
    """Two unpadded 3x3 convolutions (with bias), each followed by ReLU."""
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 3), nn.ReLU(inplace=True),
                         nn.Conv2d(out_ch, out_ch, 3), nn.ReLU(inplace=True))


class UpLevel(nn.Module):
    """2x2 up-convolution halving the channels, the encoder map cropped to its size and
    concatenated before it, two 3x3 convolutions."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.up = nn.ConvTranspose2d(in_ch, out_ch, 2, stride=2)
        self.crop = Crop()
        self.concat = Concat()
        self.conv = double_conv(2 * out_ch, out_ch)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        up = self.up(x)
        return self.conv(self.concat(self.crop(skip, up), up))


class UNet(nn.Module):
    """Modules registered in the order they run (the order the spec lists them)."""

    def __init__(self, in_ch: int = 1, classes: int = 2, width: int = 64):
        super().__init__()
        widths = [width * 2 ** i for i in range(5)]  # 64 ... 1024
        self.inc = double_conv(in_ch, widths[0])
        self.downs = nn.ModuleList(
            nn.Sequential(nn.MaxPool2d(2), double_conv(widths[i], widths[i + 1])) for i in range(4))
        self.ups = nn.ModuleList(UpLevel(widths[i + 1], widths[i]) for i in reversed(range(4)))
        self.head = nn.Conv2d(widths[0], classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.inc(x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        x = skips.pop()
        for up in self.ups:
            x = up(x, skips.pop())
        return self.head(x)


# --------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------

TORCH_ZOO: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...], torch.dtype]] = {
    "lenet5": (lenet5, (1, 32, 32), torch.float32),
    "lenet": (lenet, (1, 28, 28), torch.float32),
    "mnist_cnn": (mnist_cnn, (1, 28, 28), torch.float32),
    "numpy_cnn": (numpy_cnn, (1, 28, 28), torch.float32),
    "alexnet": (alexnet, (3, 224, 224), torch.float32),
    "vgg16": (vgg16, (3, 224, 224), torch.float32),
    "nin": (nin, (1, 224, 224), torch.float32),
    "googlenet": (googlenet, (3, 224, 224), torch.float32),
    "resnet18": (resnet18, (3, 224, 224), torch.float32),
    "resnet50": (resnet50, (3, 224, 224), torch.float32),
    "textcnn": (TextCNN, (500,), torch.int64),
    "dcgan_generator": (dcgan_generator, (100, 1, 1), torch.float32),
    "unet": (UNet, (1, 572, 572), torch.float32),
}


# --------------------------------------------------------------------------
# Tracing
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerTrace:
    kind: str
    output_shape: tuple[int, ...]  # per sample (batch dimension removed)
    params: int
    macs: int  # per sample


def layer_kind(module: nn.Module) -> str:
    return getattr(module, "kind", type(module).__name__.lower())


def layer_macs(module: nn.Module, output: torch.Tensor, inputs: tuple = ()) -> int:
    """Multiply-accumulates per sample; only conv/linear/sparse/rbf (and transposed conv,
    which needs the module's `inputs`) count."""
    out_numel = output[0].numel()
    if isinstance(module, nn.modules.conv._ConvTransposeNd):
        # every input value times every weight of its group: input positions x C_in x
        # C_out/groups x k (also the products the padding crops away). The conv formula
        # below would count output positions instead (16x too many for DCGAN's first layer).
        in_positions = math.prod(inputs[0].shape[2:])
        return in_positions * module.in_channels * (module.out_channels // module.groups) \
            * math.prod(module.kernel_size)
    if isinstance(module, nn.modules.conv._ConvNd):
        return out_numel * (module.in_channels // module.groups) * math.prod(module.kernel_size)
    if isinstance(module, nn.Linear):
        return module.in_features * module.out_features * (out_numel // module.out_features)
    if isinstance(module, SparseConv2d):
        spatial = math.prod(output.shape[2:])
        return spatial * sum(len(t) for t in module.table) * module.kernel_size ** 2
    if isinstance(module, RBF):
        return module.in_features * module.out_features
    return 0


def traced_modules(module: nn.Module):
    """Leaf modules, treating the custom LeNet-5 layers as units."""
    children = list(module.children())
    if isinstance(module, UNIT_MODULES) or not children:
        yield module
        return
    for child in children:
        yield from traced_modules(child)


def trace(model: nn.Module, input_shape: tuple[int, ...], dtype: torch.dtype = torch.float32,
          batch: int = 1) -> list[LayerTrace]:
    """Run one forward pass and record every leaf module call in execution order."""
    records: list[LayerTrace] = []

    def hook(module: nn.Module, _inputs, output: torch.Tensor) -> None:
        records.append(LayerTrace(
            kind=layer_kind(module),
            output_shape=tuple(output.shape[1:]),
            params=sum(p.numel() for p in module.parameters()),
            macs=layer_macs(module, output, _inputs),
        ))

    if dtype in (torch.int64, torch.int32):
        x = torch.randint(0, 10000, (batch, *input_shape), dtype=dtype)
    else:
        x = torch.randn(batch, *input_shape, dtype=dtype)

    handles = [m.register_forward_hook(hook) for m in set(traced_modules(model))]
    try:
        model.eval()
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return records


if __name__ == "__main__":
    for name, (build, shape, dtype) in TORCH_ZOO.items():
        model = build()
        layers = trace(model, shape, dtype)
        params = sum(p.numel() for p in model.parameters())
        macs = sum(layer.macs for layer in layers)
        print(f"{name:10s} params={params:>12,d} macs={macs:>15,d} "
              f"out={layers[-1].output_shape} layers={len(layers)}")
