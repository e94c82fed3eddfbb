"""`cnncalc explain`: each figure's rule in symbols, with numbers, and the result.

Over every zoo spec and every layer, both printed formulas are read back by a parser
written here (not cnncalc's), evaluated (the symbols with the values of each symbol), and
must equal the result, which must equal the summary's figure."""
from __future__ import annotations

import json
import re

import pytest

from cnncalc.explain import explain
from cnncalc.language.build import load
from cnncalc.layers.base import prod
from cnncalc.network import DTYPES
from cnncalc.summary import summarize

from helpers import SPECS, ZOO, invoke

_TOKEN = re.compile(r"\s*(?:(\d+)|([A-Za-z][A-Za-z0-9_]*)|([−+·/()⌊⌋⌈⌉-]))")


def evaluate(text: str, values: dict) -> int:
    """The value of a formula as explain prints it: numbers, names, + − · and ⌊a/b⌋, ⌈a/b⌉."""
    tokens = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        assert match, f"cannot read {text[position:]!r} in {text!r}"
        number, name, symbol = match.groups()
        tokens.append(int(number) if number else ("name", name) if name else symbol.replace("−", "-"))
        position = match.end()
    tokens.append(None)
    at = [0]

    def peek():
        return tokens[at[0]]

    def take(expected=None):
        token = tokens[at[0]]
        assert expected is None or token == expected, f"expected {expected!r}, got {token!r} in {text!r}"
        at[0] += 1
        return token

    def total():
        value = -product() if peek() == "-" and take() else product()
        while peek() in ("+", "-"):
            value = value + product() if take() == "+" else value - product()
        return value

    def product():
        value = atom()
        while peek() == "·":
            take()
            value *= atom()
        return value

    def atom():
        token = take()
        if isinstance(token, int):
            return token
        if isinstance(token, tuple):
            return values[token[1]]
        if token == "(":
            value = total()
            take(")")
            return value
        if token == "-":
            return -atom()
        if token in ("⌊", "⌈"):
            numerator = total()
            take("/")
            denominator = total()
            take("⌋" if token == "⌊" else "⌉")
            return numerator // denominator if token == "⌊" else -(-numerator // denominator)
        raise AssertionError(f"unexpected {token!r} in {text!r}")

    value = total()
    assert peek() is None, f"left over {tokens[at[0]:]} in {text!r}"
    return value


@pytest.mark.parametrize("stem", ZOO)
def test_every_formula_evaluates_to_the_summary_figure(stem):
    network = load(str(SPECS / f"{stem}.yaml"))
    summary = summarize(network, batch=1)
    width = DTYPES[network.dtype]
    for explanation, record in zip(explain(network), summary.layers):
        assert explanation.layer == record.name
        expected = {**{f: v for f, v in zip([l.figure for l in explanation.lines], record.output_shape)},
                    "params": record.params, "MACs": record.macs, "FLOPs": record.flops,
                    "activation memory (B)": prod(record.output_shape) * width}
        if record.buffers:
            expected["buffers"] = record.buffers
        for line in explanation.lines:
            assert line.result == expected[line.figure], (record.name, line)
            assert evaluate(line.numbers, {}) == line.result, (record.name, line.numbers)
            assert evaluate(line.symbols, line.values) == line.result, (record.name, line.symbols)


def test_lenet5_c3_as_the_textbook_derives_it():
    c3 = explain(load(str(SPECS / "lenet5.yaml")), ["C3"])[0]
    lines = {line.figure: line for line in c3.lines}
    assert lines["params"].symbols == "6·(3·k_h·k_w) + 9·(4·k_h·k_w) + 6·k_h·k_w + C_out"
    assert lines["params"].numbers == "6·(3·5·5) + 9·(4·5·5) + 6·5·5 + 16"
    assert lines["params"].result == 1516
    assert lines["H_out"].symbols == "⌊(H + 2·p_h − d_h·(k_h − 1) − 1)/s_h⌋ + 1"
    assert lines["H_out"].numbers == "⌊(14 + 2·0 − 1·(5 − 1) − 1)/1⌋ + 1"
    assert lines["H_out"].result == 10


def _torch_cases():
    import test_layers_torch

    return test_layers_torch.CASES


