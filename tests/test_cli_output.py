"""What `cnncalc summary` prints: the JSON contract, Markdown, CSV, the table,
--depth folding, `cnncalc layers`, `python -m cnncalc`, and a light import."""
from __future__ import annotations

import csv
import doctest
import io
import json
import os
import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

import cnncalc
from cnncalc.cli import app
from cnncalc.fold import fold
from cnncalc.layers import REGISTRY

from helpers import ROOT, SPECS, cli_runner, write_spec

RESNET = str(SPECS / "resnet50.yaml")

SMALL = """\
name: small
input: [3, 16, 16]
layers:
  - {name: conv, type: conv2d, out_channels: 8, kernel_size: 3, padding: 1}
  - {name: bn, type: batchnorm2d, trainable: false}
  - {name: relu, type: relu}
  - {name: side, type: conv2d, out_channels: 8, kernel_size: 1, from: input}
  - {name: sum, type: add, from: [relu, side]}
  - {name: pool, type: maxpool2d, kernel_size: 2}
  - {name: flat, type: flatten}
  - {name: fc, type: linear, out_features: 10}
"""


def invoke(*args: str):
    result = cli_runner().invoke(app, list(args))
    assert "Traceback" not in result.output + result.stderr
    return result


@pytest.fixture
def small(tmp_path):
    return str(write_spec(tmp_path, SMALL, "small.yaml"))


@pytest.fixture(scope="module")
def resnet():
    return cnncalc.summarize(cnncalc.load(RESNET))


# --- JSON ---------------------------------------------------------------------------------------

LAYER_KEYS = {"name", "type", "inputs", "output_shape", "params", "trainable_params", "macs", "flops"}
TOTAL_KEYS = {"params", "trainable_params", "macs", "flops"}


