"""Every layer type in cnncalc's REGISTRY against its PyTorch equivalent.

Each case is a small spec whose last layer is the layer under test, and a torch
module (or a small hand-written one, for the LeNet-5 layers torch lacks) that
does the same thing. The torch side runs on zero tensors of batch 1 shaped like
the layer's inputs; cnncalc's per-sample output shape must equal torch's output
shape without the batch axis, its parameters must equal the module's
named_parameters() (names and shapes), and its buffers the module's buffers
(running_mean and running_var; num_batches_tracked is bookkeeping, not data).

Error cases: inputs or arguments torch refuses must make cnncalc raise SpecError.

`test_every_layer_type_is_covered` fails when a layer type is added to the
registry without a case here.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import cnncalc
from cnncalc import SpecError
from cnncalc.layers import REGISTRY

from case_types import SparseConv, batched, fn
from case_types import TorchCase as Case
from families import family_cases

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
TORCH_ERRORS = (RuntimeError, ValueError, IndexError)


# ---------------------------------------------------------------------------
# torch equivalents that are not a single torch module
# ---------------------------------------------------------------------------

class Subsampling(nn.Module):
    """LeNet-5 S2/S4: window sum times a coefficient per map, plus a bias per map."""

    def __init__(self, channels: int, kernel, stride=None, padding=0, ceil_mode=False):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.kernel = (kernel, kernel) if isinstance(kernel, int) else tuple(kernel)
        self.stride, self.padding, self.ceil_mode = stride, padding, ceil_mode

    def forward(self, x):
        area = self.kernel[0] * self.kernel[1]
        sums = F.avg_pool2d(x, self.kernel, self.stride, self.padding, self.ceil_mode) * area
        return sums * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class RBF(nn.Module):
    """LeNet-5 output layer: y_j = sum_i (x_i - w_ji)^2 over the last axis."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(out_features, in_features))

    def forward(self, x):
        return ((x.unsqueeze(-2) - self.weight) ** 2).sum(-1)


# ---------------------------------------------------------------------------
# cases
# ---------------------------------------------------------------------------

# two branches of an input [3, 8, 8]: [4, 8, 8] and [6, 8, 8]; for axis -1, [3, 8, 8] and [3, 8, 5]
BRANCHES_C = [{"name": "a", "type": "conv2d", "out_channels": 4, "kernel_size": 1, "from": "input"},
              {"name": "b", "type": "conv2d", "out_channels": 6, "kernel_size": 1, "from": "input"}]
BRANCHES_W = [{"name": "a", "type": "identity", "from": "input"},
              {"name": "b", "type": "conv2d", "out_channels": 3, "kernel_size": [1, 4], "from": "input"}]
BRANCHES_SAME = [{"name": "a", "type": "identity", "from": "input"},
                 {"name": "b", "type": "relu", "from": "input"},
                 {"name": "c", "type": "sigmoid", "from": "input"}]

ACTIVATIONS = {
    "relu": nn.ReLU, "relu6": nn.ReLU6, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "gelu": nn.GELU, "silu": nn.SiLU,
}

