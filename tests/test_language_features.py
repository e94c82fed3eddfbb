"""The spec language's newer features: lists through block arguments and variables (with
list expressions and indexing), the rule for layers that `when` switches off (one input,
`else:`, and the error for several inputs), and `include:` (blocks shared between specs:
paths, scope, clashes, libraries, cycles, limits, escapes, and errors in the right file)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import cnncalc
from cnncalc.diagnostics import SpecError
from cnncalc.language import include as includes
from cnncalc.language import reader

from helpers import ROOT, invoke


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def build(text: str, file: str = "spec.yaml", **options):
    return cnncalc.loads(textwrap.dedent(text), file, **options)


def summary(text: str, **options):
    return cnncalc.summarize(build(text, **options))


def refused(text: str, *needles: str, file: str = "spec.yaml") -> SpecError:
    with pytest.raises(SpecError) as caught:
        build(text, file)
    for needle in needles:
        assert needle in str(caught.value), str(caught.value)
    return caught.value


def cli_error(*args: str) -> str:
    """Run cnncalc; assert exit 2 with one compiler-style error and no traceback; the output."""
    result = invoke(*args)
    output = result.output + (result.stderr or "")
    assert result.exit_code == 2, output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in output and "internal error" not in output, output
    return output


def conv(cin: int, cout: int, kh: int, kw: int) -> int:
    return cout * cin * kh * kw + cout


# --- lists through block arguments and variables ---------------------------------------------

ASYMMETRIC = """\
    input: [3, 17, 17]
    vars: {k: 3}
    blocks:
      unit:
        args: {c: null, kernel: [1, 7], padding: "[kernel[0] // 2, kernel[1] // 2]"}
        layers:
          - {name: conv, type: conv2d, out_channels: c, kernel_size: kernel, padding: padding}
    layers:
      - {name: a, block: unit, c: 4}
      - {name: b, block: unit, c: 4, kernel: [7, 1]}
      - {name: c, block: unit, c: 4, kernel: [k, 2 * k]}
      - {name: d, block: unit, c: 4, kernel: "[k, k + 2]"}
    """


def test_list_default_and_list_arguments_reach_a_layer():
    result = summary(ASYMMETRIC)
    assert result.layer("a.conv").output_shape == (4, 17, 17)  # 1x7, padding [0, 3]
    assert result.layer("a.conv").params == conv(3, 4, 1, 7)
    assert result.layer("b.conv").params == conv(4, 4, 7, 1)
    assert result.layer("b.conv").output_shape == (4, 17, 17)
    assert result.layer("c.conv").params == conv(4, 4, 3, 6)  # [k, 2 * k]: each item an expression
    assert result.layer("c.conv").output_shape == (4, 17, 18)  # padding [1, 3] with a 6-wide kernel
    assert result.layer("d.conv").params == conv(4, 4, 3, 5)  # a list written as one expression


def test_a_list_through_a_block_equals_the_list_written_on_the_layer():
    through = summary(ASYMMETRIC)
    direct = summary("""\
        input: [3, 17, 17]
        layers:
          - {name: a.conv, type: conv2d, out_channels: 4, kernel_size: [1, 7], padding: [0, 3]}
          - {name: b.conv, type: conv2d, out_channels: 4, kernel_size: [7, 1], padding: [3, 0]}
          - {name: c.conv, type: conv2d, out_channels: 4, kernel_size: [3, 6], padding: [1, 3]}
          - {name: d.conv, type: conv2d, out_channels: 4, kernel_size: [3, 5], padding: [1, 2]}
        """)
    assert [(r.name, r.output_shape, r.params, r.macs, r.flops) for r in through.layers] == \
           [(r.name, r.output_shape, r.params, r.macs, r.flops) for r in direct.layers]


def test_a_list_default_may_use_earlier_arguments_and_a_list_variable():
    result = summary("""\
        input: [2, 12, 12]
        vars: {base: [3, 5]}
        blocks:
          unit:
            args: {k: 1, kernel: "[base[0] + k - 1, base[1]]", stride: [1, 2]}
            layers:
              - {name: conv, type: conv2d, out_channels: 2, kernel_size: kernel, stride: stride}
        layers:
          - {name: a, block: unit}
          - {name: b, block: unit, k: 3, stride: [2, 1], from: input}
        """)
    assert result.layer("a.conv").params == conv(2, 2, 3, 5)
    assert result.layer("a.conv").output_shape == (2, 10, 4)
    assert result.layer("b.conv").params == conv(2, 2, 5, 5)
    assert result.layer("b.conv").output_shape == (2, 4, 8)


def test_a_conditional_may_choose_a_list():
    text = """\
        input: [1, 9, 9]
        vars: {wide: true, kernel: [1, 9]}
        layers:
          - {name: conv, type: conv2d, out_channels: 1, kernel_size: "kernel if wide else 3"}
        """
    assert summary(text).layer("conv").output_shape == (1, 9, 1)
    assert summary(text, variables={"wide": "false"}).layer("conv").output_shape == (1, 7, 7)


def test_index_into_a_list_for_a_scalar_argument():
    result = summary("""\
        input: [4, 8, 8]
        blocks:
          unit:
            args: {widths: [8, 16], i: 0}
            layers:
              - {type: conv2d, out_channels: "widths[i]", kernel_size: 1}
              - {type: conv2d, out_channels: "widths[-1] * 2", kernel_size: 1}
        layers:
          - {block: unit, repeat: 2, widths: "[4 * (index + 1), 3]", i: index}
        """)
    assert [record.output_shape[0] for record in result.layers] == [4, 6, 3, 6]  # widths [4, 3], then [8, 3]


def test_set_a_list_variable_on_the_command_line(tmp_path):
    path = write(tmp_path, "spec.yaml", """\
        input: [1, 9, 9]
        vars: {kernel: [3, 3]}
        layers:
          - {name: conv, type: conv2d, out_channels: 1, kernel_size: kernel}
        """)
    result = invoke("summary", str(path), "--set", "kernel=[1, 9]", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["layers"][0]["output_shape"] == [1, 9, 1]
    assert data["vars"]["kernel"] == [1, 9]


def test_list_errors_are_located_and_explained(tmp_path):
    path = write(tmp_path, "spec.yaml", """\
        input: [3, 8, 8]
        blocks:
          unit:
            args: {kernel: [1, 7, 3]}
            layers:
              - {name: conv, type: conv2d, out_channels: 4, kernel_size: kernel}
        layers:
          - {name: a, block: unit}
        """)
    output = cli_error("summary", str(path))
    assert f"{path}:6:66: error: layer 'a.conv': argument 'kernel_size' needs 2 values" in output
    error = refused("""\
        input: [3, 8, 8]
        vars: {kernel: [3, 3]}
        layers:
          - {type: conv2d, out_channels: 4, kernel_size: kernel, padding: kernel // 2}
        """, "does arithmetic on [3, 3], which is not a number")
    assert "kernel[0] // 2" in error.hint and error.loc.line == 4
    refused("""\
        input: [3, 8, 8]
        vars: {kernel: [3, 3]}
        layers:
          - {type: conv2d, out_channels: 4, kernel_size: "kernel[2]"}
        """, "index 2 is outside the list [3, 3]")
    refused("""\
        input: [3, 8, 8]
        vars: {kernel: [3, 3]}
        layers:
          - {type: conv2d, out_channels: kernel, kernel_size: 1}
        """, "'out_channels' must be an integer, got [3, 3]")


# --- layers switched off by `when` ------------------------------------------------------------

RESIDUAL = """\
    input: [4, 8, 8]
    blocks:
      unit:
        args: {residual: true}
        layers:
          - {name: conv, type: conv2d, out_channels: 4, kernel_size: 3, padding: 1}
          - {name: bn, type: batchnorm2d}
          - {name: add, type: add, from: [input, bn], when: residual{else}}
    layers:
      - {name: a, block: unit}
      - {name: b, block: unit, residual: false}
      - {name: head, type: relu}
    """


def test_skipped_layer_with_several_inputs_read_later_is_an_error():
    error = refused(RESIDUAL.replace("{else}", ""),
                    "reads 'b', which stands for 'b.add', a layer switched off by 'when' that has 2 inputs "
                    "('a', 'b.bn'): a skipped layer stands for its input only when it has one")
    assert error.layer == "head"
    assert (error.loc.line, error.loc.col) == (12, 5)  # `head`, which reads the entry before it
    assert "else: bn" in error.hint and "spec.yaml:8:9" in error.hint


def test_else_says_what_a_skipped_layer_stands_for():
    result = summary(RESIDUAL.replace("{else}", ", else: bn"))
    assert [record.name for record in result.layers] == ["a.conv", "a.bn", "a.add", "b.conv", "b.bn", "head"]
    assert result.layer("head").inputs == ("b.bn",) or list(result.layer("head").inputs) == ["b.bn"]


def test_the_residual_from_the_issue_is_no_longer_a_pass_through():
    """{type: add, from: [input, bn], when: residual} once made every non-residual block
    stand for its input: `head` read `a`, and b's layers were silently dropped."""
    text = RESIDUAL.replace("{else}", "")
    with pytest.raises(SpecError):
        build(text)
    right = summary(RESIDUAL.replace("{else}", ", else: bn"))
    assert "b.conv" in [record.name for record in right.layers]


def test_skipped_layer_read_by_from():
    error = refused("""\
        input: [4]
        layers:
          - {name: a, type: linear, out_features: 4}
          - {name: join, type: add, from: [input, a], when: false}
          - {name: b, type: relu, from: join}
        """, "reads 'join', a layer switched off by 'when' that has 2 inputs ('input', 'a')")
    assert (error.layer, error.loc.line, error.loc.col) == ("b", 5, 33)  # at its `from`
    assert "else: a" in error.hint


def test_skipped_layer_as_the_network_output():
    error = refused("""\
        input: [4]
        layers:
          - {name: a, type: linear, out_features: 4}
          - {name: join, type: add, from: [input, a], when: false}
        """, "the network's output is 'join', a layer switched off by 'when' that has 2 inputs")
    assert (error.loc.line, error.loc.col) == (4, 5)  # the skipped entry: the output is implicit
    error = refused("""\
        input: [4]
        layers:
          - {name: a, type: linear, out_features: 4}
          - {name: join, type: add, from: [input, a], when: false}
          - {name: b, type: relu, from: a}
        output: join
        """, "the network's output is 'join'")
    assert (error.loc.line, error.loc.col) == (6, 9)  # `output:`, where it is named


def test_skipped_layer_as_a_block_output_that_is_the_network_output():
    refused(RESIDUAL.replace("{else}", "").replace("      - {name: head, type: relu}\n", ""),
            "the network's output is 'b', which stands for 'b.add'")


def test_skipped_layer_with_several_inputs_that_nothing_reads_is_fine():
    result = summary("""\
        input: [4]
        layers:
          - {name: a, type: linear, out_features: 4}
          - {name: join, type: add, from: [input, a], when: false}
          - {name: b, type: relu, from: a}
        """)
    assert [record.name for record in result.layers] == ["a", "b"]


def test_skipped_layer_with_one_input_still_stands_for_it():
    result = summary("""\
        input: [4]
        layers:
          - {name: a, type: linear, out_features: 4}
          - {name: cat, type: concat, from: [a, a], when: false, else: a}
          - {name: drop, type: dropout, from: cat, when: false}
          - {name: b, type: linear, out_features: 2}
        """)
    assert list(result.layer("b").inputs) == ["a"]


def test_a_chain_through_a_skipped_one_input_layer_reaches_the_error():
    refused("""\
        input: [4]
        layers:
          - {name: a, type: linear, out_features: 4}
          - {name: join, type: add, from: [input, a], when: false}
          - {name: drop, type: dropout, when: false}
          - {name: b, type: relu}
        """, "reads 'drop', which stands for 'join'")


def test_skipped_block_instance_with_several_inputs_that_is_read():
    refused("""\
        input: [4]
        blocks:
          unit: {layers: [{type: relu}]}
        layers:
          - {name: a, type: linear, out_features: 4}
          - {name: u, block: unit, from: [input, a], when: false}
          - {name: b, type: relu}
        """, "reads 'u', a layer switched off by 'when' that has 2 inputs")


def test_else_when_the_layer_is_on_is_unused():
    result = summary("""\
        input: [4]
        layers:
          - {name: a, type: linear, out_features: 4}
          - {name: join, type: add, from: [input, a], when: true, else: a}
        """)
    assert result.output_shape == (4,) and result.layers[-1].name == "join"


def test_else_input_inside_a_block():
    result = summary("""\
        input: [4]
        blocks:
          unit:
            args: {use: false}
            layers:
              - {name: fc, type: linear, out_features: 4}
              - {name: join, type: add, from: [input, fc], when: use, else: input}
        layers:
          - {name: pre, type: relu}
          - {name: u, block: unit}
          - {name: post, type: relu}
        """)
    assert list(result.layer("post").inputs) == ["pre"]


@pytest.mark.parametrize("line, needles", [
    ("{name: j, type: add, from: [input, a], else: a}", ("'else' says what a layer stands for", "no 'when'")),
    ("{name: j, type: add, from: [input, a], when: false, else: nope}", ("'else' names 'nope', which is not a layer",)),
    ("{name: j, type: add, from: [input, a], when: false, else: [a]}", ("'else' must name one layer",)),
    ("{name: j, type: add, from: [input, a], when: false, else: j}", ("'j' refers to itself",)),
])
def test_else_mistakes(line, needles):
    error = refused(f"""\
        input: [4]
        layers:
          - {{name: a, type: linear, out_features: 4}}
          - {line}
          - {{name: b, type: relu, from: a}}
        """, *needles)
    assert error.loc.line == 4


def test_skipped_layer_error_through_the_cli(tmp_path):
    path = write(tmp_path, "net.yaml", RESIDUAL.replace("{else}", ""))
    output = cli_error("summary", str(path))
    assert f"{path}:12:5: error: layer 'head': reads 'b'" in output
    assert "hint: say what 'b.add' stands for when it is off with 'else:'" in output
    result = invoke("check", str(path), "--format", "json")
    problem = json.loads(result.output)["files"][0]["problems"][0]
    assert (problem["line"], problem["col"], problem["layer"]) == (12, 5, "head")


# --- include: blocks shared between specs -----------------------------------------------------

LIBRARY = textwrap.dedent("""\
    description: shared blocks
    vars: {expansion: 4}
    blocks:
      unit:
        args: {c: null}
        layers:
          - {name: conv, type: conv2d, out_channels: c * expansion, kernel_size: 1}
          - {name: relu, type: relu}
    """)


@pytest.fixture
def repo(tmp_path) -> Path:
    """A repository: a folder with .git, holding specs/ and common/."""
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    return tmp_path / "repo"


def test_include_brings_blocks_with_their_own_vars(repo):
    write(repo, "common/blocks.yaml", LIBRARY)
    spec = write(repo, "specs/net.yaml", """\
        include: [../common/blocks.yaml]
        input: [3, 8, 8]
        vars: {expansion: 100}
        layers:
          - {name: u, block: unit, c: 2}
          - {name: fc, type: conv2d, out_channels: expansion, kernel_size: 1}
        """)
    network = cnncalc.load(str(spec))
    result = cnncalc.summarize(network)
    assert result.layer("u.conv").output_shape == (8, 8, 8)  # the library's expansion (4), not the spec's
    assert result.layer("fc").output_shape == (100, 8, 8)
    result = cnncalc.summarize(cnncalc.load(str(spec), variables={"expansion": "7"}))
    assert result.layer("u.conv").output_shape == (8, 8, 8)  # --set changes the spec's vars only
    with pytest.raises(SpecError, match="the spec has no variable 'other'"):
        cnncalc.load(str(spec), variables={"other": "1"})


def test_include_as_a_string_and_nested_includes(repo):
    write(repo, "common/base.yaml", """\
        blocks:
          convbn:
            args: {c: null, k: 3}
            layers:
              - {name: conv, type: conv2d, out_channels: c, kernel_size: k, padding: k // 2}
              - {name: bn, type: batchnorm2d}
        """)
    write(repo, "common/blocks.yaml", """\
        include: base.yaml
        blocks:
          unit:
            args: {c: null}
            layers:
              - {name: a, block: convbn, c: c}
              - {name: b, block: convbn, c: 2 * c, k: 1}
        """)
    spec = write(repo, "net.yaml", """\
        include: common/blocks.yaml
        input: [3, 8, 8]
        layers:
          - {name: u, block: unit, c: 2}
          - {name: v, block: convbn, c: 3}
        """)
    result = cnncalc.summarize(cnncalc.load(str(spec)))
    assert [r.name for r in result.layers] == ["u.a.conv", "u.a.bn", "u.b.conv", "u.b.bn", "v.conv", "v.bn"]
    assert result.layer("u.b.conv").params == conv(2, 4, 1, 1)


def test_a_diamond_reads_the_shared_file_once(repo):
    write(repo, "base.yaml", "blocks: {act: {layers: [{type: relu}]}}\n")
    write(repo, "left.yaml", "include: [base.yaml]\nblocks: {l: {layers: [{block: act}]}}\n")
    write(repo, "right.yaml", "include: [./base.yaml]\nblocks: {r: {layers: [{block: act}]}}\n")
    spec = write(repo, "net.yaml", """\
        include: [left.yaml, right.yaml, base.yaml]
        input: [4]
        layers: [{block: l}, {block: r}, {block: act}]
        """)
    assert len(cnncalc.summarize(cnncalc.load(str(spec))).layers) == 3


def test_an_included_block_sees_only_its_own_files_blocks(repo):
    write(repo, "lib.yaml", """\
        blocks:
          outer:
            layers:
              - {block: local_only}
        """)
    spec = write(repo, "net.yaml", """\
        include: [lib.yaml]
        input: [4]
        blocks:
          local_only: {layers: [{type: relu}]}
        layers: [{name: o, block: outer}]
        """)
    with pytest.raises(SpecError) as caught:
        cnncalc.load(str(spec))
    error = caught.value
    assert "unknown block 'local_only' in" in error.message
    assert error.loc.file.endswith("lib.yaml") and error.loc.line == 4
    assert "does not include" in error.hint


def test_an_included_network_spec_gives_its_blocks(repo):
    spec = write(repo, "mine.yaml", """\
        include: [specs/resnet18.yaml]
        input: [64, 56, 56]
        layers:
          - {name: layer1, block: basic, planes: 64}
        """)
    (repo / "specs").mkdir()
    (repo / "specs" / "resnet18.yaml").write_bytes((ROOT / "specs" / "resnet18.yaml").read_bytes())
    mine = cnncalc.summarize(cnncalc.load(str(spec)))
    resnet = cnncalc.summarize(cnncalc.load(str(ROOT / "specs" / "resnet18.yaml")))
    assert mine.totals.params == sum(r.params for r in resnet.layers if r.name.startswith("layer1.0."))


def test_errors_in_included_files_are_located_there(repo):
    write(repo, "common/blocks.yaml", """\
        blocks:
          unit:
            args: {c: null}
            layers:
              - {name: conv, type: conv2d, out_channels: c, kernel_size: 9}
        """)
    spec = write(repo, "specs/net.yaml", """\
        include: [../common/blocks.yaml]
        input: [3, 4, 4]
        layers: [{name: u, block: unit, c: 2}]
        """)
    output = cli_error("summary", str(spec))
    lib = os.path.normpath(os.path.join(os.path.dirname(str(spec)), "../common/blocks.yaml"))
    assert f"{lib}:5:9: error: layer 'u.conv'" in output  # the layer's line in the library
    assert "kernel_size: 9" in output  # the library's source line is shown
    write(repo, "common/blocks.yaml", "blocks:\n  unit: {args: {c: null}, layers: [{type: bogus}]}\n")
    assert f"{lib}:2:43: error: layer 'u.bogus_1': unknown layer type 'bogus'" in cli_error("summary", str(spec))
    write(repo, "common/blocks.yaml", "vars: {x: 1 / 0}\nblocks: {unit: {layers: [{type: relu}]}}\n")
    assert f"{lib}:1:11: error: division by zero" in cli_error("summary", str(spec))
    write(repo, "common/blocks.yaml", "blocks: {unit: {layers: [{type: relu}]}}\nlayers: [\n")
    assert f"{lib}:3:1: error: YAML syntax error" in cli_error("summary", str(spec))
    write(repo, "common/blocks.yaml", "- a list\n")
    assert f"{lib}:1:1: error: an included file must be a spec" in cli_error("summary", str(spec))
    write(repo, "common/blocks.yaml", "blockz: {}\n")
    assert f"{lib}:1:1: error: unknown top-level key 'blockz'" in cli_error("summary", str(spec))


def test_name_clashes_name_both_places(repo):
    write(repo, "a.yaml", "blocks:\n  unit: {layers: [{type: relu}]}\n")
    write(repo, "b.yaml", "blocks:\n  other: {layers: [{type: relu}]}\n  unit: {layers: [{type: tanh}]}\n")
    spec = write(repo, "net.yaml", """\
        include: [a.yaml]
        input: [4]
        blocks:
          unit: {layers: [{type: sigmoid}]}
        layers: [{block: unit}]
        """)
    output = cli_error("summary", str(spec))
    assert f"{spec}:4:3: error: block 'unit' is defined twice: here and at {repo / 'a.yaml'}:2:3" in output
    spec = write(repo, "net.yaml", "include: [a.yaml, b.yaml]\ninput: [4]\nlayers: [{block: unit}]\n")
    output = cli_error("summary", str(spec))
    assert f"{repo / 'b.yaml'}:3:3: error: block 'unit' is defined twice: here and at {repo / 'a.yaml'}:2:3" in output


@pytest.mark.parametrize("files, needle", [
    ({"net.yaml": "include: [net.yaml]\n"}, "include cycle: {d}/net.yaml -> {d}/net.yaml"),
    ({"net.yaml": "include: [a.yaml]\n", "a.yaml": "include: [b.yaml]\nblocks: {}\n",
      "b.yaml": "include: [a.yaml]\n"}, "include cycle: {d}/a.yaml -> {d}/b.yaml -> {d}/a.yaml"),
])
def test_include_cycles_are_named(repo, files, needle):
    for name, text in files.items():
        write(repo, name, text + ("input: [4]\nlayers: [{type: relu}]\n" if name == "net.yaml" else ""))
    output = cli_error("summary", str(repo / "net.yaml"))
    assert needle.format(d=repo) in output


def test_include_chains_and_counts_are_bounded(repo, monkeypatch):
    depth = includes.MAX_INCLUDE_DEPTH
    for number in range(depth + 1):
        write(repo, f"l{number}.yaml", f"include: [l{number + 1}.yaml]\n" if number < depth else "blocks: {}\n")
    spec = write(repo, "net.yaml", "include: [l0.yaml]\ninput: [4]\nlayers: [{type: relu}]\n")
    output = cli_error("summary", str(spec))
    assert f"includes nest more than {depth} files deep" in output and "..." in output
    assert f"{repo / f'l{depth - 1}.yaml'}:1:11:" in output  # where the include one too deep is named
    write(repo, "l1.yaml", "blocks: {}\n")  # a chain of two: fine
    assert cnncalc.load(str(spec)).output == "relu_1"
    monkeypatch.setattr(includes, "MAX_INCLUDE_FILES", 5)
    for number in range(6):
        write(repo, f"m{number}.yaml", "blocks: {}\n")
    spec = write(repo, "net.yaml", f"include: [{', '.join(f'm{n}.yaml' for n in range(6))}]\n"
                                   "input: [4]\nlayers: [{type: relu}]\n")
    assert f"{spec}:1:56: error: the spec includes more than 5 files" in cli_error("summary", str(spec))


def test_included_bytes_and_nodes_count_toward_the_limits(repo, monkeypatch):
    layers = "".join(f"      - {{type: relu}}  # {'x' * 40}\n" for _ in range(12))
    write(repo, "lib.yaml", "blocks:\n  unit:\n    layers:\n" + layers)
    spec = write(repo, "net.yaml", "include: [lib.yaml]\ninput: [4]\nlayers: [{block: unit}]\n")
    assert len(cnncalc.summarize(cnncalc.load(str(spec))).layers) == 12
    size = (repo / "lib.yaml").stat().st_size
    monkeypatch.setattr(reader, "MAX_FILE_BYTES", size + 20)  # each file alone is within it; not both
    output = cli_error("summary", str(spec))
    assert f"{spec}:1:11: error: include 'lib.yaml': file is larger than {size + 20:,} bytes (the spec and the " \
           "files it includes, together)" in output
    monkeypatch.undo()
    counted = []
    for path in (spec, repo / "lib.yaml"):
        budget = reader.Budget()
        reader.load_yaml(path.read_text(), str(path), budget)
        counted.append(budget.nodes)
    monkeypatch.setattr(reader, "MAX_NODES", sum(counted) - 1)  # each file alone is within it; not both
    output = cli_error("summary", str(spec))
    assert f"error: the document has more than {sum(counted) - 1:,} YAML nodes (the spec and the files it " \
           "includes, together)" in output
    assert f"{repo / 'lib.yaml'}:" in output  # where the count crossed the limit
    monkeypatch.setattr(reader, "MAX_NODES", sum(counted))
    assert cnncalc.load(str(spec))


def test_alias_nodes_are_counted_across_included_files(repo, monkeypatch):
    write(repo, "lib.yaml", "vars: {x: &a [1, 2, 3, 4]}\ndescription: [*a, *a]\nblocks: {unit: {layers: [{type: relu}]}}\n")
    spec = write(repo, "net.yaml", "include: [lib.yaml]\nvars: {x: &b [1, 2, 3, 4]}\ndescription: [*b]\n"
                                   "input: [4]\nlayers: [{block: unit}]\n")
    assert cnncalc.load(str(spec))
    monkeypatch.setattr(reader, "MAX_ALIAS_NODES", 12)  # 5 in the spec, 10 in the library
    output = cli_error("check", str(spec))
    assert "aliases expand to more than 12 YAML nodes (the spec and the files it includes, together)" in output


def escape_error(spec: Path, *needles: str) -> str:
    output = cli_error("summary", str(spec))
    for needle in needles:
        assert needle in output, output
    assert "S3CRET" not in output
    return output


def test_includes_may_not_leave_the_repository(repo):
    (repo.parent / "secret.yaml").write_text("blocks: {unit: {layers: [{type: relu}]}}  # S3CRET\n")
    write(repo, "sub/ok.yaml", "blocks: {unit: {layers: [{type: relu}]}}\n")
    spec = write(repo, "specs/net.yaml", "include: [../../secret.yaml]\ninput: [4]\nlayers: [{block: unit}]\n")
    escape_error(spec, f"{spec}:1:11: error: include '../../secret.yaml' leads outside the repository: it is "
                       f"{os.path.realpath(repo.parent / 'secret.yaml')}, outside {os.path.realpath(repo)}",
                 "must stay inside the spec's repository")
    spec.write_text("include: [../sub/ok.yaml]\ninput: [4]\nlayers: [{block: unit}]\n")  # `..` inside: fine
    assert cnncalc.load(str(spec))
    for path in ("/etc/passwd", "~/x.yaml", str(repo / "sub/ok.yaml")):
        spec.write_text(f"include: ['{path}']\ninput: [4]\nlayers: [{{block: unit}}]\n")
        escape_error(spec, f"{spec}:1:11: error: include '{path}' is not a relative path")


def test_a_symlink_out_of_the_repository_is_refused(repo):
    (repo.parent / "outside").mkdir()
    (repo.parent / "outside" / "secret.yaml").write_text("blocks: {unit: {layers: [{type: relu}]}}  # S3CRET\n")
    os.symlink(repo.parent / "outside" / "secret.yaml", repo / "link.yaml")
    os.symlink(repo.parent / "outside", repo / "folder")
    spec = write(repo, "net.yaml", "include: [link.yaml]\ninput: [4]\nlayers: [{block: unit}]\n")
    escape_error(spec, "include 'link.yaml' leads outside the repository through a symlink")
    spec.write_text("include: [folder/secret.yaml]\ninput: [4]\nlayers: [{block: unit}]\n")
    escape_error(spec, "include 'folder/secret.yaml' leads outside the repository through a symlink")
    os.symlink(repo / "lib.yaml", repo / "inside.yaml")  # a symlink inside the repository is fine
    write(repo, "lib.yaml", "blocks: {unit: {layers: [{type: relu}]}}\n")
    spec.write_text("include: [inside.yaml]\ninput: [4]\nlayers: [{block: unit}]\n")
    assert cnncalc.load(str(spec))


def test_without_a_repository_includes_stay_in_the_specs_folder(tmp_path):
    assert not any((parent / ".git").exists() for parent in tmp_path.parents)
    write(tmp_path, "lib.yaml", "blocks: {unit: {layers: [{type: relu}]}}\n")
    write(tmp_path, "specs/sub/lib.yaml", "blocks: {unit: {layers: [{type: relu}]}}\n")
    spec = write(tmp_path, "specs/net.yaml", "include: [../lib.yaml]\ninput: [4]\nlayers: [{block: unit}]\n")
    escape_error(spec, "leads outside the repository")
    spec.write_text("include: [sub/../sub/lib.yaml]\ninput: [4]\nlayers: [{block: unit}]\n")
    assert cnncalc.load(str(spec))


def test_a_spec_given_as_text_includes_from_the_current_folder(tmp_path, monkeypatch):
    write(tmp_path, "lib.yaml", "blocks: {unit: {layers: [{type: relu}]}}\n")
    monkeypatch.chdir(tmp_path)
    network = cnncalc.loads("include: [lib.yaml]\ninput: [4]\nlayers: [{block: unit}]\n")
    assert [node.name for node in network.nodes] == ["unit_1.relu_1"]
    with pytest.raises(SpecError, match="leads outside the repository"):
        cnncalc.loads("include: [../lib.yaml]\ninput: [4]\nlayers: [{block: unit}]\n")


@pytest.mark.parametrize("value, needle", [
    ("5", "'include' must be a path or a list of paths, got int 5"),
    ("{a: 1}", "'include' must be a path or a list of paths, got a mapping"),
    ("[lib.yaml, 3]", "an include must be a file path, got int 3"),
    ("['']", "an include must be a file path"),
    ('["a\\0b.yaml"]', "include path has a NUL character in it"),
    ("[missing.yaml]", "include 'missing.yaml': file not found"),
    ("[sub]", "include 'sub': is a directory, not a spec file"),
])
def test_include_entry_mistakes_are_located_at_the_entry(repo, value, needle):
    (repo / "sub").mkdir()
    write(repo, "lib.yaml", "blocks: {unit: {layers: [{type: relu}]}}\n")
    spec = write(repo, "net.yaml", f"input: [4]\ninclude: {value}\nlayers: [{{type: relu}}]\n")
    output = cli_error("summary", str(spec))
    assert f"{spec}:2:" in output and needle in output, output


def test_an_empty_include_is_nothing(repo):
    spec = write(repo, "net.yaml", "input: [4]\ninclude:\nlayers: [{type: relu}]\n")
    assert cnncalc.load(str(spec))
    spec.write_text("input: [4]\ninclude: []\nlayers: [{type: relu}]\n")
    assert cnncalc.load(str(spec))


def test_a_fifo_is_refused_without_being_opened(repo):
    os.mkfifo(repo / "pipe.yaml")
    spec = write(repo, "net.yaml", "include: [pipe.yaml]\ninput: [4]\nlayers: [{type: relu}]\n")
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "cnncalc", "summary", str(spec)], capture_output=True, text=True,
                         timeout=60, cwd=ROOT)
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert "include 'pipe.yaml': not a regular file (a FIFO, device or socket), so it is not read" in run.stderr
    assert time.perf_counter() - started < 30


