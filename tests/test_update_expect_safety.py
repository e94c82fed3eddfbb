"""`check --update-expect` never loses a byte outside `expect:`, and the YAML reader and the
writer agree: one test per layout that used to break, a property test over generated
specs (block, flow and mixed style, comments, anchors, BOM, LF/CRLF/CR), permissions,
hard links, read-only files and folders, temporary files, and YAML 1.1-vs-1.2 scalars."""
from __future__ import annotations

import codecs
import os
import re
import stat
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnncalc.check import check_file, check_files
from cnncalc.diagnostics import Location, SpecError
from cnncalc.amounts import amount, parse_amount
from cnncalc.language.reader import load_yaml
from cnncalc.update_expect import TEMP_SUFFIX, confirm, update_file, update_files

from helpers import ROOT, write_spec
from helpers import invoke_without_crash as invoke

CONV = "{name: c, type: conv2d, out_channels: 8, kernel_size: 3}"  # on [3, 32, 32]: 224 params, 194,400 MACs
BLOCK = f"input: [3, 32, 32]\nlayers:\n  - {CONV}\n"
# the figures a spec without any gets, inside { } and in block style
FLOW_FIGURES = "params: 224, macs: 194400, output_shape: [8, 30, 30]"
BLOCK_FIGURES = "  params: 224\n  macs: 194,400\n  output_shape: [8, 30, 30]\n"


def spec(tmp_path, text: str, name: str = "s.yaml", *, raw: bytes | None = None) -> str:
    return str(write_spec(tmp_path, raw if raw is not None else text.encode(), name))


def updated(tmp_path, text: str) -> str:
    """The file's text after a successful update (exit 0)."""
    path = spec(tmp_path, text)
    result = invoke("check", "--update-expect", path)
    assert result.exit_code == 0, result.output
    return open(path, newline="").read()


def refused(tmp_path, text: str, why: str) -> str:
    """An update refused with exit 2 and one error line saying `why`; the file untouched."""
    path = spec(tmp_path, text)
    result = invoke("check", "--update-expect", path)
    assert result.exit_code == 2, result.output
    assert re.search(rf"^{re.escape(path)}(:\d+:\d+)?: error: not updated: .*{why}", result.output, re.M)
    assert open(path, newline="").read() == text
    return result.output


def without_expect(text: str) -> dict:
    doc = load_yaml(text)
    doc.pop("expect", None)
    return doc


# --- the layouts of the issue -----------------------------------------------------------

FLOW = ("{name: t, input: [3, 32, 32], layers: [{type: conv2d, out_channels: 8, kernel_size: 3}], "
        "expect: {params: 1}}\n")


def test_one_line_flow_spec_changes_only_the_figure(tmp_path):
    assert updated(tmp_path, FLOW) == FLOW.replace("params: 1}", "params: 224}")