@pytest.mark.parametrize("spec_fixture", ["small", "resnet_path"])
def test_json_contract(request, spec_fixture):
    path = request.getfixturevalue("small") if spec_fixture == "small" else RESNET
    result = invoke("summary", path, "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"name", "input_shape", "output_shape", "layers", "totals"} <= data.keys()
    assert all(LAYER_KEYS <= layer.keys() for layer in data["layers"])
    assert TOTAL_KEYS <= data["totals"].keys()

    expected = cnncalc.summarize(cnncalc.load(path))
    assert data["name"] == expected.name
    assert data["input_shape"] == list(expected.input_shape)
    assert data["output_shape"] == list(expected.output_shape)
    assert len(data["layers"]) == len(expected.layers)
    for got, record in zip(data["layers"], expected.layers):
        assert {key: got[key] for key in LAYER_KEYS} == {
            "name": record.name, "type": record.type, "inputs": list(record.inputs),
            "output_shape": list(record.output_shape), "params": record.params,
            "trainable_params": record.trainable_params, "macs": record.macs, "flops": record.flops}
    for key in TOTAL_KEYS:
        assert data["totals"][key] == getattr(expected.totals, key)
        assert data["totals"][key] == sum(layer[key] for layer in data["layers"])


def test_json_values_are_plain_types(small):
    data = json.loads(invoke("summary", small, "--format", "json").stdout)
    for layer in data["layers"]:
        assert isinstance(layer["name"], str) and isinstance(layer["type"], str)
        assert all(isinstance(name, str) for name in layer["inputs"])
        assert all(type(d) is int for d in layer["output_shape"])
        assert all(type(layer[key]) is int for key in ("params", "trainable_params", "macs", "flops"))
    assert data["name"] == "small"
    layers = {layer["name"]: layer for layer in data["layers"]}
    assert layers["sum"]["inputs"] == ["relu", "side"]
    assert layers["bn"]["params"] == 16 and layers["bn"]["trainable_params"] == 0
    assert data["totals"]["trainable_params"] == data["totals"]["params"] - 16


def test_json_batch(small):
    one = json.loads(invoke("summary", small, "-f", "json").stdout)
    three = json.loads(invoke("summary", small, "-f", "json", "--batch", "3").stdout)
    assert three["totals"]["params"] == one["totals"]["params"]
    assert three["totals"]["macs"] == 3 * one["totals"]["macs"]


# --- Markdown and CSV ---------------------------------------------------------------------------

def test_markdown_parses(small):
    result = invoke("summary", small, "--format", "markdown")
    assert result.exit_code == 0
    expected = cnncalc.summarize(cnncalc.load(small))
    lines = result.stdout.splitlines()
    assert lines[0] == "# small"
    header = lines.index("| Layer | Type | Output shape | Params | MACs | FLOPs |")
    assert re.fullmatch(r"\|(-+:?\|)+|\|(:?-+:?\|)+", lines[header + 1])
    rows = []
    for line in lines[header + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    assert len(rows) == len(expected.layers)
    for cells, record in zip(rows, expected.layers):
        assert len(cells) == 6
        assert cells[0] == record.name and cells[1] == record.type
        assert cells[2] == "[" + ", ".join(map(str, record.output_shape)) + "]"
        assert int(cells[3].replace(",", "")) == record.params
        assert int(cells[4].replace(",", "")) == record.macs
        assert int(cells[5].replace(",", "")) == record.flops
    assert f"| Params | {expected.totals.params:,} (" in result.stdout or \
           f"| Params | {expected.totals.params:,} |" in result.stdout


def test_csv_parses_one_row_per_layer(small):
    result = invoke("summary", small, "--format", "csv")
    assert result.exit_code == 0
    expected = cnncalc.summarize(cnncalc.load(small))
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == len(expected.layers)
    for row, record in zip(rows, expected.layers):
        assert row["name"] == record.name and row["type"] == record.type
        assert int(row["params"]) == record.params
        assert int(row["trainable_params"]) == record.trainable_params
        assert int(row["macs"]) == record.macs and int(row["flops"]) == record.flops
        assert row["output_shape"] == "x".join(map(str, record.output_shape))
        assert row["inputs"].split() == record.inputs


def test_csv_resnet50_row_count(resnet):
    rows = list(csv.DictReader(io.StringIO(invoke("summary", RESNET, "-f", "csv").stdout)))
    assert len(rows) == len(resnet.layers)
    assert sum(int(row["params"]) for row in rows) == 25_557_032


# --- the table --------------------------------------------------------------------------------------

def test_table_has_separators_and_human_units():
    result = invoke("summary", RESNET)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "25,557,032 (25.6M)" in out
    assert "4,089,184,256 (4.09G)" in out
    assert "layer1.0.conv1" in out or ("layer1.0." in out and "conv1" in out)
    assert "[1000]" in out
    assert "✓ expect params" in out
    assert "\x1b[" not in out  # no colour codes when piped


def test_table_small(small):
    out = invoke("summary", small).stdout
    for name in ("conv", "bn", "side", "sum", "fc"):
        assert re.search(rf"\b{name}\b", out)
    assert "non-trainable" in out and re.search(r"non-trainable\s+16\b", out)


# --- --depth -------------------------------------------------------------------------------------

def csv_rows(*args):
    result = invoke("summary", *args, "--format", "csv")
    assert result.exit_code == 0, result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout)))


def test_depth_1_folds_resnet50_stages(resnet):
    rows = csv_rows(RESNET, "--depth", "1")
    assert [row["name"] for row in rows] == ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3",
                                             "layer4", "avgpool", "flatten", "fc"]
    stages = {row["name"]: row for row in rows if row["name"].startswith("layer")}
    assert stages["layer1"]["type"] == "bottleneck×3"
    assert stages["layer4"]["output_shape"] == "2048x7x7"
    for stage, row in stages.items():
        inside = [r for r in resnet.layers if r.name.startswith(stage + ".")]
        assert int(row["params"]) == sum(r.params for r in inside)
        assert int(row["macs"]) == sum(r.macs for r in inside)
        assert int(row["flops"]) == sum(r.flops for r in inside)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_depth_keeps_totals(resnet, depth):
    rows = csv_rows(RESNET, "--depth", str(depth))
    for key in ("params", "trainable_params", "macs", "flops", "buffers"):
        assert sum(int(row[key]) for row in rows) == getattr(resnet.totals, key), key
    folded = fold(resnet.layers, depth)
    assert [row["name"] for row in rows] == [r.name for r in folded]
    assert len(rows) <= len(resnet.layers)


