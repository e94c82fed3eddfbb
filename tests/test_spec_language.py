"""The spec language: blocks, repeat, index, when, from, vars, expressions, overrides,
auto-naming, trainable, batch scaling and expect."""
from __future__ import annotations

import json
import textwrap

import pytest

import cnncalc

from helpers import invoke, write_spec


def build(text: str, **options):
    return cnncalc.loads(textwrap.dedent(text), "spec.yaml", **options)


def summary(text: str, batch: int = 1, **options):
    return cnncalc.summarize(build(text, **options), batch=batch)


def names(result) -> list[str]:
    return [record.name for record in result.layers]


def cli(tmp_path, text: str, *args: str):
    path = write_spec(tmp_path, textwrap.dedent(text))
    result = invoke("summary", str(path), *args)
    assert "Traceback" not in result.output + result.stderr
    return result


def conv_params(cin: int, cout: int, k: int, bias: bool = True) -> int:
    return cout * cin * k * k + (cout if bias else 0)


# --- blocks ---------------------------------------------------------------------------------

BLOCK_WITH_DEFAULTS = """\
    input: [3, 8, 8]
    blocks:
      unit:
        args: {planes: null, expansion: 4, out: planes * expansion, k: 3}
        layers:
          - {name: reduce, type: conv2d, out_channels: planes, kernel_size: 1}
          - {name: expand, type: conv2d, out_channels: out, kernel_size: k, padding: k // 2}
    layers:
      - {name: a, block: unit, planes: 2}
      - {name: b, block: unit, planes: 3, expansion: 2, k: 5}
    """


def test_block_args_and_defaults_that_use_earlier_args():
    result = summary(BLOCK_WITH_DEFAULTS)
    assert names(result) == ["a.reduce", "a.expand", "b.reduce", "b.expand"]
    assert result.layer("a.reduce").output_shape == (2, 8, 8)
    assert result.layer("a.expand").output_shape == (8, 8, 8)  # out = planes * expansion (default 4)
    assert result.layer("a.expand").params == conv_params(2, 8, 3)
    assert result.layer("b.expand").output_shape == (6, 8, 8)  # expansion given: 3 * 2
    assert result.layer("b.expand").params == conv_params(3, 6, 5)  # k given, padding k // 2 keeps 8x8


def test_given_arg_is_evaluated_in_callers_scope_not_the_blocks():
    text = """\
        input: [4, 8, 8]
        vars: {planes: 16}
        blocks:
          unit:
            args: {planes: null, c: null}
            layers: [{name: conv, type: conv2d, out_channels: c, kernel_size: 1}]
        layers:
          - {name: u, block: unit, planes: 2, c: planes}
        """
    assert summary(text).layer("u.conv").output_shape == (16, 8, 8)  # the global planes, not 2


REPEATED = """\
    input: [3, 32, 32]
    blocks:
      basic:
        args: {c: null, stride: 1}
        layers:
          - {name: conv1, type: conv2d, out_channels: c, kernel_size: 3, stride: stride, padding: 1}
          - {name: relu1, type: relu}
    layers:
      - {name: stem, type: conv2d, out_channels: 4, kernel_size: 1}
      - {name: layer1, block: basic, repeat: 3, c: 4 * (index + 1), stride: "2 if index == 0 else 1"}
      - {name: head, type: flatten}
    """


def test_repeat_names_instances_by_index():
    result = summary(REPEATED)
    assert names(result) == ["stem",
                             "layer1.0.conv1", "layer1.0.relu1",
                             "layer1.1.conv1", "layer1.1.relu1",
                             "layer1.2.conv1", "layer1.2.relu1",
                             "head"]
    # each instance is fed by the previous one; the instance name stands for its last layer
    assert result.layer("layer1.0.conv1").inputs == ["stem"]
    assert result.layer("layer1.1.conv1").inputs == ["layer1.0.relu1"]
    assert result.layer("head").inputs == ["layer1.2.relu1"]


def test_index_in_repeated_instance_args():
    result = summary(REPEATED)
    assert result.layer("layer1.0.conv1").output_shape == (4, 16, 16)  # stride 2 only at index 0
    assert result.layer("layer1.1.conv1").output_shape == (8, 16, 16)
    assert result.layer("layer1.2.conv1").output_shape == (12, 16, 16)
    assert result.layer("layer1.1.conv1").params == conv_params(4, 8, 3)
    assert result.output_shape == (12 * 16 * 16,)


