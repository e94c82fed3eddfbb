"""Fuzz cases for `cnncalc report`: hypothesis strategies of fuzz_cases.Case, run and judged
by fuzz_cases.run_case (tests/test_report.py, and benchmarks/fuzz.py through
fuzz_cases.fuzz_cases), and `run_report`, which also checks that nothing is lost.

* specs: any fuzz spec (fuzz_cases.spec_bytes), and networks that build;
* flags: --depth, --rf, --set and --input with fuzz_cases' hostile values; -o into the
  case's folder (a new file, a file already there, hostile file names), onto the spec
  itself, onto the folder, into a folder that does not exist, onto /dev/full, or absent
  (stdout); misuse: no spec, two specs, an unknown flag."""
from __future__ import annotations

import functools
import os
import tempfile

from hypothesis import strategies as st

from fuzz_cases import CASE_DIR, ENV, INPUT_VALUES, SET_NAMES, SET_VALUES, Case, _flags, _place, _random, snapshot, \
    spec_bytes, valid_network
from fuzz_export import FILE_CHARS
from helpers import cli_runner

OLD = b"<p>a page from before</p>\n"  # old.html: replaced whole by a report, or left as it was
# -o only ever names a place in the case's folder (or /dev/full)
OUTPUTS = [f"{CASE_DIR}/report.html"] * 6 + [f"{CASE_DIR}/old.html"] * 2 + [
    f"{CASE_DIR}/spec.yaml", CASE_DIR, f"{CASE_DIR}/missing/report.html", "/dev/full", f"{CASE_DIR}/a b\x1b[31m.html"]


@functools.cache
def _report_flags() -> dict:
    return {
        "--depth": st.integers(0, 4).map(str),
        "--rf": None,
        "--set": st.builds(lambda n, v: f"{n}={v}", st.sampled_from(SET_NAMES), st.sampled_from(SET_VALUES)),
        "--input": st.sampled_from(INPUT_VALUES),
    }


@functools.cache
@st.composite
def report_case(draw, process_share: int = 16):
    """One `cnncalc report` command line and its files."""
    rnd = _random(draw)
    data, spec = draw(spec_bytes()) if rnd.random() < 0.5 else (draw(valid_network()), "valid")
    flags = _flags(draw, rnd, _report_flags())
    if rnd.random() < 0.7:
        name = draw(st.text(FILE_CHARS, min_size=1, max_size=8))
        flags += ["-o", rnd.choice(OUTPUTS) if rnd.random() < 0.8 else f"{CASE_DIR}/out-{name}"]
    path = f"{CASE_DIR}/spec.yaml"
    targets = [path] if rnd.random() < 0.95 else rnd.choice([[], [path, path]])
    return Case("report", ["report"] + _place(rnd, targets, flags), {"spec.yaml": data, "old.html": OLD},
                spec=spec, process=bool(process_share) and rnd.random() < 1 / process_share)


def run_report(case: Case, workdir: str) -> list:
    """Run `case` in-process in a folder of its own; what was lost or is wrong: an exit
    other than 0 or 2, a traceback, the spec changed, a temporary file left behind, -o's
    file not a whole page, a file other than -o's written."""
    root = tempfile.mkdtemp(dir=workdir)
    for name, data in case.files.items():
        with open(os.path.join(root, name), "wb") as handle:
            handle.write(data)
    args = [arg.replace(CASE_DIR, root) for arg in case.args]
    before = snapshot(root)
    result = cli_runner(env=ENV).invoke(_app(), args)
    after = snapshot(root)
    found = []
    if result.exit_code not in (0, 2):
        found.append(f"exit {result.exit_code}: {result.exception!r}")
    if "Traceback" in result.output + result.stderr:
        found.append("a traceback")
    outputs = [value for flag, value in zip(args, args[1:]) if flag in ("-o", "--output")]
    written = os.path.relpath(outputs[-1], root) if outputs and result.exit_code == 0 else None
    for name, content in after.items():
        if name == written:
            text = content[0].decode("utf-8")
            if not (text.startswith("<!DOCTYPE html>") and text.endswith("</html>\n")):
                found.append(f"{name!r} is not a whole page")
        elif before.get(name) != content:
            found.append(f"{name!r} {'changed' if name in before else 'appeared'}")
    found += [f"{name!r} is gone" for name in before if name not in after]
    return found


def _app():
    from cnncalc.cli import app

    return app
