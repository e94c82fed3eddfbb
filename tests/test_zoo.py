"""Every zoo spec against its PyTorch equivalent (tests/torch_zoo.py), layer by layer:
output shape, parameter count and MACs (forward-hook count) of each layer."""
from __future__ import annotations

import pytest

import cnncalc
from torch_zoo import TORCH_ZOO, trace

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
}


def test_zoo_is_complete():
    assert set(ZOO) == set(REFERENCE) == set(TORCH_ZOO)


@pytest.fixture(scope="module", params=ZOO)
def pair(request):
    stem = request.param
    summary = cnncalc.summarize(cnncalc.load(str(SPECS / f"{stem}.yaml")))
    build, shape, dtype = TORCH_ZOO[stem]
    return stem, summary, trace(build(), shape, dtype)


def test_reference_totals(pair):
    stem, summary, _ = pair
    params, macs = REFERENCE[stem]
    assert summary.totals.params == params
    if macs is not None:
        assert summary.totals.macs == macs


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


def test_spec_expectations_hold(pair):
    stem, summary, _ = pair
    outcomes = cnncalc.check_expect(summary, summary.network.expect)
    assert outcomes and all(outcome.ok for outcome in outcomes)
