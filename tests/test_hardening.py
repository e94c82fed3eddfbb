"""A repository can hold anything: every limit and every kind of bad file ends in exactly
one `file:line:col: error:` line from `cnncalc check`, exit 2, no traceback, fast."""
from __future__ import annotations

import os
import time

import pytest

from cnncalc import limits
from cnncalc.language import expressions as expr, reader as source

from helpers import invoke
from helpers import write_spec as spec

BASE = "input: [3, 8, 8]\n"
RELU = "layers: [{type: relu}]\n"


def rejected(path, *needles: str, within: float = 1.0) -> str:
    """Check `path`; assert exit 2, one error line naming the file, no traceback; return it."""
    started = time.perf_counter()
    result = invoke("check", str(path))
    seconds = time.perf_counter() - started
    output = result.output
    assert result.exit_code == 2, output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in output and "internal error" not in output
    errors = [line for line in output.splitlines() if " error: " in line or line.startswith(f"{path}: error:")]
    assert len(errors) == 1, output
    assert errors[0].startswith(f"{path}:") and "\n" not in errors[0]
    for needle in needles:
        assert needle in errors[0] or needle in output, output
    assert output.splitlines()[-1].startswith("FAILED: 1 file checked: 1 invalid")
    assert seconds < within, f"took {seconds:.2f} s"
    return errors[0]


# --- files that are not specs ---------------------------------------------------------

def test_empty_file(tmp_path):
    rejected(spec(tmp_path, ""), "the file is empty")


def test_only_comments(tmp_path):
    rejected(spec(tmp_path, "# nothing here\n\n"), "the file is empty")


def test_binary_file(tmp_path):
    rejected(spec(tmp_path, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "binary file")


def test_not_utf8(tmp_path):
    rejected(spec(tmp_path, "input: [3]\nname: caf\xe9\n".encode("latin-1")), "not UTF-8")


def test_control_character(tmp_path):
    line = rejected(spec(tmp_path, "input: [3]\nname: a\x0bb\n" + RELU), "not allowed")
    assert ":2:" in line


def test_not_yaml(tmp_path):
    rejected(spec(tmp_path, "input: [3\nlayers: {{{\n"), "YAML syntax error")


def test_not_a_mapping(tmp_path):
    rejected(spec(tmp_path, "- just\n- a list\n"), "a spec must be a mapping")


def test_plain_text(tmp_path):
    rejected(spec(tmp_path, "Hello, this is a README.\n"), "a spec must be a mapping")


def test_directory_without_specs(tmp_path):
    path = tmp_path / "empty"
    path.mkdir()
    rejected(path, "no spec files (.yaml/.yml) under this folder")


def test_missing_file(tmp_path):
    rejected(tmp_path / "missing.yaml", "file not found")


def test_file_too_large(tmp_path, monkeypatch):
    monkeypatch.setattr(source, "MAX_FILE_BYTES", 1000)
    rejected(spec(tmp_path, BASE + RELU + "# " + "x" * 1000 + "\n"), "larger than 1,000 bytes")


# --- nothing in a spec can run code, read files or reach the network -------------------

@pytest.mark.parametrize("tag", ["!!python/object/apply:os.system ['echo pwned']",
                                 "!!python/name:os.system", "!!python/object:subprocess.Popen {}",
                                 "!include /etc/passwd", "!!binary aGVsbG8=", "!!set {a, b}", "!!timestamp 2001-12-14"])
def test_unsafe_tags_are_refused(tmp_path, tag):
    rejected(spec(tmp_path, BASE + f"name: {tag}\n" + RELU), "unsupported YAML tag")


@pytest.mark.parametrize("expression", ["__import__('os').system('true')", "open('/etc/passwd')",
                                        "().__class__.__bases__", "x.y", "[1, 2].pop()", "lambda: 1", "exec('1')", "'a'"])
def test_expressions_name_nothing_but_variables_and_arithmetic(tmp_path, expression):
    rejected(spec(tmp_path, BASE + f'vars: {{width: 4, c: "{expression}"}}\n' + RELU), "expression")


# --- limits, checked before anything is expanded ---------------------------------------

def test_alias_bomb(tmp_path):
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 10):
        previous, name = chr(96 + level), chr(97 + level)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 10) + "]")
    rejected(spec(tmp_path, "\n".join(lines) + "\n" + BASE + RELU), "alias bomb")


def test_nesting_depth(tmp_path):
    rejected(spec(tmp_path, BASE + "name: " + "[" * 200 + "]" * 200 + "\n" + RELU), "nesting")


def test_deep_nesting_beyond_the_parser(tmp_path):
    rejected(spec(tmp_path, BASE + "name: " + "[" * 100_000 + "]" * 100_000 + "\n" + RELU), "depth")


