"""benchmarks/mutate.py's mutations still match the code: each text is found exactly once
(the mutations themselves run only when the script is run in full, minutes)."""
from __future__ import annotations

import subprocess
import sys

from helpers import ROOT


def test_every_mutation_text_is_found_once():
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "mutate.py"), "--check"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
