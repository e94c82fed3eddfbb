"""Every input size at once: symbolic sizes (input: [3, H, W]), the conditions under which
their formulas hold, `cnncalc sizes` and sweeps (`--input 3,224..640..32`).

The oracle is cnncalc's own numeric summary, itself proven against PyTorch layer by layer
(test_zoo, test_zoo_torchvision): the formulas evaluated at a size equal the numeric
summary at that size, and `sizes` equals trying every size one by one."""
from __future__ import annotations

import json
import operator
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnncalc.conditions import holds, requirements, statements
from cnncalc.diagnostics import SpecError
from cnncalc.language.build import load
from cnncalc.summary import infer_shapes, summarize
from cnncalc.sweep import valid_sizes
from cnncalc.symbolic import Size, tracing

from helpers import SPECS, ZOO, invoke, write_spec

AXES = "DHW"


def _symbolic(stem: str):
    """The zoo spec with its spatial sizes (every axis after the channels; the only axis of
    a 1-D input) as symbols, its numeric network and the symbols' names."""
    written = load(str(SPECS / f"{stem}.yaml"))
    shape = written.input_shape
    names = ["L"] if len(shape) == 1 else list(AXES[-(len(shape) - 1):])
    symbolic = load(str(SPECS / f"{stem}.yaml"), input_shape=names if len(shape) == 1 else [shape[0], *names])
    return symbolic, names


def _value(figure, bindings):
    return figure.evaluate(bindings) if isinstance(figure, Size) else figure


def _holds(summary, bindings) -> bool:
    return all(holds(formula.evaluate(bindings), kind) for formula, kind, _ in statements(summary.conditions))


