"""Terminal safety and the command line's edges: control characters never reach the
terminal raw, echoed values are capped, `check` does not follow symlinks out of a folder
or open FIFOs, a closed or full stdout ends cleanly, rounded `expect:` amounts, and the
smaller fixes (JSON --depth, --set with the spec's own value, `layers`, hints)."""
from __future__ import annotations

import json
import os
import pty
import re
import shlex
import subprocess
import sys

import pytest

import cnncalc
from cnncalc.cli import app
from cnncalc.diagnostics import Location, SpecError
from cnncalc.amounts import MAX_AMOUNT_CHARS, parse_amount

from helpers import ROOT, SPECS, cli_runner, write_spec

RESNET = str(SPECS / "resnet50.yaml")
LENET = str(SPECS / "lenet5.yaml")
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")  # what must never be printed

SMALL = """\
input: [3, 8, 8]
layers:
  - {name: conv, type: conv2d, out_channels: 4, kernel_size: 3}
  - {type: relu}
"""


def invoke(*args: str):
    result = cli_runner().invoke(app, list(args))
    assert "Traceback" not in result.stdout + result.stderr
    return result


def process(*args: str, stdout=subprocess.PIPE, env=None):
    return subprocess.run([sys.executable, "-m", "cnncalc", *args], cwd=ROOT, env={**os.environ, **(env or {})},
                          timeout=120, stdout=stdout, stderr=subprocess.PIPE, text=True)


def write(tmp_path, text: str, name: str = "spec.yaml") -> str:
    return str(write_spec(tmp_path, text, name))


# --- expect amounts -----------------------------------------------------------------------

def test_amount_with_thousands_of_digits_is_a_clean_error(tmp_path):
    with pytest.raises(SpecError, match=f"at most {MAX_AMOUNT_CHARS} characters"):
        parse_amount("1" * 5000, Location(), "params")
    spec = write(tmp_path, SMALL + f"expect: {{params: '{'1' * 5000}'}}\n")
    for command in ("summary", "check"):
        result = invoke(command, spec)
        assert result.exit_code == 2, result.stdout + result.stderr
        assert "at most 64 characters" in result.stdout + result.stderr
        assert len(result.stdout + result.stderr) < 1500


def test_rounded_amount_matches_what_rounds_to_it():
    rounded = parse_amount("4.09G", Location(), "macs")
    assert (rounded.low, rounded.high, rounded.value) == (4_085_000_000, 4_094_999_999, 4_090_000_000)
    assert rounded.matches(4_089_184_256) and rounded.matches(4_085_000_000) and rounded.matches(4_094_999_999)
    assert not rounded.matches(4_084_999_999) and not rounded.matches(4_095_000_000)
    assert (parse_amount("25.6M", Location(), "x").low, parse_amount("25.6M", Location(), "x").high) == \
        (25_550_000, 25_649_999)
    assert parse_amount("4G", Location(), "x").matches(3_500_000_000)
    assert not parse_amount("4G", Location(), "x").matches(4_500_000_000)
    for exact in ("60,840", 60840, "60_840", "60840"):
        amount = parse_amount(exact, Location(), "params")
        assert amount.matches(60840) and not amount.matches(60841) and not amount.matches(60839)


def test_readme_example_macs_4_09G_holds_for_resnet50(tmp_path):
    text = open(RESNET).read().split("expect:")[0]
    met = invoke("summary", write(tmp_path, text + "expect: {macs: 4.09G, params: 25.6M}\n"), "-f", "json")
    assert met.exit_code == 0, met.stdout + met.stderr
    outcomes = json.loads(met.stdout)["expect"]
    assert outcomes[0]["expected"] == 4_090_000_000 and outcomes[0]["expected_range"] == [4_085_000_000,
                                                                                          4_094_999_999]
    missed = invoke("summary", write(tmp_path, text + "expect: {macs: 4.08G}\n"))
    assert missed.exit_code == 1
    assert "macs: expected 4.08G (≈ 4,075,000,000–4,084,999,999), got 4,089,184,256" in missed.stdout
    # a budget keeps meaning "at most the written amount"
    assert invoke("summary", write(tmp_path, text + "expect: {max_macs: 4.09G}\n")).exit_code == 0
    assert invoke("summary", write(tmp_path, text + "expect: {max_macs: 4.08G}\n")).exit_code == 1


def test_update_expect_keeps_a_rounded_amount_that_holds(tmp_path):
    text = open(RESNET).read().split("expect:")[0] + "expect:\n  macs: 4.09G\n"
    spec = write(tmp_path, text)
    assert invoke("check", "--update-expect", spec).exit_code == 0
    assert open(spec).read() == text


