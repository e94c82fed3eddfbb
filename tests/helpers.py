"""What many test files share: where the repository and its zoo of specs are, cnncalc's CLI
run in-process, and writing a spec into a temporary folder.

A plain module rather than conftest.py, because benchmarks/fuzz.py imports tests/fuzz_cases.py
(and through it this module) outside pytest. Both put tests/ on sys.path: pytest because
tests/ is not a package, fuzz.py by hand."""
from __future__ import annotations

import glob
import inspect
import os
from pathlib import Path

from typer.testing import CliRunner

from cnncalc.cli import app

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
ZOO = sorted(path.stem for path in SPECS.glob("*.yaml"))  # the zoo's spec names: "lenet5", ...
ZOO_FILES = sorted(glob.glob(os.path.join(SPECS, "*.yaml")))  # and their paths, as str

# Click before 8.2 mixes stderr into the output unless told not to; 8.2 dropped the option
# and always keeps result.stderr apart.
_STDERR_APART = {"mix_stderr": False} if "mix_stderr" in inspect.signature(CliRunner.__init__).parameters else {}


def cli_runner(**options) -> CliRunner:
    """A CliRunner whose results have stdout and stderr apart, on every Click version."""
    return CliRunner(**_STDERR_APART, **options)


def invoke(*args: str):
    """`cnncalc ARGS...` in-process; the Click result, whatever happened."""
    return cli_runner().invoke(app, list(args))


def invoke_without_crash(*args: str):
    """`cnncalc ARGS...` in-process, asserting it ended by an exit code, not a traceback."""
    result = invoke(*args)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def write_spec(tmp_path: Path, text: str | bytes, name: str = "spec.yaml") -> Path:
    """`text` as the file `name` in `tmp_path`: bytes as they are, str as UTF-8."""
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def refused_at(tmp_path, layer: str, at: str, words: str, input_shape: str = "[8, 6, 6]") -> None:
    """A spec ending in `layer` (after a relu on `input_shape`): `cnncalc summary` exits 2
    at the line and column of the text `at`, saying `words`, without a traceback."""
    text = f"input: {input_shape}\nlayers:\n  - {{type: relu}}\n  - {layer}\n"
    path = write_spec(tmp_path, text)
    result = invoke("summary", str(path))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output + result.stderr
    column = text.splitlines()[3].index(at) + 1
    assert f"{path}:4:{column}: error:" in result.stderr, result.stderr
    assert words in result.stderr, result.stderr


def verifies(tmp_path, text: str, *args: str) -> None:
    """`cnncalc verify` on the spec `text` (batch 3 unless `args` say) exits 0: every layer agrees."""
    result = invoke("verify", str(write_spec(tmp_path, text)), *(args or ("--batch", "3")))
    assert result.exit_code == 0, result.output + result.stderr
    assert "verified" in result.output