def test_repeat_count_and_index_visible_inside_the_block():
    text = """\
        input: [2, 4, 4]
        blocks:
          unit:
            layers:
              - {name: conv, type: conv2d, out_channels: repeat * 10 + index, kernel_size: 1}
        layers:
          - {name: u, block: unit, repeat: 2}
        """
    result = summary(text)
    assert [r.output_shape[0] for r in result.layers] == [20, 21]


def test_reference_to_an_instance_and_to_one_repetition():
    text = REPEATED.replace("- {name: head, type: flatten}",
                            "- {name: head, type: flatten}\n      - {name: back, type: relu, from: layer1.1}\n"
                            "      - {name: all, type: relu, from: layer1}")
    result = summary(text)
    assert result.layer("back").inputs == ["layer1.1.relu1"]
    assert result.layer("all").inputs == ["layer1.2.relu1"]


# --- when ---------------------------------------------------------------------------------------

def test_when_false_skips_and_references_resolve_to_its_input():
    text = """\
        input: [3, 8, 8]
        vars: {use_bn: false}
        layers:
          - {name: conv, type: conv2d, out_channels: 4, kernel_size: 3}
          - {name: bn, type: batchnorm2d, when: use_bn}
          - {name: act, type: relu, from: bn}
          - {name: also, type: tanh, when: "not use_bn"}
        """
    result = summary(text)
    assert names(result) == ["conv", "act", "also"]
    assert result.layer("act").inputs == ["conv"]  # bn was skipped: its name means its input

    with_bn = summary(text, variables={"use_bn": "true"})
    assert names(with_bn) == ["conv", "bn", "act"]
    assert with_bn.layer("act").inputs == ["bn"]


def test_when_chains_of_skipped_layers_resolve_through():
    text = """\
        input: [3, 8, 8]
        layers:
          - {name: a, type: relu}
          - {name: b, type: relu, when: false}
          - {name: c, type: relu, when: false}
          - {name: d, type: tanh, from: c}
        """
    assert summary(text).layer("d").inputs == ["a"]


def test_when_in_repeated_block_like_resnet_downsample():
    text = """\
        input: [4, 8, 8]
        blocks:
          res:
            args: {c: null, project: false}
            layers:
              - {name: conv, type: conv2d, out_channels: c, kernel_size: 3, padding: 1}
              - {name: proj, type: conv2d, out_channels: c, kernel_size: 1, from: input, when: project}
              - {name: add, type: add, from: [conv, proj]}
        layers:
          - {name: stage, block: res, repeat: 2, c: 8, project: index == 0}
        """
    result = summary(text)
    assert names(result) == ["stage.0.conv", "stage.0.proj", "stage.0.add", "stage.1.conv", "stage.1.add"]
    assert result.layer("stage.0.proj").inputs == ["input"]
    assert result.layer("stage.1.add").inputs == ["stage.1.conv", "stage.0.add"]  # proj -> the block's input


def test_block_instance_with_when_false_is_skipped():
    text = """\
        input: [3, 8, 8]
        blocks:
          unit: {layers: [{name: conv, type: conv2d, out_channels: 5, kernel_size: 1}]}
        layers:
          - {name: first, type: relu}
          - {name: u, block: unit, when: false}
          - {name: last, type: tanh, from: u}
        """
    result = summary(text)
    assert names(result) == ["first", "last"]
    assert result.layer("last").inputs == ["first"]


# --- from, input and output -------------------------------------------------------------------

def test_from_lists_merge_with_concat_and_add():
    text = """\
        input: [3, 16, 16]
        layers:
          - {name: a, type: conv2d, out_channels: 4, kernel_size: 3, padding: 1}
          - {name: b, type: conv2d, out_channels: 6, kernel_size: 1, from: input}
          - {name: c, type: conv2d, out_channels: 2, kernel_size: 5, padding: 2, from: input}
          - {name: cat, type: concat, from: [a, b, c]}
          - {name: d, type: conv2d, out_channels: 12, kernel_size: 1, from: input}
          - {name: sum, type: add, from: [cat, d]}
        """
    result = summary(text)
    assert result.layer("cat").output_shape == (12, 16, 16)
    assert result.layer("cat").inputs == ["a", "b", "c"]
    assert result.layer("sum").inputs == ["cat", "d"]
    assert result.layer("sum").flops == 12 * 16 * 16
    assert result.output_shape == (12, 16, 16)


