"""Fuzz `cnncalc check` with hypothesis: mutated zoo specs and generated specs.

    python benchmarks/fuzz.py [--cases 10000] [--seed 0]

Prints the number of cases, how they ended (ok / failed / invalid), crashes (a
traceback, a non-CnncalcError, an error that is not one line, or a case over 1 s)
and the slowest case. Exit status 1 if there was any crash. Crashing inputs are
written to benchmarks/out/fuzz-crashes/ for replay.
"""
from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(HERE), os.path.join(os.path.dirname(HERE), "tests")]

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402

from fuzz_cases import MAX_SECONDS, cases, run_case  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args()

    statuses: collections.Counter = collections.Counter()
    crashes: list = []
    slowest = [0.0, b""]
    workdir = tempfile.mkdtemp(prefix="cnncalc-fuzz-")
    path = os.path.join(workdir, "spec.yaml")

    @seed(options.seed)
    @settings(max_examples=options.cases, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(cases())
    def one(data: bytes) -> None:
        status, seconds, crash = run_case(data, path)
        statuses[status] += 1
        if seconds > slowest[0]:
            slowest[:] = [seconds, data]
        if crash:
            crashes.append((data, crash))

    started = time.perf_counter()
    one()
    elapsed = time.perf_counter() - started
    total = sum(statuses.values())
    print(f"cases: {total:,} in {elapsed:.1f} s ({', '.join(f'{k} {v:,}' for k, v in sorted(statuses.items()))})")
    print(f"crashes: {len(crashes)}")
    print(f"max case time: {slowest[0] * 1000:.1f} ms (limit {MAX_SECONDS * 1000:.0f} ms)")
    if crashes:
        out = os.path.join(HERE, "out", "fuzz-crashes")
        os.makedirs(out, exist_ok=True)
        for number, (data, report) in enumerate(crashes):
            with open(os.path.join(out, f"crash-{number}.yaml"), "wb") as handle:
                handle.write(data)
            with open(os.path.join(out, f"crash-{number}.txt"), "w") as handle:
                handle.write(report)
        seen = set()
        for data, report in crashes:
            last = report.strip().splitlines()[-1]
            if last not in seen:
                seen.add(last)
                print(f"--- {last}\n{report[-1500:]}")
        print(f"crashing inputs written to {out}")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
