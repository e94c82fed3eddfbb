"""The same forward passes on CuPy (`--gpu`): skipped cleanly without CuPy or a GPU."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import SPECS


def _cupy_or_skip():
    cupy = pytest.importorskip("cupy", reason="CuPy is not installed (pip install 'cnncalc[gpu]')")
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            pytest.skip("no CUDA GPU")
    except Exception as exc:  # no driver, no device
        pytest.skip(f"no usable CUDA GPU: {exc}")
    return cupy


@pytest.fixture(scope="module")
def cupy():
    return _cupy_or_skip()


@pytest.mark.parametrize("stem", ["lenet5", "textcnn", "resnet18", "googlenet"])
def test_zoo_verifies_on_gpu(cupy, stem):
    from cnncalc.backend import verify
    from cnncalc.language.build import load

    result = verify(load(str(SPECS / f"{stem}.yaml")), backend="cupy")
    assert result.ok, [(row.name, row.notes()) for row in result.failures]


def test_layers_match_numpy_on_gpu(cupy):
    from cnncalc.backend.namespace import namespace, to_numpy
    from cnncalc.backend.ops import Ops
    from cnncalc.backend.params import Params
    from test_verify_layers import CASES, build, materialise

    gpu, cpu = namespace("cupy"), namespace("numpy")
    for case in CASES:
        layer = build(case)
        params, buffers, inputs = materialise(layer, case, np.random.default_rng(0))
        outs = []
        for xp in (cpu, gpu):
            ops = Ops(xp)
            y = layer.forward(ops, Params({n: xp.asarray(a) for n, a in params.items()},
                                          {n: xp.asarray(a) for n, a in buffers.items()}, make=None),
                              *(xp.asarray(x) for x in inputs))
            outs.append((to_numpy(y), ops.macs))
        np.testing.assert_allclose(outs[1][0], outs[0][0], rtol=1e-4, atol=1e-5, err_msg=case.id)
        assert outs[1][1] == outs[0][1], case.id


def test_cli_gpu(cupy):
    from typer.testing import CliRunner

    from cnncalc.cli import app

    result = CliRunner().invoke(app, ["verify", str(SPECS / "lenet5.yaml"), "--gpu"])
    assert result.exit_code == 0, result.output
    assert "verify on cupy" in result.stdout