def test_depth_2_shows_instances(resnet):
    names = [row["name"] for row in csv_rows(RESNET, "--depth", "2")]
    assert "layer1.0" in names and "layer3.5" in names and "layer1" not in names
    assert len([n for n in names if n.startswith("layer")]) == 3 + 4 + 6 + 3


def test_depth_does_not_change_json_or_table_totals():
    plain = json.loads(invoke("summary", RESNET, "-f", "json").stdout)
    folded = json.loads(invoke("summary", RESNET, "-f", "json", "--depth", "1").stdout)
    assert folded["totals"] == plain["totals"]
    table = invoke("summary", RESNET, "--depth", "1").stdout
    assert "25,557,032 (25.6M)" in table
    assert re.search(r"\blayer3\b", table) and "layer3.0" not in table


# --- other commands and entry points -------------------------------------------------------------

def test_layers_lists_every_registered_type():
    result = invoke("layers")
    assert result.exit_code == 0, result.stderr
    for name in REGISTRY:
        assert re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", result.stdout), name


def test_python_dash_m_help():
    result = subprocess.run([sys.executable, "-m", "cnncalc", "--help"], cwd=ROOT, capture_output=True, text=True,
                            timeout=60, env={**os.environ, "COLUMNS": "120"})
    assert result.returncode == 0, result.stderr
    assert "summary" in result.stdout and "layers" in result.stdout
    assert "Traceback" not in result.stderr


def test_summary_help_lists_options():
    out = invoke("summary", "--help").stdout
    for option in ("--input", "--set", "--batch", "--depth", "--format"):
        assert option in out


def test_summary_does_not_import_numpy():
    """Nor onnx, the report, the SVG layout or the peers' conventions: all lazily imported."""
    script = ("import runpy, sys\n"
              f"sys.argv = ['cnncalc', 'summary', {RESNET!r}, '--format', 'json']\n"
              "try:\n"
              "    runpy.run_module('cnncalc', run_name='__main__')\n"
              "except SystemExit as exit:\n"
              "    code = exit.code\n"
              "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'torch', 'cupy', 'onnx')\n"
              "               or m in ('cnncalc.render.report', 'cnncalc.layout', 'cnncalc.conventions.core'))\n"
              "sys.stderr.write(f'\\nEXIT={code} HEAVY={heavy}\\n')\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "EXIT=0 HEAVY=[]" in result.stderr, result.stderr[-2000:]
    assert json.loads(result.stdout)["totals"]["params"] == 25_557_032


def test_summary_import_time_has_no_numpy():
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "cnncalc", "summary", RESNET],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    imported = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")]
    assert imported, "no -X importtime output"
    assert not [name for name in imported if name.split(".")[0] == "numpy"]


def test_window_doctests():
    import cnncalc.layers.window as window

    outcome = doctest.testmod(window, verbose=False)
    assert outcome.attempted >= 4
    assert outcome.failed == 0


def test_version():
    from cnncalc import __version__

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"cnncalc {__version__}"


def test_expect_is_skipped_when_set_or_input_change_the_network():
    spec = RESNET
    for extra in (["--set", "width=32"], ["--input", "3,128,128"]):
        result = cli_runner().invoke(app, ["summary", spec, "--format", "json", *extra])
        assert result.exit_code == 0, result.output
        assert "expect" not in json.loads(result.stdout)
        assert "expect: not checked" in result.stderr
    as_written = json.loads(CliRunner().invoke(app, ["summary", spec, "--format", "json"]).output)
    assert as_written["expect"] and all(outcome["ok"] for outcome in as_written["expect"])
