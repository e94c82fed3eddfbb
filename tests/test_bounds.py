"""Bounded work on any input, and a clear error (exit 2) where arithmetic, nesting or huge
figures used to end in a traceback: each limit of README's Limits table that these cover,
through the library and, for the exit codes, through the real command."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import tracemalloc
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import pytest

from cnncalc import limits
from cnncalc.cli import app
from cnncalc.diagnostics import Location, SpecError, UsageError
from cnncalc.render import human
from cnncalc.render.summary import FORMATS
from cnncalc.language import expansion, expressions as expr, graph, reader as source
from cnncalc.language.build import load, loads
from cnncalc.limits import MAX_BLOCK_DEPTH, MAX_DIM, MAX_RANK
from cnncalc.summary import summarize

from helpers import write_spec as write


def cli(*args: str, timeout: float = 60) -> tuple:
    """cnncalc in a process of its own: (exit code, stdout, stderr)."""
    done = subprocess.run([sys.executable, "-m", "cnncalc", *args], capture_output=True, text=True, timeout=timeout)
    return done.returncode, done.stdout, done.stderr


def exits_2(*args: str, needle: str, timeout: float = 60) -> None:
    code, out, err = cli(*args, timeout=timeout)
    assert code == 2, out + err
    assert needle in out + err and "Traceback" not in out + err and "internal error" not in out + err, out + err


def refused(text: str, *needles: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        loads(text)
    for needle in needles:
        assert needle in str(info.value), str(info.value)
    return info.value


def counting(monkeypatch, cls, method: str) -> list:
    """Count the calls of cls.method from now on: the list grows by one per call."""
    calls = []
    original = getattr(cls, method)

    def counted(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, method, counted)
    return calls


# --- expressions: arithmetic that Python would raise on ----------------------------------

@pytest.mark.parametrize("text, needle", [("0 ** -1", "divides by zero"), ("0.0 ** -0.5", "divides by zero"),
                                          ("(0 - 8) ** 0.5", "not a real number"),
                                          ("(0 - 8) ** (1 / 3)", "not a real number")])
def test_arithmetic_python_refuses_is_a_spec_error(text, needle):
    with pytest.raises(SpecError, match=needle):
        expr.evaluate(text, {})


def test_negative_bases_with_whole_exponents_still_work():
    assert expr.evaluate("(0 - 2) ** 3", {}) == -8
    assert expr.evaluate("(0 - 2) ** -2", {}) == 0.25


def test_constant_parts_fail_only_when_evaluated():
    """Operations on numbers alone are computed once, when parsed; one that fails is left
    for evaluation, so a branch not taken cannot fail."""
    assert expr.parse("index > 10 ** 9") == ("op", ">", ("var", "index"), ("num", 10**9))
    assert expr.evaluate("1 / 0 if false else 2", {}) == 2
    with pytest.raises(SpecError, match="division by zero"):
        expr.evaluate("1 / 0 if true else 2", {})


def test_set_to_zero_to_a_negative_power_exits_2(tmp_path):
    path = write(tmp_path, "input: [3, 8, 8]\nvars: {width: 4}\n"
                           "layers: [{type: conv2d, out_channels: width, kernel_size: 3}]\n")
    exits_2("summary", str(path), "--set", "width=0**-1", needle="--set width=0**-1: 0 ** -1 divides by zero")


# --- blocks inside blocks ----------------------------------------------------------------

def block_chain(levels: int) -> str:
    """Block b0 holds b1, which holds b2 ... b{levels-1}, which holds a relu."""
    lines = ["input: [4]", "blocks:"]
    lines += [f"  b{i}: {{layers: [{{block: b{i + 1}}}]}}" for i in range(levels - 1)]
    lines += [f"  b{levels - 1}: {{layers: [{{type: relu}}]}}", "layers: [{block: b0}]"]
    return "\n".join(lines) + "\n"


def test_blocks_nested_to_the_limit_build():
    network = loads(block_chain(MAX_BLOCK_DEPTH))
    assert len(network.nodes) == 1 and len(network.nodes[0].scope) == MAX_BLOCK_DEPTH


def test_blocks_nested_beyond_the_limit_are_refused_with_the_chain():
    error = refused(block_chain(MAX_BLOCK_DEPTH + 1), f"blocks nest more than {MAX_BLOCK_DEPTH} levels deep",
                    f"(b0 -> b1 -> b2 -> ... -> b{MAX_BLOCK_DEPTH - 2} -> b{MAX_BLOCK_DEPTH - 1} -> b{MAX_BLOCK_DEPTH})")
    assert error.loc.line == MAX_BLOCK_DEPTH + 2  # the line of the block that holds one too many


def test_a_chain_of_a_thousand_blocks_exits_2(tmp_path):
    path = write(tmp_path, block_chain(1000))
    for command in ("summary", "check"):
        exits_2(command, str(path), needle=f"blocks nest more than {MAX_BLOCK_DEPTH} levels deep")


# --- the layer limit counts skipped layers, before expanding where it can -----------------

def test_skipped_layers_count_toward_the_layer_limit(monkeypatch):
    monkeypatch.setattr(limits, "MAX_LAYERS", 100)
    assert len(loads("input: [4]\nlayers:\n" + "  - {type: relu, when: false}\n" * 99 + "  - {type: relu}\n").nodes) == 1
    refused("input: [4]\nlayers:\n" + "  - {type: relu, when: false}\n" * 100 + "  - {type: relu}\n",
            "more than 100 layers, counting skipped ones")


def test_a_list_longer_than_the_limit_is_refused_before_a_layer_is_built(monkeypatch):
    monkeypatch.setattr(limits, "MAX_LAYERS", 100)
    layers = counting(monkeypatch, expansion.Expander, "layer")
    refused("input: [4]\nlayers:\n" + "  - {type: relu}\n" * 101, "(0 so far, and at least 101 more here)")
    assert not layers


NESTED_SKIPPED = """input: [4]
blocks:
  a: {layers: [{type: relu, when: false}]}
  b: {layers: [{block: a, repeat: "100000"}]}
  c: {layers: [{block: b, repeat: "10 ** 5"}]}
