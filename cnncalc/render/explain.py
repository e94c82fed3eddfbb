"""`cnncalc explain`: each figure's rule, with numbers, and the result, as text, Markdown,
LaTeX or JSON."""
from __future__ import annotations

from ..diagnostics import safe
from . import exact, json_text


def show(stream, output_format: str, explanations: list) -> None:
    stream.write(FORMATS[output_format](explanations))


def _steps(line) -> list:
    """The rule, the rule with numbers and the result, without repeating a step that
    reads the same as the one before (a count that is simply an argument: C_out = 16)."""
    steps = [line.symbols]
    for step in (line.numbers, exact(line.result)):
        if step.replace(",", "") != steps[-1].replace(",", ""):
            steps.append(step)
    return steps


def to_text(explanations: list) -> str:
    out = []
    for explanation in explanations:
        out.append(f"{safe(explanation.layer)} ({safe(explanation.type)})")
        width = max(len(line.figure) for line in explanation.lines)
        for line in explanation.lines:
            steps = _steps(line)
            out.append(f"  {line.figure.ljust(width)} = {steps[0]}")
            out += [f"  {' ' * width} = {step}" for step in steps[1:]]
        out.append("")
    return "\n".join(out)


def to_markdown(explanations: list) -> str:
    out = []
    for explanation in explanations:
        out += [f"### {safe(explanation.layer)} ({safe(explanation.type)})", "",
                "| figure | rule | with the numbers | result |", "|---|---|---|--:|"]
        out += [f"| {line.figure} | `{line.symbols}` | `{line.numbers}` | {exact(line.result)} |"
                for line in explanation.lines]
        out.append("")
    return "\n".join(out)


def to_latex(explanations: list) -> str:
    """One align* environment per layer: figure = rule = numbers = result."""
    out = []
    for explanation in explanations:
        name = _latex_text(safe(explanation.layer))
        out += [f"% {name} ({safe(explanation.type)})", "\\begin{align*}"]
        rows = [f"\\text{{{_latex_text(line.figure)}}} &= {line.latex_symbols} = {line.latex_numbers} = "
                f"{line.result}" for line in explanation.lines]
        out.append(" \\\\\n".join(rows))
        out += ["\\end{align*}", ""]
    return "\n".join(out)


def _latex_text(text: str) -> str:
    """Text for \\text{}: LaTeX's special characters escaped."""
    for special in "\\{}$&#^_%~":
        text = text.replace(special, "\\" + special if special not in "\\^~" else "")
    return text


def to_json(explanations: list) -> str:
    return json_text({"layers": [explanation.to_dict() for explanation in explanations]}) + "\n"


FORMATS = {"text": to_text, "markdown": to_markdown, "latex": to_latex, "json": to_json}