def test_one_line_flow_spec_end_to_end(tmp_path):
    path = spec(tmp_path, FLOW)
    run = subprocess.run([sys.executable, "-m", "cnncalc", "check", "--update-expect", path],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines()[0] == f"{path}: updated 1 expect figure"
    assert open(path).read() == FLOW.replace("params: 1}", "params: 224}")
    again = subprocess.run([sys.executable, "-m", "cnncalc", "check", path], capture_output=True, text=True)
    assert again.returncode == 0, again.stdout


def test_expect_in_the_middle_of_a_multiline_flow_mapping(tmp_path):
    text = ("{name: t,\n expect: {params: 1,  # total\n          macs: 2},\n"
            f" input: [3, 32, 32],\n layers: [{CONV}]}}\n")
    assert updated(tmp_path, text) == text.replace("params: 1,", "params: 224,").replace("macs: 2}", "macs: 194400}")


def test_flow_mapping_without_expect_gets_one_inside_its_braces(tmp_path):
    text = f"{{name: t,\n input: [3, 32, 32],\n layers: [{CONV}]  # the network\n}}\n"
    new = updated(tmp_path, text)
    assert new == text.replace(
        "]  #", f"], expect: {{{FLOW_FIGURES}}}  #")
    assert without_expect(new) == without_expect(text)


def test_flow_mapping_with_a_trailing_comma_or_empty_expect(tmp_path):
    text = f"{{input: [3, 32, 32], layers: [{CONV}],}}\n"
    assert updated(tmp_path, text) == text.replace(
        "],}", f"], expect: {{{FLOW_FIGURES}}},}}")
    text = f"{{input: [3, 32, 32], layers: [{CONV}], expect: {{}}}}\n"
    assert updated(tmp_path, text) == text.replace(
        "expect: {}", f"expect: {{{FLOW_FIGURES}}}")


def test_document_end_marker_is_kept(tmp_path):
    text = f"---\n{BLOCK}...\n# after the document\n"
    assert updated(tmp_path, text) == text.replace(
        "...\n", f"\nexpect:\n{BLOCK_FIGURES}...\n")
    text = f"{BLOCK}expect:\n  params: 1\n...\n"
    assert updated(tmp_path, text) == text.replace("params: 1", "params: 224")


def test_cr_only_line_endings_keep_one_expect(tmp_path):
    text = (BLOCK + "expect:\n  params: 1  # total\n").replace("\n", "\r")
    new = updated(tmp_path, text)
    assert new == text.replace("params: 1", "params: 224")
    assert check_file(spec(tmp_path, new, "again.yaml")).status == "ok"
    text = BLOCK.replace("\n", "\r")  # no expect yet: the new lines end in CR too
    assert updated(tmp_path, text) == text + "\rexpect:\r  params: 224\r  macs: 194,400\r  output_shape: [8, 30, 30]\r"


def test_anchor_defined_in_expect_and_used_outside_is_refused(tmp_path):
    text = f"input: [3, 32, 32]\nexpect:\n  params: &p 1\nvars: {{w: *p}}\nlayers: [{CONV}]\n"
    refused(tmp_path, text, "shares an anchor")


def test_anchor_defined_outside_and_used_in_expect_is_refused(tmp_path):
    text = f"vars: {{w: &w 8}}\n{BLOCK}expect:\n  params: *w\n"
    refused(tmp_path, text, "shares an anchor")
    text = f"description: &figures {{params: 1}}\n{BLOCK}expect: *figures\n"
    refused(tmp_path, text, "shares an anchor")


def test_anchor_inside_expect_only_is_kept(tmp_path):
    text = f"{BLOCK}expect:\n  params: &p 1\n  max_params: *p\n"
    assert updated(tmp_path, text) == text.replace("&p 1", "&p 224")


def test_an_alias_asked_to_hold_two_figures_is_refused(tmp_path):
    two = BLOCK + "  - {name: d, type: conv2d, out_channels: 8, kernel_size: 1}\n"
    refused(tmp_path, two + "expect:\n  layers: {c: &f {params: 1}, d: *f}\n", "one aliased value")


def test_a_block_scalar_figure_is_refused_at_its_line(tmp_path):
    output = refused(tmp_path, BLOCK + "expect:\n  params: |\n    1\n", "block scalar")
    assert "s.yaml:5:11: error: not updated:" in output


def test_the_safety_net_refuses_a_change_outside_expect():
    from cnncalc.language.build import loads
    from cnncalc.summary import summarize

    old = BLOCK + "expect:\n  params: 1\n"
    summary = summarize(loads(old))
    confirm(old, old.replace("params: 1", "params: 224"), summary)
    with pytest.raises(SpecError, match="outside expect"):
        confirm(old, old.replace("params: 1", "params: 224").replace("[3, 32, 32]", "[3, 32, 33]"), summary)
    with pytest.raises(SpecError, match="still not be met"):
        confirm(old, old.replace("params: 1", "params: 225"), summary)
    with pytest.raises(SpecError, match="would not read back"):
        confirm(old, old.replace("params: 1", "params: [224"), summary)


# --- YAML 1.1 (the reader) and 1.2 (other tools) ------------------------------------------

@pytest.mark.parametrize("scalar, message, hint", [
    ("010", "'010' is octal 8 in YAML 1.1 but 10 in YAML 1.2", "write 8 or 10"),
    ("-0_17", "'-0_17' is octal -15 in YAML 1.1 but -17 in YAML 1.2", "write -15 or -17"),
    ("3:44", "'3:44' is the base-60 number 224 in YAML 1.1 but text in YAML 1.2", "write 224, or quote '3:44'"),
    ("1:30.5", "'1:30.5' is the base-60 number 90.5 in YAML 1.1", "write 90.5"),
    ("!!int 1:00", "'1:00' is the base-60 number 60", "write 60"),
])
def test_numbers_the_two_yaml_versions_read_differently_are_refused(scalar, message, hint):
    with pytest.raises(SpecError) as error:
        load_yaml(f"a: {scalar}\n", "s.yaml")
    assert error.value.message.startswith(message) and hint in error.value.hint
    assert (error.value.loc.line, error.value.loc.col) == (1, 4)


@pytest.mark.parametrize("scalar, value", [("'010'", "010"), ("10", 10), ("0", 0), ("00", 0), ("0x1F", 31),
                                           ("25_557_032", 25_557_032), ("'3:44'", "3:44"), ("yes", True)])
def test_numbers_both_versions_agree_on_are_read(scalar, value):
    assert load_yaml(f"a: {scalar}\n")["a"] == value


@pytest.mark.parametrize("scalar", [".nan", ".NaN", "-.inf", ".inf", "1.5", "1.0e+3"])
def test_floats_are_read_whatever_their_value(scalar):
    """NaN is not equal to itself: the leading-zero check must not take it for octal."""
    assert repr(load_yaml(f"a: {scalar}\n")["a"]) == repr(float(scalar.lower().replace(".nan", "nan").replace(".inf", "inf")))


@pytest.mark.parametrize("scalar, message", [
    ("!!bool maybe", "invalid value for !!bool: 'maybe'"),
    ("!!int ''", "invalid value for !!int: ''"),
    ("!!float ''", "invalid value for !!float: ''"),
    ("!!map x", "the YAML tag '!!map' needs a mapping, not a plain value"),
    ("!!seq x", "the YAML tag '!!seq' needs a list, not a plain value"),
])
def test_explicit_tags_with_bad_values_are_spec_errors(scalar, message):
    with pytest.raises(SpecError) as error:
        load_yaml(f"a: {scalar}\n")
    assert error.value.message == message


@pytest.mark.parametrize("text", [
    BLOCK + "expect:\n  params: 010\n",
    BLOCK + "expect:\n  params: 3:44\n",
    BLOCK.replace("kernel_size: 3", "kernel_size: !!bool maybe") + "expect:\n  params: 1\n",
])
def test_yaml_1_1_surprises_are_exit_2_and_the_file_is_left_alone(tmp_path, text):
    path = spec(tmp_path, text)
    result = invoke("check", "--update-expect", path)
    assert result.exit_code == 2, result.output
    assert [line for line in result.output.splitlines() if "error:" in line][0].startswith(f"{path}:")
    assert open(path).read() == text


@pytest.mark.parametrize("expect", ["expect:\n  params: 1\n", "expect:\n  layers:\n    yes: {params: 1}\n"])
def test_a_layer_named_yes_is_read_alike_by_checker_and_writer(tmp_path, expect):
    """`yes` is true to YAML 1.1: whatever the checker makes of it, the update agrees with
    it (it used to crash with exit 3): refused and untouched, or written and then met."""
    text = BLOCK.replace("name: c", "name: yes") + expect
    path = spec(tmp_path, text)
    result = invoke("check", "--update-expect", path)
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        assert open(path).read() == text
    else:
        assert invoke("check", path).exit_code == 0


def test_underscores_are_kept(tmp_path):
    text = f"{BLOCK}expect:\n  params: 1_000\n  macs: 1_000_000  # underscores: an int in YAML 1.1\n"
    assert updated(tmp_path, text) == text.replace("1_000\n", "224\n").replace("1_000_000", "194_400")


def test_each_figure_keeps_its_style(tmp_path):
    text = (f"{BLOCK}expect:\n  params: '1,000'\n  macs: \"1,000\"\n  flops: 1,000\n"
            "  buffers: 5\n  layers:\n    c: {params: '1', macs: 1}\n")
    assert updated(tmp_path, text) == (text.replace("'1,000'", "'224'").replace('"1,000"', '"194,400"')
                   .replace("flops: 1,000", "flops: 396,000").replace("buffers: 5", "buffers: 0")
                   .replace("params: '1'", "params: '224'").replace("macs: 1}", "macs: 194400}"))


def test_budgets_only_gets_plain_figures(tmp_path):
    text = f"{BLOCK}expect:\n  max_params: 1M  # our limit\n"
    assert updated(tmp_path, text) == text + BLOCK_FIGURES
    text = f"{{input: [3, 32, 32], layers: [{CONV}], expect: {{max_params: 1M}}}}\n"
    assert updated(tmp_path, text) == text.replace(
        "1M}", f"1M, {FLOW_FIGURES}}}")


def test_empty_expect_gets_its_figures(tmp_path):
    text = f"{BLOCK}expect:   # to fill in\nname: t\n"
    assert updated(tmp_path, text) == text.replace(
        "in\n", "in\n" + BLOCK_FIGURES)
    for null in ("~", "!!null", "null"):
        text = f"{BLOCK}expect: {null}\n"
        assert updated(tmp_path, text) == f"{BLOCK}expect: {{{FLOW_FIGURES}}}\n"


def test_rounded_amount_that_still_matches_is_left_alone(tmp_path):
    text = f"{BLOCK}expect:\n  params: 224\n  macs: 194K\n"  # 194,400 rounds to 194K
    path = spec(tmp_path, text)
    result = invoke("check", "--update-expect", path)
    assert result.exit_code == 0 and "updated" not in result.output
    assert open(path).read() == text


def test_rounded_amount_that_no_longer_matches_keeps_unit_and_digits(tmp_path):
    # macs 194,400, flops 396,000 (2 x MACs + 7,200 biases), params 224
    text = f"{BLOCK}expect:\n  macs: 1.00M\n  flops: '4.1G'\n  params: 2K\n"
    assert updated(tmp_path, text) == text.replace("1.00M", "0.194M").replace("4.1G", "0.00040G").replace("2K", "0.2K")


def test_lists_grow_and_shrink_in_their_style(tmp_path):
    text = (f"{BLOCK}expect:\n  output_shape:\n    - 9  # channels\n    - 30\n"
            "  layers:\n    c: {output_shape: [8, 30, 30, 1, 2]}\n")
    grown = text.replace("- 9  # channels\n    - 30\n", "- 8  # channels\n    - 30\n    - 30\n")
    assert updated(tmp_path, text) == grown.replace("[8, 30, 30, 1, 2]", "[8, 30, 30]")
    text = f"{BLOCK}expect:\n  output_shape:\n    - 8\n    - 30\n    - 30\n    - 1  # extra\n  params: 1\n"
    assert updated(tmp_path, text) == text.replace("    - 1  # extra\n", "").replace("params: 1", "params: 224")
    text = f"{BLOCK}expect:\n  output_shape: []\n"
    assert updated(tmp_path, text) == text.replace("[]", "[8, 30, 30]")


def test_bom_and_crlf_are_kept(tmp_path):
    text = (BLOCK + "expect:\n  params: 1\n").replace("\n", "\r\n")
    path = spec(tmp_path, "", raw=codecs.BOM_UTF8 + text.encode())
    assert invoke("check", "--update-expect", path).exit_code == 0
    assert open(path, "rb").read() == codecs.BOM_UTF8 + text.replace("params: 1", "params: 224").encode()
    text = BLOCK.replace("\n", "\r\n")  # no expect yet: a blank line, then lines ending in CRLF
    added = "\nexpect:\n" + BLOCK_FIGURES
    assert updated(tmp_path, text) == text + added.replace("\n", "\r\n")


# --- the file system ----------------------------------------------------------------------

WRONG = BLOCK + "expect:\n  params: 1\n"
RIGHT = WRONG.replace("params: 1", "params: 224")


def test_permissions_owner_and_hard_links_are_kept(tmp_path):
    path = spec(tmp_path, WRONG)
    os.chmod(path, 0o640)
    link = tmp_path / "link.yaml"
    os.link(path, link)
    inode = os.stat(path).st_ino
    assert invoke("check", "--update-expect", path).exit_code == 0
    assert open(path).read() == RIGHT and link.read_text() == RIGHT
    assert os.stat(path).st_ino == inode and os.stat(path).st_nlink == 2
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


def test_a_plain_file_is_replaced_whole_keeping_its_mode(tmp_path):
    path = spec(tmp_path, WRONG)
    os.chmod(path, 0o604)
    inode = os.stat(path).st_ino
    assert invoke("check", "--update-expect", path).exit_code == 0
    assert open(path).read() == RIGHT and stat.S_IMODE(os.stat(path).st_mode) == 0o604
    assert os.stat(path).st_ino != inode  # renamed over: a reader never sees half a file
    assert sorted(os.listdir(tmp_path)) == ["s.yaml"]


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another owner needs root")
def test_another_owner_is_kept(tmp_path):
    path = spec(tmp_path, WRONG)
    os.chown(path, 4321, 4321)
    assert invoke("check", "--update-expect", path).exit_code == 0
    assert open(path).read() == RIGHT and (os.stat(path).st_uid, os.stat(path).st_gid) == (4321, 4321)
    assert sorted(os.listdir(tmp_path)) == ["s.yaml"]


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another group needs root")
def test_an_owner_that_cannot_be_given_means_writing_in_place(tmp_path, monkeypatch):
    path = spec(tmp_path, WRONG)
    os.chown(path, os.geteuid(), os.getegid() + 1)  # another group: a rename would lose it

    def refused_chown(*args):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "fchown", refused_chown)
    inode = os.stat(path).st_ino
    assert invoke("check", "--update-expect", path).exit_code == 0
    assert open(path).read() == RIGHT and os.stat(path).st_ino == inode
    assert os.stat(path).st_gid == os.getegid() + 1 and sorted(os.listdir(tmp_path)) == ["s.yaml"]