def test_a_huge_included_file_is_refused_quickly(repo):
    with open(repo / "huge.yaml", "wb") as handle:  # sparse: 64 MiB that cost nothing to make
        handle.truncate(64 << 20)
    spec = write(repo, "net.yaml", "include: [huge.yaml]\ninput: [4]\nlayers: [{type: relu}]\n")
    started = time.perf_counter()
    output = cli_error("summary", str(spec))
    assert "include 'huge.yaml': file is larger than 16,777,216 bytes" in output
    assert time.perf_counter() - started < 5


def test_many_includes_of_one_file_read_it_once(repo):
    write(repo, "lib.yaml", "blocks: {unit: {layers: [{type: relu}]}}\n")
    spec = write(repo, "net.yaml", "include: [" + ", ".join(["lib.yaml", "./lib.yaml"] * 500) + "]\n"
                                   "input: [4]\nlayers: [{block: unit}]\n")
    assert cnncalc.load(str(spec))
    spec.write_text("include: [" + ", ".join(["lib.yaml"] * 200_000) + "]\ninput: [4]\nlayers: [{block: unit}]\n")
    started = time.perf_counter()
    output = cli_error("summary", str(spec))
    assert "the spec and its includes list more than 1,000 include paths" in output
    assert time.perf_counter() - started < 5