CASES = [
    # --- activations and dropout: shape unchanged, no parameters ---
    *[Case(f"{name}-{len(shape)}d", shape, {"type": name}, module)
      for name, module in ACTIVATIONS.items() for shape in [(7,), (3, 5, 6)]],
    Case("leaky_relu", (4, 9), {"type": "leaky_relu", "negative_slope": 0.2}, lambda: nn.LeakyReLU(0.2)),
    Case("prelu-per-channel", (5, 6, 6), {"type": "prelu"}, lambda: nn.PReLU(5)),
    Case("prelu-per-channel-given", (5, 6), {"type": "prelu", "num_parameters": 5}, lambda: nn.PReLU(5)),
    Case("prelu-shared", (5, 6, 6), {"type": "prelu", "num_parameters": 1}, lambda: nn.PReLU(1)),
    Case("prelu-1d", (12,), {"type": "prelu"}, lambda: nn.PReLU(12)),
    *[Case(f"softmax-axis{axis}", (3, 4, 5), {"type": "softmax", "axis": axis}, lambda a=axis: nn.Softmax(batched(a)))
      for axis in [0, 1, 2, -1, -3]],
    Case("softmax-default", (10,), {"type": "softmax"}, lambda: nn.Softmax(-1)),
    Case("dropout", (3, 5, 5), {"type": "dropout", "p": 0.3}, lambda: nn.Dropout(0.3)),
    # --- convolution ---
    Case("conv1d", (3, 20), {"type": "conv1d", "out_channels": 8, "kernel_size": 5, "stride": 2, "padding": 1},
         lambda: nn.Conv1d(3, 8, 5, stride=2, padding=1)),
    Case("conv2d", (3, 32, 32), {"type": "conv2d", "out_channels": 8, "kernel_size": [3, 5], "stride": 2,
                                  "padding": "valid", "bias": False},
         lambda: nn.Conv2d(3, 8, (3, 5), stride=2, padding="valid", bias=False)),
    Case("conv2d-same-dilated", (4, 9, 10), {"type": "conv2d", "out_channels": 6, "kernel_size": [2, 3],
                                             "padding": "same", "dilation": [3, 2], "groups": 2},
         lambda: nn.Conv2d(4, 6, (2, 3), padding="same", dilation=(3, 2), groups=2)),
    Case("conv2d-depthwise", (8, 12, 12), {"type": "conv2d", "out_channels": 16, "kernel_size": 3, "groups": 8,
                                           "in_channels": 8},
         lambda: nn.Conv2d(8, 16, 3, groups=8)),
    Case("conv2d-connections", (6, 14, 14), {"type": "conv2d", "kernel_size": 5,
                                             "connections": [[0, 1, 2], [1, 2, 3, 4], [0, 5], [0, 1, 2, 3, 4, 5]]},
         lambda: SparseConv([[0, 1, 2], [1, 2, 3, 4], [0, 5], [0, 1, 2, 3, 4, 5]], (5, 5))),
    Case("conv2d-connections-nobias", (3, 8, 8), {"type": "conv2d", "kernel_size": [3, 2], "bias": False,
                                                  "connections": [[2], [0, 1]]},
         lambda: SparseConv([[2], [0, 1]], (3, 2), bias=False)),
    # --- dense ---
    Case("linear-1d", (20,), {"type": "linear", "out_features": 7}, lambda: nn.Linear(20, 7)),
    Case("linear-3d", (4, 5, 20), {"type": "linear", "out_features": 7, "bias": False, "in_features": 20},
         lambda: nn.Linear(20, 7, bias=False)),
    Case("embedding-1d", (12,), {"type": "embedding", "num_embeddings": 100, "embedding_dim": 16},
         lambda: nn.Embedding(100, 16), dtype=torch.long),
    Case("embedding-2d", (3, 12), {"type": "embedding", "num_embeddings": 10, "embedding_dim": 4},
         lambda: nn.Embedding(10, 4), dtype=torch.long),
    # --- pooling ---
    Case("maxpool1d", (3, 17), {"type": "maxpool1d", "kernel_size": 3, "stride": 2, "padding": 1,
                                "dilation": 2, "ceil_mode": True},
         lambda: nn.MaxPool1d(3, 2, 1, dilation=2, ceil_mode=True)),
    Case("maxpool2d", (3, 112, 112), {"type": "maxpool2d", "kernel_size": 3, "stride": 2, "padding": 1},
         lambda: nn.MaxPool2d(3, 2, 1)),
    Case("avgpool1d", (3, 10), {"type": "avgpool1d", "kernel_size": 4, "padding": 2, "ceil_mode": True,
                                "count_include_pad": False},
         lambda: nn.AvgPool1d(4, padding=2, ceil_mode=True, count_include_pad=False)),
    Case("avgpool2d", (3, 9, 11), {"type": "avgpool2d", "kernel_size": [2, 3], "stride": [1, 2]},
         lambda: nn.AvgPool2d((2, 3), (1, 2))),
    *[Case(f"{kind}-{'keep' if keep else 'flat'}-{len(shape) - 1}d", shape, {"type": kind, "keepdims": keep},
           lambda kind=kind, keep=keep, rank=len(shape) - 1: nn.Sequential(
               {("global_avg_pool", 1): nn.AdaptiveAvgPool1d, ("global_avg_pool", 2): nn.AdaptiveAvgPool2d,
                ("global_avg_pool", 3): nn.AdaptiveAvgPool3d, ("global_max_pool", 1): nn.AdaptiveMaxPool1d,
                ("global_max_pool", 2): nn.AdaptiveMaxPool2d, ("global_max_pool", 3): nn.AdaptiveMaxPool3d,
                }[kind, rank](1), *([] if keep else [nn.Flatten()])))
      for kind in ["global_avg_pool", "global_max_pool"] for keep in [True, False]
      for shape in [(5, 9), (5, 7, 6), (5, 3, 4, 5)]],
    Case("global_avg_pool-default", (8, 7, 7), {"type": "global_avg_pool"}, lambda: nn.AdaptiveAvgPool2d(1)),
    Case("adaptive_avgpool1d", (4, 13), {"type": "adaptive_avgpool1d", "output_size": 5},
         lambda: nn.AdaptiveAvgPool1d(5)),
    Case("adaptive_avgpool2d", (4, 13, 5), {"type": "adaptive_avgpool2d", "output_size": [6, 7]},
         lambda: nn.AdaptiveAvgPool2d((6, 7))),
    Case("adaptive_avgpool2d-none", (4, 13, 5), {"type": "adaptive_avgpool2d", "output_size": [None, 2]},
         lambda: nn.AdaptiveAvgPool2d((None, 2))),
    Case("adaptive_maxpool1d", (4, 13), {"type": "adaptive_maxpool1d", "output_size": 20},
         lambda: nn.AdaptiveMaxPool1d(20)),
    Case("adaptive_maxpool2d", (4, 13, 5), {"type": "adaptive_maxpool2d", "output_size": 3},
         lambda: nn.AdaptiveMaxPool2d(3)),
    # --- LeNet-5 ---
    Case("subsampling", (6, 28, 28), {"type": "subsampling"}, lambda: Subsampling(6, 2)),
    Case("subsampling-args", (16, 11, 10), {"type": "subsampling", "kernel_size": [3, 2], "stride": 2,
                                            "padding": [1, 0], "ceil_mode": True},
         lambda: Subsampling(16, (3, 2), 2, (1, 0), True)),
    Case("rbf", (84,), {"type": "rbf", "out_features": 10}, lambda: RBF(84, 10)),
    Case("rbf-2d", (3, 84), {"type": "rbf", "out_features": 10, "in_features": 84}, lambda: RBF(84, 10)),
    # --- merge ---
    Case("concat-axis0", (3, 8, 8), {"type": "concat", "from": ["a", "b"]},
         fn(lambda a, b: torch.cat([a, b], dim=1)), before=BRANCHES_C),
    Case("concat-axis-last", (3, 8, 8), {"type": "concat", "axis": -1, "from": ["a", "b"]},
         fn(lambda a, b: torch.cat([a, b], dim=-1)), before=BRANCHES_W),
    Case("concat-three", (3, 8, 8), {"type": "concat", "axis": 1, "from": ["a", "b", "c"]},
         fn(lambda *xs: torch.cat(xs, dim=2)), before=BRANCHES_SAME),
    Case("add", (3, 8, 8), {"type": "add", "from": ["a", "b"]}, fn(lambda a, b: a + b), before=BRANCHES_SAME),
    Case("add-three", (3, 8, 8), {"type": "add", "from": ["a", "b", "c"]}, fn(lambda a, b, c: a + b + c),
         before=BRANCHES_SAME),
    # --- normalisation ---
    Case("batchnorm1d-C", (10,), {"type": "batchnorm1d"}, lambda: nn.BatchNorm1d(10)),
    Case("batchnorm1d-CL", (10, 7), {"type": "batchnorm1d", "num_features": 10}, lambda: nn.BatchNorm1d(10)),
    Case("batchnorm1d-noaffine", (10, 7), {"type": "batchnorm1d", "affine": False},
         lambda: nn.BatchNorm1d(10, affine=False)),
    Case("batchnorm2d", (6, 5, 5), {"type": "batchnorm2d", "eps": 1e-3, "momentum": 0.01},
         lambda: nn.BatchNorm2d(6, eps=1e-3, momentum=0.01)),
    Case("batchnorm2d-noaffine", (6, 5, 5), {"type": "batchnorm2d", "affine": False},
         lambda: nn.BatchNorm2d(6, affine=False)),
    Case("lrn-2d", (16, 13, 13), {"type": "lrn", "size": 5, "alpha": 1e-4, "beta": 0.75, "k": 2.0},
         lambda: nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0)),
    Case("lrn-1d", (16, 13), {"type": "lrn", "size": 3}, lambda: nn.LocalResponseNorm(3)),
    # --- shape operations ---
    *[Case(f"flatten-{start}-{end}", (2, 3, 4, 5), {"type": "flatten", "start_dim": start, "end_dim": end},
           lambda s=start, e=end: nn.Flatten(batched(s), batched(e)))
      for start, end in [(0, -1), (1, -1), (0, 1), (1, 2), (-2, -1), (2, 2), (-4, -3), (3, 3)]],
    Case("flatten-default", (2, 3, 4), {"type": "flatten"}, lambda: nn.Flatten()),
    *[Case(f"reshape-{'_'.join(map(str, shape))}", (2, 3, 4), {"type": "reshape", "shape": shape},
           fn(lambda x, s=shape: x.reshape(1, *s)))
      for shape in [[24], [-1], [4, -1], [-1, 2, 3], [2, 12], [1, -1, 1]]],
    *[Case(f"permute-{'_'.join(map(str, dims))}", (2, 3, 4), {"type": "permute", "dims": dims},
           fn(lambda x, d=dims: x.permute(0, *[batched(i) for i in d])))
      for dims in [[0, 1, 2], [2, 0, 1], [1, 0, 2], [2, 1, 0]]],
    Case("permute-2d", (5, 7), {"type": "permute", "dims": [1, 0]}, fn(lambda x: x.permute(0, 2, 1))),
    Case("identity", (3, 4, 5), {"type": "identity"}, lambda: nn.Identity()),
    *family_cases("TORCH_CASES"),
]


