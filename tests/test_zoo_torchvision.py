"""The zoo's torchvision networks against torchvision's own definitions
(tests/torchvision_models.py), op by op through torch.fx (tests/graph_twin.py): every
spec row paired with the torch operation it stands for, with the same inputs, output
shape, parameters, buffers, MACs and settings; and the totals. Then proof that the
comparison catches wrong specs; the EfficientNet multipliers against torchvision's B1, B2
and B5; DeepLabV3's image-size vars at an odd size."""
from __future__ import annotations

import pytest

import cnncalc
from graph_twin import compare, graph_ops
from torchvision_models import TORCHVISION_ZOO, models, twin_ops

from helpers import SPECS

STEMS = sorted(TORCHVISION_ZOO)


@pytest.mark.parametrize("stem", STEMS)
def test_every_op_matches_torchvision(stem):
    network = cnncalc.load(str(SPECS / f"{stem}.yaml"))
    summary = cnncalc.summarize(network)
    model, ops = twin_ops(stem)
    pairing = compare(network, summary, ops, model)
    assert len(pairing.rows) == len(ops) == len(summary.layers)
    _, shape, _ = TORCHVISION_ZOO[stem]
    assert tuple(network.input_shape) == shape
    # the spec states its figures exactly, and they hold
    outcomes = cnncalc.check_expect(summary, network.expect)
    assert {o.what for o in outcomes} >= {"params", "macs", "output_shape"} and all(o.ok for o in outcomes)
    assert all(o.expected.low == o.expected.high for o in outcomes if o.what in ("params", "macs"))


# Each wrong spec differs from the right one in one place; the comparison must fail there.
# Most leave every figure as it was (shapes, params, MACs), so only the graph and the
# settings can tell. (stem, [(text, replacement), ...], what the failure says)
PROJ = "      - {name: proj, block: conv_bn, from: input, when: project, c: width, stride: stride, act: false}\n"
BROKEN = [
    # the residual add reads the body twice instead of the projection
    ("regnet_x_400mf", [("from: [proj, f.c]", "from: [f.c, f.c]")], "inputs differ"),
    # the projection listed after the body: torchvision computes it first
    ("regnet_x_400mf", [(PROJ, ""), ("      - {name: add, type: add", PROJ + "      - {name: add, type: add")],
     "row 3 'trunk_output.0.block.0.f.a.0' (conv2d) vs torch op 3 conv2d at trunk_output.block1.block1-0.proj.0"),
    # the halves joined in the other order
    ("shufflenet_v2_x1_0", [("from: [x.0, branch2]", "from: [branch2, x.0]")], "inputs differ"),
    # the branch reads the first half, not the second (so the second is left out)
    ("shufflenet_v2_x1_0", [("from: x.1, c: c}", "from: x.0, c: c}")], "types differ (torch: chunk)"),
    # the shuffle's groups
    ("shufflenet_v2_x1_0", [("type: channel_shuffle, groups: 2}\n\n  # stride 1",
                             "type: channel_shuffle, groups: 4}\n\n  # stride 1")], "groups is 4 here, 2 in torch"),
    # batch norm's eps left at PyTorch's default
    ("mobilenet_v3_large", [("type: batchnorm2d, eps: 0.001}", "type: batchnorm2d}")], "eps is 1e-05 here, 0.001"),
    # squeeze-excitation's gate forgotten: one op missing
    ("mobilenet_v3_large", [("      - {name: scale_activation, type: hardsigmoid}\n", ""),
                            ("from: [scale_activation, input]", "from: [fc2, input]")], "types differ"),
    # ASPP's rates in another order
    ("deeplabv3_resnet50", [("rates: [12, 24, 36]", "rates: [24, 12, 36]")], "(24, 24) here, (12, 12) in torch"),
    # the stochastic depth's rate: a block too many in the divisor
    ("convnext_tiny", [('p: "stochastic_depth * id / (blocks_total - 1)"', 'p: "stochastic_depth * id / blocks_total"')],
     "p is"),
    # R3D-18's stem striding time too (torchvision strides only height and width): the stem's
    # own shape differs
    ("r3d_18", [("stride: [1, 2, 2]", "stride: 2")], "(shape, params, buffers, MACs)"),
    # the residual add reads the body twice instead of the shortcut
    ("r3d_18", [("from: [conv2.1, downsample.1]", "from: [conv2.1, conv2.1]")], "inputs differ"),
]


@pytest.mark.parametrize("stem, edits, says", BROKEN, ids=[f"{b[0]}-{i}" for i, b in enumerate(BROKEN)])
def test_a_wrong_spec_fails(stem, edits, says, tmp_path):
    text = (SPECS / f"{stem}.yaml").read_text(encoding="utf-8")
    for old, new in edits:
        assert text.count(old) == 1, f"the edit no longer applies: update it ({old!r})"
        text = text.replace(old, new)
    path = tmp_path / f"{stem}.yaml"
    path.write_text(text, encoding="utf-8")
    network = cnncalc.load(str(path))
    model, ops = twin_ops(stem)
    with pytest.raises(AssertionError) as failure:
        compare(network, cnncalc.summarize(network), ops, model)
    assert says in str(failure.value)


# torchvision's EfficientNet-B1 ... B7 are B0's table under other multipliers (B5-B7 with
# batch norm eps 0.001); the spec's vars reproduce them exactly (B3, B4 and B7 too, when
# tried; three are enough here).
EFFICIENTNETS = [
    ("efficientnet_b1", {"width_mult": "1.0", "depth_mult": "1.1"}),
    ("efficientnet_b2", {"width_mult": "1.1", "depth_mult": "1.2", "dropout": "0.3"}),
    ("efficientnet_b5", {"width_mult": "1.6", "depth_mult": "2.2", "dropout": "0.4", "bn_eps": "0.001"}),
]


@pytest.mark.parametrize("name, variables", EFFICIENTNETS, ids=[e[0] for e in EFFICIENTNETS])
def test_efficientnet_multipliers(name, variables):
    network = cnncalc.load(str(SPECS / "efficientnet_b0.yaml"), variables=variables)
    model = getattr(models, name)(weights=None).eval()
    compare(network, cnncalc.summarize(network), graph_ops(model, (3, 224, 224)), model)


def test_deeplab_image_size_vars():
    """DeepLabV3 upsamples to sizes torchvision reads off tensors; the spec computes them
    from its `height` and `width` vars, exactly, also for sizes not divisible by 8."""
    from torchvision_models import deeplabv3_resnet50

    network = cnncalc.load(str(SPECS / "deeplabv3_resnet50.yaml"), variables={"height": "97", "width": "130"})
    model = deeplabv3_resnet50().eval()
    compare(network, cnncalc.summarize(network), graph_ops(model, (3, 97, 130)), model)
    assert tuple(network.input_shape) == (3, 97, 130)
