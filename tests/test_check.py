"""`cnncalc check`: many files in one process, compiler-style problems, a verdict,
--format json, exit codes 0/1/2, --update-expect and --verify."""
from __future__ import annotations

import json
import os
import textwrap

import pytest

from cnncalc.check import check_files

from helpers import SPECS, ZOO_FILES, write_spec
from helpers import invoke_without_crash as invoke

GOOD = """\
name: small  # a tiny network
input: [3, 16, 16]
layers:
  - {name: conv, type: conv2d, out_channels: 8, kernel_size: 3, padding: 1}
  - {name: relu, type: relu}
  - {type: flatten}
  - {name: fc, type: linear, out_features: 10}

expect:
  params: 20,714     # 224 + 20,490
  macs: 75,776
  output_shape: [10]
  max_params: 1M
  layers:
    conv: {params: 224, output_shape: [8, 16, 16]}  # 8 x (27 + 1)
"""


def write(tmp_path, name: str, text: str) -> str:
    return str(write_spec(tmp_path, textwrap.dedent(text), name))


def position(text: str, needle: str) -> str:
    pos = text.index(needle)
    return f"{text.count(chr(10), 0, pos) + 1}:{pos - text.rfind(chr(10), 0, pos)}"


def test_every_zoo_spec_checks_in_one_call():
    result = invoke("check", *ZOO_FILES)
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1].startswith(f"ok: {len(ZOO_FILES)} files checked")


def test_a_directory_stands_for_its_specs():
    report = check_files([str(SPECS)])
    assert [r.path for r in report.results] == ZOO_FILES
    assert report.exit_code == 0


def test_good_spec_passes_with_one_line_verdict(tmp_path):
    path = write(tmp_path, "good.yaml", GOOD)
    result = invoke("check", path)
    assert result.exit_code == 0, result.output
    assert result.output == "ok: 1 file checked, 6 expectations met\n"


def test_wrong_figure_fails_at_its_line_with_a_hint(tmp_path):
    text = GOOD.replace("params: 20,714", "params: 20,000")
    path = write(tmp_path, "wrong.yaml", text)
    result = invoke("check", path)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == f"{path}:{position(text, '20,000')}: error: params: expected 20,000, got 20,714"
    assert lines[1].startswith("  hint:") and "--update-expect" in lines[1]
    assert lines[-1].startswith("FAILED: 1 file checked: 1 failed (1 expectation not met)")


def test_per_layer_and_shape_expectations(tmp_path):
    text = GOOD.replace("conv: {params: 224, output_shape: [8, 16, 16]}", "conv: {params: 225, output_shape: [8, 15, 16]}")
    path = write(tmp_path, "layer.yaml", text)
    result = invoke("check", path)
    assert result.exit_code == 1
    assert f"{path}:{position(text, '225')}: error: layers.conv.params: expected 225, got 224" in result.output
    assert "layers.conv.output_shape: expected [8, 15, 16], got [8, 16, 16]" in result.output


def test_budget_overrun_fails_without_update_hint(tmp_path):
    text = GOOD.replace("max_params: 1M", "max_params: 20K")
    path = write(tmp_path, "budget.yaml", text)
    result = invoke("check", path)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == f"{path}:{position(text, '20K')}: error: max_params: 20,714 exceeds the budget of 20,000"
    assert "hint" not in lines[1]


@pytest.mark.parametrize("key,value", [("max_macs", "75,000"), ("max_activation_memory", "1KB"),
                                       ("max_flops", 100), ("max_param_memory", "1KiB")])
def test_every_budget_key_can_fail(tmp_path, key, value):
    path = write(tmp_path, "b.yaml", GOOD.replace("max_params: 1M", f"{key}: {value}"))
    result = invoke("check", path)
    assert result.exit_code == 1 and f"error: {key}: " in result.output and "exceeds the budget" in result.output


