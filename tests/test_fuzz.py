"""A few hundred fuzz cases per run through the real commands (benchmarks/fuzz.py runs
10,000 and more): `summary` in every format, `check`, `check --update-expect` on copies,
`verify` under a small `--max-memory`, with hostile flags, YAML 1.1/1.2 ambiguities, scale
specs and file-system objects. Each case must exit 0, 1 or 2, print no traceback and no
raw control character, stay within its time and memory, and `--update-expect` must change
nothing but `expect:`. The cases and the judge live in tests/fuzz_cases.py."""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from cnncalc.check import INTERNAL, check_file
from cnncalc.diagnostics import Diagnostic
from cnncalc.expect import check
from cnncalc.language.build import load
from cnncalc.summary import summarize
from fuzz_cases import (
    CASE_DIR, SECRET, SETUPS, Case, Outcome, command_case, fs_case, judge, run_case, scale_spec, snapshot, spec_bytes,
)

# no shrinking: a failing case is reported as drawn, without minutes of re-running
FUZZ = settings(max_examples=100, deadline=None, database=None, phases=[Phase.generate],
                suppress_health_check=list(HealthCheck))


def _passes(case: Case, tmp_path_factory) -> None:
    outcome = run_case(case, str(tmp_path_factory.mktemp("fuzz")))
    assert not outcome.failures, f"{case!r} -> {outcome.status}: {outcome.failures}"


@settings(FUZZ, max_examples=250)
@given(case=command_case(process_share=40, scale_share=0))
def test_commands_on_fuzz_cases(tmp_path_factory, case):
    _passes(case, tmp_path_factory)


def _update_case(drawn, fmt):
    return Case("update", ["check", "--update-expect", *fmt, f"{CASE_DIR}/spec.yaml"], {"spec.yaml": drawn[0]},
                spec=drawn[1])


@settings(FUZZ, max_examples=100)
@given(case=st.builds(_update_case, spec_bytes(), st.sampled_from([[], ["--format", "json"]])))
def test_update_expect_changes_only_expect(tmp_path_factory, case):
    _passes(case, tmp_path_factory)


def _scale_case(data, command):
    label = "update" if "--update-expect" in command else "summary:json" if "summary" in command else "check:text"
    return Case(label, [*command, f"{CASE_DIR}/spec.yaml"], {"spec.yaml": data}, spec="scale", process=True)


@settings(FUZZ, max_examples=12)
@given(case=st.builds(_scale_case, scale_spec(big=False), st.sampled_from([["summary", "--format", "json"], ["check"],
                                                                 ["check", "--update-expect"]])))
def test_scale_specs_in_a_process(tmp_path_factory, case):
    _passes(case, tmp_path_factory)


@pytest.mark.parametrize("setup", SETUPS)
@settings(FUZZ, max_examples=2)
@given(data=st.data())
def test_file_system_objects(tmp_path_factory, setup, data):
    _passes(data.draw(fs_case(setup)), tmp_path_factory)


@settings(FUZZ, max_examples=100)
@given(case=spec_bytes().map(lambda drawn: Case("library", [], {"spec.yaml": drawn[0]}, spec=drawn[1])))
def test_library_on_fuzz_specs(tmp_path_factory, case):
    """Below the command line: check_file records no internal error, and loading and
    summarising raise nothing but Diagnostic."""
    path = tmp_path_factory.mktemp("fuzz") / "spec.yaml"
    path.write_bytes(case.files["spec.yaml"])
    result = check_file(str(path))
    assert result.status != INTERNAL, result.traceback
    try:
        network = load(str(path))
        check(summarize(network), network.expect)
    except Diagnostic:
        pass


# --- the judge itself: each kind of failure is caught ------------------------------------

def _judged(outcome: Outcome, command: str = "check:text", args=("check", "spec.yaml"), before=None, after=None,
            **case) -> set:
    case = Case(command, list(args), case.pop("files", {"spec.yaml": b""}), **case)
    judge(case, case.args, outcome, before or {}, after or {})
    return {kind for kind, _ in outcome.failures}


def test_the_judge_accepts_a_clean_outcome():
    assert _judged(Outcome(2, "", "spec.yaml:1:1: error: the file is empty\n", 0.01, 0)) == set()