@pytest.mark.parametrize("stem", ZOO)
def test_formulas_equal_the_numeric_summary_at_random_valid_sizes(stem):
    """At sizes where the recorded conditions hold, every layer's shape and figures, and the
    totals, evaluated from the formulas, equal the numeric summary at those sizes."""
    network, names = _symbolic(stem)
    summary = summarize(network, batch=2)
    rng = random.Random(stem)
    witness = {name: size.value for size in network.input_shape if isinstance(size, Size) for name in size.symbols()}
    tried = 0
    for attempt in range(400):  # near the witness, then anywhere from half to twice it
        spread = 8 if attempt % 2 else witness[names[0]]
        bindings = {name: max(1, witness[name] + rng.randint(-min(spread, witness[name] // 2), spread))
                    for name in names}
        if not _holds(summary, bindings):
            continue
        written = load(str(SPECS / f"{stem}.yaml"))
        sizes = [bindings[name] for name in names]
        numeric = summarize(load(str(SPECS / f"{stem}.yaml"),
                                 input_shape=sizes if len(names) == len(written.input_shape) else
                                 [written.input_shape[0], *sizes]), batch=2)
        for ours, theirs in zip(summary.layers, numeric.layers):
            assert [_value(d, bindings) for d in ours.output_shape] == list(theirs.output_shape), ours.name
            assert [_value(f, bindings) for f in ours.figures] == list(theirs.figures), ours.name
        assert _value(summary.totals.activation_memory, bindings) == numeric.totals.activation_memory
        tried += 1
        if tried == 3:
            break
    assert tried == 3, f"{stem}: fewer than 3 sizes where the conditions hold"


@pytest.mark.parametrize("stem", ["lenet5", "alexnet", "unet", "googlenet", "resnet18", "deeplabv3_resnet50",
                                  "shufflenet_v2_x1_0", "textcnn", "r3d_18"])
def test_sizes_agree_with_trying_each_size(stem):
    """`cnncalc sizes`' list is exactly the sizes for which a numeric summary succeeds."""
    report = valid_sizes(str(SPECS / f"{stem}.yaml"), {}, 1, 260)
    tried = []
    for size in range(1, 261):
        try:
            infer_shapes(load(str(SPECS / f"{stem}.yaml"), input_shape=list(report.shape_at(size))))
        except SpecError:
            continue
        tried.append(size)
    assert report.valid == tried


@pytest.mark.parametrize("stem, expected", [
    ("lenet5", ["H ≥ 32", "W ≥ 32"]),  # C5's 5x5 window on S4's ⌊(⌊(H - 4)/2⌋ - 4)/2⌋
    ("alexnet", ["H ≥ 63", "H mod 192 in 31…62", "W ≥ 63", "W mod 192 in 31…62"]),
    ("deeplabv3_resnet50", ["H ≥ 217", "H ≤ 224", "W ≥ 217", "W ≤ 224"]),  # ASPP pools to vars height/width
    ("resnet50", []),
    ("unet", ["H ≥ 188", "W ≥ 188"]),
])
def test_conditions_in_words(stem, expected):
    network, _ = _symbolic(stem)
    assert [r.text for r in summarize(network).requirements()] == expected


def test_a_lower_bound_is_where_the_network_starts_to_work():
    """A bound from a positivity condition is the smallest valid size: one below it fails."""
    report = valid_sizes(str(SPECS / "lenet5.yaml"), {}, 1, 100)
    assert report.valid[0] == 32 and report.pattern() == "every size from 32"
    assert valid_sizes(str(SPECS / "deeplabv3_resnet50.yaml"), {}, 200, 230).pattern() == "217…224"


# --- the arithmetic ------------------------------------------------------------------------

OPS = [operator.add, operator.sub, operator.mul]


@st.composite
def expressions(draw):
    """(a Size built by + - * // % and ints, the same computation on ints at two points)."""
    h = Size.symbol("H", 100)
    steps = draw(st.lists(st.tuples(st.sampled_from(["+", "-", "*", "//", "%", "+H", "*H"]),
                                    st.integers(1, 9)), min_size=1, max_size=8))
    return h, steps


def _apply(value, steps, h):
    for op, n in steps:
        if op == "+":
            value = value + n
        elif op == "-":
            value = value - n
        elif op == "*":
            value = value * n
        elif op == "//":
            value = value // n
        elif op == "%":
            value = value % n
        elif op == "+H":
            value = value + h
        else:
            value = value * h
    return value


def _kept(steps, h) -> list:
    """`steps` without the products by H that would make the formula grow past 6 terms (the
    same steps must then run on the integers)."""
    kept, value = [], h
    for op, n in steps:
        if op == "*H" and isinstance(value, Size) and len(value.terms) >= 6:
            continue
        kept.append((op, n))
        value = _apply(value, [(op, n)], h)
    return kept


@settings(max_examples=300, deadline=None)
@given(expressions(), st.integers(1, 5000))
def test_size_arithmetic_is_integer_arithmetic(expression, at):
    h, steps = expression
    steps = _kept(steps, h)
    formula = _apply(h, steps, h)
    assert _value(formula, {"H": at}) == _apply(at, steps, at)
    assert _value(formula, {"H": 100}) == (formula.value if isinstance(formula, Size) else formula)


def test_floors_are_merged_and_printed_as_people_write_them():
    h = Size.symbol("H", 224)
    conv = lambda x, k, s, p: (x + 2 * p - k) // s + 1  # noqa: E731
    assert str(conv(h, 7, 2, 3)) == "⌈H/2⌉"  # ⌊(H - 1)/2⌋ + 1
    assert str(conv(conv(h, 7, 2, 3), 3, 2, 1)) == "⌈H/4⌉"  # a floor of a floor is one floor
    assert str((h + 1) // 4 - 2) == "⌊(H + 1)/4⌋ - 2"
    w = Size.symbol("W", 224)
    assert str(64 * ((h + 1) // 4 - 2) * ((w + 1) // 4 - 2)) == "64·(⌊(H + 1)/4⌋ - 2)·(⌊(W + 1)/4⌋ - 2)"
    assert str(h * h) == "H²"
    assert (h // 2) * 2 - h != 0 or True  # a comparison is allowed (recorded only while tracing)


def test_comparisons_are_decided_at_the_witness_and_recorded():
    h = Size.symbol("H", 10)
    with tracing() as conditions:
        assert (h - 3 > 0) is True
        assert (h // 2 == 5) is True
        assert h - h == 0  # a constant: nothing to record
    assert [(c.relation, c.outcome) for c in conditions] == [(">", True), ("==", True)]
    # H ≥ 4, and ⌊H/2⌋ = 5 (10 ≤ H ≤ 11): the bounds merge
    assert [r.text for r in requirements(conditions, {"H": 10})] == ["H ≥ 10", "H ≤ 11"]


# --- the command line --------------------------------------------------------------------

def test_symbolic_input_prints_formulas_and_where_they_hold():
    result = invoke("summary", str(SPECS / "lenet5.yaml"), "--input", "1,H,W", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["input_shape"] == [1, "H", "W"]
    assert data["layers"][0]["output_shape"] == [6, "H - 4", "W - 4"]
    assert data["conditions"] == [{"condition": "H ≥ 32", "layers": ["C5"]},
                                  {"condition": "W ≥ 32", "layers": ["C5"]}]
    assert "expect: not checked" in result.stderr


def test_set_gives_a_symbol_its_number(tmp_path):
    spec = write_spec(tmp_path, "input: [3, H, W]\nlayers:\n  - {type: conv2d, out_channels: 4, kernel_size: 3}\n")
    symbolic = invoke("summary", str(spec), "--format", "json")
    numeric = invoke("summary", str(spec), "--set", "H=32", "--set", "W=20", "--format", "json")
    assert symbolic.exit_code == numeric.exit_code == 0
    assert json.loads(symbolic.stdout)["totals"]["macs"] == "108·(H - 2)·(W - 2)"
    assert json.loads(numeric.stdout)["totals"]["macs"] == 108 * 30 * 18


def test_a_misspelt_variable_in_the_input_is_not_taken_for_a_symbol(tmp_path):
    spec = write_spec(tmp_path, "vars: {height: 32}\ninput: [3, heigth, 32]\n"
                                "layers:\n  - {type: conv2d, out_channels: 4, kernel_size: 3}\n")
    result = invoke("summary", str(spec))
    assert result.exit_code == 2 and "did you mean 'height'" in result.stderr


def test_sweep_prints_one_row_per_size():
    result = invoke("summary", str(SPECS / "resnet18.yaml"), "--input", "3,32..96..32", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["sizes"]
    assert [row["input_shape"] for row in rows] == [[3, 32, 32], [3, 64, 64], [3, 96, 96]]
    for row in rows:
        numeric = summarize(load(str(SPECS / "resnet18.yaml"), input_shape=row["input_shape"]))
        assert row["macs"] == numeric.totals.macs and row["params"] == numeric.totals.params


def test_sweep_shows_invalid_sizes_as_rows():
    result = invoke("summary", str(SPECS / "lenet5.yaml"), "--input", "1,28..36..4")
    assert result.exit_code == 0
    assert "invalid: C5" in result.stdout and "[1, 32, 32]" in result.stdout


def test_sizes_command():
    result = invoke("sizes", str(SPECS / "unet.yaml"), "--range", "100..600", "--at", "572", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["smallest"] == 188 and data["pattern"] == "every size from 188"
    assert data["at"][0]["macs"] == 150_428_424_448


@pytest.mark.parametrize("args", [
    ["summary", "lenet5.yaml", "--input", "1,H,"], ["summary", "lenet5.yaml", "--input", "1,2..1"],
    ["summary", "lenet5.yaml", "--input", "1,1..999999999"], ["summary", "lenet5.yaml", "--input", "1,H,3..9"],
    ["summary", "lenet5.yaml", "--input", "1,32..40,32..48"], ["summary", "lenet5.yaml", "--input", "1,-3,4"],
    ["summary", "lenet5.yaml", "--input", "1,H.W,4"], ["sizes", "lenet5.yaml", "--range", "10"],
    ["summary", "lenet5.yaml", "--input", "1," + "9" * 5000 + ",3"], ["summary", "lenet5.yaml", "--input", "1,H" * 3],
    ["summary", "lenet5.yaml", "--input", "1," + "H" * 40 + ",W"], ["sizes", "lenet5.yaml", "--range", "1.." + "9" * 5000],
    ["sizes", "lenet5.yaml", "--range", "0..5"], ["sizes", "lenet5.yaml", "--at", "H"],
    ["sizes", "lenet5.yaml", "--range", "1..9999999"],
])
def test_hostile_sizes_are_usage_errors(args):
    args = [str(SPECS / arg) if arg.endswith(".yaml") else arg for arg in args]
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.stderr.strip()


@pytest.mark.parametrize("output_format", ["table", "markdown"])
def test_the_table_says_where_the_formulas_hold(output_format):
    result = invoke("summary", str(SPECS / "lenet5.yaml"), "--input", "1,H,W", "--format", output_format)
    assert result.exit_code == 0
    assert "Valid where: H ≥ 32 (C5), W ≥ 32 (C5)" in result.stdout
