"""`cnncalc export --to onnx`: every zoo spec makes a model that passes onnx.checker's full
check, whose shapes onnx's own shape inference finds equal to cnncalc's; onnxruntime runs
it on the weights verify draws and computes what verify computes (every layer's output of
every layer type's case, random windows, and every zoo network) - a third execution,
independent of the NumPy forward pass and of PyTorch. Spec names reach the model only as
strings; a refusal (no onnx package, no -o, over 2 GiB) is one line, exit 2."""
from __future__ import annotations

import json
import multiprocessing
import os
import stat
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy
import onnx
import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings

import cnncalc
from case_types import windowed
from cnncalc.backend.params import materialise
from cnncalc.export import onnx as onnx_export
from cnncalc.export.onnx import OPSET, export
from cnncalc.layers import REGISTRY, Layer
from cnncalc.network import INPUT
from cnncalc.summary import infer_shapes
from fuzz_cases import run_case
from fuzz_export import export_case
from helpers import SPECS, ZOO_FILES, invoke_without_crash, write_spec
from onnx_runs import TOLERANCE, check_zoo_spec, model_of, same_as_verify
from test_export_pytorch import HOSTILE
from test_layers_torch import CASES
from test_verify_layers import CASES as FORWARD_CASES

FAST = settings(deadline=None, database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck))


def test_every_layer_type_has_an_onnx_export():
    assert {case.type for case in CASES} == REGISTRY.keys()
    assert [kind for kind, cls in REGISTRY.items() if cls.onnx_nodes is Layer.onnx_nodes] == []


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_every_layer_type_computes_what_verify_computes(case):
    assert same_as_verify(cnncalc.loads(case.spec())) <= TOLERANCE


def network_of(case):
    """The network of one layer of a forward-pass case (case_types.ForwardCase) on its input."""
    layer = json.dumps({"type": case.type, **case.args})
    return cnncalc.loads(f"input: {list(case.inputs[0])}\nlayers:\n  - {layer}\n")


@pytest.mark.parametrize("case", [case for case in FORWARD_CASES if len(case.inputs) == 1], ids=lambda case: case.id)
def test_every_forward_case_computes_what_verify_computes(case):
    """verify's own layer cases too (test_verify_layers.py): LRN of an even size, and others."""
    assert same_as_verify(network_of(case)) <= TOLERANCE


# what the layer-type cases leave to the tolerance: LRN's window (ONNX's LRN centres an even
# one the other way), seen only where alpha is large
STRONG = ["input: [6, 5, 5]\nlayers:\n  - {type: lrn, size: 4, alpha: 2.0, beta: 0.75, k: 1.0}\n",
          "input: [5, 7]\nlayers:\n  - {type: lrn, size: 2, alpha: 4.0, beta: 1.5, k: 0.5}\n"]


@pytest.mark.parametrize("spec", STRONG, ids=["lrn-even", "lrn-two-1d"])
def test_strong_effects_compute_what_verify_computes(spec):
    assert same_as_verify(cnncalc.loads(spec)) <= TOLERANCE


@settings(FAST, max_examples=60)
@given(case=windowed(rank=2, max_kernel=5, max_size=9) | windowed(rank=1, max_kernel=6, max_size=12)
       | windowed(rank=3, max_kernel=3, max_size=5))
def test_any_window_computes_what_verify_computes(case):
    """Convolution and pooling with random kernels, strides, padding, dilation, ceil_mode and
    count_include_pad: the windows that reach past the input, and padding of a whole kernel."""
    network = network_of(case)
    try:
        infer_shapes(network)
    except cnncalc.SpecError:  # as PyTorch, avgpool3d refuses an axis shorter than its kernel
        assume(False)
    assert same_as_verify(network) <= TOLERANCE


# input sizes at which the networks whose forward pass takes longest run against verify
SMALL = {"convnext_tiny": [3, 64, 64], "unet": [1, 188, 188], "r3d_18": [3, 8, 56, 56]}