layers:
  - {type: relu}
  - {block: c, repeat: "100000"}
"""


def test_nested_repeats_known_in_advance_are_refused_before_expanding(monkeypatch):
    """Counts written as expressions over the spec's variables are known before expanding."""
    bodies = counting(monkeypatch, expansion.Expander, "body")
    refused(NESTED_SKIPPED, f"more than {limits.MAX_LAYERS:,} layers, counting skipped ones")
    assert len(bodies) == 1  # the top-level list only: no instance was expanded


def test_a_repeat_a_block_argument_may_change_is_not_guessed():
    """`n` is also a block argument, so the variable's 10 ** 6 says nothing about `repeat: n`."""
    network = loads("input: [4]\nvars: {n: 10 ** 6}\nblocks:\n  a: {args: {n: 2}, layers: [{type: relu}]}\n"
                    "  b: {args: {n: 3}, layers: [{block: a, repeat: n}]}\nlayers: [{block: b}]\n")
    assert len(network.nodes) == 3


def test_nested_repeats_known_only_while_expanding_stop_at_the_limit(monkeypatch):
    """`repeat` inside a block is its own instance's count: the walk stops within the limit."""
    monkeypatch.setattr(limits, "MAX_LAYERS", 1000)
    bodies = counting(monkeypatch, expansion.Expander, "body")
    refused("input: [4]\nblocks:\n  a: {layers: [{type: relu, when: 'index > 10 ** 9'}]}\n"
            "  b: {layers: [{block: a, repeat: repeat}]}\n  c: {layers: [{block: b, repeat: repeat}]}\n"
            "layers:\n  - {type: relu}\n  - {block: c, repeat: 100}\n",
            "more than 1,000 layers, counting skipped ones")
    assert len(bodies) < 2 * limits.MAX_LAYERS  # 100 ** 3 = 10 ** 6 entries if it went on


