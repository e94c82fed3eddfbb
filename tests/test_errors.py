"""Every kind of bad input ends in a one-screen, compiler-style message and exit code 2.

Each test writes a spec to tmp_path, runs the CLI on it, and checks the exit code,
that no traceback leaks, that the message points at `file:line:col` of the faulty
place, names the layer, shows the numbers involved and, where one helps, a hint.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from cnncalc import limits

from helpers import invoke, write_spec

BASE = "input: [3, 32, 32]\n"


def locate(text: str, needle: str, nth: int = 1) -> tuple[int, int]:
    """1-based line and column of the nth occurrence of `needle` in `text`."""
    pos = -1
    for _ in range(nth):
        pos = text.index(needle, pos + 1)
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return line, col


def after(text: str, key: str) -> tuple[int, int]:
    """Where the value following `key` (e.g. 'kernel_size: ') starts."""
    line, col = locate(text, key)
    return line, col + len(key)


def fails(tmp_path, text: str, *args: str, at: str | tuple | None = None, contains=(), hint: str | None = None,
          layer: str | None = None, filename: str = "spec.yaml") -> str:
    """Run `cnncalc summary` on `text`; assert a clean exit-2 error; return stderr."""
    text = textwrap.dedent(text)
    path = write_spec(tmp_path, text, filename)
    result = invoke("summary", str(path), *args)
    err = result.stderr
    everything = result.output + err
    assert result.exit_code == 2, f"exit {result.exit_code}:\n{everything}"
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in everything
    assert "internal error" not in everything
    assert result.stdout == "", "nothing but the error should be printed"
    assert "error:" in err
    if at is not None:
        line, col = locate(text, at) if isinstance(at, str) else at
        assert f"{path}:{line}:{col}: error:" in err, err
    if layer is not None:
        assert f"layer '{layer}'" in err, err
    for fragment in contains:
        assert fragment in err, f"{fragment!r} not in:\n{err}"
    if hint is not None:
        assert "hint:" in err and hint in err, err
    return err


# --- the file itself -------------------------------------------------------------------

def test_yaml_syntax_error(tmp_path):
    text = BASE + "layers:\n  - {type: conv2d, out_channels: 8\n  - {type: relu}\n"
    err = fails(tmp_path, text, contains=["YAML syntax error"], hint="indentation")
    assert f"{tmp_path / 'spec.yaml'}:4:" in err  # where the parser noticed the unclosed brace


def test_empty_file(tmp_path):
    fails(tmp_path, "", at=(1, 1), contains=["empty"], hint="'input' and 'layers'")


def test_comment_only_file_is_empty(tmp_path):
    fails(tmp_path, "# nothing here\n", at=(1, 1), contains=["empty"])


def test_list_file(tmp_path):
    fails(tmp_path, "- a\n- b\n", at=(1, 1), contains=["must be a mapping", "got a list"])


def test_scalar_file(tmp_path):
    fails(tmp_path, "hello\n", at=(1, 1), contains=["must be a mapping", "'hello'"])


@pytest.mark.parametrize("tagged", [
    '!!python/object/apply:os.system ["echo hi"]',
    "!!python/name:os.system {type: relu}",
    "!!python/object/new:os.system [echo hi]",
    "!!binary aGVsbG8=",
    "!mytag {type: relu}",
])
def test_unsafe_tags_are_refused(tmp_path, tagged):
    text = BASE + f"layers:\n  - {tagged}\n"
    fails(tmp_path, text, at="!", contains=["unsupported YAML tag"], hint="plain YAML values")


@pytest.mark.parametrize("command", [["summary"], ["check"], ["check", "--update-expect"], ["verify"]])
def test_a_tag_that_would_run_code_runs_nothing(tmp_path, command):
    """In a real process, where os.system's output and side effects would show."""
    marker = tmp_path / "ran"
    spec = tmp_path / "spec.yaml"
    spec.write_text(BASE + f'layers:\n  - !!python/object/apply:os.system ["touch {marker}"]\n', encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "cnncalc", *command, str(spec)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2 and "unsupported YAML tag" in result.stdout + result.stderr
    assert not marker.exists()


def test_unsafe_tag_at_top_level(tmp_path):
    text = BASE + 'layers: !!python/object/apply:os.system ["echo hi"]\n'
    fails(tmp_path, text, at="!!python", contains=["python/object/apply:os.system"])


def test_file_does_not_exist(tmp_path):
    path = tmp_path / "missing.yaml"
    result = invoke("summary", str(path))
    assert result.exit_code == 2
    assert "Traceback" not in result.output + result.stderr
    assert f"{path}: error: file not found" in result.stderr


def test_directory(tmp_path):
    result = invoke("summary", str(tmp_path))
    assert result.exit_code == 2
    assert "Traceback" not in result.output + result.stderr
    assert f"{tmp_path}: error:" in result.stderr and "directory" in result.stderr


def test_binary_file(tmp_path):
    (tmp_path / "spec.yaml").write_bytes(b"input: [3]\0\0")
    result = invoke("summary", str(tmp_path / "spec.yaml"))
    assert result.exit_code == 2 and "binary" in result.stderr


# --- layer types and their arguments -------------------------------------------------------

def test_unknown_layer_type_suggests_closest(tmp_path):
    text = BASE + "layers:\n  - {name: c1, type: conv2, out_channels: 8, kernel_size: 3}\n"
    fails(tmp_path, text, at="conv2,", layer="c1", contains=["unknown layer type 'conv2'"],
          hint="did you mean 'conv2d'?")


def test_layer_type_that_is_a_block(tmp_path):
    text = BASE + "blocks:\n  stage: {layers: [{type: relu}]}\nlayers:\n  - {name: s, type: stage}\n"
    fails(tmp_path, text, at="stage}", layer="s", hint="write 'block: stage'")


def test_type_must_be_a_name(tmp_path):
    text = BASE + "layers:\n  - {type: [conv2d]}\n"
    fails(tmp_path, text, at="[conv2d]", contains=["'type' must be a name", "a list"])


def test_missing_type(tmp_path):
    text = BASE + "layers:\n  - {out_channels: 8}\n"
    fails(tmp_path, text, at="{out", contains=["needs 'type'"], hint="type: conv2d")


def test_missing_required_argument(tmp_path):
    text = BASE + "layers:\n  - {name: c1, type: conv2d, out_channels: 8}\n"
    fails(tmp_path, text, at="{name", layer="c1", contains=["missing required argument 'kernel_size'"])


def test_unknown_argument_suggests_closest(tmp_path):
    text = BASE + "layers:\n  - {name: c1, type: conv2d, out_channels: 8, kernel: 3}\n"
    fails(tmp_path, text, at="kernel:", layer="c1", contains=["unknown argument 'kernel' for conv2d"],
          hint="did you mean 'kernel_size'?")


@pytest.mark.parametrize("value, message", [
    ('"abc"', "unknown variable 'abc'"),
    ("true", "must be an integer, got True"),
    ("[1, 2, 3]", "needs 2 values (one per spatial axis), got 3"),
    ("2.5", "must be an integer, got 2.5"),
    ("{a: 1}", "kernel_size"),
])
def test_wrong_argument_type(tmp_path, value, message):
    text = BASE + f"layers:\n  - {{name: c1, type: conv2d, out_channels: 8, kernel_size: {value}}}\n"
    fails(tmp_path, text, at=after(text, "kernel_size: "), layer="c1", contains=["argument 'kernel_size'", message])


@pytest.mark.parametrize("arg, value, message", [
    ("out_channels", "0", "argument 'out_channels' must be positive, got 0"),
    ("stride", "0", "argument 'stride' must be positive, got 0"),
    ("padding", "-1", "argument 'padding' must be >= 0, got -1"),
    ("dilation", "[1, 0]", "argument 'dilation' must be positive, got 0"),
    ("groups", "-2", "argument 'groups' must be positive, got -2"),
])
def test_non_positive_sizes(tmp_path, arg, value, message):
    args = {"out_channels": "4", "kernel_size": "3", arg: value}
    body = ", ".join(f"{k}: {v}" for k, v in args.items())
    text = BASE + f"layers:\n  - {{name: c1, type: conv2d, {body}}}\n"
    fails(tmp_path, text, at=after(text, f"{arg}: "), layer="c1", contains=[message])


def test_non_positive_linear_size(tmp_path):
    text = "input: [20]\nlayers:\n  - {name: fc, type: linear, out_features: -3}\n"
    fails(tmp_path, text, at="-3", layer="fc", contains=["'out_features' must be positive, got -3"])


def test_output_size_not_positive_shows_formula(tmp_path):
    text = "input: [3, 4, 4]\nlayers:\n  - {name: c1, type: conv2d, out_channels: 4, kernel_size: 7}\n"
    fails(tmp_path, text, at="{name", layer="c1",
          contains=["output H would be -2", "floor((4 + 2*0 - 1*(7-1) - 1) / 1) + 1 = -2 (input shape: [3, 4, 4])"],
          hint="too small for kernel 7")


def test_the_numbers_behind_a_shape_error_are_in_check_json(tmp_path):
    """The input shape is a number of the diagnostic, in the line and in JSON alike."""
    import json

    path = write_spec(tmp_path, "input: [3, 4, 4]\nlayers:\n  - {name: c1, type: conv2d, out_channels: 4, kernel_size: 7}\n")
    problem, = json.loads(invoke("check", str(path), "--format", "json").stdout)["files"][0]["problems"]
    assert problem["numbers"] == {"input shape": "[3, 4, 4]"}
    assert problem["layer"] == "c1" and problem["kind"] == "invalid" and problem["severity"] == "error"
    assert problem["message"].startswith("layer 'c1': output H would be -2") and problem["line"] == 3


def test_pool_output_size_not_positive(tmp_path):
    text = ("input: [3, 8, 8]\nlayers:\n  - {name: pool, type: maxpool2d, kernel_size: 2}\n"
            "  - {name: pool2, type: maxpool2d, kernel_size: 2}\n"
            "  - {name: pool3, type: maxpool2d, kernel_size: 2}\n"
            "  - {name: pool4, type: maxpool2d, kernel_size: 2}\n")
    fails(tmp_path, text, at="{name: pool4", layer="pool4",
          contains=["output H would be 0", "floor((1 + 2*0 - 1*(2-1) - 1) / 2) + 1 = 0"])


def test_output_size_in_repeated_block_names_the_instance(tmp_path):
    text = """\
        input: [3, 8, 8]
        blocks:
          stage:
            args: {planes: null}
            layers:
              - {name: conv, type: conv2d, out_channels: planes, kernel_size: 3}
        layers:
          - {name: layer1, block: stage, repeat: 4, planes: 4}
        """
    fails(tmp_path, text, at="{name: conv", layer="layer1.3.conv",
          contains=["output H would be 0", "(2 + 2*0 - 1*(3-1) - 1)"])


def test_in_channels_mismatch(tmp_path):
    text = BASE + ("layers:\n  - {name: c1, type: conv2d, out_channels: 8, kernel_size: 3}\n"
                   "  - {name: c2, type: conv2d, in_channels: 16, out_channels: 8, kernel_size: 3}\n")
    fails(tmp_path, text, at="16", layer="c2", contains=["in_channels=16", "8 channels"],
          hint="remove 'in_channels'")


def test_in_features_mismatch(tmp_path):
    text = ("input: [20]\nlayers:\n  - {name: fc1, type: linear, out_features: 10}\n"
            "  - {name: fc2, type: linear, in_features: 12, out_features: 5}\n")
    fails(tmp_path, text, at="12", layer="fc2", contains=["in_features=12", "10 features"],
          hint="remove 'in_features'")


def test_rank_mismatch(tmp_path):
    text = "input: [20]\nlayers:\n  - {name: c1, type: conv2d, out_channels: 4, kernel_size: 3}\n"
    fails(tmp_path, text, at="{name", layer="c1", contains=["3-D input", "1-D [20]"], hint="flatten")


def test_add_of_mismatched_shapes(tmp_path):
    text = BASE + ("layers:\n  - {name: a, type: conv2d, out_channels: 8, kernel_size: 3}\n"
                   "  - {name: b, type: conv2d, out_channels: 8, kernel_size: 3, padding: 1, from: input}\n"
                   "  - {name: sum, type: add, from: [a, b]}\n")
    err = fails(tmp_path, text, at="{name: sum", layer="sum", contains=["[8, 30, 30]", "[8, 32, 32]"],
                hint="projection")
    assert err.count("[8, 30, 30]") == 1  # said once, not repeated as 'input shapes'


def test_concat_mismatch_off_axis(tmp_path):
    text = BASE + ("layers:\n  - {name: a, type: conv2d, out_channels: 8, kernel_size: 3}\n"
                   "  - {name: b, type: conv2d, out_channels: 4, kernel_size: 3, padding: 1, from: input}\n"
                   "  - {name: cat, type: concat, from: [a, b]}\n")
    fails(tmp_path, text, at="{name: cat", layer="cat",
          contains=["[4, 32, 32]", "[8, 30, 30]", "all axes except 0 must match"], hint="strides and padding")


def test_concat_axis_out_of_range(tmp_path):
    text = BASE + "layers:\n  - {name: a, type: relu}\n  - {name: cat, type: concat, axis: 5, from: [a, input]}\n"
    fails(tmp_path, text, at="5,", layer="cat", contains=["axis 5", "3-D"])


def test_single_input_layer_given_two(tmp_path):
    text = BASE + "layers:\n  - {name: a, type: relu}\n  - {name: b, type: relu, from: [a, input]}\n"
    fails(tmp_path, text, at="[a, input]", layer="b", contains=["takes one input", "names 2"], hint="concat or add")


def test_merge_given_one_input(tmp_path):
    text = BASE + "layers:\n  - {name: a, type: relu}\n  - {name: s, type: add}\n"
    fails(tmp_path, text, layer="s", contains=["two or more inputs"], hint="from: [")


def test_reshape_element_mismatch(tmp_path):
    text = BASE + "layers:\n  - {name: rs, type: reshape, shape: [3, 100, 10]}\n"
    err = fails(tmp_path, text, at="[3, 100", layer="rs", contains=["3072 elements", "3000 elements"])
    assert err.count("[3, 32, 32]") == 1


def test_reshape_not_divisible(tmp_path):
    text = BASE + "layers:\n  - {name: rs, type: reshape, shape: [7, -1]}\n"
    fails(tmp_path, text, at="[7", layer="rs", contains=["3072 is not divisible by 7"])


@pytest.mark.parametrize("dims", ["[0, 1, 1]", "[0, 1]", "[0, 1, 3]"])
def test_permute_invalid(tmp_path, dims):
    text = BASE + f"layers:\n  - {{name: p, type: permute, dims: {dims}}}\n"
    fails(tmp_path, text, at=dims, layer="p", contains=[f"dims {dims}", "not a permutation of 0..2", "[3, 32, 32]"])


def test_bad_dtype(tmp_path):
    text = BASE + "dtype: float33\nlayers:\n  - {type: relu}\n"
    fails(tmp_path, text, at="float33", contains=["unknown dtype 'float33'"], hint="did you mean 'float32'?")


def test_dtype_not_a_string(tmp_path):
    text = BASE + "dtype: [float32]\nlayers:\n  - {type: relu}\n"
    fails(tmp_path, text, at="[float32]", contains=["unknown dtype"])


def test_when_not_boolean(tmp_path):
    text = BASE + "layers:\n  - {name: r, type: relu, when: 3}\n"
    fails(tmp_path, text, at="3}", layer="r", contains=["'when' must be true or false, got 3"])


def test_unknown_top_level_key(tmp_path):
    text = BASE + "layer:\n  - {type: relu}\n"
    fails(tmp_path, text, at="layer:", contains=["unknown top-level key 'layer'"], hint="did you mean 'layers'?")


def test_missing_layers(tmp_path):
    fails(tmp_path, BASE, at=(1, 1), contains=["missing required top-level key 'layers'"])


def test_bad_input_shape(tmp_path):
    text = "input: [3, 0, 32]\nlayers:\n  - {type: relu}\n"
    fails(tmp_path, text, at="[3", contains=["positive integers", "0"])


def test_duplicate_yaml_key(tmp_path):
    text = BASE + "layers:\n  - {name: a, type: relu, type: tanh}\n"
    fails(tmp_path, text, at="type: tanh", contains=["duplicate key 'type'"], hint="line 3")


# --- names and references ---------------------------------------------------------------

def test_unknown_from_suggests_closest(tmp_path):
    text = BASE + ("layers:\n  - {name: conv_a, type: conv2d, out_channels: 8, kernel_size: 3}\n"
                   "  - {name: r, type: relu, from: conv_b}\n")
    fails(tmp_path, text, at="conv_b", layer="r", contains=["'conv_b'", "not a layer"],
          hint="did you mean 'conv_a'?")


def test_from_forward_references_forming_a_cycle(tmp_path):
    text = BASE + ("layers:\n  - {name: a, type: relu, from: c}\n  - {name: b, type: relu, from: a}\n"
                   "  - {name: c, type: relu, from: b}\n")
    err = fails(tmp_path, text, contains=["cycle"], hint="lead back")
    for name in "abc":
        assert f"{name} -> " in err or f"-> {name}" in err
    path = tmp_path / "spec.yaml"
    assert any(f"{path}:{line}:" in err for line in (3, 4, 5))


def test_self_reference_is_a_cycle(tmp_path):
    text = BASE + "layers:\n  - {name: a, type: relu, from: a}\n"
    fails(tmp_path, text, at="a}", layer="a", contains=["cycle", "a -> a"])


def test_duplicate_names(tmp_path):
    text = BASE + "layers:\n  - {name: a, type: relu}\n  - {name: a, type: tanh}\n"
    fails(tmp_path, text, at="a, type: tanh",
          contains=["duplicate layer name 'a'"], hint=f"{tmp_path / 'spec.yaml'}:3:")


def test_output_names_unknown_layer(tmp_path):
    text = BASE + "layers:\n  - {name: relu1, type: relu}\noutput: relu2\n"
    fails(tmp_path, text, at="relu2", contains=["'relu2'", "not a layer"], hint="did you mean 'relu1'?")


# --- blocks ---------------------------------------------------------------------------------

def test_unknown_block(tmp_path):
    text = BASE + "blocks:\n  stage: {layers: [{type: relu}]}\nlayers:\n  - {name: s1, block: stag}\n"
    fails(tmp_path, text, at="stag}", layer="s1", contains=["unknown block 'stag'"], hint="did you mean 'stage'?")


def test_block_that_is_a_layer_type(tmp_path):
    text = BASE + "layers:\n  - {name: s1, block: relu}\n"
    fails(tmp_path, text, at="relu}", layer="s1", hint="write 'type: relu'")


def test_recursive_block(tmp_path):
    text = BASE + "blocks:\n  stage: {layers: [{type: relu}, {name: inner, block: stage}]}\nlayers:\n" \
                  "  - {name: s1, block: stage}\n"
    fails(tmp_path, text, at="stage}]", layer="s1.inner", contains=["contains itself", "stage -> stage"],
          hint="recursive")


def test_mutually_recursive_blocks(tmp_path):
    text = BASE + ("blocks:\n  ping: {layers: [{name: p, block: pong}]}\n  pong: {layers: [{name: q, block: ping}]}\n"
                   "layers:\n  - {name: top, block: ping}\n")
    fails(tmp_path, text, layer="top.p.q", contains=["ping -> pong -> ping"])


def test_missing_block_arg(tmp_path):
    text = BASE + ("blocks:\n  stage:\n    args: {planes: null}\n"
                   "    layers: [{type: conv2d, out_channels: planes, kernel_size: 1}]\n"
                   "layers:\n  - {name: s1, block: stage}\n")
    fails(tmp_path, text, at="{name: s1", layer="s1", contains=["block 'stage' needs argument 'planes'"],
          hint="planes: ...")


def test_unknown_block_arg(tmp_path):
    text = BASE + ("blocks:\n  stage:\n    args: {planes: null}\n"
                   "    layers: [{type: conv2d, out_channels: planes, kernel_size: 1}]\n"
                   "layers:\n  - {name: s1, block: stage, plane: 4}\n")
    fails(tmp_path, text, at="plane:", layer="s1", contains=["unknown argument 'plane' for block 'stage'"],
          hint="did you mean 'planes'?")


def test_bad_expression_in_block_arg(tmp_path):
    text = BASE + ("vars: {width: 8}\nblocks:\n  stage:\n    args: {planes: null}\n"
                   "    layers: [{type: conv2d, out_channels: planes, kernel_size: 1}]\n"
                   "layers:\n  - {name: s1, block: stage, planes: 2 * widt}\n")
    fails(tmp_path, text, at="2 * widt", layer="s1", contains=["argument 'planes'", "unknown variable 'widt'"],
          hint="did you mean 'width'?")


def test_bad_expression_in_block_default(tmp_path):
    text = BASE + ("blocks:\n  stage:\n    args: {planes: null, k: planes // zz}\n"
                   "    layers: [{type: conv2d, out_channels: planes, kernel_size: k}]\n"
                   "layers:\n  - {name: s1, block: stage, planes: 4}\n")
    fails(tmp_path, text, at="planes // zz", layer="s1", contains=["argument 'k'", "unknown variable 'zz'"])


def test_repeat_zero(tmp_path):
    text = BASE + "blocks:\n  stage: {layers: [{type: relu}]}\nlayers:\n  - {name: s1, block: stage, repeat: 0}\n"
    fails(tmp_path, text, at="0}", layer="s1", contains=["'repeat' must be a positive integer, got 0"])


def test_repeat_a_billion(tmp_path):
    text = BASE + ("blocks:\n  stage: {layers: [{type: relu}]}\nlayers:\n"
                   "  - {name: s1, block: stage, repeat: 1000000000}\n")
    fails(tmp_path, text, at="1000000000", layer="s1", contains=["1,000,000,000", f"limit of {limits.MAX_LAYERS:,}"])


def test_repeat_below_limit_but_expanding_past_it(tmp_path):
    text = BASE + ("blocks:\n  stage: {layers: [{type: relu}, {type: relu}]}\nlayers:\n"
                   "  - {name: s1, block: stage, repeat: 200000}\n")
    fails(tmp_path, text, at="200000", layer="s1", contains=[f"more than {limits.MAX_LAYERS:,} layers", "400,000"],
          hint="repeat")


def test_repeat_from_expression(tmp_path):
    text = BASE + ("vars: {n: 10}\nblocks:\n  stage: {layers: [{type: relu}]}\nlayers:\n"
                   "  - {name: s1, block: stage, repeat: n ** 8}\n")
    fails(tmp_path, text, at="n ** 8", layer="s1", contains=["100,000,000"])


# --- expressions and variables -----------------------------------------------------------

@pytest.mark.parametrize("expression, message", [
    ("4 * (width", "expected ')', found the end"),
    ('"4 * * width"', "unexpected '*'"),
    ("width $ 2", "cannot read expression"),
    ("sqrt(width)", "unknown function 'sqrt'"),
])
def test_expression_syntax(tmp_path, expression, message):
    text = BASE + f"vars: {{width: 8}}\nlayers:\n  - {{name: c1, type: conv2d, out_channels: {expression}, kernel_size: 3}}\n"
    fails(tmp_path, text, at=expression, layer="c1", contains=["argument 'out_channels'", message])


def test_expression_unknown_variable_suggests_closest(tmp_path):
    text = BASE + "vars: {width: 8}\nlayers:\n  - {name: c1, type: conv2d, out_channels: 4 * widht, kernel_size: 3}\n"
    fails(tmp_path, text, at="4 * widht", layer="c1", contains=["unknown variable 'widht'", "'4 * widht'"],
          hint="did you mean 'width'?")


def test_expression_division_by_zero(tmp_path):
    text = BASE + ("vars: {width: 8, zero: 0}\nlayers:\n"
                   "  - {name: c1, type: conv2d, out_channels: width // zero, kernel_size: 3}\n")
    fails(tmp_path, text, at="width //", layer="c1", contains=["division by zero", "'width // zero'"])


def test_expression_error_in_vars(tmp_path):
    text = BASE + "vars: {width: 8, c: width % 0}\nlayers:\n  - {type: relu}\n"
    fails(tmp_path, text, at="width %", contains=["division by zero", "'width % 0'"])


def test_expression_error_in_when(tmp_path):
    text = BASE + "vars: {width: 8}\nlayers:\n  - {name: r, type: relu, when: 'widht > 2'}\n"
    fails(tmp_path, text, at="'widht", layer="r", contains=["unknown variable 'widht'"],
          hint="did you mean 'width'?")


def test_expression_too_large(tmp_path):
    text = BASE + "vars: {width: 8}\nlayers:\n  - {name: c1, type: conv2d, out_channels: 10 ** 40, kernel_size: 3}\n"
    fails(tmp_path, text, at="10 **", layer="c1", contains=["too large"])


def test_set_unknown_variable(tmp_path):
    text = BASE + "vars: {width: 8}\nlayers:\n  - {name: c1, type: conv2d, out_channels: width, kernel_size: 3}\n"
    fails(tmp_path, text, "--set", "widht=4", at="{width", contains=["--set widht", "no variable 'widht'"],
          hint="did you mean 'width'?")


def test_set_when_spec_has_no_vars(tmp_path):
    text = BASE + "layers:\n  - {name: c1, type: relu}\n"
    fails(tmp_path, text, "--set", "width=4", at=(1, 1), contains=["no variable 'width'"], hint="none")


def test_set_without_equals(tmp_path):
    text = BASE + "vars: {width: 8}\nlayers:\n  - {type: relu}\n"
    fails(tmp_path, text, "--set", "width", contains=["--set expects NAME=VALUE", "'width'"], hint="--set width=64")


def test_set_bad_expression(tmp_path):
    text = BASE + "vars: {width: 8}\nlayers:\n  - {type: relu}\n"
    fails(tmp_path, text, "--set", "width=4 +", contains=["--set width=4 +", "expected more"])


@pytest.mark.parametrize("value, message", [
    ("3,a+b", "--input cannot read 'a+b' in '3,a+b'"),  # a bare name such as abc is a symbolic size
    ("3,0,4", "--input sizes must be positive, got '3,0,4'"),
    ("3,-1,4", "--input sizes must be positive"),
    ("", "--input expects sizes"),
    (",", "--input expects sizes"),
])
def test_input_malformed(tmp_path, value, message):
    text = BASE + "layers:\n  - {type: relu}\n"
    fails(tmp_path, text, "--input", value, contains=[message])


def test_input_override_of_wrong_rank(tmp_path):
    text = BASE + "layers:\n  - {name: c1, type: conv2d, out_channels: 4, kernel_size: 3}\n"
    fails(tmp_path, text, "--input", "3x32", at="{name", layer="c1", contains=["2-D [3, 32]"])


def test_bad_batch_is_a_usage_error(tmp_path):
    text = BASE + "layers:\n  - {type: relu}\n"
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    result = invoke("summary", str(path), "--batch", "0")
    assert result.exit_code == 2
    assert "Traceback" not in result.output + result.stderr


# --- expect ---------------------------------------------------------------------------------

def test_expect_bad_amount(tmp_path):
    text = BASE + "layers:\n  - {type: relu}\nexpect: {params: abc}\n"
    fails(tmp_path, text, at="abc", contains=["expect 'params'", "'25.6M'"])


def test_expect_unknown_key(tmp_path):
    text = BASE + "layers:\n  - {type: relu}\nexpect: {parmas: 0}\n"
    fails(tmp_path, text, at="parmas", contains=["unknown expect key 'parmas'"], hint="did you mean 'params'?")


def test_expect_unknown_layer(tmp_path):
    text = BASE + "layers:\n  - {name: relu1, type: relu}\nexpect: {layers: {relu2: {params: 0}}}\n"
    fails(tmp_path, text, at="relu2", contains=["layer 'relu2'"], hint="did you mean 'relu1'?")