# --- block libraries and check ------------------------------------------------------------------

def test_a_block_library_is_not_a_network(repo):
    lib = write(repo, "common/blocks.yaml", LIBRARY)
    output = cli_error("summary", str(lib))
    assert f"{lib}:1:1: error: a block library (1 block, 1 with its includes), not a network" in output
    assert "include it from a spec (include: [blocks.yaml])" in output


def test_check_accepts_block_libraries_and_checks_them(repo):
    write(repo, "common/blocks.yaml", LIBRARY)
    write(repo, "specs/net.yaml", """\
        include: [../common/blocks.yaml]
        input: [3, 8, 8]
        layers: [{name: u, block: unit, c: 2}]
        """)
    result = invoke("check", str(repo))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "ok: 2 files checked, 0 expectations met"
    data = json.loads(invoke("check", str(repo), "--format", "json").output)
    assert [(Path(f["file"]).name, f["status"], f.get("library", False)) for f in data["files"]] == \
           [("blocks.yaml", "ok", True), ("net.yaml", "ok", False)]


@pytest.mark.parametrize("text, needle, where", [
    (LIBRARY + "expect: {params: 1}\n", "unknown top-level key 'expect' for a block library", "9:1"),
    (LIBRARY.replace("args: {c: null}", "args: [c]"), "'args' of block 'unit' must be a mapping", "5:11"),
    (LIBRARY.replace("blocks:", "include: [nope.yaml]\nblocks:"), "include 'nope.yaml': file not found", "3:11"),
    (LIBRARY.replace("{expansion: 4}", "{expansion: 4 +}"), "expected more", "2:19"),
    ("blocks:\n  relu: {layers: [{type: relu}]}\n", "block name 'relu' is already a layer type", "2:9"),
])
def test_check_reports_an_invalid_library_in_its_file(repo, text, needle, where):
    lib = write(repo, "blocks.yaml", text)
    result = invoke("check", str(lib))
    assert result.exit_code == 2 and f"{lib}:{where}: error:" in result.output and needle in result.output, \
        result.output