# --- `from` through skipped layers is resolved in linear time -----------------------------

class _CountingDict(dict):
    lookups = 0

    def __getitem__(self, key):
        type(self).lookups += 1
        return super().__getitem__(key)


def test_following_a_long_chain_of_skipped_layers_is_linear():
    n = 5000
    expander = graph.Graph()
    expander.aliases = _CountingDict({f"s{i}": f"s{i - 1}" if i else "r0" for i in range(n)})
    _CountingDict.lookups = 0
    for _ in range(n):  # n readers of the last skipped layer
        assert expander.follow(f"s{n - 1}", Location()) == "r0"
    assert _CountingDict.lookups <= 2 * n  # n * n / 2 when each reader walks the chain


def test_readers_of_skipped_layers_read_what_those_stand_for():
    skipped, readers = 2000, 2000
    text = ("input: [4]\nlayers:\n  - {name: r0, type: relu}\n"
            + "".join(f"  - {{name: s{i}, type: relu, when: false}}\n" for i in range(skipped))
            + f"  - {{type: relu, from: s{skipped - 1}}}\n" * readers)
    network = loads(text)
    assert len(network.nodes) == 1 + readers
    assert all(node.inputs == ["r0"] for node in network.nodes[1:])


def test_a_cycle_of_aliases_is_still_reported():
    expander = graph.Graph()
    expander.aliases = {"a": "b", "b": "c", "c": "b"}
    with pytest.raises(SpecError, match="'b' refers to itself"):
        expander.follow("a", Location())


# --- the YAML reader stops where a limit is crossed ----------------------------------------

def test_the_node_limit_is_crossed_before_the_document_is_held(monkeypatch):
    """The document is built from the parser's events and counted as they come: refusing
    100,000 items at a limit of 1,000 holds only a little more than the text."""
    monkeypatch.setattr(source, "MAX_NODES", 1000)
    text = "x: [" + ", ".join(["1"] * 100_000) + "]\n"
    tracemalloc.start()
    try:
        with pytest.raises(SpecError, match="more than 1,000 YAML nodes") as info:
            source.load_yaml(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info.value.loc == Location("<spec>", 1, 5 + 3 * 997)  # the 1,001st node: mapping, key, list, items
    assert peak < 10 * len(text)  # composing all nodes first took about 100 times the text


def test_aliases_share_the_anchor_value_and_count_its_nodes(monkeypatch):
    text = "a: &a {x: [1, 2]}\nb: *a\nc: [*a, *a]\n"  # each alias repeats 4 nodes
    doc = source.load_yaml(text)
    assert doc["b"] == {"x": [1, 2]} and doc["c"] == [doc["a"], doc["a"]]
    assert doc["c"].item_locs == [Location("<spec>", 3, 5), Location("<spec>", 3, 9)]
    monkeypatch.setattr(source, "MAX_ALIAS_NODES", 11)
    with pytest.raises(SpecError, match="aliases expand to more than 11 YAML nodes") as info:
        source.load_yaml(text)
    assert info.value.loc == Location("<spec>", 3, 9)


def test_nesting_counts_through_aliases():
    anchor = "[" * 40 + "]" * 40  # 40 lists, one inside the other
    assert source.load_yaml(f"a: &a {anchor}\nb: *a\n")
    with pytest.raises(SpecError, match=f"nesting depth above the limit of {source.MAX_DEPTH}"):
        source.load_yaml(f"a: &a {anchor}\nb: " + "[" * 30 + "*a" + "]" * 30 + "\n")


@pytest.mark.parametrize("text, needle", [
    ("a: &a [1, *a]\n", "alias '*a' is inside the value of its own anchor"),
    ("a: *nowhere\n", "undefined alias '*nowhere'"),
    ("a: &a 1\nb: &a 2\n", "duplicate anchor '&a'"),
    ("a: 1\n---\nb: 2\n", "another document"),
    ("a: !!python/name:os.system x\n", "unsupported YAML tag"),
    ("a: {[1]: 2}\n", "a mapping key must be a plain value"),
])
def test_yaml_structure_errors(text, needle):
    with pytest.raises(SpecError, match=needle.replace("*", r"\*")):
        source.load_yaml(text)


# --- files that are not regular files are never opened ---------------------------------------

@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_is_refused_without_being_opened(tmp_path):
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)  # opening it to read would wait for a writer forever
    for command in ("summary", "check"):
        exits_2(command, str(fifo), needle="not a regular file", timeout=30)


