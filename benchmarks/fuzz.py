"""Fuzz cnncalc's real commands with hypothesis: summary in every format, check, check
--update-expect on copies and verify under --max-memory, on zoo specs, mutations, generated
and scale specs, YAML 1.1/1.2 ambiguities, hostile flags and file-system objects.

    python benchmarks/fuzz.py [--cases 10000] [--seed 0] [--process-share 16]
    python benchmarks/fuzz.py --replay benchmarks/out/fuzz/0003-traceback

Prints the cases by command and outcome, the failures by kind (each written to
benchmarks/out/fuzz/ for replay), the slowest case and the largest peak memory.
Exit status 1 if any case failed. What a case is and how it is judged:
tests/fuzz_cases.py.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import re
import resource
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(HERE), os.path.join(os.path.dirname(HERE), "tests")]

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402

from fuzz_cases import Case, fuzz_cases, run_case  # noqa: E402

OUT = os.path.join(HERE, "out", "fuzz")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--process-share", type=int, default=16,
                        help="one ordinary case in N runs as a real process (scale and file-system cases always do)")
    parser.add_argument("--replay", metavar="DIR", help="run one case written by an earlier run, and show it")
    options = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="cnncalc-fuzz-")
    try:
        return replay(options.replay, workdir) if options.replay else fuzz(options, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def fuzz(options, workdir: str) -> int:
    outcomes: dict = collections.defaultdict(collections.Counter)  # command -> status -> count
    seconds: collections.Counter = collections.Counter()  # command -> total seconds
    longest: collections.Counter = collections.Counter()  # command -> seconds of its slowest case
    sources: collections.Counter = collections.Counter()
    failures: list = []
    slowest = {False: (0.0, None), True: (0.0, None)}  # in a process? -> (seconds, label)
    largest = {False: (0, None), True: (0, None)}
    shutil.rmtree(OUT, ignore_errors=True)  # the failures of this run only
    started = time.perf_counter()

    @seed(options.seed)
    @settings(max_examples=options.cases, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(fuzz_cases(options.process_share))
    def one(case: Case) -> None:
        outcome = run_case(case, workdir)
        outcomes[case.label][outcome.status] += 1
        seconds[case.label] += outcome.seconds
        longest[case.label] = max(longest[case.label], outcome.seconds)
        sources[f"{case.spec or '-'}{' (process)' if case.process else ''}"] += 1
        if outcome.seconds > slowest[case.process][0]:
            slowest[case.process] = (outcome.seconds, f"{case.label} [{case.spec}]")
        if outcome.memory > largest[case.process][0]:
            largest[case.process] = (outcome.memory, f"{case.label} [{case.spec}]")
        if outcome.failures:
            failures.append((case, outcome, _save(case, outcome, len(failures))))
        done = sum(sum(c.values()) for c in outcomes.values())
        if done % 500 == 0:
            print(f"  {done:,} cases, {len(failures)} failed, {time.perf_counter() - started:.0f} s",
                  file=sys.stderr, flush=True)

    one()
    elapsed = time.perf_counter() - started
    total = sum(sum(c.values()) for c in outcomes.values())
    print(f"cases: {total:,} in {elapsed:.1f} s (seed {options.seed}; "
          f"{sum(v for k, v in sources.items() if 'process' in k):,} as real processes)")
    print("by command and outcome:")
    for label in sorted(outcomes):
        count = sum(outcomes[label].values())
        print(f"  {label:30} {count:6,}  {seconds[label] / count * 1000:6,.0f} ms mean {longest[label]:6.2f} s max  "
              + ", ".join(f"{status} {n:,}" for status, n in sorted(outcomes[label].items())))
    print("by spec source: " + ", ".join(f"{name} {count:,}" for name, count in sorted(sources.items())))
    print(f"max time: {slowest[False][0] * 1000:,.0f} ms in-process ({slowest[False][1]}), "
          f"{slowest[True][0] * 1000:,.0f} ms as a process ({slowest[True][1]})")
    print(f"max memory: {largest[True][0] / 1e6:,.0f} MB peak RSS of a process ({largest[True][1]}), "
          f"{largest[False][0] / 1e6:,.0f} MB in-process ({largest[False][1]}); "
          f"harness peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3:,.0f} MB")
    kinds = collections.Counter(kind for _, outcome, _ in failures for kind, _ in outcome.failures)
    print(f"failures: {len(failures)}" + (" (" + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) + ")"
                                          if kinds else ""))
    seen = {}
    for case, outcome, where in failures:
        for kind, detail in outcome.failures:
            last = detail.strip().splitlines()[-1] if detail.strip() else ""
            key = (kind, case.label, re.sub(r"\d+", "N", last)[:120])
            seen.setdefault(key, [0, where, detail, case])[0] += 1
    for (kind, label, _), (count, where, detail, case) in sorted(seen.items(), key=lambda item: -item[1][0])[:60]:
        print(f"--- {kind} x{count}: {label} [{case.spec}] e.g. {os.path.relpath(where)}\n"
              f"    {detail.strip()[-600:]}")
    if failures:
        print(f"every failing case is in {os.path.relpath(OUT)}/ (replay one with --replay DIR)")
    return 1 if failures else 0


def _save(case: Case, outcome, number: int) -> str:
    """Write a failing case where --replay can read it back: case.json, its files, what it printed."""
    where = os.path.join(OUT, f"{number:04d}-{outcome.failures[0][0]}")
    os.makedirs(os.path.join(where, "files"), exist_ok=True)
    names = {}
    for index, (name, data) in enumerate(case.files.items()):
        names[str(index)] = name
        with open(os.path.join(where, "files", str(index)), "wb") as handle:
            handle.write(data)
    with open(os.path.join(where, "case.json"), "w", encoding="utf-8") as handle:
        json.dump({**case.to_dict(), "files": names}, handle, indent=1)
    with open(os.path.join(where, "outcome.txt"), "w", encoding="utf-8", errors="backslashreplace") as handle:
        handle.write(f"{outcome.status}, {outcome.seconds:.2f} s, {outcome.memory / 1e6:,.0f} MB\n")
        for kind, detail in outcome.failures:
            handle.write(f"FAILURE {kind}: {detail}\n")
        handle.write(f"--- stdout\n{outcome.stdout[:20000]}\n--- stderr\n{outcome.stderr[:20000]}\n")
    return where


def replay(where: str, workdir: str) -> int:
    with open(os.path.join(where, "case.json"), encoding="utf-8") as handle:
        data = json.load(handle)
    files = {}
    for index, name in data.pop("files").items():
        with open(os.path.join(where, "files", index), "rb") as handle:
            files[name] = handle.read()
    case = Case(files=files, **data)
    outcome = run_case(case, workdir)
    print(f"{case.label} [{case.spec}] {'process' if case.process else 'in-process'}: {case.args!r}")
    print(f"{outcome.status}, {outcome.seconds:.2f} s, {outcome.memory / 1e6:,.0f} MB")
    print(f"--- stdout\n{outcome.stdout[-3000:]}\n--- stderr\n{outcome.stderr[-3000:]}")
    for kind, detail in outcome.failures:
        print(f"FAILURE {kind}: {detail}")
    return 1 if outcome.failures else 0


if __name__ == "__main__":
    sys.exit(main())
