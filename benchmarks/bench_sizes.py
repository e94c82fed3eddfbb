"""Every input size at once: how fast are symbolic summaries, `cnncalc sizes` and sweeps?

1. `cnncalc summary specs/resnet50.yaml --input 3,H,W` (formulas) vs the numeric summary,
   whole processes taking turns, medians and the ratio (goal: symbolic <= 3x numeric).
2. `cnncalc sizes SPEC --range 1..1024` vs trying every size one by one (load + shape
   inference per size, in one process: what `sizes` would cost without the formulas).
3. A sweep of 14 sizes of ResNet-50 (`--input 3,224..640..32`) vs torchinfo run at each
   size (the peer's way: one summary per size, in one process).

Run: python benchmarks/bench_sizes.py [--runs N]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bench_summary import timed  # noqa: E402

TORCHINFO_SWEEP = """
import sys
sys.path.insert(0, {tests!r})
import torchinfo
from torch_zoo import resnet50
model = resnet50()
for size in range(224, 641, 32):
    torchinfo.summary(model, input_size=(1, 3, size, size), verbose=0)
"""


def one_by_one(spec: str, first: int, last: int) -> float:
    """Seconds to try every size as a number: load the spec at that size, infer shapes."""
    from cnncalc.diagnostics import SpecError
    from cnncalc.language.build import load
    from cnncalc.summary import infer_shapes

    written = load(spec)
    start = time.perf_counter()
    for size in range(first, last + 1):
        shape = [size] if len(written.input_shape) == 1 else [written.input_shape[0]] + \
            [size] * (len(written.input_shape) - 1)
        try:
            infer_shapes(load(spec, input_shape=shape))
        except SpecError:
            pass
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    cli = [sys.executable, "-m", "cnncalc"]
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "cnncalc")], check=True)

    numeric, symbolic = timed([*cli, "summary", "specs/resnet50.yaml"],
                              [*cli, "summary", "specs/resnet50.yaml", "--input", "3,H,W"], runs=args.runs)
    print(f"resnet50 summary, numeric (process):       {numeric * 1000:8.1f} ms")
    print(f"resnet50 summary, --input 3,H,W (process): {symbolic * 1000:8.1f} ms   "
          f"ratio {symbolic / numeric:.2f}x (goal <= 3x)")

    for stem in ("resnet50", "unet", "deeplabv3_resnet50"):
        spec = f"specs/{stem}.yaml"
        (ours,) = timed([*cli, "sizes", spec, "--range", "1..1024"], runs=max(1, args.runs // 2))
        brute = one_by_one(str(ROOT / spec), 1, 1024)
        print(f"{stem:20s} sizes 1..1024: {ours:6.2f} s (process); one by one: {brute:6.2f} s   "
              f"ratio {brute / ours:.1f}x")

    sweep = [*cli, "summary", "specs/resnet50.yaml", "--input", "3,224..640..32"]
    try:
        import torchinfo  # noqa: F401
    except ImportError:
        print("torchinfo is not installed: pip install torchinfo (peer skipped)")
        return
    ours, peer = timed(sweep, [sys.executable, "-c", TORCHINFO_SWEEP.format(tests=str(ROOT / "tests"))],
                       runs=max(1, args.runs // 2))
    print(f"resnet50 sweep of 14 sizes: cnncalc {ours:6.2f} s, torchinfo {peer:6.2f} s   ratio {peer / ours:.1f}x")


if __name__ == "__main__":
    main()
