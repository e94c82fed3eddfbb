"""Every zoo spec against its PyTorch equivalent, layer by layer: the hand-written twins of
tests/torch_zoo.py here (output shape, parameter count and MACs, by forward hooks, of
each layer); the torchvision networks (tests/torchvision_models.py) op by op through
torch.fx in tests/test_zoo_torchvision.py. Every spec has exactly one twin."""
from __future__ import annotations

import pytest

import cnncalc
from torch_zoo import TORCH_ZOO, trace
from torchvision_models import TORCHVISION_ZOO

from helpers import SPECS, ZOO

# The reference table: params always, MACs where the literature gives them.
REFERENCE = {
    "lenet5": (60_840, None),
    "lenet": (61_706, None),
    "mnist_cnn": (28_938, 2_838_080),
    "numpy_cnn": (13_602, None),
    "alexnet": (61_100_840, 714_188_480),
    "vgg16": (138_357_544, 15_470_264_320),
    "nin": (1_992_166, None),
    "googlenet": (6_624_904, 1_498_376_192),
    "resnet18": (11_689_512, 1_814_073_344),
    "resnet50": (25_557_032, 4_089_184_256),
    "textcnn": (1_120_902, None),
    # issue 9's table (torch 2.13 / torchvision 0.28)
    "regnet_x_400mf": (5_495_976, 413_812_608),
    "shufflenet_v2_x1_0": (2_278_604, 144_907_992),
    "mobilenet_v3_large": (5_483_032, 216_589_760),
    "efficientnet_b0": (5_288_548, 385_814_752),
    "convnext_tiny": (28_589_128, 4_455_531_264),
    "deeplabv3_resnet50": (39_638_869, 31_310_548_992),
    "r3d_18": (33_371_472, 40_696_553_472),
    "unet": (31_030_658, 150_428_424_448),
    "dcgan_generator": (3_576_704, 104_628_224),
}

HAND_TWINS = sorted(TORCH_ZOO)


def test_zoo_is_complete():
    assert not set(TORCH_ZOO) & set(TORCHVISION_ZOO), "a spec has one twin"
    assert set(ZOO) == set(REFERENCE) == set(TORCH_ZOO) | set(TORCHVISION_ZOO)


@pytest.mark.parametrize("stem", ZOO)
def test_reference_totals(stem):
    summary = cnncalc.summarize(cnncalc.load(str(SPECS / f"{stem}.yaml")))
    params, macs = REFERENCE[stem]
    assert summary.totals.params == params
    if macs is not None:
        assert summary.totals.macs == macs


@pytest.mark.parametrize("stem", ZOO)
def test_spec_expectations_hold(stem):
    summary = cnncalc.summarize(cnncalc.load(str(SPECS / f"{stem}.yaml")))
    outcomes = cnncalc.check_expect(summary, summary.network.expect)
    assert outcomes and all(outcome.ok for outcome in outcomes)


@pytest.fixture(scope="module", params=HAND_TWINS)
def pair(request):
    stem = request.param
    summary = cnncalc.summarize(cnncalc.load(str(SPECS / f"{stem}.yaml")))
    build, shape, dtype = TORCH_ZOO[stem]
    return stem, summary, trace(build(), shape, dtype)


def test_every_layer_matches_torch(pair):
    stem, summary, torch_layers = pair
    ours = [(r.name, r.output_shape, r.params, r.macs) for r in summary.layers]
    theirs = [(t.kind, t.output_shape, t.params, t.macs) for t in torch_layers]
    assert len(ours) == len(theirs), f"{stem}: {len(ours)} layers here, {len(theirs)} torch modules"
    for (name, shape, params, macs), (kind, t_shape, t_params, t_macs) in zip(ours, theirs):
        assert (tuple(shape), params, macs) == (tuple(t_shape), t_params, t_macs), f"{stem}: {name} vs torch {kind}"


def test_totals_match_torch(pair):
    stem, summary, torch_layers = pair
    build, shape, dtype = TORCH_ZOO[stem]
    model = build()
    assert summary.totals.params == sum(p.numel() for p in model.parameters())
    running = sum(b.numel() for name, b in model.named_buffers() if name.endswith(("running_mean", "running_var")))
    assert summary.totals.buffers == running
    assert summary.totals.macs == sum(t.macs for t in torch_layers)
    assert tuple(summary.output_shape) == tuple(torch_layers[-1].output_shape)
