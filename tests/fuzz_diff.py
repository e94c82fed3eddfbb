"""Fuzz cases for `cnncalc diff`: hypothesis strategies of fuzz_cases.Case, run and judged
by fuzz_cases.run_case, for tests/test_diff.py and (through fuzz_cases.fuzz_cases)
benchmarks/fuzz.py.

* two specs: zoo specs, generated networks that build, a zoo spec and a mutated one, a
  spec and itself, any fuzz spec on either side;
* a spec and a revision: a zoo spec of this repository (a real work tree, read through
  git) or a spec in the case's folder (no repository), with hostile revisions: options
  ('--output=x', '-p'), paths ('HEAD:../../etc/passwd'), shell syntax, control
  characters, 100,000 characters;
* flags: --format, --batch, --depth, --set, --input, and --max-increase with huge and
  malformed percentages, sometimes hostile (fuzz_cases' flag values); misuse: no spec,
  three specs, both NEW and --rev."""
from __future__ import annotations

import functools

from hypothesis import strategies as st

from fuzz_cases import (
    CASE_DIR, INPUT_VALUES, SET_NAMES, SET_VALUES, ZOO_BYTES, Case, _flags, _place, _random, spec_bytes, tree_mutation,
    valid_network,
)
from helpers import ZOO_FILES

VALID_REVS = ["HEAD", "HEAD~1", "HEAD^", "HEAD@{0}", "HEAD~3"]
HOSTILE_REVS = ["--output=x", "-p", "--", "-", "", " ", "HEAD:../../etc/passwd", ":spec.yaml", ":/", "HEAD:",
                "--exec=touch x", "-c core.fsmonitor=touch x", "$(touch x)", "`id`", "HEAD;touch x", "a..b",
                "HEAD^{tree}", "HEAD^{/nothing}", "@{-1}", "@{upstream}", "HEAD@{99999}", "0" * 40, "f" * 64,
                "refs/heads/../../x", "../../", "HEAD\n", "HEAD\x1b[31m", "\u202eDAEH", "\udcff", "x" * 100_000,
                "HEAD~" + "9" * 30, "é" * 300, "\x00"]
HOSTILE_PERCENTS = ["5%", "0", "0%", "100%", "0.5%", "999999999999999%", "9" * 16, "9" * 5000, "1e9", "-5%", "-0",
                    "nan", "inf", "5 %", "%", "5%%", "0x10", "\u0665%", "1,000%", "", " ", "5.", ".5", "1_000",
                    "5\x1b[31m", "x" * 100_000]


@functools.cache
def _diff_flags(fmt: str) -> dict:
    return {
        "--format": st.just(fmt),
        "--batch": st.integers(1, 8).map(str),
        "--depth": st.integers(1, 4).map(str),
        "--max-increase": st.sampled_from(HOSTILE_PERCENTS[:6]) | st.sampled_from(HOSTILE_PERCENTS),
        "--set": st.builds(lambda n, v: f"{n}={v}", st.sampled_from(SET_NAMES), st.sampled_from(SET_VALUES)),
        "--input": st.sampled_from(INPUT_VALUES),
    }


@functools.cache
@st.composite
def _pair(draw):
    """(old bytes, new bytes, what they are)."""
    kind = draw(st.sampled_from(["zoo", "valid", "valid", "same", "mutated", "any"]))
    if kind == "zoo":
        return draw(st.sampled_from(ZOO_BYTES)), draw(st.sampled_from(ZOO_BYTES)), kind
    if kind == "valid":
        return draw(valid_network()), draw(valid_network()), kind
    if kind == "same":
        data, name = draw(spec_bytes())
        return data, data, f"same-{name}"
    if kind == "mutated":  # a zoo spec, and a zoo spec changed in up to four places
        return draw(st.sampled_from(ZOO_BYTES)), draw(tree_mutation()), kind
    (old, old_name), (new, new_name) = draw(spec_bytes()), draw(spec_bytes())
    return old, new, f"{old_name}+{new_name}"


@functools.cache
@st.composite
def diff_case(draw, process_share: int = 16):
    """One `cnncalc diff` command line and its files; one in `process_share` runs as a process."""
    rnd = _random(draw)
    fmt = rnd.choice(["table", "json", "markdown"])
    flags = _flags(draw, rnd, _diff_flags(fmt), ["--format"] if fmt != "table" or rnd.random() < 0.5 else [])
    kind = rnd.choice(["pair"] * 6 + ["rev"] * 3 + ["misuse"])
    old, new = f"{CASE_DIR}/old.yaml", f"{CASE_DIR}/new.yaml"
    if kind == "pair":
        old_data, new_data, spec = draw(_pair())
        files, targets = {"old.yaml": old_data, "new.yaml": new_data}, [old, new]
    elif kind == "rev":
        hostile = st.sampled_from(HOSTILE_REVS) | st.text(max_size=12)
        rev = rnd.choice(VALID_REVS) if rnd.random() < 0.4 else draw(hostile)
        flags += rnd.choice([["--rev", rev], [f"--rev={rev}"]])
        if rnd.random() < 0.6:  # this repository's own zoo, at its own revisions
            files, targets, spec = {}, [rnd.choice(ZOO_FILES)], "rev-zoo"
        else:
            data, spec = draw(spec_bytes())
            files, targets = {"old.yaml": data}, [old]
    else:
        data, spec = draw(spec_bytes())
        files = {"old.yaml": data, "new.yaml": data}
        targets = rnd.choice([[], [old], [old, new, old], [old, new, "--rev", "HEAD"], [old, "--rev"], ["--rev", old]])
    args = ["diff"] + _place(rnd, targets, flags)
    return Case(f"diff:{fmt}", args, files, spec=spec, process=rnd.random() < 1 / process_share)
