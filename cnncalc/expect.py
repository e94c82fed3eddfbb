"""`expect:` judged: each of the spec's expected figures and budgets (read at load time by
cnncalc.language.expectations) compared with a summary's figures."""
from __future__ import annotations

from dataclasses import dataclass

from .amounts import Amount, figure_text
from .diagnostics import ECHO_LIMIT, Location, SpecError, did_you_mean, shown
from .language.expectations import LayerFigures


@dataclass
class Outcome:
    what: str  # "params", "max_macs", "layers.C3.params", "output_shape"
    expected: object  # an Amount, a budget's limit (int) or a shape (tuple)
    actual: object
    ok: bool
    loc: Location
    budget: bool = False

    def message(self) -> str:
        what = shown(self.what, ECHO_LIMIT)  # holds a layer name from the spec
        if self.budget:
            verdict = "is within" if self.ok else "exceeds"
            return f"{what}: {figure_text(self.actual)} {verdict} the budget of {figure_text(self.expected)}"
        return f"{what}: expected {figure_text(self.expected)}, got {figure_text(self.actual)}"

    def to_dict(self) -> dict:
        data = {"what": self.what, "expected": _plain(self.expected), "actual": _plain(self.actual),
                "ok": self.ok, "file": self.loc.file, "line": self.loc.line, "col": self.loc.col}
        if isinstance(self.expected, Amount) and self.expected.low != self.expected.high:
            data["expected_range"] = [self.expected.low, self.expected.high]
        return data


def _plain(value):
    if isinstance(value, Amount):
        return value.value
    return list(value) if isinstance(value, tuple) else value


def check(summary, expectations: tuple | None) -> list[Outcome]:
    """Compare a summary with a spec's `expect:` records (Network.expect), in their order.
    A layer the network does not have is a SpecError."""
    if not expectations:
        return []
    network = {**summary.totals.to_dict(), "output_shape": tuple(summary.output_shape)}
    layers = {record.name: record for record in summary.layers}
    outcomes = []
    for expected in expectations:
        if isinstance(expected, LayerFigures):
            record = _layer(layers, expected)
            figures = {**record.to_dict(), "output_shape": tuple(record.output_shape)}
            outcomes += [_outcome(figure, figures, f"layers.{expected.name}.") for figure in expected.figures]
        else:
            outcomes.append(_outcome(expected, network))
    return outcomes


def _outcome(expected, figures: dict, prefix: str = "") -> Outcome:
    actual = figures[expected.figure]
    return Outcome(prefix + expected.what, expected.wanted, actual, expected.met_by(actual), expected.loc,
                   budget=expected.budget)


def _layer(layers: dict, expected: LayerFigures):
    """The summary's record of the layer `expected` names."""
    record = layers.get(expected.name)
    if record is None:
        raise SpecError(f"expect names layer '{expected.name}', which the spec does not have", expected.loc,
                        hint=did_you_mean(expected.name, layers, "layers") if len(layers) < 50
                        else did_you_mean(expected.name, layers))
    return record
