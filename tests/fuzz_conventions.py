"""Fuzz cases for `cnncalc summary --convention TOOL`: hypothesis strategies of
fuzz_cases.Case, run and judged by fuzz_cases.run_case, for tests/test_conventions.py and
(through fuzz_cases.fuzz_cases) benchmarks/fuzz.py.

* specs: any fuzz spec (fuzz_cases.spec_bytes), small ones and networks that build;
* flags: --convention (each tool, and hostile words), --format (the three it prints, csv,
  which it refuses, and junk), and summary's other flags with fuzz_cases' hostile values:
  --batch, --input (symbolic sizes and sweeps, which it refuses), --set, and the views it
  cannot combine with (--depth, --rf, --percent, --by-type, --top, --training)."""
from __future__ import annotations

import functools

from hypothesis import strategies as st

from fuzz_cases import CASE_DIR, INPUT_VALUES, SET_NAMES, SET_VALUES, Case, _flags, _place, _random, spec_bytes, \
    small_spec_bytes, valid_network

TOOL_NAMES = ["torchinfo", "fvcore", "ptflops", "thop", "darknet", "keras"]
CONVENTIONS = TOOL_NAMES * 3 + ["", "TORCHINFO", "cnncalc", "thop\n", "\x1b[31m", "x" * 5000, "-", "--format"]
FORMATS = ["table", "json", "markdown"] * 3 + ["csv", "", "yaml", "\u202e"]


@functools.cache
def _convention_flags() -> dict:
    return {
        "--convention": st.sampled_from(CONVENTIONS),
        "--format": st.sampled_from(FORMATS),
        "--batch": st.one_of(st.integers(1, 8).map(str), st.sampled_from(["0", "-1", str(10**30), "x"])),
        "--input": st.sampled_from(INPUT_VALUES),
        "--set": st.builds(lambda n, v: f"{n}={v}", st.sampled_from(SET_NAMES), st.sampled_from(SET_VALUES)),
        "--depth": st.integers(1, 3).map(str), "--top": st.sampled_from(["1", "0", "x"]),
        "--rf": None, "--percent": None, "--by-type": None, "--training": None,  # flags without a value
    }


@functools.cache
@st.composite
def convention_case(draw, process_share: int = 16):
    """One `cnncalc summary --convention ...` command line and its spec."""
    rnd = _random(draw)
    flags = _flags(draw, rnd, _convention_flags(), ["--convention"] if rnd.random() < 0.95 else [])
    kind = rnd.choice(["any", "small", "valid", "valid", "valid"])
    data, spec = (draw(spec_bytes()) if kind == "any" else draw(small_spec_bytes()) if kind == "small"
                  else (draw(valid_network()), "valid"))
    path = f"{CASE_DIR}/spec.yaml"
    targets = [path] if rnd.random() < 0.95 else rnd.choice([[], [path, path]])
    return Case("convention", ["summary"] + _place(rnd, targets, flags), {"spec.yaml": data}, spec=spec,
                process=rnd.random() < 1 / process_share)