def test_block_input_reference_and_output_key():
    text = """\
        input: [3, 8, 8]
        blocks:
          branchy:
            layers:
              - {name: main, type: conv2d, out_channels: 4, kernel_size: 3, padding: 1}
              - {name: side, type: conv2d, out_channels: 2, kernel_size: 1, from: input}
              - {name: cat, type: concat, from: [main, side]}
              - {name: aux, type: conv2d, out_channels: 1, kernel_size: 1}
            output: cat
        layers:
          - {name: stem, type: conv2d, out_channels: 5, kernel_size: 1}
          - {name: x, block: branchy}
          - {name: after, type: relu}
        """
    result = summary(text)
    assert result.layer("x.main").inputs == ["stem"]
    assert result.layer("x.side").inputs == ["stem"]  # `input` inside a block: the block's input
    assert result.layer("after").inputs == ["x.cat"]  # the block's `output:`, not its last layer
    assert result.layer("after").output_shape == (6, 8, 8)
    assert result.output_shape == (6, 8, 8)


def test_network_output_key():
    text = """\
        input: [10]
        layers:
          - {name: fc1, type: linear, out_features: 7}
          - {name: fc2, type: linear, out_features: 3}
        output: fc1
        """
    result = summary(text)
    assert result.output_shape == (7,)
    assert result.totals.params == (10 * 7 + 7) + (7 * 3 + 3)


def test_nested_blocks():
    text = """\
        input: [3, 16, 16]
        blocks:
          conv_bn:
            args: {c: null, stride: 1}
            layers:
              - {name: conv, type: conv2d, out_channels: c, kernel_size: 3, stride: stride, padding: 1, bias: false}
              - {name: bn, type: batchnorm2d}
          stage:
            args: {c: null}
            layers:
              - {name: down, block: conv_bn, c: c, stride: 2}
              - {name: body, block: conv_bn, c: c, repeat: 2}
              - {name: skip, block: conv_bn, c: c, stride: 2, from: input}
              - {name: add, type: add, from: [body, skip]}
        layers:
          - {name: stem, type: conv2d, out_channels: 8, kernel_size: 1}
          - {name: s, block: stage, c: 16, repeat: 2}
        """
    result = summary(text)
    assert names(result)[:8] == ["stem", "s.0.down.conv", "s.0.down.bn", "s.0.body.0.conv", "s.0.body.0.bn",
                                 "s.0.body.1.conv", "s.0.body.1.bn", "s.0.skip.conv"]
    assert result.layer("s.0.skip.conv").inputs == ["stem"]
    assert result.layer("s.0.add").inputs == ["s.0.body.1.bn", "s.0.skip.bn"]
    assert result.layer("s.1.down.conv").inputs == ["s.0.add"]
    assert result.layer("s.1.skip.conv").inputs == ["s.0.add"]
    assert result.layer("s.0.add").output_shape == (16, 8, 8)
    assert result.output_shape == (16, 4, 4)
    assert result.layer("s.0.body.1.conv").scope == (("s", "stage×2"), ("0", "stage"), ("body", "conv_bn×2"),
                                                     ("1", "conv_bn"))


# --- vars, expressions, overrides -------------------------------------------------------------------

EXPRESSIONS = """\
    input: [3, 16, 16]
    vars:
      width: 8
      c: 4 * width
      classes: 10
    layers:
      - {name: conv, type: conv2d, out_channels: 4 * width, kernel_size: 3, padding: 1}
      - {name: squeeze, type: conv2d, out_channels: c // 2, kernel_size: 1}
      - {name: pool, type: maxpool2d, kernel_size: "max(2, width // 8)"}
      - {name: flat, type: flatten}
      - {name: fc, type: linear, out_features: classes}
    """


def test_vars_and_expressions_in_args():
    result = summary(EXPRESSIONS)
    assert result.layer("conv").output_shape == (32, 16, 16)
    assert result.layer("squeeze").output_shape == (16, 16, 16)
    assert result.layer("pool").output_shape == (16, 8, 8)
    assert result.output_shape == (10,)
    assert result.network.variables == {"width": 8, "c": 32, "classes": 10}


def test_set_overrides_vars_in_the_library_and_later_vars_follow():
    result = summary(EXPRESSIONS, variables={"width": "32"})
    assert result.network.variables["c"] == 128
    assert result.layer("conv").output_shape == (128, 16, 16)
    assert result.layer("squeeze").output_shape == (64, 16, 16)
    assert result.layer("pool").output_shape == (64, 4, 4)


def test_set_override_may_be_an_expression():
    result = summary(EXPRESSIONS, variables={"width": "2 * 8", "classes": "100"})
    assert result.layer("conv").output_shape == (64, 16, 16)
    assert result.output_shape == (100,)


