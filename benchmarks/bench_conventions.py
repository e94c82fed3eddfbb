"""How fast is `cnncalc summary --convention TOOL` against running TOOL itself? ResNet-50,
whole processes (what a user waits for), each tool on the zoo's torch twin (tests/torch_zoo.py)
printing its figures, against cnncalc predicting the same figures from the spec. The
commands take turns; the medians of --runs and their ratio. Both give the same totals (the
test suite checks that; this script prints both totals so that it shows).

    python benchmarks/bench_conventions.py [--runs 5] [--tools torchinfo,fvcore,ptflops,thop]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "resnet50.yaml"
# each peer as its README shows it, on the hand twin, printing its MAC-like total
PEERS = {
    "torchinfo": "import torchinfo\nprint(torchinfo.summary(model, input_size=(1, 3, 224, 224), verbose=0).total_mult_adds)",
    "fvcore": "from fvcore.nn import FlopCountAnalysis\nprint(FlopCountAnalysis(model, torch.zeros(1, 3, 224, 224))"
              ".unsupported_ops_warnings(False).uncalled_modules_warnings(False).total())",
    "ptflops": "from ptflops import get_model_complexity_info\n"
               "print(get_model_complexity_info(model, (3, 224, 224), as_strings=False, print_per_layer_stat=False)[0])",
    "thop": "import warnings\nwarnings.simplefilter('ignore')\nfrom thop import profile\n"
            "print(int(profile(model, inputs=(torch.zeros(1, 3, 224, 224),), verbose=False)[0]))",
}
PRELUDE = (f"import sys\nsys.path.insert(0, {str(ROOT / 'tests')!r})\nimport torch\n"
           "import torchvision_models  # torchvision importable beside torch 2.13 CPU (ptflops imports it)\n"
           "from torch_zoo import resnet50\nmodel = resnet50().eval()\n")
FIGURE = {"torchinfo": "mult_adds", "fvcore": "flops", "ptflops": "macs", "thop": "ops"}


def run(command: list) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
    return time.perf_counter() - start, done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tools", default=",".join(PEERS))
    options = parser.parse_args()
    print(f"ResNet-50, whole processes, median of {options.runs} (turns), {sys.executable}")
    print(f"{'tool':10} {'the tool':>10} {'cnncalc':>10} {'ratio':>7}   totals (tool / cnncalc's prediction)")
    for tool in options.tools.split(","):
        peer = [sys.executable, "-c", PRELUDE + PEERS[tool]]
        ours = [sys.executable, "-m", "cnncalc", "summary", str(SPEC), "--convention", tool, "--format", "json"]
        times = {"peer": [], "ours": []}
        for round_ in range(options.runs + 1):
            for side, command in (("peer", peer), ("ours", ours)):
                spent, out = run(command)
                if round_:
                    times[side].append(spent)
                if side == "peer":
                    printed = int(float(out.strip().splitlines()[-1]))
                else:
                    predicted = json.loads(out)["totals"][FIGURE[tool]]
        peer_s, ours_s = statistics.median(times["peer"]), statistics.median(times["ours"])
        print(f"{tool:10} {peer_s * 1000:8.0f} ms {ours_s * 1000:7.0f} ms {peer_s / ours_s:6.1f}x   "
              f"{printed:,} / {predicted:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