@pytest.mark.parametrize("case", _torch_cases(), ids=lambda case: case.id)
def test_every_layer_type_explains_its_figures(case, tmp_path):
    """Every case of every layer type (test_layers_torch's, each proven against PyTorch):
    the explained formulas read back to the summary's figures."""
    path = tmp_path / "spec.yaml"
    path.write_text(case.spec())
    network = load(str(path))
    summary = summarize(network)
    explanation = explain(network, [network.nodes[-1].name])[0]
    record = summary.layers[-1]
    figures = {"params": record.params, "MACs": record.macs, "FLOPs": record.flops, "buffers": record.buffers}
    axes = [line for line in explanation.lines if line.figure.endswith("_out")]
    assert [line.result for line in axes] == list(record.output_shape)
    for line in explanation.lines:
        if line.figure in figures:
            assert line.result == figures[line.figure], line
        assert evaluate(line.numbers, {}) == line.result, line.numbers
        assert evaluate(line.symbols, line.values) == line.result, line.symbols


@pytest.mark.parametrize("output_format", ["text", "markdown", "latex", "json"])
def test_every_format_shows_every_figure(output_format):
    result = invoke("explain", str(SPECS / "lenet5.yaml"), "C3", "--format", output_format)
    assert result.exit_code == 0, result.output
    out = result.stdout
    if output_format == "json":
        figures = json.loads(out)["layers"][0]["figures"]
        assert [f["figure"] for f in figures] == ["C_out", "H_out", "W_out", "params", "MACs", "FLOPs",
                                                 "activation memory (B)"]
        assert figures[3]["result"] == 1516 and figures[3]["values"] == {"k_h": 5, "k_w": 5, "C_out": 16}
    else:
        assert "1516" in out.replace(",", "") and "150000" in out.replace(",", "")
    if output_format == "latex":
        assert "\\begin{align*}" in out and "\\left\\lfloor \\frac{H" in out and "\\text{C\\_out}" in out


def test_explain_every_layer_by_default_and_with_batch():
    result = invoke("explain", str(SPECS / "lenet5.yaml"), "--batch", "4", "--format", "json")
    layers = json.loads(result.stdout)["layers"]
    assert len(layers) == len(load(str(SPECS / "lenet5.yaml")).nodes)
    c1 = {f["figure"]: f for f in layers[0]["figures"]}
    assert c1["MACs"]["symbols"] == "H_out·W_out·(C_out·⌊C/g⌋)·(k_h·k_w)·N_batch"
    assert c1["MACs"]["result"] == 4 * 117_600


def test_explain_formulas_of_a_symbolic_input():
    result = invoke("explain", str(SPECS / "lenet5.yaml"), "C1", "--input", "1,H,W", "--format", "json")
    figures = {f["figure"]: f for f in json.loads(result.stdout)["layers"][0]["figures"]}
    assert figures["H_out"]["result"] == "H - 4"


@pytest.mark.parametrize("args", [["nosuch"], ["C3", "C3x"], ["--format", "pdf"], ["--batch", "0"],
                                  ["--input", "1,0,4"], ["\x1b[31mC3"], ["C" * 10000]])
def test_hostile_explain_arguments_are_usage_errors(args):
    result = invoke("explain", str(SPECS / "lenet5.yaml"), *args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "\x1b" not in result.stderr


# --- the README's table of rules is explain's output, so the two cannot drift ----------------

BEGIN, END = "<!-- rules: generated by `python tests/test_explain.py`; test_explain checks it -->", "<!-- rules end -->"


def rules_table() -> str:
    """One row per layer type, from the first of its PyTorch test cases: each figure's rule
    in symbols, as `cnncalc explain` prints it."""
    import tempfile
    from pathlib import Path

    rows = ["| type | output | params | MACs | FLOPs |", "|---|---|---|---|---|"]
    seen = set()
    with tempfile.TemporaryDirectory() as folder:
        for case in _torch_cases():
            if case.type in seen:
                continue
            seen.add(case.type)
            path = Path(folder) / "spec.yaml"
            path.write_text(case.spec())
            network = load(str(path))
            lines = {line.figure: line.symbols for line in explain(network, [network.nodes[-1].name])[0].lines}
            shape = "; ".join(f"{figure} = {rule}" for figure, rule in lines.items() if figure.endswith("_out"))
            cells = [f"`{case.type}`", shape] + [lines[figure] for figure in ("params", "MACs", "FLOPs")]
            rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(sorted(rows[2:], key=str.lower) and rows[:2] + sorted(rows[2:], key=str.lower))


def _readme_rules() -> str:
    from helpers import ROOT

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[start:end].strip()


def test_the_readme_rules_are_explains():
    assert _readme_rules() == rules_table(), "run `python tests/test_explain.py` to regenerate the README's table"


if __name__ == "__main__":  # rewrite the README's generated table of rules
    import sys

    from helpers import ROOT

    sys.path.insert(0, str(ROOT / "tests"))
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    readme.write_text(text[:start] + "\n\n" + rules_table() + "\n\n" + text[end:], encoding="utf-8")