def test_a_file_with_neither_blocks_nor_layers_is_still_invalid(repo):
    lib = write(repo, "x.yaml", "name: nothing\n")
    assert "missing required top-level key 'input'" in invoke("check", str(lib)).output


def test_update_expect_leaves_a_block_library_alone(repo):
    lib = write(repo, "common/blocks.yaml", LIBRARY)
    before = lib.read_bytes()
    result = invoke("check", "--update-expect", str(repo))
    assert result.exit_code == 0, result.output
    assert lib.read_bytes() == before


def test_update_expect_on_a_spec_that_includes(repo):
    write(repo, "common/blocks.yaml", LIBRARY)
    spec = write(repo, "specs/net.yaml", """\
        include: [../common/blocks.yaml]
        input: [3, 8, 8]
        layers: [{name: u, block: unit, c: 2}]
        expect: {params: 1}
        """)
    result = invoke("check", "--update-expect", str(spec))
    assert result.exit_code == 0, result.output
    assert "expect: {params: 32}" in spec.read_text()


# --- layer arguments that read the incoming shape -------------------------------------------

INVERTED = """\
    input: [3, 16, 16]
    blocks:
      inverted:
        args: {expand: 6, out: null}
        layers:
          - {name: expand, type: conv2d, out_channels: expand * in_channels, kernel_size: 1, bias: false}
          - {name: dw, type: conv2d, out_channels: in_channels, groups: in_channels, kernel_size: 3, padding: 1}
          - {name: project, type: conv2d, out_channels: out, kernel_size: 1, bias: false}
    layers:
      - {name: a, block: inverted, out: 8}
      - {name: b, block: inverted, out: 16, expand: 4}
    """


