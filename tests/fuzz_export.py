"""Fuzz cases for `cnncalc export` and `cnncalc schema`: hypothesis strategies of
fuzz_cases.Case, run and judged by fuzz_cases.run_case, for tests/test_export_pytorch.py
and (through fuzz_cases.fuzz_cases) benchmarks/fuzz.py.

* specs: any fuzz spec (fuzz_cases.spec_bytes), small ones and networks that build; for
  --to onnx (one case in `onnx_share`), small ones and networks that build only, as an
  ONNX model carries every weight (a zoo net's are hundreds of MB: not a fuzz case's);
* flags: --to (pytorch, onnx, hostile words), -o into the case's folder (hostile file
  names too), onto the folder itself, into a folder that does not exist, onto /dev/full,
  onto the spec itself, or absent (stdout; onnx refuses it); --set, --input and --seed
  with fuzz_cases' hostile values; misuse: no spec, no --to, two specs;
* `cnncalc schema`, with stray arguments."""
from __future__ import annotations

import functools

from hypothesis import strategies as st

from fuzz_cases import CASE_DIR, INPUT_VALUES, SET_NAMES, SET_VALUES, Case, _flags, _place, _random, spec_bytes, \
    small_spec_bytes, valid_network

TARGETS = ["pytorch"] * 8 + ["onnx", "PyTorch", "", "torch", "-", "\x1b[31m", "pytorch\n", "x" * 5000]
# -o only ever names a place in the case's folder (or /dev/full): drawn apart from the
# other flags, whose hostile values ('0', '1e3') would be files in the current folder
OUTPUTS = [f"{CASE_DIR}/model.py"] * 6 + [CASE_DIR, f"{CASE_DIR}/missing/model.py", "/dev/full",
                                          f"{CASE_DIR}/a b\x1b[31m.py", f"{CASE_DIR}/model.onnx",
                                          f"{CASE_DIR}/spec.yaml"]
FILE_CHARS = st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",))


@functools.cache
def _export_flags() -> dict:
    return {
        "--to": st.sampled_from(TARGETS),
        "--set": st.builds(lambda n, v: f"{n}={v}", st.sampled_from(SET_NAMES), st.sampled_from(SET_VALUES)),
        "--input": st.sampled_from(INPUT_VALUES),
        "--seed": st.one_of(st.integers(0, 2**32).map(str), st.sampled_from(["-1", str(2**64), "x"])),
    }


@functools.cache
@st.composite
def export_case(draw, process_share: int = 16, onnx_share: int = 8):
    """One `cnncalc export` (or `schema`) command line and its files."""
    rnd = _random(draw)
    if rnd.random() < 0.1:
        return Case("schema", ["schema", *rnd.choice([[], [], ["extra"], ["--to", "pytorch"]])], {}, spec="none",
                    process=rnd.random() < 1 / process_share)
    onnx = rnd.random() < 1 / onnx_share
    flags = _flags(draw, rnd, _export_flags(), ["--to"] if rnd.random() < 0.9 and not onnx else [])
    if onnx:  # first, so that a --to drawn among the flags still comes after it and wins
        flags = ["--to", "onnx", *flags]
    onnx = "onnx" in flags  # forced, or drawn among the --to values
    kind = rnd.choice(["small", "valid", "valid"] if onnx else ["any", "small", "valid", "valid"])
    data, spec = (draw(spec_bytes()) if kind == "any" else draw(small_spec_bytes()) if kind == "small"
                  else (draw(valid_network()), "valid"))
    if rnd.random() < 0.6:
        name = draw(st.text(FILE_CHARS, min_size=1, max_size=8))
        flags += ["-o", rnd.choice(OUTPUTS) if rnd.random() < 0.8 else f"{CASE_DIR}/out-{name}"]
    path = f"{CASE_DIR}/spec.yaml"
    targets = [path] if rnd.random() < 0.95 else rnd.choice([[], [path, path]])
    return Case("export", ["export"] + _place(rnd, targets, flags), {"spec.yaml": data}, spec=spec,
                process=rnd.random() < 1 / process_share)
