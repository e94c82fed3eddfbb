"""benchmarks/bench_verify.py --gpu: refuses in one line without CuPy/CUDA, and its timing
logic runs with NumPy and PyTorch CPU standing in for CuPy and CUDA."""
from __future__ import annotations

import importlib.util
import pathlib
import subprocess
import sys

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "bench_verify.py"


def _module():
    spec = importlib.util.spec_from_file_location("bench_verify", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpu_mode_refuses_without_cupy_or_cuda():
    torch = pytest.importorskip("torch")
    if importlib.util.find_spec("cupy") is not None and torch.cuda.is_available():
        pytest.skip("CuPy and a CUDA GPU are present: --gpu would run")
    proc = subprocess.run([sys.executable, str(SCRIPT), "--gpu"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and "--gpu" in proc.stderr


def test_gpu_timing_logic_on_cpu():
    pytest.importorskip("torch")
    from cnncalc.backend.namespace import namespace

    r = _module().bench_gpu("lenet5", runs=2, batch=4, warmup=1, xp=namespace("numpy"), device="cpu")
    assert r["cupy_s"] > 0 and r["torch_s"] > 0
    assert r["ratio"] == pytest.approx(r["cupy_s"] / r["torch_s"])
    assert r["cupy_gflops"] == pytest.approx(2 * r["macs"] * 4 / r["cupy_s"] / 1e9)
