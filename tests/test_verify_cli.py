"""`cnncalc verify` from the command line: exit codes, formats, refusals, and the
point of it all: a deliberately wrong shape, parameter or MAC rule is caught."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cnncalc.backend import verify
from cnncalc.cli import app
from cnncalc.layers import REGISTRY
from cnncalc.layers.parameters import BIAS, SCALE, HeNormal, Param
from cnncalc.language.build import load, loads

from helpers import SPECS

LENET5 = str(SPECS / "lenet5.yaml")
MNIST = str(SPECS / "mnist_cnn.yaml")


@pytest.fixture
def cli():
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(app, ["verify", *map(str, args)])
    return invoke


def cupy_usable() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def test_table_all_agree(cli):
    result = cli(LENET5)
    assert result.exit_code == 0, result.output
    assert "✓ verified: all 14 layers agree" in result.stdout
    assert "150,000" in result.stdout  # C3's sparse MACs, executed
    assert "✗" not in result.stdout


def test_json(cli):
    result = cli(LENET5, "--format", "json", "--batch", "3", "--seed", "7", "--dtype", "float64")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["ok"] is True and data["batch"] == 3 and data["seed"] == 7 and data["dtype"] == "float64"
    c3 = next(layer for layer in data["layers"] if layer["name"] == "C3")
    assert c3["macs"] == {"rule": 3 * 150_000, "run": 3 * 150_000, "ok": True}
    assert c3["params"] == {"rule": 1516, "run": 1516, "ok": True}
    assert c3["output_shape"]["run"] == [16, 10, 10]
    assert data["totals"]["params"]["run"] == 60_840


def test_invalid_spec_exits_2(cli, tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("input: [3, 8, 8]\nlayers:\n  - {type: conv2d, out_channels: 4, kernel_size: 9}\n")
    result = cli(spec)
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_missing_file_exits_2(cli, tmp_path):
    assert cli(tmp_path / "nope.yaml").exit_code == 2


@pytest.mark.skipif(cupy_usable(), reason="CuPy and a GPU are present")
def test_gpu_without_cupy_is_one_line_exit_2(cli):
    result = cli(LENET5, "--gpu")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "cnncalc[gpu]" in lines[0] or "GPU" in lines[0]
    assert "Traceback" not in result.output


def test_max_memory_refuses_naming_the_estimate(cli):
    result = cli(MNIST, "--max-memory", "10KB")
    assert result.exit_code == 2
    assert "verify would need about" in result.stderr and "--max-memory" in result.stderr
    assert "Traceback" not in result.output


def test_bad_max_memory_value(cli):
    assert cli(MNIST, "--max-memory", "lots").exit_code == 2


# --- injected wrong rules: verify must catch them ---------------------------------

def _row(result, name):
    return next(row for row in result.rows if row.name == name)


def test_wrong_shape_rule_is_caught(cli, monkeypatch):
    right = REGISTRY["maxpool2d"].output_shape

    def wrong(self, x):
        c, h, w = right(self, x)
        return (c, h + 1, w)  # one row too many

    monkeypatch.setattr(REGISTRY["maxpool2d"], "output_shape", wrong)
    result = verify(load(MNIST))
    assert not result.ok
    pool = result.rows[2]
    assert pool.type == "maxpool2d" and not pool.shape.ok
    assert pool.shape.rule == (16, 15, 14) and pool.shape.run == (16, 14, 14)

    cli_result = cli(MNIST)
    assert cli_result.exit_code == 1
    assert "✗" in cli_result.stdout and "verification failed" in cli_result.stdout


def test_wrong_param_rule_is_caught(cli, monkeypatch):
    def wrong(self, x):  # one input too many
        return {"weight": Param((self.out_features, x[-1] + 1), HeNormal(x[-1] + 1)),
                "bias": Param((self.out_features,), BIAS)}

    monkeypatch.setattr(REGISTRY["linear"], "parameters", wrong)
    result = verify(load(MNIST))
    fc = next(row for row in result.rows if row.type == "linear")
    assert not fc.ok and not fc.params.ok
    assert fc.params.rule == 10 * (1568 + 1) + 10 and fc.params.run == 10 * 1568 + 10
    assert any("declares" in problem for problem in fc.problems)
    assert cli(MNIST).exit_code == 1


def test_extra_declared_parameter_is_caught(monkeypatch):
    right = REGISTRY["conv2d"].parameters
    monkeypatch.setattr(REGISTRY["conv2d"], "parameters",
                        lambda self, x: {**right(self, x), "scale": Param((1,), SCALE)})
    result = verify(load(LENET5))
    c1 = _row(result, "C1")
    assert not c1.ok and c1.params.rule == 157 and c1.params.run == 156
    assert any("does not use" in problem for problem in c1.problems)


def test_dense_mac_rule_for_sparse_c3_is_caught(monkeypatch):
    conv = REGISTRY["conv2d"]
    monkeypatch.setattr(conv, "kernel_inputs", lambda self, channels: self.out_channels * channels)  # dense
    result = verify(load(LENET5))
    c3 = _row(result, "C3")
    assert not c3.macs.ok and c3.macs.rule == 240_000 and c3.macs.run == 150_000
    assert [row.name for row in result.failures] == ["C3"]


def test_nan_in_an_output_fails(cli, monkeypatch):
    monkeypatch.setattr(REGISTRY["tanh"], "forward", lambda self, ops, params, x: x * float("nan"))
    result = verify(load(LENET5))
    assert not result.ok and all(row.finite is False for row in result.failures)
    assert cli(LENET5).exit_code == 1


def test_a_layer_that_cannot_run_is_reported_not_raised():
    spec = """
input: [4]
layers:
  - {name: a, type: linear, out_features: 3}
  - {name: b, type: relu}
"""
    network = loads(spec)
    network.nodes[0].layer.forward = lambda ops, params, x: (_ for _ in ()).throw(ValueError("boom"))
    result = verify(network)
    assert not result.ok
    assert "boom" in result.rows[0].error and "did not run" in result.rows[1].error


def test_check_hook_reports_problems_at_the_layer(monkeypatch):
    """What the pre-commit hook runs, `cnncalc check --verify`, puts a layer that disagrees
    when run at that layer's line."""
    runner = CliRunner()
    assert runner.invoke(app, ["check", "--verify", LENET5]).exit_code == 0
    monkeypatch.setattr(REGISTRY["conv2d"], "kernel_inputs", lambda self, channels: self.out_channels * channels)
    result = runner.invoke(app, ["check", "--verify", LENET5])
    c3_line = next(n for n, line in enumerate(open(LENET5, encoding="utf-8"), start=1) if "name: C3" in line)
    problems = [line for line in result.stdout.splitlines() if "verify: layer" in line]
    assert result.exit_code == 1 and len(problems) == 1, result.stdout
    assert problems[0].startswith(f"{LENET5}:{c3_line}:") and "'C3'" in problems[0]
    assert "macs: rules say 240,000, the run gave 150,000" in problems[0]


def test_progress_bar_only_on_a_terminal_after_the_delay():
    import io

    from rich.console import Console

    from cnncalc.backend.progress import LazyProgress

    for delay, terminal, drawn in ((0.0, True, True), (60.0, True, False), (0.0, False, False)):
        out = io.StringIO()
        progress = LazyProgress(Console(file=out, force_terminal=terminal, width=80), delay=delay)
        assert verify(load(LENET5), progress=progress).ok
        progress.close()
        assert ("14/14" in out.getvalue() or "0/14" in out.getvalue()) is drawn
