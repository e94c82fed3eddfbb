"""NumPy verify backend vs PyTorch CPU: forward pass of ResNet-50 and VGG-16, batch 1.

Both run in this process on the same machine, alternately, with default threads;
each figure is the median of --runs passes after one warm-up. Prints the peak
resident memory of `cnncalc verify specs/vgg16.yaml` (a fresh process), then each
network's time, achieved GFLOP/s (2 x MACs / time), the ratio NumPy / PyTorch of the
medians and of the fastest passes (less sensitive to other load on the machine).

    python benchmarks/bench_verify.py [--runs 5] [--nets resnet50,vgg16] [--no-rss]
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]


def bench(stem: str, runs: int) -> dict:
    import torch

    from cnncalc.backend.execute import run
    from cnncalc.backend.namespace import namespace
    from cnncalc.backend.params import materialise, random_input
    from cnncalc.spec.build import load
    from cnncalc.summary import summarize
    from torch_zoo import TORCH_ZOO

    network = load(os.path.join(ROOT, "specs", f"{stem}.yaml"))
    summary = summarize(network, batch=1)
    shapes = {"input": tuple(network.input_shape), **{r.name: r.output_shape for r in summary.layers}}
    xp = namespace("numpy")
    weights = materialise(network, shapes, xp)
    x = random_input(network, xp, 1)
    model = TORCH_ZOO[stem][0]().eval()
    tx = torch.from_numpy(x)

    def numpy_pass():
        run(network, xp, weights, x)

    def torch_pass():
        with torch.no_grad():
            model(tx)

    numpy_times, torch_times = [], []
    numpy_pass(), torch_pass()  # warm-up
    for _ in range(runs):  # alternate, so that both see the same machine load
        numpy_times.append(_once(numpy_pass))
        torch_times.append(_once(torch_pass))
    t_np, t_torch = statistics.median(numpy_times), statistics.median(torch_times)
    flop = 2 * summary.totals.macs
    return {"net": stem, "numpy_s": t_np, "torch_s": t_torch, "ratio": t_np / t_torch,
            "best_ratio": min(numpy_times) / min(torch_times),
            "numpy_gflops": flop / t_np / 1e9, "torch_gflops": flop / t_torch / 1e9, "macs": summary.totals.macs}


def _once(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def verify_rss(stem: str) -> float:
    """Peak resident memory (MB) of a `cnncalc verify` run in a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run([sys.executable, "-m", "cnncalc", "verify", os.path.join(ROOT, "specs", f"{stem}.yaml"),
                           "--format", "json"], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"cnncalc verify {stem} exited {proc.returncode}: {proc.stderr.strip()}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak <= before:
        print("  (peak RSS not measurable: an earlier child was larger)")
    return peak / 1024  # Linux reports KB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--nets", default="resnet50,vgg16")
    parser.add_argument("--no-rss", action="store_true", help="skip the VGG-16 peak-RSS measurement")
    args = parser.parse_args()
    import numpy
    import torch

    print(f"numpy {numpy.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads), "
          f"{os.cpu_count()} CPUs; median of {args.runs} alternating passes, batch 1, float32")
    if not args.no_rss:  # first, in a fresh child, before this process's children inflate RUSAGE_CHILDREN
        print(f"peak RSS of `cnncalc verify specs/vgg16.yaml`: {verify_rss('vgg16'):.0f} MB")
    print(f"{'network':10s} {'GMACs':>7s} {'numpy ms':>9s} {'GFLOP/s':>8s} "
          f"{'torch ms':>9s} {'GFLOP/s':>8s} {'ratio':>6s} {'best/best':>9s}")
    for stem in args.nets.split(","):
        r = bench(stem, args.runs)
        print(f"{stem:10s} {r['macs'] / 1e9:7.2f} {r['numpy_s'] * 1e3:9.0f} {r['numpy_gflops']:8.1f} "
              f"{r['torch_s'] * 1e3:9.0f} {r['torch_gflops']:8.1f} {r['ratio']:5.2f}x {r['best_ratio']:8.2f}x")


if __name__ == "__main__":
    main()