@pytest.mark.parametrize("outcome, kind", [
    (Outcome(3, "", "internal error: KeyError: 'x'", 0.1, 0), "exit-code"),
    (Outcome(None, "", "", 15.0, 0), "hang"),
    (Outcome(1, "", "Traceback (most recent call last):\n  File ...", 0.1, 0), "traceback"),
    (Outcome(0, "layer \x1b[31mred\n", "", 0.1, 0), "control-char"),
    (Outcome(0, "name \u202egnp\n", "", 0.1, 0), "control-char"),
    (Outcome(0, "a\rb\n", "", 0.1, 0), "control-char"),
    (Outcome(0, "ok\n", "", 6.0, 0), "slow"),
    (Outcome(0, "ok\n", "", 0.1, 2 << 30), "memory"),
    (Outcome(2, "", "", 0.1, 0), "silent"),
    (Outcome(2, "", "error: --set x=" + "y" * 30_000, 0.1, 0), "long-line"),
    (Outcome(2, "", f"spec.yaml:1:1: error: {SECRET}", 0.1, 0), "secret-echoed"),
])
def test_the_judge_catches(outcome, kind):
    assert kind in _judged(outcome)


def test_the_judge_catches_a_folder_that_passes_unread():
    kinds = _judged(Outcome(0, "ok: 1 file checked\n", "", 0.1, 0), setup="unreadable_folder", process=True)
    assert kinds == {"unreadable-skipped"}


def test_the_judge_catches_bad_json():
    json_args = ["verify", "s.yaml", "--format", "json"]
    assert "bad-json" in _judged(Outcome(0, "{not json", "", 0.1, 0), "verify", json_args)
    table = json_args + ["--format", "table"]  # the last --format is the one that counts
    assert _judged(Outcome(0, "a table\n", "", 0.1, 0), "verify", table) == set()


def test_the_judge_catches_figures_that_are_not_exact():
    args = ["summary", "s.yaml", "--format", "json"]
    rounded = '{"totals": {"params": 9.223372e18}, "layers": [{"name": "a", "macs": 1}]}'
    assert "inexact" in _judged(Outcome(0, rounded, "", 0.1, 0), "summary:json", args)
    exact = '{"totals": {"params": 9223372032559808512}, "layers": [{"name": "a", "macs": 1}]}'
    assert _judged(Outcome(0, exact, "", 0.1, 0), "summary:json", args) == set()


def test_the_judge_catches_an_update_that_changes_more_than_expect():
    old = b"input: [4]\nlayers: [{type: relu}]\nexpect: {params: 1}\n"
    name = os.path.join("tree", "spec.yaml")
    update = ["check", "--update-expect", "spec.yaml"]
    for new, code in [(b"input: [5]\nlayers: [{type: relu}]\nexpect: {params: 0}\n", 0),
                      (b"input: [4]\r\nlayers: [{type: relu}]\nexpect: {params: 0}\n", 0),
                      (b"\xef\xbb\xbfinput: [4]\nlayers: [{type: relu}]\nexpect: {params: 0}\n", 0),
                      (b"input: [4]\nlayers: [{type: relu}]\nexpect: {params: 0}\n", 2)]:
        kinds = _judged(Outcome(code, "updated\n", "", 0.1, 0), "update", update, {name: (old, 0o644)},
                        {name: (new, 0o644)}, files={"spec.yaml": old})
        assert kinds == {"preservation"}, new
    same = _judged(Outcome(0, "updated\n", "", 0.1, 0), "update", update, {name: (old, 0o644)},
                   {name: (old.replace(b"params: 1", b"params: 0"), 0o644)}, files={"spec.yaml": old})
    assert same == set()


def test_file_system_cases_leave_nothing_behind(tmp_path):
    """run_case removes its folder, even one it made unreadable."""
    case = Case("check:text", ["check", CASE_DIR], {"spec.yaml": b"input: [4]\nlayers: [{type: relu}]\n"},
                setup="unreadable_folder", process=True)
    run_case(case, str(tmp_path))
    assert snapshot(str(tmp_path)) == {} and os.listdir(tmp_path) == []