def test_repeat_count(tmp_path):
    text = BASE + "blocks:\n  b: {layers: [{type: relu}]}\nlayers:\n  - {block: b, repeat: 1000000000}\n"
    rejected(spec(tmp_path, text), "'repeat' is 1,000,000,000", ":5:")


def test_nested_repeats_over_the_layer_limit(tmp_path):
    text = (BASE + "blocks:\n  b: {layers: [{type: relu}]}\n  c: {layers: [{block: b, repeat: 1000}]}\n"
            "layers:\n  - {block: c, repeat: 100000}\n")
    rejected(spec(tmp_path, text), f"more than {limits.MAX_LAYERS:,} layers")


def test_total_layer_count(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_LAYERS", 50)
    layers = "".join("  - {type: relu}\n" for _ in range(51))
    rejected(spec(tmp_path, BASE + "layers:\n" + layers), "more than 50 layers")


def test_recursive_block(tmp_path):
    text = BASE + "blocks:\n  b: {layers: [{type: relu}, {block: b}]}\nlayers:\n  - {block: b}\n"
    rejected(spec(tmp_path, text), "contains itself")


def test_mutually_recursive_blocks(tmp_path):
    text = (BASE + "blocks:\n  a: {layers: [{block: b, repeat: 3}]}\n  b: {layers: [{block: a, repeat: 3}]}\n"
            "layers:\n  - {block: a, repeat: 1000}\n")
    rejected(spec(tmp_path, text), "contains itself", "a -> b -> a")


def test_dimension_size_of_the_input(tmp_path):
    rejected(spec(tmp_path, f"input: [3, {2**40}]\n" + RELU), f"above the limit of {limits.MAX_DIM:,}")


def test_input_rank(tmp_path):
    rejected(spec(tmp_path, f"input: {[2**31 - 1] * 500}\nlayers: [{{type: flatten}}]\n"), "axes, above the limit")


def test_dimension_size_of_a_layer(tmp_path):
    text = "input: [100000, 100000]\nlayers:\n  - {type: flatten}\n"
    rejected(spec(tmp_path, text), f"above {limits.MAX_DIM:,}")


def test_expression_magnitude(tmp_path):
    rejected(spec(tmp_path, BASE + "vars: {n: 10 ** 15 * 1000}\n" + RELU), "beyond the limit")


def test_expression_power_tower(tmp_path):
    rejected(spec(tmp_path, BASE + "vars: {n: '9 ** 9 ** 9 ** 9'}\n" + RELU), "too large")


def test_expression_length(tmp_path):
    rejected(spec(tmp_path, BASE + "vars: {n: '" + "1 + " * 200 + "1'}\n" + RELU), f"longer than {expr.MAX_LENGTH}")


@pytest.mark.parametrize("deep", ["(" * 240 + "1" + ")" * 240, "-" * 480 + "1", "not " * 120 + "1", "2 ** " * 90 + "1"])
def test_expression_nesting(tmp_path, deep):
    rejected(spec(tmp_path, BASE + f"vars: {{n: '{deep}'}}\n" + RELU), f"nests deeper than {expr.MAX_NESTING}")


def test_long_expression_chain_is_fine(tmp_path):
    result = invoke("check", str(spec(tmp_path, BASE + "vars: {n: '" + "1+" * 240 + "1'}\n" + RELU)))
    assert result.exit_code == 0 and "Traceback" not in result.output


def test_huge_amount_in_expect(tmp_path):
    text = BASE + RELU + "expect: {params: '" + "9" * 400 + "T'}\n"
    result = invoke("check", str(spec(tmp_path, text)))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "at most 64 characters" in result.output


def test_huge_integer_literal(tmp_path):
    rejected(spec(tmp_path, BASE + "layers: [{type: linear, out_features: " + "9" * 5000 + "}]\n"), "invalid value")


def test_every_layer_switched_off(tmp_path):
    rejected(spec(tmp_path, BASE + "layers: [{type: relu, when: false}]\n"), "no layers")


def test_a_bad_file_does_not_stop_the_others(tmp_path):
    good = spec(tmp_path, BASE + RELU, "good.yaml")
    bad = spec(tmp_path, b"\x00\x01", "bad.yaml")
    result = invoke("check", str(bad), str(good))
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == "FAILED: 2 files checked: 1 invalid, 1 ok"


def test_no_file_is_written_or_read_besides_the_spec(tmp_path):
    text = BASE + "name: !!python/object/apply:os.system ['touch " + os.path.join(str(tmp_path), "pwned") + "']\n" + RELU
    rejected(spec(tmp_path, text))
    assert not (tmp_path / "pwned").exists()
