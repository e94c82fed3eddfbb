"""Fixtures shared by the test files. Plain helpers (ROOT, SPECS, the zoo, invoke,
write_spec) live in tests/helpers.py, which benchmarks/fuzz.py can import outside pytest."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from helpers import cli_runner


@pytest.fixture
def runner() -> CliRunner:
    """One CliRunner for a test that invokes cnncalc several times; stdout and stderr apart."""
    return cli_runner()