def by_hand(c: int, size: int) -> str:
    """INVERTED with every channel count written out, for input [c, size, size]."""
    return f"""\
        input: [{c}, {size}, {size}]
        layers:
          - {{name: a.expand, type: conv2d, out_channels: {6 * c}, kernel_size: 1, bias: false}}
          - {{name: a.dw, type: conv2d, out_channels: {6 * c}, groups: {6 * c}, kernel_size: 3, padding: 1}}
          - {{name: a.project, type: conv2d, out_channels: 8, kernel_size: 1, bias: false}}
          - {{name: b.expand, type: conv2d, out_channels: 32, kernel_size: 1, bias: false}}
          - {{name: b.dw, type: conv2d, out_channels: 32, groups: 32, kernel_size: 3, padding: 1}}
          - {{name: b.project, type: conv2d, out_channels: 16, kernel_size: 1, bias: false}}
        """


def figures(result) -> list:
    return [(r.name, r.output_shape, r.params, r.buffers, r.macs, r.flops) for r in result.layers]


def test_in_channels_gives_depthwise_groups_and_expansion_widths():
    result = summary(INVERTED)
    assert result.layer("a.expand").output_shape == (18, 16, 16)
    assert result.layer("a.dw").params == 18 * 9 + 18  # depthwise: one 3x3 filter per channel
    assert result.layer("b.expand").output_shape == (32, 16, 16)  # 4 * the 8 channels a gives
    assert figures(result) == figures(summary(by_hand(3, 16)))