def test_load_from_path_with_variables(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text(textwrap.dedent(EXPRESSIONS))
    network = cnncalc.load(str(path), variables={"width": "32"})
    assert cnncalc.summarize(network).layer("conv").output_shape == (128, 16, 16)
    assert network.name == "net"  # no name: key -> the file's stem


def test_set_overrides_vars_on_the_command_line(tmp_path):
    result = cli(tmp_path, EXPRESSIONS, "--set", "width=32", "--set", "classes=5", "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    layers = {layer["name"]: layer for layer in data["layers"]}
    assert layers["conv"]["output_shape"] == [128, 16, 16]
    assert data["output_shape"] == [5]


def test_input_override_library_and_cli(tmp_path):
    result = summary(EXPRESSIONS, input_shape=[3, 32, 32])
    assert result.input_shape == (3, 32, 32)
    assert result.layer("pool").output_shape == (16, 16, 16)
    assert result.layer("fc").params == 16 * 16 * 16 * 10 + 10

    run = cli(tmp_path, EXPRESSIONS, "--input", "3,32,32", "--format", "json")
    assert run.exit_code == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["input_shape"] == [3, 32, 32]
    assert data["totals"]["params"] == result.totals.params


def test_input_may_use_vars():
    text = """\
        vars: {size: 12}
        input: [3, size, size * 2]
        layers: [{name: r, type: relu}]
        """
    assert summary(text).output_shape == (3, 12, 24)


# --- naming -------------------------------------------------------------------------------------

def test_auto_names_are_unique_per_type_and_do_not_clobber_explicit_names():
    text = """\
        input: [3, 8, 8]
        layers:
          - {type: conv2d, out_channels: 4, kernel_size: 1}
          - {type: relu}
          - {name: conv2d_2, type: conv2d, out_channels: 4, kernel_size: 1}
          - {type: conv2d, out_channels: 4, kernel_size: 1}
          - {type: relu}
        """
    assert names(summary(text)) == ["conv2d_1", "relu_1", "conv2d_2", "conv2d_3", "relu_2"]


def test_auto_names_inside_blocks_are_qualified():
    text = """\
        input: [3, 8, 8]
        blocks:
          unit: {layers: [{type: conv2d, out_channels: 4, kernel_size: 1}, {type: relu}]}
        layers:
          - {block: unit, repeat: 2}
          - {block: unit}
        """
    assert names(summary(text)) == ["unit_1.0.conv2d_1", "unit_1.0.relu_1", "unit_1.1.conv2d_1", "unit_1.1.relu_1",
                                    "unit_2.conv2d_1", "unit_2.relu_1"]


# --- figures ------------------------------------------------------------------------------------

def test_trainable_false_gives_non_trainable_params():
    text = """\
        input: [3, 8, 8]
        layers:
          - {name: frozen, type: conv2d, out_channels: 4, kernel_size: 3, trainable: false}
          - {name: live, type: conv2d, out_channels: 2, kernel_size: 1}
        """
    result = summary(text)
    frozen, live = conv_params(3, 4, 3), conv_params(4, 2, 1)
    assert result.layer("frozen").params == frozen and result.layer("frozen").trainable_params == 0
    assert result.layer("live").trainable_params == live
    assert result.totals.params == frozen + live
    assert result.totals.trainable_params == live
    assert result.totals.non_trainable_params == frozen


def test_batch_scales_macs_flops_and_activation_memory_but_not_params():
    one, eight = summary(EXPRESSIONS), summary(EXPRESSIONS, batch=8)
    assert eight.batch == 8
    assert eight.totals.params == one.totals.params
    assert eight.totals.trainable_params == one.totals.trainable_params
    assert eight.totals.param_memory == one.totals.param_memory
    assert eight.totals.macs == 8 * one.totals.macs > 0
    assert eight.totals.flops == 8 * one.totals.flops > 0
    assert eight.totals.activation_memory == 8 * one.totals.activation_memory > 0
    for a, b in zip(one.layers, eight.layers):
        assert (b.params, b.macs, b.flops, b.output_shape) == (a.params, 8 * a.macs, 8 * a.flops, a.output_shape)


def test_batch_on_the_command_line(tmp_path):
    one = json.loads(cli(tmp_path, EXPRESSIONS, "--format", "json").stdout)
    four = json.loads(cli(tmp_path, EXPRESSIONS, "--format", "json", "--batch", "4").stdout)
    assert four["totals"]["params"] == one["totals"]["params"]
    assert four["totals"]["macs"] == 4 * one["totals"]["macs"]
    assert four["totals"]["flops"] == 4 * one["totals"]["flops"]
    assert four["totals"]["activation_memory"] == 4 * one["totals"]["activation_memory"]


# --- expect ---------------------------------------------------------------------------------------

EXPECT_BASE = """\
    input: [3, 8, 8]
    layers:
      - {name: conv, type: conv2d, out_channels: 4, kernel_size: 3}
      - {name: flat, type: flatten}
      - {name: fc, type: linear, out_features: 10}
    """
CONV = conv_params(3, 4, 3)  # 112
FC = 4 * 6 * 6 * 10 + 10  # 1450


@pytest.mark.parametrize("expect", [
    f"expect: {{params: {CONV + FC}}}",
    f"expect: {{params: '{CONV + FC:,}', output_shape: [10]}}",
    "expect: {max_params: '1.6K', max_macs: 100000}",
    "expect: {max_params: 1.6K}",
    f"expect: {{layers: {{conv: {{params: {CONV}, output_shape: [4, 6, 6]}}, fc: {{params: '1.45K'}}}}}}",
    f"expect: {{trainable_params: {CONV + FC}, non_trainable_params: 0, buffers: 0}}",
    "expect: {max_param_memory: '10KB', max_activation_memory: '2 KiB'}",
])
def test_expect_met_exits_0(tmp_path, expect):
    result = cli(tmp_path, EXPECT_BASE + expect + "\n")
    assert result.exit_code == 0, result.output + result.stderr
    assert "✗" not in result.stdout
    assert "✓ expect" in result.stdout
    assert "exceeds" not in result.stdout  # a budget that is met says so


@pytest.mark.parametrize("expect, message", [
    ("expect: {params: 1000}", f"params: expected 1,000, got {CONV + FC:,}"),
    ("expect: {output_shape: [11]}", "output_shape: expected [11], got [10]"),
    ("expect: {max_params: '1.5K'}", f"max_params: {CONV + FC:,} exceeds the budget of 1,500"),
    ("expect: {max_activation_memory: '1 KiB'}", "max_activation_memory: 1,192 exceeds the budget of 1,024"),
    ("expect: {layers: {conv: {params: 111}}}", "layers.conv.params: expected 111, got 112"),
    ("expect: {layers: {conv: {output_shape: [4, 8, 8]}}}", "expected [4, 8, 8], got [4, 6, 6]"),
])
def test_expect_not_met_exits_1(tmp_path, expect, message):
    result = cli(tmp_path, EXPECT_BASE + expect + "\n")
    assert result.exit_code == 1, result.output + result.stderr
    assert "✗" in result.stdout
    assert message in result.stdout


def test_expect_outcomes_in_json(tmp_path):
    result = cli(tmp_path, EXPECT_BASE + "expect: {params: 1000, max_macs: '1G'}\n", "--format", "json")
    assert result.exit_code == 1
    outcomes = {o["what"]: o for o in json.loads(result.stdout)["expect"]}
    assert outcomes["params"]["ok"] is False and outcomes["params"]["actual"] == CONV + FC
    assert outcomes["max_macs"]["ok"] is True
    assert outcomes["params"]["line"] == 6


def test_resnet50_expect_and_amount_strings(tmp_path):
    result = invoke("summary", "specs/resnet50.yaml")
    assert result.exit_code == 0, result.output

    network = cnncalc.load("specs/resnet50.yaml")
    outcomes = cnncalc.check_expect(cnncalc.summarize(network), network.expect)
    assert outcomes and all(o.ok for o in outcomes)

    from cnncalc.amounts import amount
    from cnncalc.diagnostics import Location
    assert amount("25.6M", Location(), "params") == 25_600_000
    assert amount("25,557,032", Location(), "params") == 25_557_032
    assert amount("4.09G", Location(), "macs") == 4_090_000_000
    assert amount("1.5GiB", Location(), "x") == 3 * 2**29
    assert amount("2 KB", Location(), "x") == 2000

    text = open("specs/resnet50.yaml").read().split("expect:")[0]
    assert cli(tmp_path, text + "expect: {max_params: '25.6M', max_macs: '4.1G'}\n").exit_code == 0
    assert cli(tmp_path, text + "expect: {max_params: '25.5M'}\n").exit_code == 1
    assert cli(tmp_path, text + "expect: {layers: {layer1.0.conv1: {params: 4096}, fc: {params: '2,049,000'}}}\n"
               ).exit_code == 0