def test_a_symlink_is_written_through(tmp_path):
    path = spec(tmp_path, WRONG, "target.yaml")
    os.symlink(path, tmp_path / "link.yaml")
    assert invoke("check", "--update-expect", str(tmp_path / "link.yaml")).exit_code == 0
    assert os.path.islink(tmp_path / "link.yaml") and open(path).read() == RIGHT


def test_a_read_only_file_is_refused_and_the_batch_goes_on(tmp_path):
    locked = spec(tmp_path, WRONG, "a.yaml")
    other = spec(tmp_path, WRONG, "b.yaml")
    os.chmod(locked, 0o444)  # refused by its mode, also for root, who could write it
    result = invoke("check", "--update-expect", str(tmp_path))
    assert result.exit_code == 2, result.output
    assert f"{locked}: error: not updated: the file is read-only (mode 444)" in result.output
    assert open(locked).read() == WRONG and open(other).read() == RIGHT
    assert stat.S_IMODE(os.stat(locked).st_mode) == 0o444


def test_a_read_only_folder_is_written_in_place(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    path = spec(folder, WRONG)
    inode = os.stat(path).st_ino
    os.chmod(folder, 0o555)
    try:
        result = invoke("check", "--update-expect", str(folder))
    finally:
        os.chmod(folder, 0o755)
    assert result.exit_code == 0, result.output
    assert open(path).read() == RIGHT and os.stat(path).st_ino == inode
    assert os.listdir(folder) == ["s.yaml"]


def test_a_failed_write_leaves_the_file_and_no_temporary_file(tmp_path, monkeypatch):
    path = spec(tmp_path, WRONG, "a.yaml")
    other = spec(tmp_path, WRONG, "b.yaml")
    real_replace = os.replace

    def failing(source, target):
        if target.endswith("a.yaml"):
            raise OSError(28, "No space left on device")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", failing)
    result = invoke("check", "--update-expect", str(tmp_path))
    assert result.exit_code == 2
    assert f"{path}: error: not updated: cannot write the file: No space left on device" in result.output
    assert open(path).read() == WRONG and open(other).read() == RIGHT
    assert sorted(os.listdir(tmp_path)) == ["a.yaml", "b.yaml"]


def test_a_leftover_temporary_file_is_never_checked(tmp_path):
    spec(tmp_path, RIGHT)
    (tmp_path / f".s.yaml.x1y2{TEMP_SUFFIX}").write_text("input: [\n")  # as a killed update would leave
    report = check_files([str(tmp_path)])
    assert [os.path.basename(r.path) for r in report.results] == ["s.yaml"] and report.exit_code == 0


def test_a_bug_in_one_file_is_that_files_result_never_exit_3(tmp_path, monkeypatch):
    import cnncalc.update_expect as module

    first, second = spec(tmp_path, WRONG, "a.yaml"), spec(tmp_path, WRONG, "b.yaml")
    real = module.updated_text

    def buggy(text, summary, path="<spec>"):
        if path.endswith("a.yaml"):
            raise RuntimeError("boom")
        return real(text, summary, path)

    monkeypatch.setattr(module, "updated_text", buggy)
    report, updated_files = update_files([str(tmp_path)])
    assert report.exit_code == 2 and [p for p, _ in updated_files] == [second]
    assert report.results[0].problems[0].message == "not updated: RuntimeError: boom"
    assert open(first).read() == WRONG and open(second).read() == RIGHT


# --- the property: whatever the layout, only expect: changes --------------------------------

class Anchor:
    def __init__(self, name, value):
        self.name, self.value = name, value


class Alias:
    def __init__(self, name):
        self.name = name


class Raw(str):
    """A scalar written exactly so (quoted, with commas, underscores or a unit)."""


def scalar(value, flow: bool) -> str:
    if isinstance(value, Anchor):
        return f"&{value.name} {scalar(value.value, flow)}"
    if isinstance(value, Alias):
        return f"*{value.name}"
    if isinstance(value, Raw):
        return value if not flow or "," not in value or value[0] in "'\"" else f"'{value}'"
    if value is None:
        return "~" if flow else ""
    if isinstance(value, list):
        return "[" + ", ".join(scalar(item, True) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {scalar(item, True)}" for key, item in value.items()) + "}"
    return str(value)


def block(mapping: dict, indent: int, draw, comments: list) -> list:
    """Lines of a block mapping; each collection in it block or flow as drawn."""
    lines, pad = [], " " * indent
    for key, value in mapping.items():
        comment = ""
        if draw(st.booleans()):
            comments.append(f"# note {len(comments)}")
            comment = "  " + comments[-1]
        if isinstance(value, dict) and value and draw(st.booleans()):
            lines += [f"{pad}{key}:{comment}", *block(value, indent + 2, draw, comments)]
        elif isinstance(value, list) and value and draw(st.booleans()):
            lines.append(f"{pad}{key}:{comment}")
            for item in value:
                if isinstance(item, dict) and draw(st.booleans()):
                    inner = block(item, indent + 4, draw, comments)
                    lines.append(f"{pad}  - {inner[0].lstrip()}")
                    lines += inner[1:]
                else:
                    lines.append(f"{pad}  - {scalar(item, True)}")
        else:
            lines.append(f"{pad}{key}: {scalar(value, False)}{comment}")
    return lines


AMOUNT_STYLES = ("int", "commas", "quoted", "underscores", "unit")


def amount_text(value: int, style: str):
    if style == "int":
        return value
    if style == "commas":
        return Raw(f"{value:,}")
    if style == "quoted":
        return Raw(f"'{value:,}'")
    if style == "underscores":
        return Raw(f"{value:_}")
    return Raw(f"{value / 1000:.1f}K")


@st.composite
def specs(draw):
    channels, size = draw(st.integers(1, 4)), draw(st.integers(4, 10))
    doc, layers = {}, []
    shared = draw(st.booleans())  # an anchor and its alias, both outside expect:
    if shared:
        doc["vars"] = {"width": Anchor("w", draw(st.integers(1, 6)))}
    for index in range(draw(st.integers(1, 3))):
        width = Alias("w") if shared and index == 0 else draw(st.integers(1, 6))
        layers.append({"name": f"c{index}", "type": "conv2d", "out_channels": width,
                       "kernel_size": 3, "padding": 1})
        if draw(st.booleans()):
            layers.append({"type": "relu"})
    if draw(st.booleans()):
        layers += [{"type": "flatten"}, {"name": "fc", "type": "linear", "out_features": draw(st.integers(1, 9))}]
    doc["input"] = [channels, size, size]
    doc["layers"] = layers
    kind = draw(st.sampled_from(["none", "null", "empty", "budgets", "figures", "figures"]))
    if kind in ("null", "empty"):
        doc["expect"] = None if kind == "null" else {}
    elif kind in ("budgets", "figures"):
        expect = {"max_params": Raw("1G")} if draw(st.booleans()) or kind == "budgets" else {}
        if kind == "figures":
            for key in draw(st.lists(st.sampled_from(["params", "macs", "flops", "buffers"]), unique=True)):
                expect[key] = amount_text(draw(st.integers(0, 10**6)), draw(st.sampled_from(AMOUNT_STYLES)))
            if draw(st.booleans()):
                expect["output_shape"] = draw(st.lists(st.integers(1, 99), max_size=4))
            if draw(st.booleans()):
                expect["layers"] = {"c0": {"params": amount_text(draw(st.integers(0, 999)), "int"),
                                           "output_shape": draw(st.lists(st.integers(1, 9), max_size=4))}}
        doc["expect"] = expect
    order = draw(st.permutations([key for key in doc if key != "vars"]))
    doc = {key: doc[key] for key in ["vars"][:shared] + order}  # an anchor comes before its alias
    style = draw(st.sampled_from(["block", "flow", "flow-lines"]))
    comments: list = []
    if style == "block":
        lines = block(doc, 0, draw, comments)
    else:
        entries = [f"{key}: {scalar(value, True)}" for key, value in doc.items()]
        if style == "flow":
            lines = ["{" + ", ".join(entries) + "}"]
        else:
            comments += [f"# note {i}" for i in range(len(entries))]
            lines = ["{" + entries[0] + ",  " + comments[0]]
            lines += [f" {entry},  {comment}" for entry, comment in zip(entries[1:], comments[1:])]
            lines.append("}")
    if draw(st.booleans()):
        lines.insert(0, "---")
    if draw(st.booleans()):
        lines.append("...")
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = newline.join(lines) + newline
    bom = codecs.BOM_UTF8 if draw(st.booleans()) else b""
    return bom + text.encode(), comments


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=specs())
def test_update_changes_nothing_but_expect(tmp_path_factory, case):
    data, comments = case
    path = tmp_path_factory.mktemp("prop") / "spec.yaml"
    path.write_bytes(data)
    before = check_file(str(path))
    assert before.status in ("ok", "failed"), (data, before.problems)
    result, changes = update_file(str(path))
    assert result.status == "ok", (data, [p.message for p in result.problems])
    new = path.read_bytes()
    assert new.startswith(codecs.BOM_UTF8) == data.startswith(codecs.BOM_UTF8)
    old_text, new_text = data.decode("utf-8-sig"), new.decode("utf-8-sig")
    assert set(re.findall(r"\r\n|\r|\n", new_text)) == set(re.findall(r"\r\n|\r|\n", old_text))
    assert new_text.count("...") == old_text.count("...")
    assert all(comment in new_text for comment in comments)
    assert without_expect(new_text) == without_expect(old_text)
    summary = result.summary
    totals, records = summary.totals.to_dict(), {r.name: r.to_dict() for r in summary.layers}
    for key, value in load_yaml(new_text)["expect"].items():
        if key in totals:
            assert parse_amount(value, Location(), key).matches(totals[key])  # exact unless written with a unit
        elif key == "output_shape":
            assert value == list(summary.output_shape)
        elif key == "layers":
            for name, figures in value.items():
                for field, figure in figures.items():
                    got = figure if field == "output_shape" else amount(figure, Location(), field)
                    assert got == records[name][field]
    assert (changes == 0) == (new == data)
    assert update_file(str(path))[1] == 0 and path.read_bytes() == new  # a second update finds nothing to do