def test_the_incoming_shape_follows_input(tmp_path):
    assert figures(summary(INVERTED, input_shape=[5, 9, 9])) == figures(summary(by_hand(5, 9)))
    path = write(tmp_path, "net.yaml", INVERTED)
    data = json.loads(invoke("summary", str(path), "--input", "7,8,8", "--format", "json").output)
    assert data["layers"][0]["output_shape"] == [42, 8, 8] and data["layers"][1]["params"] == 42 * 9 + 42


def test_in_is_the_whole_shape_and_lists_may_read_it():
    result = summary("""\
        input: [4, 12, 6]
        layers:
          - {name: squeeze, type: avgpool2d, kernel_size: "[in[1], in[2]]"}
          - {name: fc, type: conv2d, out_channels: "in[0] // 2", kernel_size: 1}
          - {name: last, type: conv2d, out_channels: "len if false else in[-3]", kernel_size: 1}
        vars: {len: 1}
        """)
    assert [r.output_shape for r in result.layers] == [(4, 1, 1), (2, 1, 1), (2, 1, 1)]


def test_in_of_a_layer_with_several_inputs_is_its_first_inputs_shape():
    result = summary("""\
        input: [4, 8, 8]
        layers:
          - {name: a, type: conv2d, out_channels: 2, kernel_size: 1}
          - {name: cat, type: concat, from: [input, a], axis: "len(in) - 3" }
        """.replace("len(in) - 3", "0 if in[0] == 4 else 1"))
    assert result.layer("cat").output_shape == (6, 8, 8)