def layer_inputs(summary, record) -> list:
    shapes = {"input": summary.input_shape, **{r.name: r.output_shape for r in summary.layers}}
    return [shapes[name] for name in record.inputs]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_layer_matches_torch(case: Case):
    summary = cnncalc.summarize(cnncalc.loads(case.spec()))
    record = summary.layers[-1]
    assert record.type == case.type
    module = case.torch().eval()  # eval: batch norm on batch 1 uses its running statistics
    with torch.no_grad():
        out = module(*(torch.zeros(1, *shape, dtype=case.dtype) for shape in layer_inputs(summary, record)))
    assert record.output_shape == tuple(out.shape[1:])
    assert summary.output_shape == tuple(out.shape[1:])
    assert record.param_shapes == {name: tuple(p.shape) for name, p in module.named_parameters()}
    assert record.params == sum(p.numel() for p in module.parameters())
    assert record.buffers == sum(b.numel() for name, b in module.named_buffers()
                                 if not name.endswith("num_batches_tracked"))


def test_every_layer_type_is_covered():
    covered = {case.type for case in CASES}
    missing = sorted(set(REGISTRY) - covered)
    assert not missing, f"layer types without a torch comparison in {__name__}: {missing}"


# ---------------------------------------------------------------------------
# where torch refuses, cnncalc must raise SpecError
# ---------------------------------------------------------------------------

