"""A few hundred fuzz cases per run (benchmarks/fuzz.py runs 10,000 and more): mutated zoo
specs and generated specs never crash `cnncalc check`, never print more than one line per
error, and never take more than a second."""
from __future__ import annotations

import inspect

from hypothesis import HealthCheck, given, settings
from typer.testing import CliRunner

from cnncalc.check import INTERNAL, check_file
from cnncalc.cli import app
from cnncalc.errors import CnncalcError
from cnncalc.spec.build import load
from cnncalc.summary import summarize
from cnncalc.expect import check
from fuzz_cases import MAX_SECONDS, cases, generated_spec, run_case, text_mutation, tree_mutation

_MIX = {"mix_stderr": False} if "mix_stderr" in inspect.signature(CliRunner.__init__).parameters else {}
FUZZ = settings(max_examples=100, deadline=int(MAX_SECONDS * 1000), database=None,
                suppress_health_check=list(HealthCheck))


def _library(data: bytes, path) -> None:
    status, seconds, crash = run_case(data, str(path))
    assert crash is None, crash
    # the layer below check_file: only CnncalcError may escape
    try:
        check(summarize(network := load(str(path))), network.expect)
    except CnncalcError:
        pass


@FUZZ
@given(data=tree_mutation())
def test_tree_mutations_of_the_zoo(tmp_path_factory, data):
    _library(data, tmp_path_factory.mktemp("fuzz") / "spec.yaml")


@FUZZ
@given(data=text_mutation())
def test_text_mutations_of_the_zoo(tmp_path_factory, data):
    _library(data, tmp_path_factory.mktemp("fuzz") / "spec.yaml")


@FUZZ
@given(data=generated_spec())
def test_generated_specs(tmp_path_factory, data):
    _library(data, tmp_path_factory.mktemp("fuzz") / "spec.yaml")


@settings(FUZZ, max_examples=60)
@given(data=cases())
def test_cli_on_fuzz_cases(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "spec.yaml"
    path.write_bytes(data)
    result = CliRunner(**_MIX).invoke(app, ["check", str(path)])
    assert result.exit_code in (0, 1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if "error:" in line]
    if result.exit_code == 2:
        assert len(errors) == 1 and errors[0].startswith(f"{path}"), result.output
    assert check_file(str(path)).status != INTERNAL


@settings(FUZZ, max_examples=60)
@given(data=cases())
def test_update_expect_on_fuzz_cases(tmp_path_factory, data):
    """Whatever --update-expect is given, it raises nothing but CnncalcError, leaves an
    invalid spec alone, and leaves a valid one with every exact figure met."""
    from cnncalc.update_expect import update_file

    path = tmp_path_factory.mktemp("fuzz") / "spec.yaml"
    path.write_bytes(data)
    before = check_file(str(path))
    result, changes = update_file(str(path))
    assert result.status != INTERNAL, result.traceback
    if before.status == "invalid":
        assert changes == 0 and path.read_bytes() == data
    else:
        assert result.status in ("ok", "failed") and not [p for p in result.problems if p.kind == "expect"]