# --- control characters and long values ----------------------------------------------------

NAMED = SMALL.replace("input:", 'name: "net\\e[31mred\\u202eevil\\x9b2J"\ninput:', 1)
BLOCK = NAMED + """\
  - {name: tail, block: "blk\\e[2J\\u202e"}
blocks:
  "blk\\e[2J\\u202e": {args: {}, layers: [{type: relu}]}
"""


@pytest.mark.parametrize("output_format", ["table", "markdown", "csv", "json"])
def test_control_characters_escaped_in_every_format(tmp_path, output_format):
    result = invoke("summary", write(tmp_path, BLOCK), "--depth", "1", "--format", output_format)
    assert result.exit_code == 0, result.stderr
    assert not RAW.search(result.stdout)
    if output_format != "json":  # the folded row's type is the block's name
        assert "blk\\x1b[2J\\u202e" in result.stdout
    if output_format in ("table", "markdown"):
        assert "net\\x1b[31mred\\u202eevil\\x9b2J" in result.stdout
    if output_format == "json":  # the data itself is intact
        data = json.loads(result.stdout)
        assert data["name"] == "net\x1b[31mred\u202eevil\x9b2J" and data["layers"][-1]["type"] == "blk\x1b[2J\u202e"


def test_control_characters_escaped_in_errors_source_lines_and_check(tmp_path):
    spec = str(tmp_path / "raw.yaml")
    with open(spec, "w", encoding="utf-8") as handle:
        handle.write("input: [3, 8, 8]\nlayers: # \x1b[2J\x1b]0;pwned\x07\u202e x\n  - {type: relu}\n")
    for result in (invoke("summary", spec), invoke("check", spec)):
        assert result.exit_code == 2
        assert not RAW.search(result.stdout + result.stderr)
    shown = invoke("summary", spec).stderr.splitlines()
    assert "\\x1b[2J\\x1b]0;pwned\\x07\\u202e x" in shown[1]
    # the caret stays under the offending character once it is escaped
    assert shown[2].index("^") == shown[1].index("\\x1b")


def test_control_characters_in_a_type_string_and_verify(tmp_path):
    bad = write(tmp_path, SMALL.replace("type: relu", 'type: "relu\\e[2J\\u202e"'), "bad.yaml")
    result = invoke("summary", bad)
    assert result.exit_code == 2 and not RAW.search(result.stderr) and "relu\\x1b[2J\\u202e" in result.stderr
    verified = invoke("verify", write(tmp_path, NAMED))
    assert verified.exit_code == 0, verified.stderr
    assert not RAW.search(verified.stdout) and "net\\x1b[31mred" in verified.stdout


def test_a_huge_value_is_cut_in_messages(tmp_path):
    spec = write(tmp_path, "input: [3, 8, 8]\nlayers:\n  - {type: " + "b" * 2_000_000 + "}\n")
    for command in ("summary", "check"):
        result = invoke(command, spec)
        assert result.exit_code == 2
        out = result.stdout + result.stderr
        assert len(out) < 3000, len(out)
        assert re.search(r"b…\(2,000,0\d\d characters\)", out)


def test_a_file_that_is_not_a_mapping_echoes_one_short_line(tmp_path):
    secret = write(tmp_path, "first line of a secret\nsecond line SECRET2\nthird line SECRET3\n", "notes.yaml")
    result = invoke("summary", secret)
    assert result.exit_code == 2
    assert "SECRET2" not in result.stderr and "SECRET3" not in result.stderr
    assert "a spec must be a mapping" in result.stderr


# --- check: folders -----------------------------------------------------------------------

def test_symlink_out_of_the_folder_is_not_followed(tmp_path):
    (tmp_path / "private.txt").write_text("password: hunter2-TOPSECRET\n")
    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "good.yaml").write_text(SMALL)
    os.symlink(tmp_path / "private.txt", folder / "leak.yaml")
    os.symlink(folder / "good.yaml", folder / "alias.yaml")  # inside the folder: followed
    result = invoke("check", str(folder))
    assert result.exit_code == 2
    assert "TOPSECRET" not in result.stdout + result.stderr
    assert "leak.yaml: error: symlink points outside the checked folder; not followed" in result.stdout
    assert "alias.yaml" not in result.stdout.split("FAILED")[0].replace("leak.yaml", "")
    assert "2 ok" in result.stdout