ERRORS = [
    Case("prelu-wrong-count", (5, 6), {"type": "prelu", "num_parameters": 4}, lambda: nn.PReLU(4)),
    Case("softmax-axis-out-of-range", (3, 4), {"type": "softmax", "axis": 2}, lambda: nn.Softmax(3)),
    Case("softmax-axis-out-of-range-neg", (3, 4), {"type": "softmax", "axis": -3}, lambda: nn.Softmax(-4)),
    Case("linear-in-features", (4, 20), {"type": "linear", "out_features": 3, "in_features": 10},
         lambda: nn.Linear(10, 3)),
    Case("rbf-in-features", (20,), {"type": "rbf", "out_features": 3, "in_features": 10}, lambda: RBF(10, 3)),
    Case("conv2d-in-channels", (3, 8, 8), {"type": "conv2d", "out_channels": 4, "kernel_size": 3, "in_channels": 4},
         lambda: nn.Conv2d(4, 4, 3)),
    # (rank errors use one axis too many: with one too few, torch would take the batch axis for channels)
    Case("conv2d-rank", (3, 8, 8, 8), {"type": "conv2d", "out_channels": 4, "kernel_size": 3}, lambda: nn.Conv2d(3, 4, 3)),
    Case("conv1d-groups", (6, 8), {"type": "conv1d", "out_channels": 4, "kernel_size": 3, "groups": 4},
         lambda: nn.Conv1d(6, 4, 3, groups=4)),
    Case("conv1d-too-small", (3, 4), {"type": "conv1d", "out_channels": 4, "kernel_size": 3, "dilation": 2},
         lambda: nn.Conv1d(3, 4, 3, dilation=2)),
    Case("conv1d-same-strided", (3, 8), {"type": "conv1d", "out_channels": 4, "kernel_size": 3, "padding": "same",
                                         "stride": 2}, lambda: nn.Conv1d(3, 4, 3, 2, padding="same")),
    Case("maxpool2d-padding", (3, 8, 8), {"type": "maxpool2d", "kernel_size": 3, "padding": 2},
         lambda: nn.MaxPool2d(3, padding=2)),
    Case("avgpool1d-padding", (3, 8), {"type": "avgpool1d", "kernel_size": 2, "padding": 2},
         lambda: nn.AvgPool1d(2, padding=2)),
    Case("avgpool2d-too-small", (3, 2, 8), {"type": "avgpool2d", "kernel_size": 3}, lambda: nn.AvgPool2d(3)),
    Case("maxpool1d-rank", (3, 8, 8), {"type": "maxpool1d", "kernel_size": 2}, lambda: nn.MaxPool1d(2)),
    Case("subsampling-too-small", (6, 1, 8), {"type": "subsampling"}, lambda: Subsampling(6, 2)),
    Case("batchnorm1d-rank", (4, 5, 6), {"type": "batchnorm1d"}, lambda: nn.BatchNorm1d(4)),
    Case("batchnorm2d-rank", (4, 5, 5, 5), {"type": "batchnorm2d"}, lambda: nn.BatchNorm2d(4)),
    Case("batchnorm2d-features", (4, 5, 5), {"type": "batchnorm2d", "num_features": 3}, lambda: nn.BatchNorm2d(3)),
    Case("lrn-rank", (16,), {"type": "lrn", "size": 3}, lambda: nn.LocalResponseNorm(3)),
    Case("flatten-start-after-end", (2, 3, 4), {"type": "flatten", "start_dim": 2, "end_dim": 1},
         lambda: nn.Flatten(3, 2)),
    Case("flatten-out-of-range", (2, 3), {"type": "flatten", "start_dim": 0, "end_dim": 2},
         lambda: nn.Flatten(1, 3)),
    Case("reshape-count", (2, 3, 4), {"type": "reshape", "shape": [5, 5]}, fn(lambda x: x.reshape(1, 5, 5))),
    Case("reshape-indivisible", (2, 3, 4), {"type": "reshape", "shape": [5, -1]}, fn(lambda x: x.reshape(1, 5, -1))),
    Case("reshape-two-unknowns", (2, 3, 4), {"type": "reshape", "shape": [-1, -1]},
         fn(lambda x: x.reshape(1, -1, -1))),
    Case("permute-not-a-permutation", (2, 3, 4), {"type": "permute", "dims": [0, 0, 1]},
         fn(lambda x: x.permute(0, 1, 1, 2))),
    Case("permute-wrong-length", (2, 3, 4), {"type": "permute", "dims": [1, 0]}, fn(lambda x: x.permute(0, 2, 1))),
    Case("concat-mismatch", (3, 8, 8), {"type": "concat", "axis": 0, "from": ["a", "b"]},
         fn(lambda a, b: torch.cat([a, b], dim=1)), before=BRANCHES_W),
    Case("concat-axis-out-of-range", (3, 8, 8), {"type": "concat", "axis": 3, "from": ["a", "b"]},
         fn(lambda a, b: torch.cat([a, b], dim=4)), before=BRANCHES_SAME[:2]),
    Case("add-mismatch", (3, 8, 8), {"type": "add", "from": ["a", "b"]}, fn(lambda a, b: a + b),
         before=BRANCHES_W),
    *family_cases("TORCH_ERRORS"),
]


@pytest.mark.parametrize("case", ERRORS, ids=[c.id for c in ERRORS])
def test_layer_refused_like_torch(case: Case):
    with pytest.raises(SpecError):
        cnncalc.summarize(cnncalc.loads(case.spec()))
    # torch refuses the same thing (on the inputs cnncalc computed for the earlier layers)
    before = cnncalc.summarize(cnncalc.loads(Case(case.id, case.input, {"type": "identity"}, case.torch,
                                                  case.before).spec())) if case.before else None
    shapes = ([case.input] if before is None else
              [{r.name: r.output_shape for r in before.layers}[name] for name in case.layer["from"]])
    with pytest.raises(TORCH_ERRORS):
        module = case.torch().eval()
        with torch.no_grad():
            module(*(torch.zeros(1, *shape, dtype=case.dtype) for shape in shapes))
