"""Each layer type's forward pass against PyTorch on identical weights and inputs.

Every case builds one layer, materialises its parameters as its rule declares them
(shape and initialiser: cnncalc.backend.params.draw), runs `layer.forward` on a random batch of
2 and compares with torch.nn.functional on the same arrays (fp32 tolerance). The
executed MACs must equal the symbolic count, and the output shape the rule's.

The same cases run on NumPy and on array-api-strict: array-api-strict has only the
array API standard (no stride tricks, no implicit conversions), so passing there is
the evidence that the layer code also runs on CuPy.

`test_every_layer_type_has_a_case` fails when a layer type is added without one.
"""
from __future__ import annotations

import ast
import subprocess
import sys
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnncalc.backend.namespace import namespace, to_numpy
from cnncalc.backend.ops import Ops
from cnncalc.backend.params import Params, draw
from cnncalc.layers import REGISTRY

from case_types import BATCH
from case_types import ForwardCase as Case
from families import family_cases
from helpers import ROOT

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")


C3 = [[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5], [0, 4, 5], [0, 1, 5], [0, 1, 2, 3], [1, 2, 3, 4],
      [2, 3, 4, 5], [0, 3, 4, 5], [0, 1, 4, 5], [0, 1, 2, 5], [0, 1, 3, 4], [1, 2, 4, 5], [0, 2, 3, 5],
      [0, 1, 2, 3, 4, 5]]


def sparse_conv(xs, p):
    x = xs[0]
    maps = [F.conv2d(x[:, row], p[f"weight.{j}"].unsqueeze(0)) for j, row in enumerate(C3)]
    return torch.cat(maps, dim=1) + p["bias"].view(1, -1, 1, 1)


def subsampling(xs, p, k=2, stride=None, padding=0, ceil_mode=False):
    sums = F.avg_pool2d(xs[0], k, stride, padding, ceil_mode, count_include_pad=True, divisor_override=1)
    return sums * p["weight"].view(1, -1, 1, 1) + p["bias"].view(1, -1, 1, 1)


def batchnorm(eps=1e-5, affine=True):
    def fn(xs, p):
        return F.batch_norm(xs[0], p["running_mean"], p["running_var"], p.get("weight"), p.get("bias"),
                            training=False, eps=eps)
    return fn