def test_fifo_in_a_folder_is_reported_not_opened(tmp_path):
    (tmp_path / "good.yaml").write_text(SMALL)
    os.mkfifo(tmp_path / "pipe.yaml")
    result = process("check", str(tmp_path))  # opening the FIFO would hang until the timeout
    assert result.returncode == 2
    assert "pipe.yaml: error: not a regular file" in result.stdout


def test_check_an_empty_folder_says_there_are_no_spec_files(tmp_path):
    result = invoke("check", str(tmp_path))
    assert result.exit_code == 2
    assert "no spec files (.yaml/.yml) under this folder" in result.stdout
    assert "is a directory" not in result.stdout


def test_update_hint_quotes_the_path(tmp_path):
    folder = tmp_path / "my specs"
    folder.mkdir()
    spec = write(folder, SMALL + "expect: {params: 1}\n", "réseau.yaml")
    result = invoke("check", spec)
    assert result.exit_code == 1
    assert f"cnncalc check --update-expect {shlex.quote(spec)}" in result.stdout
    assert shlex.split(result.stdout.split("accept it with: ")[1].splitlines()[0])[-1] == spec


# --- closed and full stdout -----------------------------------------------------------------

@pytest.mark.parametrize("args, code", [
    (["summary", RESNET], 0), (["summary", RESNET, "-f", "json"], 0), (["check", str(SPECS)], 0),
    (["verify", LENET], 0), (["layers"], 0), (["summary", "FAILING"], 1)])
def test_closed_stdout_ends_quietly_with_the_command_code(tmp_path, args, code):
    if args[-1] == "FAILING":
        args = ["summary", write(tmp_path, SMALL + "expect: {params: 1}\n")]
    child = subprocess.Popen([sys.executable, "-m", "cnncalc", *args], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    child.stdout.close()  # the reader is gone before anything is written, as with `| true`
    stderr = child.stderr.read().decode()
    assert child.wait(timeout=120) == code
    assert stderr == ""


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["summary", LENET], ["check", LENET], ["layers"], ["--version"]])
def test_full_disk_is_one_line_and_exit_2(args):
    with open("/dev/full", "w") as full:
        result = process(*args, stdout=full)
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["error: cannot write the output: No space left on device"]


# --- summary, layers, build hints -------------------------------------------------------------

def test_json_honours_depth():
    folded = json.loads(invoke("summary", RESNET, "--depth", "1", "-f", "json").stdout)
    full = json.loads(invoke("summary", RESNET, "-f", "json").stdout)
    names = [layer["name"] for layer in folded["layers"]]
    assert names == ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool",
                     "flatten", "fc"]
    assert folded["totals"] == full["totals"]
    assert sum(layer["macs"] for layer in folded["layers"]) == full["totals"]["macs"]
    csv_rows = invoke("summary", RESNET, "--depth", "1", "-f", "csv").stdout.splitlines()[1:]
    assert [row.split(",")[0] for row in csv_rows] == names


def test_set_to_the_spec_value_still_checks_expect():
    same = invoke("summary", RESNET, "--set", "width=64", "--input", "3,224,224", "-f", "json")
    assert same.exit_code == 0 and json.loads(same.stdout)["expect"] and same.stderr == ""
    changed = invoke("summary", RESNET, "--set", "width=32", "--input", "3,224,224", "-f", "json")
    assert "expect" not in json.loads(changed.stdout)
    assert changed.stderr.strip() == "note: expect: not checked: --set width=32 changes the network"


def test_layers_shows_required_arguments_as_required():
    out = process("layers", env={"COLUMNS": "200"}).stdout
    assert "=None" not in out
    assert "kernel_size (required)" in out and "out_features (required)" in out
    assert re.search(r"out_channels: number of output channels \(rows of 'connections' if omitted\)", out)


def test_unknown_layer_type_gets_no_misleading_suggestion(tmp_path):
    result = invoke("summary", write(tmp_path, SMALL.replace("type: relu", "type: upsampling")))
    assert result.exit_code == 2
    assert "subsampling" not in result.stderr.split("hint:")[1]
    assert "did you mean 'upsample'?" in result.stderr
    result = invoke("summary", write(tmp_path, SMALL.replace("type: relu", "type: lstm")))
    assert result.exit_code == 2 and "no 'lstm' layer type yet" in result.stderr


def test_parenthesised_list_gets_a_hint(tmp_path):
    spec = SMALL.replace("kernel_size: 3}", "kernel_size: 3, stride: (2, 2)}")
    result = invoke("summary", write(tmp_path, spec))
    assert result.exit_code == 2
    assert "write lists as [2, 2], not (2, 2)" in result.stderr