@pytest.fixture(scope="module")
def worker():
    """One process of its own for the zoo's models (see onnx_runs.py)."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool


@pytest.mark.parametrize("path", ZOO_FILES, ids=lambda path: path.rsplit("/", 1)[-1])
def test_every_zoo_spec_checks_and_computes_what_verify_computes(path, worker):
    small = SMALL.get(path.rsplit("/", 1)[-1][:-5])
    assert worker.submit(check_zoo_spec, path, small).result(timeout=600) <= TOLERANCE


def test_names_are_the_specs():
    network = cnncalc.load(str(SPECS / "resnet18.yaml"))
    model = model_of(network)
    graph = model.graph
    assert [opset.version for opset in model.opset_import] == [OPSET]
    assert [node.name for node in graph.node if node.output[0] == "layer1.0.conv1"] == ["layer1.0.conv1"]
    node = next(node for node in graph.node if node.name == "layer1.0.conv1")
    assert node.op_type == "Conv" and list(node.input) == ["maxpool", "layer1.0.conv1.weight"]
    initializers = {tensor.name: list(tensor.dims) for tensor in graph.initializer}
    assert initializers["conv1.weight"] == [64, 3, 7, 7] and initializers["fc.bias"] == [1000]
    assert initializers["bn1.running_var"] == [64]
    assert [i.name for i in graph.input] == [INPUT] and [o.name for o in graph.output] == ["fc"]
    assert {node.name for node in graph.node} >= {node.name for node in network.nodes}


def test_weights_are_verifys_for_the_seed(tmp_path):
    network = cnncalc.load(str(SPECS / "lenet5.yaml"))
    for seed in (0, 7):
        model = model_of(network, seed)
        weights = materialise(network, infer_shapes(network), numpy, seed=seed)
        stored = {tensor.name: onnx.numpy_helper.to_array(tensor) for tensor in model.graph.initializer}
        assert numpy.array_equal(stored["C3.weight.15"], weights["C3"][0]["weight.15"][None])
        assert numpy.array_equal(stored["F6.weight"], weights["F6"][0]["weight"])
    out = tmp_path / "lenet5.onnx"
    result = invoke_without_crash("export", str(SPECS / "lenet5.yaml"), "--to", "onnx", "-o", str(out), "--seed", "7")
    assert result.exit_code == 0 and result.stdout == ""
    assert out.read_bytes() == export(network, seed=7)


def test_hostile_names_are_only_strings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    long = "n" * 200
    spec = HOSTILE.replace("  - {name: x, type: relu}", f"  - {{name: x, type: relu}}\n  - {{name: {long}, type: relu}}"
                           ).replace("a_b, type: relu}", "a_b, type: relu}\n  - {name: 3x3.weight, type: relu}")
    network = cnncalc.load(str(write_spec(tmp_path, spec)))
    assert {long, "3x3.weight", "é-1"} <= {node.name for node in network.nodes}
    model = model_of(network)
    onnx.checker.check_model(model, full_check=True)
    names = [tensor for node in model.graph.node for tensor in node.output]
    names += [tensor.name for tensor in model.graph.initializer]
    assert len(names) == len(set(names))  # the layer '3x3.weight' and conv 3x3's weight do not clash
    assert "3x3.weight~2" in names
    assert model.graph.name == network.name
    assert same_as_verify(network) <= TOLERANCE
    assert not (tmp_path / "PWNED").exists()


def test_cli_refuses_cleanly(tmp_path, monkeypatch):
    lenet = str(SPECS / "lenet5.yaml")
    result = invoke_without_crash("export", lenet, "--to", "onnx")
    assert result.exit_code == 2 and "-o model.onnx" in result.stderr and result.stdout == ""
    for to, seed in (("pytorch", "1"), ("onnx", "-1")):
        result = invoke_without_crash("export", lenet, "--to", to, "--seed", seed, "-o", str(tmp_path / "m"))
        assert result.exit_code == 2 and "--seed" in result.stderr
    spec = tmp_path / "net.yaml"
    spec.write_bytes((SPECS / "lenet5.yaml").read_bytes())
    result = invoke_without_crash("export", str(spec), "--to", "onnx", "-o", str(spec))
    assert result.exit_code == 2 and "is the spec itself" in result.stderr
    assert spec.read_bytes() == (SPECS / "lenet5.yaml").read_bytes()
    assert invoke_without_crash("export", str(spec), "--to", "onnx", "-o", str(tmp_path)).exit_code == 2
    assert invoke_without_crash("export", str(spec), "--to", "onnx", "-o", "/dev/full").exit_code == 2
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)  # written into, not replaced by a file (as root too)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.yaml"]
    monkeypatch.setitem(sys.modules, "onnx", None)  # as when it is not installed
    result = invoke_without_crash("export", str(spec), "--to", "onnx", "-o", str(tmp_path / "m.onnx"))
    assert result.exit_code == 2 and "pip install 'cnncalc[export]'" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.yaml"]


def test_writes_into_a_pipe(tmp_path):
    """-o /dev/stdout: the model goes down a pipe as it is."""
    lenet = str(SPECS / "lenet5.yaml")
    done = subprocess.run([sys.executable, "-m", "cnncalc", "export", lenet, "--to", "onnx", "-o", "/dev/stdout"],
                          capture_output=True, cwd=tmp_path, timeout=60)
    assert done.returncode == 0 and done.stderr == b""
    assert done.stdout == export(cnncalc.load(lenet))
    assert list(tmp_path.iterdir()) == []


def test_refuses_a_model_over_two_gib_and_beyond_memory(tmp_path, monkeypatch):
    big = write_spec(tmp_path, "input: [65536]\nlayers:\n  - {type: linear, out_features: 8192}\n")  # 2 GiB of weights
    result = invoke_without_crash("export", str(big), "--to", "onnx", "-o", str(tmp_path / "m.onnx"))
    assert result.exit_code == 2 and "2 GiB" in result.stderr
    monkeypatch.setattr(onnx_export, "available_ram", lambda: 1000)
    result = invoke_without_crash("export", str(SPECS / "lenet5.yaml"), "--to", "onnx", "-o", str(tmp_path / "m.onnx"))
    assert result.exit_code == 2 and "memory" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]


@settings(FAST, max_examples=40)
@given(case=export_case(process_share=20, onnx_share=2))
def test_fuzz_cases(tmp_path_factory, case):
    outcome = run_case(case, str(tmp_path_factory.mktemp("fuzz")))
    assert not outcome.failures, f"{case!r} -> {outcome.status}: {outcome.failures}"
