"""How fast is `cnncalc check` on every spec of the zoo? A whole process, as a pre-commit
hook runs it: `python -m cnncalc check specs/*.yaml`, median of several runs (one warm-up
run first). Goal: at most 0.5 s.

Run: python benchmarks/bench_check.py [--runs N]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL = 0.5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    options = parser.parse_args()
    specs = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "specs").glob("*.yaml"))
    command = [sys.executable, "-m", "cnncalc", "check", *specs]
    first = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if first.returncode != 0:
        print(first.stdout + first.stderr, file=sys.stderr)
        return first.returncode
    times = []
    for _ in range(options.runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(f"cnncalc check on {len(specs)} specs ({first.stdout.strip().splitlines()[-1]})")
    print(f"whole process: median {median:.3f} s, min {min(times):.3f} s, max {max(times):.3f} s "
          f"over {options.runs} runs (goal <= {GOAL} s): {'ok' if median <= GOAL else 'TOO SLOW'}")
    return 0 if median <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