# --- verify's table on narrow terminals ---------------------------------------------------------

NUMBERS = re.compile(r"\d[\d,]*\d|\d")


@pytest.mark.parametrize("columns", [80, 60])
def test_verify_table_fits_the_terminal_without_cutting_numbers(columns):
    result = process("verify", RESNET, env={"COLUMNS": str(columns)})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= columns
    network = cnncalc.summarize(cnncalc.load(RESNET))
    body = result.stdout
    for figure in (network.totals.params, network.totals.macs, network.layer("conv1").macs,
                   network.layer("layer4.2.conv2").macs):
        assert f"{figure:,}" in body
    assert "…" not in "".join(line for line in lines if "│" in line)


def test_verify_table_on_a_real_terminal_honours_columns():
    primary, secondary = pty.openpty()
    child = subprocess.Popen([sys.executable, "-m", "cnncalc", "verify", LENET], cwd=ROOT, stdout=secondary,
                             stderr=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "80", "NO_COLOR": "1"})
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert child.wait(timeout=120) == 0
    os.close(primary)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode())
    lines = [line.rstrip("\r") for line in text.splitlines()]
    assert max(len(line.rstrip()) for line in lines) <= 80
    assert "117,600" in text and "60,840" in text and "…" not in text


def test_a_long_source_line_is_shown_around_the_column(tmp_path):
    spec = write(tmp_path, "input: [3, 8, 8]\nlayers:\n  - {name: n," + " " * 3000 + "type: relu, bogus: 1}\n")
    result = invoke("summary", spec)
    assert result.exit_code == 2
    line, caret = result.stderr.splitlines()[1:3]
    assert len(line) < 250
    assert line[caret.index("^"):].startswith("bogus: 1}")


def test_shown_escapes_controls_and_cuts_once():
    from cnncalc.diagnostics import ECHO_LIMIT, MESSAGE_LIMIT, shown

    assert shown("a\x1bb\x07\x7f\x85\u202e\u2066\n\t") == "a\\x1bb\\x07\\x7f\\x85\\u202e\\u2066\\n\\t"
    assert shown("réseau ✓ 名前") == "réseau ✓ 名前"  # printable text is left alone
    for size in (ECHO_LIMIT + 40, 5000, 3_000_000):
        once = shown(f"name '{'x' * size}' and " + "more words " * 1000)
        assert len(once) <= MESSAGE_LIMIT + 40 and f"…({size + 2:,} characters)" in once  # the word includes its quotes
        assert shown(once) == once  # a message made safe twice (error, then check's Problem) is unchanged


def test_context_added_to_an_error_later_is_made_safe_too(tmp_path):
    """--set NAME=VALUE is echoed in front of the message after the error was raised."""
    spec = write(tmp_path, "vars: {width: 4}\ninput: [3, 8, 8]\nlayers:\n  - {type: conv2d, out_channels: width, kernel_size: 3}\n")
    for value in ("\u202e3", "\x1b[31m3", "\x003"):
        result = invoke("summary", spec, "--set", f"width={value}")
        assert result.exit_code == 2
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f\u202e]", result.stderr), repr(result.stderr)
        assert "--set width=" in result.stderr


def test_a_tuple_in_block_style_gets_the_list_hint(tmp_path):
    spec = write(tmp_path, "input: [3, 8, 8]\nlayers:\n  - type: conv2d\n    out_channels: 2\n"
                           "    kernel_size: 3\n    stride: (2, 2)\n")
    result = invoke("summary", spec)
    assert result.exit_code == 2 and "hint: write lists as [2, 2], not (2, 2)" in result.stderr
    assert ":6:13:" in result.stderr


def test_an_expected_shape_of_more_axes_than_any_output_is_refused_without_echoing_it(tmp_path):
    spec = write(tmp_path, "input: [3, 8, 8]\nlayers: [{type: relu}]\nexpect:\n  output_shape: ["
                           + ", ".join(["1"] * 10_000) + "]\n")
    result = invoke("summary", spec)
    assert result.exit_code == 2 and "has 10,000 axes; an output has at most 8" in result.stderr
    assert max(len(line) for line in (result.stdout + result.stderr).splitlines()) < 2_500


def test_other_tools_spellings_point_at_types_that_exist():
    from cnncalc.language.expansion import NOT_YET, SPELLINGS
    from cnncalc.layers import REGISTRY

    assert set(SPELLINGS.values()) <= set(REGISTRY) and not (set(SPELLINGS) | NOT_YET) & set(REGISTRY)
