"""Fuzz cases for `cnncalc summary --training`: hypothesis strategies of fuzz_cases.Case,
run and judged by fuzz_cases.run_case, for tests/test_training_memory.py and (through
fuzz_cases.fuzz_cases) benchmarks/fuzz.py.

* the spec: a zoo spec, a generated network that builds (so the training figures are
  worked out), or any fuzz spec;
* the flags: --training or not; --optimizer and --precision, their names or hostile
  words; --max-batch with sizes in every unit and malformed ones (signs, exponents,
  64 digits and more, units that do not exist, control and bidi characters, 100,000
  characters), sometimes any of fuzz_cases' hostile flag values; --batch, --format
  (CSV is refused), --set, --input; flags repeated, misplaced or missing their value.
"""
from __future__ import annotations

import functools

from hypothesis import strategies as st

from fuzz_cases import CASE_DIR, INPUT_VALUES, ZOO_BYTES, Case, _flags, _place, _random, spec_bytes, valid_network

SIZES = ["24GB", "24GiB", "512MB", "1.5GiB", "1TB", "80GB", "16 GiB", "24gb", "1000000", "1KB", "25.6M", "4G"]
HOSTILE_SIZES = ["0", "-1", "-24GB", "+24GB", "24XB", "24 G B", "GB", "1e9", "1E9GB", "nan", "inf", "", " ", "0.4B",
                 "0.0000001GB", "9" * 64, "9" * 65, "9" * 5000, "99999999999999999999999999TB", "1,000GB", "1_000GB",
                 "24GB24GB", "24GB!", "0x10GB", "\u0663GB", "24\x00GB", "\x1b[31m24GB", "\u202e24GB", "\udcff",
                 "é" * 300, "x" * 100_000, "--training", "adam"]
HOSTILE_NAMES = ["", " ", "ADAM", "Adam", "adam ", "sgd\x1b[31m", "fp16", "fp32-mixed", "bf16", "\u202eadam",
                 "momentum,adam", "-", "--", "é" * 50, "x" * 100_000]


def _mostly(good: list, hostile: list):
    """A good value three times in four, else a hostile one."""
    return st.sampled_from([True, True, True, False]).flatmap(
        lambda sensible: st.sampled_from(good if sensible else hostile))


@functools.cache
def _training_flags(fmt: str) -> dict:
    return {
        "--format": st.just(fmt),
        "--optimizer": _mostly(["sgd", "momentum", "adam", "adamw"], HOSTILE_NAMES),
        "--precision": _mostly(["fp32", "fp16-mixed", "bf16-mixed"], HOSTILE_NAMES),
        "--max-batch": _mostly(SIZES, HOSTILE_SIZES),
        "--batch": st.integers(1, 64).map(str),
        "--input": st.sampled_from(INPUT_VALUES),
    }


@functools.cache
@st.composite
def training_case(draw, process_share: int = 16):
    """One `cnncalc summary` command line with the training flags, and its spec; one in
    `process_share` runs as a real process."""
    rnd = _random(draw)
    fmt = rnd.choice(["table", "table", "table", "json", "json", "markdown", "csv"])
    required = ["--format"] if fmt != "table" else []
    required += rnd.choice([["--max-batch"], ["--optimizer", "--precision"], []])
    flags = _flags(draw, rnd, _training_flags(fmt), required)
    if rnd.random() < 0.7:  # a flag without a value, as a pair (given twice) between two NAME VALUE pairs
        at = 2 * rnd.randrange(len(flags) // 2 + 1)
        flags[at:at] = ["--training", "--training"]
    kind = rnd.choice(["zoo", "valid", "valid", "any"])
    if kind == "zoo":
        data = draw(st.sampled_from(ZOO_BYTES))
    elif kind == "valid":
        data = draw(valid_network())
    else:
        data, kind = draw(spec_bytes())
    args = ["summary"] + _place(rnd, [f"{CASE_DIR}/spec.yaml"], flags)
    return Case(f"summary:{fmt}", args, {"spec.yaml": data}, spec=kind, process=rnd.random() < 1 / process_share)