CASES = [
    # convolution
    Case("conv2d", "conv2d", {"out_channels": 8, "kernel_size": 3, "stride": 2, "padding": 1}, [(3, 11, 9)],
         lambda xs, p: F.conv2d(xs[0], p["weight"], p["bias"], stride=2, padding=1)),
    Case("conv2d-nobias-dilated", "conv2d", {"out_channels": 4, "kernel_size": [3, 2], "dilation": [2, 1],
                                             "padding": [2, 0], "stride": [1, 2], "bias": False}, [(3, 10, 10)],
         lambda xs, p: F.conv2d(xs[0], p["weight"], None, stride=(1, 2), padding=(2, 0), dilation=(2, 1))),
    Case("conv2d-same-even", "conv2d", {"out_channels": 5, "kernel_size": 4, "padding": "same"}, [(2, 7, 6)],
         lambda xs, p: F.conv2d(xs[0], p["weight"], p["bias"], padding="same")),
    Case("conv2d-valid", "conv2d", {"out_channels": 5, "kernel_size": 3, "padding": "valid"}, [(2, 7, 6)],
         lambda xs, p: F.conv2d(xs[0], p["weight"], p["bias"])),
    Case("conv2d-groups", "conv2d", {"out_channels": 6, "kernel_size": 3, "groups": 3, "padding": 1}, [(9, 6, 6)],
         lambda xs, p: F.conv2d(xs[0], p["weight"], p["bias"], padding=1, groups=3)),
    Case("conv2d-depthwise", "conv2d", {"out_channels": 8, "kernel_size": 3, "groups": 4, "stride": 2},
         [(4, 9, 9)], lambda xs, p: F.conv2d(xs[0], p["weight"], p["bias"], stride=2, groups=4)),
    Case("conv2d-1x1-strided", "conv2d", {"out_channels": 7, "kernel_size": 1, "stride": 2, "bias": False},
         [(5, 9, 8)], lambda xs, p: F.conv2d(xs[0], p["weight"], None, stride=2)),
    Case("conv2d-lenet5-c3", "conv2d", {"kernel_size": 5, "connections": C3}, [(6, 14, 14)], sparse_conv),
    Case("conv1d", "conv1d", {"out_channels": 6, "kernel_size": 3, "padding": 1}, [(4, 20)],
         lambda xs, p: F.conv1d(xs[0], p["weight"], p["bias"], padding=1)),
    Case("conv1d-strided-groups", "conv1d", {"out_channels": 4, "kernel_size": 5, "stride": 3, "groups": 2},
         [(4, 23)], lambda xs, p: F.conv1d(xs[0], p["weight"], p["bias"], stride=3, groups=2)),
    # pooling
    Case("maxpool2d", "maxpool2d", {"kernel_size": 3, "stride": 2, "padding": 1}, [(3, 9, 8)],
         lambda xs, p: F.max_pool2d(xs[0], 3, 2, 1)),
    Case("maxpool2d-ceil", "maxpool2d", {"kernel_size": 3, "stride": 2, "ceil_mode": True}, [(3, 8, 10)],
         lambda xs, p: F.max_pool2d(xs[0], 3, 2, ceil_mode=True)),
    Case("maxpool2d-ceil-padded", "maxpool2d", {"kernel_size": 2, "stride": 2, "padding": 1, "ceil_mode": True},
         [(2, 5, 6)], lambda xs, p: F.max_pool2d(xs[0], 2, 2, 1, ceil_mode=True)),
    Case("maxpool2d-dilated", "maxpool2d", {"kernel_size": 2, "stride": 1, "dilation": 2}, [(2, 7, 7)],
         lambda xs, p: F.max_pool2d(xs[0], 2, 1, dilation=2)),
    Case("maxpool1d", "maxpool1d", {"kernel_size": 2, "padding": 1}, [(3, 9)],
         lambda xs, p: F.max_pool1d(xs[0], 2, padding=1)),
    Case("avgpool2d", "avgpool2d", {"kernel_size": 3, "stride": 2, "padding": 1}, [(3, 9, 8)],
         lambda xs, p: F.avg_pool2d(xs[0], 3, 2, 1)),
    Case("avgpool2d-exclude-pad-ceil", "avgpool2d",
         {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False},
         [(3, 8, 10)], lambda xs, p: F.avg_pool2d(xs[0], 3, 2, 1, ceil_mode=True, count_include_pad=False)),
    Case("avgpool2d-ceil", "avgpool2d", {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
         [(3, 8, 10)], lambda xs, p: F.avg_pool2d(xs[0], 3, 2, 1, ceil_mode=True)),
    Case("avgpool1d", "avgpool1d", {"kernel_size": 4, "stride": 3, "ceil_mode": True}, [(2, 12)],
         lambda xs, p: F.avg_pool1d(xs[0], 4, 3, ceil_mode=True)),
    Case("global_max_pool", "global_max_pool", {}, [(5, 4, 6)],
         lambda xs, p: torch.amax(xs[0], dim=(2, 3), keepdim=True)),
    Case("global_avg_pool-flat", "global_avg_pool", {"keepdims": False}, [(5, 4, 6)],
         lambda xs, p: torch.mean(xs[0], dim=(2, 3))),
    Case("global_max_pool-1d", "global_max_pool", {}, [(5, 9)],
         lambda xs, p: F.adaptive_max_pool1d(xs[0], 1)),
    Case("adaptive_avgpool2d", "adaptive_avgpool2d", {"output_size": [3, 4]}, [(3, 10, 9)],
         lambda xs, p: F.adaptive_avg_pool2d(xs[0], (3, 4))),
    Case("adaptive_avgpool2d-divisible", "adaptive_avgpool2d", {"output_size": [2, None]}, [(3, 8, 5)],
         lambda xs, p: F.adaptive_avg_pool2d(xs[0], (2, None))),
    Case("adaptive_maxpool2d", "adaptive_maxpool2d", {"output_size": [3, 2]}, [(3, 5, 7)],
         lambda xs, p: F.adaptive_max_pool2d(xs[0], (3, 2))),
    Case("adaptive_avgpool1d", "adaptive_avgpool1d", {"output_size": 4}, [(3, 11)],
         lambda xs, p: F.adaptive_avg_pool1d(xs[0], 4)),
    Case("adaptive_maxpool1d", "adaptive_maxpool1d", {"output_size": 1}, [(3, 11)],
         lambda xs, p: F.adaptive_max_pool1d(xs[0], 1)),
    # dense
    Case("linear", "linear", {"out_features": 7}, [(12,)], lambda xs, p: F.linear(xs[0], p["weight"], p["bias"])),
    Case("linear-3d-nobias", "linear", {"out_features": 5, "bias": False}, [(4, 12)],
         lambda xs, p: F.linear(xs[0], p["weight"])),
    Case("embedding", "embedding", {"num_embeddings": 50, "embedding_dim": 8}, [(13,)],
         lambda xs, p: F.embedding(xs[0], p["weight"]), tokens=50),
    # LeNet-5
    Case("subsampling", "subsampling", {"kernel_size": 2}, [(6, 14, 14)], subsampling),
    Case("subsampling-ceil", "subsampling", {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
         [(4, 8, 9)], lambda xs, p: subsampling(xs, p, 3, 2, 1, True)),
    Case("rbf", "rbf", {"out_features": 10}, [(84,)],
         lambda xs, p: ((xs[0].unsqueeze(1) - p["weight"]) ** 2).sum(-1)),
    # activations
    Case("relu", "relu", {}, [(3, 5, 5)], lambda xs, p: F.relu(xs[0])),
    Case("relu6", "relu6", {}, [(3, 5, 5)], lambda xs, p: F.relu6(xs[0]), scale=5.0),
    Case("leaky_relu", "leaky_relu", {"negative_slope": 0.2}, [(3, 5)], lambda xs, p: F.leaky_relu(xs[0], 0.2)),
    Case("sigmoid", "sigmoid", {}, [(3, 5)], lambda xs, p: torch.sigmoid(xs[0])),
    Case("tanh", "tanh", {}, [(3, 5)], lambda xs, p: torch.tanh(xs[0])),
    Case("gelu", "gelu", {}, [(3, 50)], lambda xs, p: F.gelu(xs[0])),
    Case("silu", "silu", {}, [(3, 5)], lambda xs, p: F.silu(xs[0])),
    Case("prelu", "prelu", {}, [(4, 5, 5)], lambda xs, p: F.prelu(xs[0], p["weight"])),
    Case("prelu-shared", "prelu", {"num_parameters": 1}, [(4, 5)], lambda xs, p: F.prelu(xs[0], p["weight"])),
    Case("softmax", "softmax", {}, [(3, 7)], lambda xs, p: F.softmax(xs[0], dim=-1)),
    Case("softmax-channels", "softmax", {"axis": 0}, [(4, 3, 3)], lambda xs, p: F.softmax(xs[0], dim=1)),
    Case("dropout", "dropout", {"p": 0.5}, [(6,)], lambda xs, p: F.dropout(xs[0], 0.5, training=False)),
    # normalisation
    Case("batchnorm2d", "batchnorm2d", {"eps": 1e-3}, [(5, 4, 4)], batchnorm(1e-3)),
    Case("batchnorm2d-no-affine", "batchnorm2d", {"affine": False}, [(5, 4, 4)], batchnorm(affine=False)),
    Case("batchnorm1d", "batchnorm1d", {}, [(6,)], batchnorm()),
    Case("batchnorm1d-seq", "batchnorm1d", {}, [(6, 9)], batchnorm()),
    Case("lrn", "lrn", {"size": 5, "alpha": 1e-2, "beta": 0.75, "k": 2.0}, [(8, 5, 5)],
         lambda xs, p: F.local_response_norm(xs[0], 5, 1e-2, 0.75, 2.0)),
    Case("lrn-even", "lrn", {"size": 4}, [(6, 7)], lambda xs, p: F.local_response_norm(xs[0], 4)),
    # merge
    Case("concat", "concat", {}, [(2, 4, 4), (3, 4, 4), (1, 4, 4)], lambda xs, p: torch.cat(xs, dim=1)),
    Case("concat-last", "concat", {"axis": -1}, [(2, 3), (2, 5)], lambda xs, p: torch.cat(xs, dim=-1)),
    Case("add", "add", {}, [(3, 4, 4), (3, 4, 4)], lambda xs, p: xs[0] + xs[1]),
    Case("add-three", "add", {}, [(5,), (5,), (5,)], lambda xs, p: xs[0] + xs[1] + xs[2]),
    # shape
    Case("flatten", "flatten", {}, [(3, 4, 5)], lambda xs, p: torch.flatten(xs[0], 1)),
    Case("flatten-partial", "flatten", {"start_dim": 1}, [(3, 4, 5)], lambda xs, p: torch.flatten(xs[0], 2)),
    Case("reshape", "reshape", {"shape": [4, -1]}, [(3, 4, 2)], lambda xs, p: xs[0].reshape(BATCH, 4, -1)),
    Case("permute", "permute", {"dims": [1, 0]}, [(5, 3)], lambda xs, p: xs[0].permute(0, 2, 1)),
    Case("identity", "identity", {}, [(3, 2)], lambda xs, p: xs[0]),
    *family_cases("FORWARD_CASES"),
]


def build(case: Case):
    return REGISTRY[case.type].from_spec(dict(case.args), evaluate=None)


def materialise(layer, case: Case, rng):
    params = {n: draw(rng, p, "float32") for n, p in layer.parameters(*case.inputs).items()}
    buffers = {n: draw(rng, p, "float32") for n, p in layer.buffers(*case.inputs).items()}
    if case.tokens:
        inputs = [rng.integers(0, case.tokens, (BATCH, *shape)) for shape in case.inputs]
    else:
        inputs = [rng.standard_normal((BATCH, *shape), dtype=np.float32) * np.float32(case.scale)
                  for shape in case.inputs]
    return params, buffers, inputs


@pytest.fixture(params=["numpy", "array_api_strict"])
def xp(request):
    return namespace(request.param)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_forward_matches_torch(case, xp):
    layer = build(case)
    params, buffers, inputs = materialise(layer, case, np.random.default_rng(0))
    ops = Ops(xp)
    accessor = Params({n: xp.asarray(a) for n, a in params.items()},
                      {n: xp.asarray(a) for n, a in buffers.items()}, make=None)
    y = layer.forward(ops, accessor, *(xp.asarray(x) for x in inputs))
    out = to_numpy(y)

    expected = case.torch_fn([torch.from_numpy(x) for x in inputs],
                             {n: torch.from_numpy(a) for n, a in {**params, **buffers}.items()}).numpy()
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)

    # the figures the rules give, against what ran
    assert tuple(out.shape[1:]) == tuple(layer.output_shape(*case.inputs))
    assert ops.macs == BATCH * layer.macs(tuple(out.shape[1:]), *case.inputs)
    assert accessor.problems == [] and accessor.unused() == []
    assert accessor.count == sum(int(np.prod(s)) for s in layer.param_shapes(*case.inputs).values())


def test_forward_never_reads_the_shape_rule(monkeypatch):
    """The forward pass derives shapes from the arrays: with every shape rule broken, it still runs."""
    for cls in {type(build(case)) for case in CASES}:
        monkeypatch.setattr(cls, "output_shape", lambda self, *xs: pytest.fail("forward called output_shape"))
    xp = namespace("numpy")
    for case in CASES:
        layer = build(case)
        params, buffers, inputs = materialise(layer, case, np.random.default_rng(0))
        layer.forward(Ops(xp), Params(params, buffers, make=None), *inputs)


def test_sparse_c3_executes_the_sparse_count():
    case = next(c for c in CASES if c.id == "conv2d-lenet5-c3")
    layer = build(case)
    params, _, inputs = materialise(layer, case, np.random.default_rng(1))
    ops = Ops(namespace("numpy"))
    layer.forward(ops, Params(params, {}, make=None), inputs[0][:1])
    assert ops.macs == 10 * 10 * 60 * 25 == 150_000  # 60 connected kernels; the dense count would be 240,000


def test_every_layer_type_has_a_case():
    missing = sorted(set(REGISTRY) - {case.type for case in CASES})
    assert not missing, f"layer types without a forward-pass case: {missing}"


def test_layer_modules_touch_arrays_only_through_the_namespace():
    """CuPy-cleanliness: layer code never imports an array library; it gets `ops.xp`."""
    for path in (ROOT / "cnncalc" / "layers").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in ("numpy", "cupy", "torch", "scipy"), f"{path.name} imports {name}"


def test_summary_does_not_import_numpy():
    code = ("import sys\n"
            "from typer.testing import CliRunner\n"
            "from cnncalc.cli import app\n"
            "result = CliRunner().invoke(app, ['summary', 'specs/resnet50.yaml'])\n"
            "assert result.exit_code == 0, result.output\n"
            "assert 'numpy' not in sys.modules, 'summary imported numpy'\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_compat_covers_older_spellings():
    """NumPy 1.x and CuPy 13 lack concat, permute_dims, isdtype, pow and clip(min=, max=):
    the namespace shim supplies them, so every case still runs there."""
    import types

    from cnncalc.backend.namespace import _Compat

    old = types.ModuleType("old_numpy")
    for name in dir(np):
        if name not in ("concat", "permute_dims", "astype", "isdtype", "pow", "clip"):
            setattr(old, name, getattr(np, name))
    old.clip = lambda a, a_min, a_max: np.clip(a, a_min, a_max)  # positional bounds only
    xp = _Compat(old)
    for case in CASES:
        layer = build(case)
        params, buffers, inputs = materialise(layer, case, np.random.default_rng(0))
        ops, reference = Ops(xp), Ops(np)
        got = layer.forward(ops, Params(params, buffers, make=None), *inputs)
        want = layer.forward(reference, Params(params, buffers, make=None), *inputs)
        assert got.shape == want.shape and ops.macs == reference.macs, case
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-6, err_msg=str(case))
