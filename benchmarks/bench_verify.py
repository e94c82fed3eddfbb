"""NumPy verify backend vs PyTorch CPU: forward pass of ResNet-50, VGG-16, U-Net and R3D-18, batch 1.

Both run in this process on the same machine, alternately, with default threads;
each figure is the median of --runs passes after one warm-up. Prints the peak
resident memory of `cnncalc verify specs/vgg16.yaml` (a fresh process), then each
network's time, achieved GFLOP/s (2 x MACs / time), the ratio NumPy / PyTorch of the
medians and of the fastest passes (less sensitive to other load on the machine).

--gpu instead compares the CuPy backend with PyTorch CUDA (cuDNN autotuning on, TF32
off on both sides: strict float32), ResNet-50 at --batch 32 by default: --warmup
passes, then the median of --runs passes, each bracketed by device synchronisation;
goal: CuPy / PyTorch <= 2x. Without CuPy or a CUDA GPU it says so and exits 2.

U-Net (572 x 572, valid convolutions, transposed convolutions, crop-and-concat) and R3D-18
(3-D convolutions on a 16 x 112 x 112 clip) are issue 9's goal: within 1.5x of PyTorch CPU.
The twins are tests/torch_zoo.py's hand-written ones, or torchvision's own definitions
(tests/torchvision_models.py) for the torchvision networks.

    python benchmarks/bench_verify.py [--runs 5] [--nets resnet50,vgg16,unet,r3d_18] [--no-rss]
    python benchmarks/bench_verify.py --gpu [--batch 32] [--warmup 3] [--runs 5] [--nets resnet50]
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


def _setup(stem: str, xp, batch: int):
    """The network, its per-sample summary, its weights and a random input batch on `xp`."""
    from cnncalc.backend.params import materialise, random_input
    from cnncalc.language.build import load
    from cnncalc.summary import summarize

    network = load(os.path.join(ROOT, "specs", f"{stem}.yaml"))
    summary = summarize(network, batch=1)
    shapes = {"input": tuple(network.input_shape), **{r.name: r.output_shape for r in summary.layers}}
    return network, summary, materialise(network, shapes, xp), random_input(network, xp, batch)


def torch_twin(stem: str):
    """The PyTorch twin of a zoo spec: tests/torch_zoo.py's, else torchvision's."""
    from torch_zoo import TORCH_ZOO

    if stem in TORCH_ZOO:
        return TORCH_ZOO[stem][0]()
    from torchvision_models import TORCHVISION_ZOO

    return TORCHVISION_ZOO[stem][0]()


def bench(stem: str, runs: int) -> dict:
    import torch

    from cnncalc.backend.execute import run
    from cnncalc.backend.namespace import namespace

    xp = namespace("numpy")
    network, summary, weights, x = _setup(stem, xp, 1)
    model = torch_twin(stem).eval()
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


def bench_gpu(stem: str, runs: int, batch: int, warmup: int, *, xp=None, device: str = "cuda") -> dict:
    """CuPy backend vs PyTorch on `device`; `xp` and `device` exist so that the timing
    logic can be exercised on the CPU (NumPy, "cpu") where there is no GPU."""
    import torch

    from cnncalc.backend.execute import run
    from cnncalc.backend.namespace import namespace, to_numpy

    xp = namespace("cupy") if xp is None else xp
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False  # as CuPy: plain float32
    network, summary, weights, x = _setup(stem, xp, batch)
    model = torch_twin(stem).to(device).eval()
    tx = torch.from_numpy(to_numpy(x)).to(device)
    xp_sync = xp.cuda.Device().synchronize if xp.__name__ == "cupy" else lambda: None
    torch_sync = torch.cuda.synchronize if device == "cuda" else lambda: None

    def xp_pass():  # no per-layer finiteness check: each would be a host round trip
        run(network, xp, weights, x, check_finite=False)

    def torch_pass():
        with torch.no_grad():
            model(tx)

    xp_times, torch_times = [], []
    for _ in range(warmup):  # kernel compilation, cuDNN autotuning, memory pools
        _once(xp_pass, xp_sync), _once(torch_pass, torch_sync)
    for _ in range(runs):
        xp_times.append(_once(xp_pass, xp_sync))
        torch_times.append(_once(torch_pass, torch_sync))
    t_xp, t_torch = statistics.median(xp_times), statistics.median(torch_times)
    flop = 2 * summary.totals.macs * batch
    return {"net": stem, "cupy_s": t_xp, "torch_s": t_torch, "ratio": t_xp / t_torch,
            "cupy_gflops": flop / t_xp / 1e9, "torch_gflops": flop / t_torch / 1e9, "macs": summary.totals.macs}


def _once(fn, sync=None) -> float:
    if sync is not None:
        sync()
    start = time.perf_counter()
    fn()
    if sync is not None:
        sync()
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
    parser.add_argument("--nets", help="default: resnet50,vgg16,unet,r3d_18 (CPU), resnet50 (--gpu)")
    parser.add_argument("--no-rss", action="store_true", help="skip the VGG-16 peak-RSS measurement")
    parser.add_argument("--gpu", action="store_true", help="CuPy backend vs PyTorch CUDA instead")
    parser.add_argument("--batch", type=int, default=32, help="batch size with --gpu (the CPU mode uses 1)")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up passes with --gpu (the CPU mode does 1)")
    args = parser.parse_args()
    if args.gpu:
        return main_gpu(args)
    args.nets = args.nets or "resnet50,vgg16,unet,r3d_18"
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


def main_gpu(args) -> None:
    import torch

    from cnncalc.backend.namespace import namespace
    from cnncalc.diagnostics import UsageError

    try:
        cupy = namespace("cupy")
    except UsageError as error:
        print(error, file=sys.stderr)
        raise SystemExit(2) from None
    if not torch.cuda.is_available():
        print(f"--gpu: PyTorch {torch.__version__} sees no CUDA GPU (a CPU-only build?)", file=sys.stderr)
        raise SystemExit(2)
    print(f"cupy {cupy.__version__}, torch {torch.__version__} (cuDNN {torch.backends.cudnn.version()}), "
          f"{torch.cuda.get_device_name()}; median of {args.runs} alternating passes after {args.warmup} "
          f"warm-up, batch {args.batch}, float32 (TF32 off); goal: cupy / torch <= 2x")
    print(f"{'network':10s} {'GMACs':>7s} {'cupy ms':>9s} {'GFLOP/s':>8s} "
          f"{'torch ms':>9s} {'GFLOP/s':>8s} {'ratio':>6s}")
    for stem in (args.nets or "resnet50").split(","):
        r = bench_gpu(stem, args.runs, args.batch, args.warmup, xp=cupy)
        print(f"{stem:10s} {r['macs'] * args.batch / 1e9:7.2f} {r['cupy_s'] * 1e3:9.1f} {r['cupy_gflops']:8.0f} "
              f"{r['torch_s'] * 1e3:9.1f} {r['torch_gflops']:8.0f} {r['ratio']:5.2f}x "
              f"{'(goal met)' if r['ratio'] <= 2 else '(goal: <= 2x)'}")


if __name__ == "__main__":
    main()