def test_invalid_spec_is_exit_2_one_line(tmp_path):
    text = GOOD.replace("kernel_size: 3", "kernel_size: 30")
    path = write(tmp_path, "bad.yaml", text)
    result = invoke("check", path)
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if "error:" in line]
    assert len(errors) == 1 and errors[0].startswith(f"{path}:{position(text, '{name: conv')}: error: layer 'conv'")
    assert result.output.splitlines()[-1].startswith("FAILED: 1 file checked: 1 invalid")


def test_unknown_expect_key_is_invalid(tmp_path):
    path = write(tmp_path, "key.yaml", GOOD.replace("max_params:", "max_parms:"))
    result = invoke("check", path)
    assert result.exit_code == 2
    assert "unknown expect key 'max_parms'" in result.output and "did you mean 'max_params'" in result.output


def test_many_files_report_every_problem_and_the_worst_exit_code(tmp_path):
    good = write(tmp_path, "a.yaml", GOOD)
    failed = write(tmp_path, "b.yaml", GOOD.replace("macs: 75,776", "macs: 1"))
    invalid = write(tmp_path, "c.yaml", "input: [3]\nlayers: []\n")
    missing = str(tmp_path / "nope.yaml")
    result = invoke("check", good, failed, invalid, missing)
    assert result.exit_code == 2
    assert f"{failed}:" in result.output and f"{invalid}:" in result.output and f"{missing}: error: file not found" in result.output
    assert result.output.splitlines()[-1] == ("FAILED: 4 files checked: 2 invalid, 1 failed "
                                              "(1 expectation not met), 1 ok")
    assert invoke("check", good, failed).exit_code == 1


def test_json_format_for_tools(tmp_path):
    good = write(tmp_path, "a.yaml", GOOD)
    failed = write(tmp_path, "b.yaml", GOOD.replace("macs: 75,776", "macs: 1"))
    result = invoke("check", "--format", "json", good, failed)
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["exit_code"] == 1 and data["counts"] == {"ok": 1, "failed": 1, "invalid": 0, "internal": 0}
    first, second = data["files"]
    assert first["status"] == "ok" and first["totals"]["params"] == 20714 and first["output_shape"] == [10]
    assert second["status"] == "failed"
    [problem] = second["problems"]
    assert problem["kind"] == "expect" and problem["file"] == failed and problem["line"] == 11
    assert {"what": "macs", "expected": 1, "actual": 75776, "ok": False}.items() <= second["expect"][1].items()


def test_json_format_for_an_invalid_spec(tmp_path):
    path = write(tmp_path, "bad.yaml", "input: [3]\nlayers:\n  - {type: nope}\n")
    data = json.loads(invoke("check", "-f", "json", path).output)
    [problem] = data["files"][0]["problems"]
    assert data["exit_code"] == 2 and problem["line"] == 3 and "unknown layer type 'nope'" in problem["message"]


def test_no_colour_when_piped(tmp_path):
    path = write(tmp_path, "b.yaml", GOOD.replace("macs: 75,776", "macs: 1"))
    assert "\x1b[" not in invoke("check", path).output


# --- --update-expect ---------------------------------------------------------------

def test_update_expect_rewrites_figures_keeping_comments_and_layout(tmp_path):
    text = (GOOD.replace("params: 20,714", "params: 1,000").replace("macs: 75,776", "macs: 75776")
            .replace("conv: {params: 224, output_shape: [8, 16, 16]}", "conv: {params: 1, output_shape: [1]}"))
    path = write(tmp_path, "snap.yaml", text)
    result = invoke("check", "--update-expect", path)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"{path}: updated 3 expect figures"  # macs was right
    assert open(path).read() == GOOD.replace("macs: 75,776", "macs: 75776")  # style of each value kept
    assert invoke("check", path).exit_code == 0


def test_update_expect_leaves_a_correct_file_byte_for_byte(tmp_path):
    for spec in ZOO_FILES:
        copy = tmp_path / os.path.basename(spec)
        copy.write_bytes(open(spec, "rb").read())
    result = invoke("check", "--update-expect", str(tmp_path))
    assert result.exit_code == 0 and "updated" not in result.output
    for spec in ZOO_FILES:
        assert (tmp_path / os.path.basename(spec)).read_bytes() == open(spec, "rb").read()