def test_a_variable_or_block_argument_of_the_same_name_hides_the_shape():
    result = summary("""\
        input: [3, 8, 8]
        blocks:
          unit:
            args: {in_channels: 5}
            layers:
              - {name: conv, type: conv2d, out_channels: in_channels, kernel_size: 1}
        layers:
          - {name: u, block: unit}
          - {name: v, block: unit, in_channels: 7}
          - {name: w, type: conv2d, out_channels: in_channels, kernel_size: 1}
        """)
    assert [r.output_shape[0] for r in result.layers] == [5, 7, 7]


def test_the_network_holds_only_made_layers():
    from cnncalc.language.deferred import Deferred

    network = build(INVERTED)
    assert not any(isinstance(node.layer, Deferred) for node in network.nodes)
    assert network.nodes[1].layer.groups == 18


def test_verify_runs_layers_that_read_the_incoming_shape(tmp_path):
    path = write(tmp_path, "net.yaml", INVERTED.replace("[3, 16, 16]", "[2, 6, 6]"))
    result = invoke("verify", str(path))
    assert result.exit_code == 0, result.output + (result.stderr or "")


def test_shape_errors_are_located_at_the_argument_with_the_shape(tmp_path):
    path = write(tmp_path, "net.yaml", """\
        input: [3, 8, 8]
        layers:
          - {name: conv, type: conv2d, out_channels: 4, kernel_size: 1}
          - {name: dw, type: conv2d, out_channels: in_channels, groups: in_channels - 1, kernel_size: 3}
        """)
    output = cli_error("summary", str(path))
    assert f"{path}:4:65: error: layer 'dw': out_channels (4) must be divisible by groups (3) (input shape: " \
           "[4, 8, 8])" in output
    path.write_text("input: [3, 8, 8]\nlayers:\n  - {type: conv2d, out_channels: 4, kernel_size: \"in[3]\"}\n")
    output = cli_error("summary", str(path))
    assert f"{path}:3:50: error: layer 'conv2d_1': argument 'kernel_size' (expected an integer): expression " \
           "'in[3]': index 3 is outside the list [3, 8, 8]" in output