def test_a_device_is_refused():
    with pytest.raises(SpecError, match="not a regular file"):
        load(os.devnull)


# --- layer names ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["café", "Ωmega.1", "naïve-層_2", "cafe\u0301", "1x1"])
def test_layer_names_use_letters_and_digits_of_any_script(name):
    network = loads(f'input: [4]\nlayers: [{{name: "{name}", type: relu}}, {{type: relu, from: "{name}"}}]\n')
    assert network.nodes[0].name == name and network.nodes[1].inputs == [name]


@pytest.mark.parametrize("name", ["a b", "a\\tb", "a\\u200bb", "a\\x07", ".a", "-a", "a/b", ""])
def test_layer_names_refuse_spaces_controls_and_other_signs(name):
    refused(f'input: [4]\nlayers: [{{name: "{name}", type: relu}}]\n', "invalid layer name")


# --- every figure stays exact and printable --------------------------------------------------

def test_a_layer_output_of_too_many_axes_is_refused():
    network = loads(f"input: [1]\nlayers: [{{type: reshape, shape: {[1] * (MAX_RANK + 1)}}}]\n")
    with pytest.raises(SpecError, match=f"{MAX_RANK + 1} axes, above the limit of {MAX_RANK}"):
        summarize(network)


def test_a_reshape_and_linear_chain_is_refused_before_its_figures_explode(tmp_path):
    """Each reshape adds an axis and each linear widens it: without a rank limit the figures
    outgrow a float (and then Python's 4,300-digit limit for printing an int)."""
    lines = [f"input: [{MAX_DIM}]", "layers:"]
    for axes in range(1, 60):
        lines += [f"  - {{type: reshape, shape: {[MAX_DIM] * axes + [1]}}}",
                  f"  - {{type: linear, out_features: {MAX_DIM}, bias: false}}"]
    path = write(tmp_path, "\n".join(lines) + "\n")
    for fmt in FORMATS:
        exits_2("summary", str(path), "--format", fmt, needle=f"above the limit of {MAX_RANK}")


@pytest.mark.parametrize("spec", [
    "input: [3, 8, 8]\nlayers: [{type: conv2d, out_channels: 4, kernel_size: %s, padding: %s, stride: %s}]\n",
    "input: [3, 8, 8]\nvars: {k: %s, p: %s, s: %s}\n"
    "layers: [{type: conv2d, out_channels: 4, kernel_size: k, padding: p, stride: s}]\n",
    "input: [3, 8, 8]\nblocks:\n  b: {args: {k: 3, p: 0, s: 1}, layers: [{type: conv2d, out_channels: 4, "
    "kernel_size: k, padding: p, stride: s}]}\nlayers: [{block: b, k: %s, p: %s, s: %s}]\n",
])
def test_numbers_written_in_a_spec_are_bounded_like_expression_values(spec):
    huge = 10**2500  # a kernel this size with as much padding gives one output and MACs of 2,500 digits
    refused(spec % (huge, huge, 10 * huge), f"a number beyond the limit of {expr.MAX_MAGNITUDE:.0e}")