def test_update_expect_adds_a_block_where_there_is_none(tmp_path):
    text = GOOD.split("\n\nexpect:")[0] + "\n"
    path = write(tmp_path, "none.yaml", text)
    assert invoke("check", "--update-expect", path).exit_code == 0
    assert open(path).read() == text + "\nexpect:\n  params: 20,714\n  macs: 75,776\n  output_shape: [10]\n"


def test_update_expect_keeps_budgets_and_still_reports_them(tmp_path):
    text = GOOD.replace("max_params: 1M", "max_params: 20K").replace("params: 20,714", "params: 5,000")
    path = write(tmp_path, "budget.yaml", text)
    result = invoke("check", "--update-expect", path)
    assert result.exit_code == 1
    assert "max_params: 20,714 exceeds the budget of 20,000" in result.output
    assert "max_params: 20K" in open(path).read() and "  params: 20,714" in open(path).read()


def test_update_expect_with_only_budgets_adds_figures(tmp_path):
    text = GOOD.split("expect:")[0] + "expect:\n  max_params: 1M  # our limit\n"
    path = write(tmp_path, "b.yaml", text)
    assert invoke("check", "--update-expect", path).exit_code == 0
    updated = open(path).read()
    assert updated.startswith(text) and updated.endswith("  params: 20,714\n  macs: 75,776\n  output_shape: [10]\n")


def test_update_expect_never_touches_an_invalid_spec(tmp_path):
    text = GOOD.replace("kernel_size: 3", "kernel_size: 30").replace("params: 20,714", "params: 1")
    path = write(tmp_path, "bad.yaml", text)
    result = invoke("check", "--update-expect", path)
    assert result.exit_code == 2 and open(path).read() == text


def test_update_expect_keeps_crlf_and_block_style(tmp_path):
    text = GOOD.replace("output_shape: [10]", "output_shape:\n    - 9").replace("\n", "\r\n")
    path = tmp_path / "crlf.yaml"
    path.write_bytes(text.encode())
    assert invoke("check", "--update-expect", str(path)).exit_code == 0
    assert path.read_bytes() == text.replace("- 9", "- 10").encode()


# --- --verify ------------------------------------------------------------------------

def test_verify_runs_the_networks(tmp_path):
    path = write(tmp_path, "good.yaml", GOOD)
    result = invoke("check", "--verify", path)
    assert result.exit_code == 0, result.output


def test_verify_disagreement_is_a_failure_at_the_layer(tmp_path, monkeypatch):
    import cnncalc.backend as backend
    from cnncalc.backend.verify import Check, Row

    class Result:
        failures = [Row("conv", "conv2d", Check((8, 16, 16), (8, 16, 16)), Check(224, 200), Check(0, 0), Check(1, 1))]

    monkeypatch.setattr(backend, "verify", lambda network: Result())
    path = write(tmp_path, "good.yaml", GOOD)
    result = invoke("check", "--verify", path)
    assert result.exit_code == 1
    assert (f"{path}:{position(GOOD, '{name: conv')}: error: verify: layer 'conv': "
            "params: rules say 224, the run gave 200") in result.output
    assert result.output.splitlines()[-1] == "FAILED: 1 file checked: 1 failed (1 layer disagrees when run), 0 ok"


def test_update_expect_keeps_comments_around_the_block(tmp_path):
    text = GOOD.replace("layers:\n    conv:", "# budgets above, per-layer below\n  layers:\n    conv:").replace(
        "params: 20,714     #", "params: 1,000     #") + "  # closing note\n\n# about what follows\nname: after\n"
    text = text.replace("name: small  # a tiny network\n", "")
    path = write(tmp_path, "c.yaml", text)
    assert invoke("check", "--update-expect", path).exit_code == 0
    assert open(path).read() == text.replace("params: 1,000     #", "params: 20,714     #")
