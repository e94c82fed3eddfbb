"""`cnncalc schema`: the JSON Schema of the spec language, generated from the layer registry.
The shipped file is the generated one; every zoo spec passes it; typical mistakes fail it,
and cnncalc refuses each of them too (the schema flags nothing that cnncalc accepts)."""
from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources

import jsonschema
import pytest
import yaml

from cnncalc import schema
from cnncalc.layers import REGISTRY
from helpers import ROOT, ZOO_FILES, invoke, write_spec

SCHEMA = schema.generate()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


# Editors' validators may know only draft-07: the schema uses nothing newer (its $refs are
# plain JSON pointers into $defs), so every verdict below is checked under both.
DRAFT7 = jsonschema.Draft7Validator({key: value for key, value in SCHEMA.items() if key != "$schema"})


def _errors(doc) -> list:
    errors = list(VALIDATOR.iter_errors(doc))
    assert bool(errors) == bool(list(DRAFT7.iter_errors(doc)))
    return errors


def test_the_shipped_schema_is_the_generated_one():
    shipped = resources.files("cnncalc").joinpath("spec.schema.json").read_text(encoding="utf-8")
    assert shipped == schema.text(), "run: cnncalc schema > cnncalc/spec.schema.json"


def test_the_command_prints_it():
    result = invoke("schema")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == SCHEMA


def test_it_is_a_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_layer_type_and_argument_is_in_it_with_its_help():
    layer = SCHEMA["$defs"]["layer"]
    assert layer["properties"]["type"]["enum"] == sorted(REGISTRY)
    branches = {branch["if"]["properties"]["type"]["const"]: branch["then"] for branch in layer["allOf"]}
    assert branches.keys() == REGISTRY.keys()
    for kind, cls in REGISTRY.items():
        properties = branches[kind]["properties"]
        for name, arg in cls.args.items():
            assert properties[name]["description"] == (arg.doc or name), (kind, name)
            if not arg.required and arg.default is not None:
                assert properties[name]["default"] == arg.default
        assert sorted(branches[kind].get("required", [])) == sorted(n for n, a in cls.args.items() if a.required)


@pytest.mark.parametrize("path", ZOO_FILES, ids=lambda path: path.rsplit("/", 1)[-1])
def test_every_zoo_spec_passes(path):
    with open(path, encoding="utf-8") as file:
        doc = yaml.safe_load(file)
    assert [error.message for error in _errors(doc)] == []


BASE = "input: [3, 8, 8]\nlayers:\n"
MISTAKES = {
    "unknown type": "  - {type: conv9d, out_channels: 4, kernel_size: 3}\n",
    "misspelt argument": "  - {type: conv2d, out_channel: 4, kernel_size: 3}\n",
    "missing required argument": "  - {type: conv2d, out_channels: 4}\n",
    "bool as a list": "  - {type: conv2d, out_channels: 4, kernel_size: 3, bias: [1]}\n",
    "number as a mapping": "  - {type: conv2d, out_channels: {a: 1}, kernel_size: 3}\n",
    "too many sizes": "  - {type: conv2d, out_channels: 4, kernel_size: [3, 3, 3]}\n",
    "negative size": "  - {type: conv2d, out_channels: 4, kernel_size: 3, stride: -1}\n",
    "not a choice": "  - {type: gelu, approximate: fast}\n",
    "null in a per-axis list that takes none": "  - {type: upsample, size: [16, null]}\n",
    "trainable as a word": "  - {type: conv2d, out_channels: 4, kernel_size: 3, trainable: maybe}\n",
    "type and block": "  - {type: relu, block: b}\n",
    "neither type nor block": "  - {name: x}\n",
    "layer not a mapping": "  - relu\n",
}
TOP_MISTAKES = {
    "unknown top-level key": "input: [3, 8, 8]\nlayer:\n  - {type: relu}\n",
    "no layers": "input: [3, 8, 8]\n",
    "unknown dtype": "input: [3, 8, 8]\ndtype: int8\nlayers:\n  - {type: relu}\n",
    "unknown block key": ("input: [3, 8, 8]\nblocks:\n  b: {layer: [{type: relu}]}\n"
                          "layers:\n  - {block: b}\n"),
    "unknown expect key": "input: [3, 8, 8]\nlayers:\n  - {type: relu}\nexpect: {parms: 0}\n",
    "network key in a block library": "blocks:\n  b: {layers: [{type: relu}]}\nexpect: {params: 0}\n",
}
SPECS = {**{name: BASE + text for name, text in MISTAKES.items()}, **TOP_MISTAKES}


@pytest.mark.parametrize("name", SPECS)
def test_a_mistake_fails_the_schema_and_cnncalc(tmp_path, name):
    text = SPECS[name]
    assert _errors(yaml.safe_load(text)), f"the schema accepts: {text}"
    result = invoke("check", str(write_spec(tmp_path, text)))
    assert result.exit_code == 2, result.output


GOOD = {
    "expressions everywhere": ("input: [3, 8, 8]\nvars: {w: 4}\nlayers:\n"
                               "  - {type: conv2d, out_channels: 2 * w, kernel_size: w - 1, bias: w > 2}\n"),
    "choice or sizes": ("input: [3, 8, 8]\nlayers:\n"
                        "  - {type: conv2d, out_channels: 4, kernel_size: 3, padding: same}\n"),
    "per-axis list": "input: [3, 8, 8]\nlayers:\n  - {type: upsample, size: [16, 12]}\n",
    "per-axis list with nulls": "input: [3, 8, 8]\nlayers:\n  - {type: crop, size: [4, null]}\n",
    "one pad for all": "input: [3, 8, 8]\nlayers:\n  - {type: pad, pad: 1}\n",
    "block with arguments": ("input: [3, 8, 8]\nblocks:\n  b: {args: {c: null}, layers: [{type: conv2d, "
                             "out_channels: c, kernel_size: 1}]}\nlayers:\n  - {block: b, c: 4, repeat: 2}\n"),
    "block library": "blocks:\n  b: {layers: [{type: relu}]}\n",
}


@pytest.mark.parametrize("name", GOOD)
def test_what_cnncalc_accepts_passes(tmp_path, name):
    text = GOOD[name]
    assert [error.message for error in _errors(yaml.safe_load(text))] == []
    assert invoke("check", str(write_spec(tmp_path, text))).exit_code == 0


def test_summary_imports_neither_the_schema_nor_the_export():
    script = ("import runpy, sys\n"
              f"sys.argv = ['cnncalc', 'summary', {str(ROOT / 'specs' / 'lenet5.yaml')!r}]\n"
              "try:\n    runpy.run_module('cnncalc', run_name='__main__')\nexcept SystemExit:\n    pass\n"
              "sys.stderr.write(f\"\\nLOADED={sorted(m for m in sys.modules if m.startswith('cnncalc.'))}\\n\")\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    loaded = result.stderr.rsplit("LOADED=", 1)[-1]
    assert "'cnncalc.summary'" in loaded, result.stderr[-2000:]  # the listing works
    assert "cnncalc.schema" not in loaded and "cnncalc.export.pytorch" not in loaded