def test_the_batch_is_bounded(tmp_path):
    network = loads("input: [4]\nlayers: [{type: relu}]\n")
    assert summarize(network, batch=MAX_DIM).totals.flops == 4 * MAX_DIM
    with pytest.raises(UsageError, match="batch size must be between 1 and"):
        summarize(network, batch=MAX_DIM + 1)
    exits_2("summary", str(write(tmp_path, "input: [4]\nlayers: [{type: relu}]\n")), "--batch", "9" * 4299,
            needle="batch size must be between 1 and 2,147,483,647")


LARGEST = (f"input: {[MAX_DIM] * MAX_RANK}\nlayers:\n"
           + f"  - {{type: linear, out_features: {MAX_DIM}}}\n" * 3)


def test_the_largest_figures_print_exactly_in_every_format(tmp_path, runner):
    path = write(tmp_path, LARGEST)
    summary = summarize(load(str(path)), batch=MAX_DIM)
    totals = summary.totals
    assert totals.flops > 10**90  # far past the integers a float holds exactly
    out = {}
    for fmt in FORMATS:
        result = runner.invoke(app, ["summary", str(path), "--batch", str(MAX_DIM), "--format", fmt])
        assert result.exit_code == 0, result.output
        out[fmt] = result.stdout
    data = json.loads(out["json"])
    assert data["totals"] == totals.to_dict()
    assert [(layer["params"], layer["macs"], layer["flops"]) for layer in data["layers"]] == \
        [(record.params, record.macs, record.flops) for record in summary.layers]
    rows = list(csv.DictReader(io.StringIO(out["csv"])))
    assert [(int(row["params"]), int(row["macs"]), int(row["flops"])) for row in rows] == \
        [(record.params, record.macs, record.flops) for record in summary.layers]
    for fmt in ("table", "markdown"):
        for figure in (totals.params, totals.macs, totals.flops, summary.layers[-1].flops):
            assert f"{figure:,}" in out[fmt]
        for figure in (totals.params, totals.macs, totals.flops):
            assert f"({human(figure)})" in out[fmt]
        assert human(totals.activation_memory, "B") in out[fmt]


@pytest.mark.parametrize("n", [1234, 1235, 1245, 60_840, 999_499, 25_557_032, 2**64 + 1, 10**95 + 5 * 10**81,
                               -(2**300), 12_345 * 10**9])
def test_human_rounds_exactly_at_any_size(n):
    size, suffix = next((size, suffix) for size, suffix in ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K"))
                        if abs(n) >= size)
    places = 2 if abs(n) < 10 * size else 1
    with localcontext() as context:  # exact decimal arithmetic as the oracle
        context.prec = 500
        expected = (Decimal(n) / size).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    assert human(n) == f"{expected}{suffix}"
    assert human(n, "B") == f"{expected} {suffix}B"


def test_a_layer_name_yaml_reads_as_a_boolean_is_refused_with_a_quoting_hint():
    with pytest.raises(SpecError) as error:
        loads("input: [3]\nlayers: [{type: relu, name: yes}]\n")
    assert "boolean" in error.value.message and "'yes'" in error.value.hint
    assert [n.name for n in loads("input: [3]\nlayers: [{type: relu, name: 'yes'}]\n").nodes] == ["yes"]


def test_a_layer_name_is_at_most_200_characters():
    assert loads(f"input: [3]\nlayers: [{{type: relu, name: {'a' * 200}}}]\n").nodes[0].name == "a" * 200
    with pytest.raises(SpecError, match="201 characters, above the limit of 200"):
        loads(f"input: [3]\nlayers: [{{type: relu, name: {'a' * 201}}}]\n")


@pytest.mark.parametrize("value", ["!!null {a: 1}", "!!bool []", "!!str {a: 1}", "!!map [1]", "!!seq {a: 1}"])
def test_a_scalar_tag_on_a_collection_is_refused(value):
    with pytest.raises(SpecError, match="cannot mark a"):
        loads(f"input: [3]\nlayers: [{{type: relu}}]\ndescription: {value}\n")
