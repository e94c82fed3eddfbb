"""`expect:` is read into typed records when the spec is loaded: a mistake in it (a
misspelt key, an amount that is no number) is reported by every command, `summary --set`
too, which does not check the figures. Layer names alone wait for the built network."""
from __future__ import annotations

import pytest

from cnncalc.amounts import Amount
from cnncalc.diagnostics import Location, SpecError
from cnncalc.expect import check
from cnncalc.language.build import loads
from cnncalc.language.expectations import Budget, LayerFigures, OutputShape, Total
from cnncalc.summary import summarize
from helpers import invoke, write_spec

NETWORK = """\
input: [3, 8, 8]
vars: {width: 4}
layers:
  - {name: conv, type: conv2d, out_channels: width, kernel_size: 3}
  - {name: head, type: linear, out_features: 2, when: width > 2}
expect:
"""

MISTAKES = [  # the expect: lines, where the error points, and what it says
    ("  parms: 1\n", (7, 3), "unknown expect key 'parms'", "did you mean 'params'?"),
    ("  params: 12x\n", (7, 11), "expect 'params' must be a number such as 1516, '25.6M' or '1.5GiB', got '12x'",
     None),
    ("  layers:\n    conv: {macs: 1, parms: 2}\n", (8, 21), "unknown expect key 'parms' for layer 'conv'",
     "did you mean 'params'?"),
    ("  layers:\n    conv: {output_shape: 4x6x6}\n", (8, 26),
     "expect 'output_shape' must be a list of integers such as [10], got '4x6x6'", None),
]


@pytest.mark.parametrize("lines, at, message, hint", MISTAKES)
def test_a_mistake_in_expect_is_reported_when_the_spec_is_loaded(lines, at, message, hint):
    with pytest.raises(SpecError) as info:
        loads(NETWORK + lines, "spec.yaml")
    assert info.value.message == message
    assert info.value.loc == Location("spec.yaml", *at)
    assert hint is None and info.value.hint is None or hint in info.value.hint


@pytest.mark.parametrize("lines, at, message, hint", MISTAKES)
def test_summary_with_set_reports_a_mistake_in_expect(tmp_path, lines, at, message, hint):
    """--set changes the network, so the figures are not checked; what is written still is."""
    path = write_spec(tmp_path, NETWORK + lines)
    result = invoke("summary", "--set", "width=8", str(path))
    assert result.exit_code == 2, result.output
    assert f"{path}:{at[0]}:{at[1]}: error: {message}" in result.stderr
    assert result.stdout == ""


def test_summary_with_set_passes_a_valid_expect_unchecked(tmp_path):
    path = write_spec(tmp_path, NETWORK + "  params: 1\n")
    result = invoke("summary", "--set", "width=8", str(path))
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == "note: expect: not checked: --set width=8 changes the network"


def test_records_hold_the_values_and_places_in_the_spec_order():
    network = loads(NETWORK + "  params: 25.6M\n  max_macs: '1,000'\n  output_shape: [4, 6, 2]\n"
                    "  layers:\n    conv: {output_shape: [4, 6, 6], params: 112}\n    head: {}\n"
                    "  macs: 7\n", "spec.yaml")
    at = lambda line, col: Location("spec.yaml", line, col)  # noqa: E731
    assert network.expect == (
        Total("params", Amount(25_600_000, 25_550_000, 25_649_999, "25.6M"), at(7, 11)),
        Budget("max_macs", "macs", 1000, at(8, 13)),
        OutputShape((4, 6, 2), at(9, 17)),
        LayerFigures("conv", (OutputShape((4, 6, 6), at(11, 26)), Total("params", Amount(112, 112, 112, "112"),
                                                                          at(11, 45))), at(11, 5)),
        LayerFigures("head", (), at(12, 5)),
        Total("macs", Amount(7, 7, 7, "7"), at(13, 9)),
    )
    outcomes = check(summarize(network), network.expect)
    assert [outcome.what for outcome in outcomes] == ["params", "max_macs", "output_shape",
                                                      "layers.conv.output_shape", "layers.conv.params", "macs"]
    assert [outcome.loc.line for outcome in outcomes] == [7, 8, 9, 11, 11, 13]
    assert [outcome.ok for outcome in outcomes] == [False, False, True, True, True, False]


def test_no_expect_is_none_and_an_empty_one_holds_nothing():
    assert loads(NETWORK).expect is None
    assert loads(NETWORK + "  {}\n").expect == ()


def test_a_layer_name_is_judged_against_the_built_network():
    """Under --set a `when:` may switch a layer off: its name is no mistake until then."""
    spec = NETWORK + "  layers: {head: {params: 10}}\n"
    assert check(summarize(loads(spec)), loads(spec).expect)[0].what == "layers.head.params"
    network = loads(spec, "spec.yaml", variables={"width": 1})  # head is switched off
    with pytest.raises(SpecError, match="expect names layer 'head', which the spec does not have") as info:
        check(summarize(network), network.expect)
    assert info.value.loc == Location("spec.yaml", 7, 12)