@pytest.mark.parametrize("where", ["when: in_channels > 2", "repeat: 'in[0]'"])
def test_only_layer_arguments_read_the_shape(where):
    error = refused(f"""\
        input: [3, 8, 8]
        blocks:
          unit: {{layers: [{{type: relu}}]}}
        layers:
          - {{block: unit, {where}}}
        """, "unknown variable")
    assert "can be read in a layer's own arguments only" in error.hint


def test_layers_of_several_pieces_cannot_read_the_shape():
    from cnncalc.layers import REGISTRY
    from cnncalc.layers.base import Layer

    piecewise = sorted(name for name, cls in REGISTRY.items() if cls.pieces is not Layer.pieces)
    if not piecewise:
        pytest.skip("no layer type of several pieces")
    arg = next(iter(REGISTRY[piecewise[0]].args))
    refused(f"input: [4, 8, 8]\nlayers:\n  - {{type: {piecewise[0]}, {arg}: in_channels // 2}}\n",
            f"argument '{arg}' reads the incoming shape, which a {piecewise[0]}'s arguments cannot")


def test_many_layers_that_read_the_shape_build_quickly():
    started = time.perf_counter()
    network = build("""\
        input: [8, 4, 4]
        blocks:
          unit:
            layers:
              - {type: conv2d, out_channels: in_channels, groups: in_channels, kernel_size: 1}
        layers:
          - {block: unit, repeat: 5000}
        """)
    assert len(network.nodes) == 5000
    assert time.perf_counter() - started < 10


@pytest.mark.parametrize("on, expected", [(True, ["a", "u.relu_1", "b"]), (False, ["a", "b"])])
def test_else_on_a_block_instance(on, expected):
    result = summary(f"""\
        input: [4]
        blocks:
          unit: {{layers: [{{type: relu}}]}}
        layers:
          - {{name: a, type: linear, out_features: 4}}
          - {{name: u, block: unit, from: [input, a], when: {str(on).lower()}, else: a}}
          - {{name: b, type: tanh}}
        """.replace("from: [input, a], ", "" if on else "from: [input, a], "))
    assert [record.name for record in result.layers] == expected
    assert list(result.layer("b").inputs) == (["u.relu_1"] if on else ["a"])


def test_a_symlinked_spec_includes_from_the_links_folder(repo):
    write(repo, "a/lib.yaml", "blocks: {unit: {layers: [{type: relu}]}}\n")
    net = write(repo, "b/net.yaml", "include: [lib.yaml]\ninput: [4]\nlayers: [{block: unit}]\n")
    os.symlink(net, repo / "a" / "link.yaml")
    assert cnncalc.load(str(repo / "a" / "link.yaml"))
    assert "include 'lib.yaml': file not found" in cli_error("summary", str(net))


def test_numbers_in_scientific_notation():
    """YAML 1.1 reads `1e-6` as a string; the expression grammar reads it as a number."""
    from cnncalc.language.build import loads

    network = loads("input: [3, 8, 8]\nlayers:\n  - {name: n, type: batchnorm2d, eps: 1e-3}\n"
                    "  - {name: s, type: scale, init: 2.5E-6}\n")
    assert network.nodes[0].layer.eps == 1e-3 and network.nodes[1].layer.init == 2.5e-6
    for text, needle in (("1e999", "too large for a float"), (".nan", "must be a finite number")):
        with pytest.raises(SpecError, match=needle):
            loads(f"input: [3]\nlayers:\n  - {{type: elu, alpha: {text}}}\n")
