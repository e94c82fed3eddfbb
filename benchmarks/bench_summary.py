"""How fast is `cnncalc summary`? Whole processes, measured against torchinfo in the same run.

1. `cnncalc summary specs/resnet50.yaml` vs `torchinfo.summary(resnet50)` (each a fresh
   Python process printing its table: what a user waits for), median of several runs,
   and the ratio.
2. Generated flat specs of 10,000 and 100,000 layers: time to summarise (whole process,
   and load + summarize in-process), and how the time scales with 10x the layers.

Run: python benchmarks/bench_summary.py [--runs N]   (needs `pip install torchinfo` for the peer)
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TORCHINFO = """
import sys
sys.path.insert(0, {tests!r})
import torchinfo
from torch_zoo import resnet50
torchinfo.summary(resnet50(), input_size=(1, 3, 224, 224))  # prints its table, as cnncalc does
"""


def timed(*commands: list, runs: int) -> list:
    """Median wall time of each command, in seconds: one warm-up run each, then the
    commands take turns, so that both sides of a ratio meet the same machine state."""
    times = [[] for _ in commands]
    for round_ in range(runs + 1):
        for command, spent in zip(commands, times):
            start = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
            if round_:
                spent.append(time.perf_counter() - start)
    return [statistics.median(spent) for spent in times]


def generated_spec(layers: int) -> str:
    """A flat spec of `layers` layers cycling conv -> batchnorm -> relu on [16, 32, 32]."""
    cycle = ["  - {type: conv2d, out_channels: 16, kernel_size: 3, padding: 1}",
             "  - {type: batchnorm2d}",
             "  - {type: relu}"]
    body = "\n".join(cycle[i % 3] for i in range(layers))
    return f"name: generated_{layers}\ninput: [16, 32, 32]\nlayers:\n{body}\n"


def in_process(path: str, runs: int) -> float:
    import cnncalc

    times = []
    for _ in range(runs):
        start = time.perf_counter()
        cnncalc.summarize(cnncalc.load(path))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    script = Path(sys.executable).with_name("cnncalc")  # the console script a user runs
    cli = [str(script)] if script.exists() else [sys.executable, "-m", "cnncalc"]
    # An installed package has its bytecode compiled; an editable checkout may not (for
    # instance under PYTHONDONTWRITEBYTECODE), so compile it here as pip would.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "cnncalc")], check=True)

    command = [*cli, "summary", "specs/resnet50.yaml"]
    try:
        import torchinfo  # noqa: F401
    except ImportError:
        print("torchinfo is not installed: pip install torchinfo (peer skipped)")
        (ours,) = timed(command, runs=args.runs)
    else:
        ours, peer = timed(command, [sys.executable, "-c", TORCHINFO.format(tests=str(ROOT / "tests"))],
                           runs=args.runs)
        print(f"torchinfo.summary resnet50 (process): {peer * 1000:8.1f} ms")
        print(f"ratio torchinfo / cnncalc:            {peer / ours:8.1f}x   (goal >= 15x)")
    print(f"cnncalc summary resnet50 (process):   {ours * 1000:8.1f} ms")

    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for layers in (10_000, 100_000):
            path = Path(tmp) / f"generated_{layers}.yaml"
            path.write_text(generated_spec(layers))
            runs = args.runs if layers <= 10_000 else max(1, args.runs // 2)
            library = in_process(str(path), runs)
            process, table = timed([*cli, "summary", str(path), "--format", "json"],
                                   [*cli, "summary", str(path)], runs=runs)
            results[layers] = (library, process, table)
            print(f"{layers:>7,} layers: load+summarize {library:6.2f} s | process (json) {process:6.2f} s"
                  f" | process (table) {table:6.2f} s   (goal <= 2 s at 10,000)")
        small, large = results[10_000], results[100_000]
        print(f"10x the layers costs: {large[0] / small[0]:.1f}x (library), {large[1] / small[1]:.1f}x (process, json), "
              f"{large[2] / small[2]:.1f}x (process, table)   (goal <= 12x)")


if __name__ == "__main__":
    main()
