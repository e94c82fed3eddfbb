"""Training memory (cnncalc/training.py, `summary --training`) against PyTorch 2.13 on CPU.

The oracle for the saved activations: run the forward pass under
`torch.autograd.graph.saved_tensors_hooks` and add up the bytes of every distinct
storage autograd saves, parameters and buffers left out (they are counted as weights).

* every layer type, each of its forward-pass cases (test_verify_layers.CASES, the
  families' included) with a training-mode torch twin, in every gradient situation: all
  inputs need a gradient, each one alone, none; parameters trained or frozen. Equal to
  the byte;
* every zoo network at batch 2 against its twin (tests/torch_zoo.py, torchvision's
  models) in training mode, on a small input (the rule holds at any size). Equal, but for
  one difference, computed here and asserted: the twins run nn.Dropout on the CPU, which
  keeps a float mask (4 bytes an element; nn.Dropout(inplace=True) does so on a GPU too),
  where cnncalc counts the 1-byte bool mask of native_dropout, what nn.Dropout runs on
  a GPU (and what the layer cases check);
* weights, gradients and optimizer state after one step of each torch.optim optimizer;
* a frozen stem, the mixed-precision widths by hand, the peak and --max-batch
  arithmetic, the command line and hostile flag values.
"""
from __future__ import annotations

import functools
import json
import operator
import subprocess
import sys
import time

from hypothesis import HealthCheck, Phase, given, settings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import cnncalc
from cnncalc.layers import REGISTRY
from cnncalc.layers.saving import ACTIVATION, INT64
from cnncalc.limits import MAX_DIM
from cnncalc.training import OPTIMIZERS, PRECISIONS, Source, Step, keep, kept_bytes, training_memory, widths
from test_verify_layers import CASES, build, materialise
from torch_zoo import TORCH_ZOO
from torchvision_models import TORCHVISION_ZOO, torchvision

from case_types import BATCH, ForwardCase
from fuzz_cases import run_case
from fuzz_training import training_case
from helpers import ROOT, SPECS, ZOO, invoke, invoke_without_crash, write_spec

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
FP32 = widths(PRECISIONS["fp32"])


def saved_bytes(run, exclude) -> int:
    """Bytes of the distinct storages autograd saves while `run()` runs, those of the
    tensors in `exclude` (parameters, buffers) left out."""
    left_out = {t.untyped_storage().data_ptr() for t in exclude}
    storages = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in left_out:
            storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        run()
    return sum(storages.values())


# ---------------------------------------------------------------------------
# every layer type against its torch twin, in training mode
# ---------------------------------------------------------------------------

def _aligned(xs):
    """Per-sample shapes of lower rank given leading axes of 1 (a view), so that the batch
    axis does not take part in broadcasting."""
    rank = max(x.dim() for x in xs)
    return [x.reshape(x.shape[0], *(1,) * (rank - x.dim()), *x.shape[1:]) for x in xs]


MERGES = {"add": operator.add, "mul": operator.mul, "sub": operator.sub, "div": operator.truediv}


def training_twin(case: ForwardCase):
    """The torch function a training step runs for the case: its own where the case's is
    already that, else the training mode of the same operation."""
    kind, args = case.type, case.args
    p_drop = args.get("p", 0.5)
    if kind.startswith("batchnorm"):
        return lambda xs, p: F.batch_norm(xs[0], p["running_mean"], p["running_var"], p.get("weight"),
                                          p.get("bias"), training=True, eps=args.get("eps", 1e-5))
    if kind == "instance_norm":
        return lambda xs, p: F.instance_norm(xs[0], p.get("running_mean"), p.get("running_var"), p.get("weight"),
                                             p.get("bias"), use_input_stats=True, eps=args.get("eps", 1e-5))
    if kind == "dropout":  # nn.Dropout on a GPU: native_dropout for 0 < p < 1, else ATen's plain path
        return lambda xs, p: (torch.native_dropout(xs[0], p_drop, True)[0] if 0 < p_drop < 1
                              else F.dropout(xs[0], p_drop, True))
    if kind in ("dropout1d", "dropout2d", "dropout3d"):
        return lambda xs, p: getattr(F, kind)(xs[0], p_drop, True)
    if kind == "stochastic_depth":
        return lambda xs, p: torchvision.ops.stochastic_depth(xs[0], args["p"], args.get("mode", "row"), True)
    if kind == "global_max_pool":  # as nn.AdaptiveMaxPoolNd(1), which the zoo's TextCNN uses
        def global_max(xs, p):
            pooled = getattr(F, f"adaptive_max_pool{xs[0].dim() - 2}d")(xs[0], 1)
            return pooled if args.get("keepdims", True) else pooled.flatten(1)
        return global_max
    if kind in MERGES:
        return lambda xs, p: functools.reduce(MERGES[kind], _aligned(xs))
    return case.torch_fn


EXTRA = [  # arguments whose rule differs and which the forward-pass cases do not hold
    ForwardCase("dropout-p0", "dropout", {"p": 0.0}, [(6,)], None),
    ForwardCase("dropout-p1", "dropout", {"p": 1.0}, [(3, 4)], None),
    ForwardCase("dropout2d-p0", "dropout2d", {"p": 0.0}, [(4, 3, 3)], None),
    ForwardCase("dropout2d-p1", "dropout2d", {"p": 1.0}, [(4, 3, 3)], None),
    ForwardCase("dropout3d-p1", "dropout3d", {"p": 1.0}, [(4, 2, 3, 3)], None),
    ForwardCase("stochastic_depth-batch", "stochastic_depth", {"p": 0.3, "mode": "batch"}, [(4, 3, 3)], None),
    ForwardCase("stochastic_depth-p0", "stochastic_depth", {"p": 0.0}, [(4, 3, 3)], None),
    ForwardCase("adaptive_avgpool1d-one", "adaptive_avgpool1d", {"output_size": 1}, [(3, 11)],
                lambda xs, p: F.adaptive_avg_pool1d(xs[0], 1)),
    ForwardCase("adaptive_avgpool2d-one", "adaptive_avgpool2d", {"output_size": [1, 1]}, [(3, 5, 7)],
                lambda xs, p: F.adaptive_avg_pool2d(xs[0], 1)),
    ForwardCase("global_max_pool-2d", "global_max_pool", {}, [(5, 4, 6)], None),
    ForwardCase("mul-same-input", "mul", {}, [(3, 4), (3, 4)], None),
]
LAYER_CASES = CASES + EXTRA


def situations(case: ForwardCase, has_params: bool) -> list:
    """(which inputs need a gradient, whether the parameters train): all, each input alone
    and none, with the parameters trained and frozen."""
    n = len(case.inputs)
    patterns = [(False,) * n] if case.tokens else [(True,) * n, (False,) * n]
    if n > 1 and case.id != "mul-same-input":  # one tensor read twice needs a gradient or not
        patterns += [tuple(i == j for j in range(n)) for i in range(n)]
    return [(pattern, trains) for pattern in patterns for trains in ([True, False] if has_params else [False])]


def torch_layer_bytes(case: ForwardCase, layer, pattern, trains) -> int:
    params, buffers, inputs = materialise(layer, case, np.random.default_rng(0))
    weights = {name: torch.from_numpy(a).requires_grad_(trains) for name, a in params.items()}
    stats = {name: torch.from_numpy(a) for name, a in buffers.items()}
    xs = [torch.from_numpy(x) if case.tokens else torch.from_numpy(x).requires_grad_(need)
          for x, need in zip(inputs, pattern)]
    if case.id == "mul-same-input":
        xs[1] = xs[0]
    twin = training_twin(case)
    return saved_bytes(lambda: twin(xs, {**weights, **stats}), [*weights.values(), *stats.values()])


def cnncalc_layer_bytes(case: ForwardCase, layer, pattern, trains) -> int:
    names = [f"x{i}" for i in range(len(case.inputs))]
    if case.id == "mul-same-input":
        names[1] = names[0]
    sources = {name: Source(shape, INT64 if case.tokens else ACTIVATION, need)
               for name, shape, need in zip(names, case.inputs, pattern)}
    step = Step("layer", layer, tuple(names), tuple(layer.output_shape(*case.inputs)), trains)
    return sum(size for _, size in kept_bytes(keep(sources, [step]), BATCH, FP32))


@pytest.mark.parametrize("case", LAYER_CASES, ids=[case.id for case in LAYER_CASES])
def test_each_layer_keeps_what_autograd_saves(case):
    layer = build(case)
    has_params = bool(layer.parameters(*case.inputs))
    for pattern, trains in situations(case, has_params):
        theirs = torch_layer_bytes(case, layer, pattern, trains)
        ours = cnncalc_layer_bytes(case, layer, pattern, trains)
        assert ours == theirs, f"{case.id}: inputs needing gradients {pattern}, parameters trained {trains}"


def test_every_layer_type_has_a_training_case():
    assert set(REGISTRY) <= {case.type for case in LAYER_CASES}


# ---------------------------------------------------------------------------
# every zoo network against its twin, at batch 2
# ---------------------------------------------------------------------------

TWINS = {**TORCH_ZOO, **TORCHVISION_ZOO}
SMALL = {  # a smaller input where the zoo's is large: the figures are the same rules at any size
    "alexnet": (3, 64, 64), "vgg16": (3, 32, 32), "nin": (1, 96, 96), "googlenet": (3, 32, 32),
    "resnet18": (3, 32, 32), "resnet50": (3, 32, 32), "unet": (1, 188, 188), "regnet_x_400mf": (3, 32, 32),
    "shufflenet_v2_x1_0": (3, 32, 32), "mobilenet_v3_large": (3, 32, 32), "efficientnet_b0": (3, 32, 32),
    "convnext_tiny": (3, 32, 32), "deeplabv3_resnet50": (3, 32, 32), "r3d_18": (3, 8, 32, 32),
}
MASK_SAVING = FP32[ACTIVATION] - 1  # bytes an element of nn.Dropout's CPU float mask has beyond a bool


def zoo_summary(stem: str, batch: int = 2):
    shape = SMALL.get(stem, TWINS[stem][1])
    if stem == "deeplabv3_resnet50":  # its upsampling sizes follow these vars, not --input
        network = cnncalc.load(str(SPECS / f"{stem}.yaml"), variables={"height": str(shape[1]), "width": str(shape[2])})
    else:
        network = cnncalc.load(str(SPECS / f"{stem}.yaml"), input_shape=list(shape))
    return cnncalc.summarize(network, batch=batch), shape


def twin(stem: str):
    build, _, dtype = TWINS[stem]
    torch.manual_seed(0)
    return build().train(), dtype


@pytest.mark.parametrize("stem", ZOO)
def test_zoo_network_keeps_what_autograd_saves(stem):
    summary, shape = zoo_summary(stem)
    model, dtype = twin(stem)
    x = torch.randint(0, 100, (2, *shape)) if dtype == torch.int64 else torch.randn(2, *shape)
    masks = []  # the elements of every nn.Dropout mask, which the CPU keeps as floats
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout) and 0 < module.p < 1:
            module.register_forward_pre_hook(lambda module, inputs: masks.append(inputs[0].numel()))
    theirs = saved_bytes(lambda: model(x), [*model.parameters(), *model.buffers()])
    ours = training_memory(summary, "sgd", "fp32").saved_activations
    assert theirs - ours == MASK_SAVING * sum(masks), stem
    # the optimizer's step counters are one per parameter tensor: the same tensors as torch's
    records = [record for record in summary.layers if record.params]
    assert sum(len(record.param_shapes) for record in records) == len(list(model.parameters()))


def test_saved_activations_grow_by_the_batch():
    """Batch norm's statistics are one per channel whatever the batch: batch 3 against torch too."""
    summary, shape = zoo_summary("resnet18", batch=3)
    model, _ = twin("resnet18")
    x = torch.randn(3, *shape)
    memory = training_memory(summary, "sgd", "fp32")
    assert memory.saved_activations == saved_bytes(lambda: model(x), [*model.parameters(), *model.buffers()])
    single = training_memory(zoo_summary("resnet18", batch=1)[0], "sgd", "fp32")
    assert memory.peak - single.peak == 2 * memory.per_sample


# ---------------------------------------------------------------------------
# weights, gradients and optimizer state after one step
# ---------------------------------------------------------------------------

TORCH_OPTIMIZERS = {
    "sgd": lambda params: torch.optim.SGD(params, lr=0.1),
    "momentum": lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9),
    "adam": lambda params: torch.optim.Adam(params),
    "adamw": lambda params: torch.optim.AdamW(params),
}


def one_step(model, x, optimizer: str):
    step = TORCH_OPTIMIZERS[optimizer]([p for p in model.parameters() if p.requires_grad])
    model(x).sum().backward()
    step.step()
    return step


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("stem", ["lenet5", "resnet18"])
def test_model_state_after_one_step_is_torchs(stem, optimizer):
    """SGD keeps nothing; momentum a buffer per parameter; Adam and AdamW two buffers and,
    in torch 2.13, a float32 0-d `step` tensor per parameter tensor."""
    summary, shape = zoo_summary(stem)
    model, _ = twin(stem)
    state = one_step(model, torch.randn(2, *shape), optimizer).state
    memory = training_memory(summary, optimizer, "fp32")
    assert memory.weights == sum(p.nbytes for p in model.parameters())
    assert memory.gradients == sum(p.grad.nbytes for p in model.parameters())
    assert memory.optimizer_state == sum(t.nbytes for s in state.values() for t in s.values())
    assert memory.master_weights == 0
    if optimizer.startswith("adam"):
        steps = [s["step"] for s in state.values()]
        assert len(steps) == len(list(model.parameters()))
        assert all(t.dtype == torch.float32 and t.dim() == 0 for t in steps)


MNIST = """input: [1, 28, 28]
layers:
  - {type: conv2d, out_channels: 16, kernel_size: 5, padding: 2%s}
  - {type: relu}
  - {type: maxpool2d, kernel_size: 2}
  - {type: conv2d, out_channels: 32, kernel_size: 5, padding: 2}
  - {type: relu}
  - {type: maxpool2d, kernel_size: 2}
  - {type: flatten}
  - {type: linear, out_features: 10}
"""


def test_a_frozen_stem_keeps_nothing_and_trains_nothing(tmp_path):
    """trainable: false on the first convolution (mnist_cnn's): nothing before the first
    trained layer needs a gradient, so nothing there is saved (the input included), and its
    weights have no gradients and no optimizer state. Against torch with requires_grad off."""
    frozen = write_spec(tmp_path, MNIST % ", trainable: false", "frozen.yaml")
    summary = cnncalc.summarize(cnncalc.load(str(frozen)), batch=2)
    model, _ = twin("mnist_cnn")
    for p in model[0].parameters():
        p.requires_grad_(False)
    x = torch.randn(2, 1, 28, 28)
    memory = training_memory(summary, "adam", "fp32")
    assert memory.saved_activations == saved_bytes(lambda: model(x), list(model.parameters()))
    state = one_step(model, x, "adam").state
    assert memory.gradients == sum(p.grad.nbytes for p in model.parameters() if p.grad is not None)
    assert memory.optimizer_state == sum(t.nbytes for s in state.values() for t in s.values())
    whole = training_memory(cnncalc.summarize(cnncalc.load(str(write_spec(tmp_path, MNIST % ""))), batch=2))
    stem = 2 * 1 * 28 * 28 * 4 + 2 * 16 * 28 * 28 * 4 + 2 * 16 * 14 * 14 * 8  # input, relu's output, indices
    assert whole.saved_activations - memory.saved_activations == stem


# ---------------------------------------------------------------------------
# the model by hand: widths, peak, largest batch
# ---------------------------------------------------------------------------

SMALL_NET = """input: [3, 8, 8]
layers:
  - {type: conv2d, out_channels: 4, kernel_size: 3, padding: 1}
  - {type: batchnorm2d}
  - {type: relu}
  - {type: maxpool2d, kernel_size: 2}
  - {type: flatten}
  - {type: dropout, p: 0.5}
  - {type: linear, out_features: 10}
"""


@pytest.mark.parametrize("precision, act", [("fp32", 4), ("fp16-mixed", 2), ("bf16-mixed", 2)])
def test_the_parts_by_hand(tmp_path, precision, act):
    summary = cnncalc.summarize(cnncalc.load(str(write_spec(tmp_path, SMALL_NET))), batch=5)
    m = training_memory(summary, "adam", precision)
    params, tensors = 3 * 4 * 9 + 4 + 2 * 4 + 64 * 10 + 10, 6
    weight, grad, master = (4, 4, 0) if precision == "fp32" else (2, 2, 4)
    assert (m.weights, m.gradients, m.master_weights, m.buffers) == (params * weight, params * grad,
                                                                     params * master, 8 * 4)
    assert m.optimizer_state == 2 * params * 4 + tensors * 4
    per_sample = (192 * act  # the input, kept by conv
                  + 256 * act  # conv's output, kept by batch norm
                  + 256 * act  # relu's output, kept by relu and max pool
                  + 64 * 8  # max pool's indices (int64)
                  + 64 * 1  # dropout's mask (bool)
                  + 64 * act)  # dropout's output, kept by linear
    assert m.saved_activations == 5 * per_sample + 2 * 4 * 4  # batch norm's mean and 1/deviation: float32
    # batch norm's and relu's: the output's gradient and the input's (the network's input needs none)
    assert m.backward_transient == 5 * (256 + 256) * act
    assert m.per_sample == per_sample + (256 + 256) * act
    assert m.peak == (m.weights + m.buffers + m.gradients + m.optimizer_state + m.master_weights
                      + m.saved_activations + m.backward_transient)


@pytest.mark.parametrize("stem", ["lenet5", "resnet50", "textcnn"])
def test_the_largest_batch_is_the_last_that_fits(stem):
    memory = training_memory(zoo_summary(stem, batch=1)[0])
    for limit in (memory.peak - 1, memory.peak, 10**9, 24 * 2**30, 10**15):
        batch = memory.max_batch(limit)
        if batch:
            assert training_memory(zoo_summary(stem, batch=batch)[0]).peak <= limit
        if batch < MAX_DIM:
            assert training_memory(zoo_summary(stem, batch=batch + 1)[0]).peak > limit, (limit, batch)


def test_a_network_that_needs_no_memory_per_sample_fits_any_batch(tmp_path):
    summary = cnncalc.summarize(cnncalc.load(str(write_spec(tmp_path, "input: [4]\nlayers: [{type: relu}]\n"))))
    memory = training_memory(summary)
    assert memory.per_sample == 0 and memory.peak == 0 and memory.max_batch(1) == MAX_DIM


# ---------------------------------------------------------------------------
# the command line
# ---------------------------------------------------------------------------

RESNET50 = str(SPECS / "resnet50.yaml")


def test_flags_turn_training_on_and_the_figures_are_the_librarys():
    memory = training_memory(cnncalc.summarize(cnncalc.load(RESNET50), batch=4), "momentum", "bf16-mixed")
    for args in (["--training", "--optimizer", "momentum", "--precision", "bf16-mixed"],
                 ["--optimizer", "momentum", "--precision", "bf16-mixed"]):
        result = invoke("summary", RESNET50, "--batch", "4", "--format", "json", *args)
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)["training"]
        assert data["bytes"]["peak"] == memory.peak and data["per_sample_bytes"] == memory.per_sample
        assert sum(layer["saved_activation_bytes"] for layer in data["layers"]) == memory.saved_activations
    plain = invoke("summary", RESNET50)
    assert "Training step" not in plain.stdout


def test_table_and_markdown_end_with_the_section():
    table = invoke("summary", RESNET50, "--training")
    assert table.exit_code == 0
    assert "Training step (batch 1, fp32, adam)" in table.stdout and "Peak" in table.stdout
    markdown = invoke("summary", RESNET50, "--training", "--format", "markdown")
    assert "| Training step (batch 1, fp32, adam) | |" in markdown.stdout


@pytest.mark.parametrize("size, limit", [("24GB", 24 * 10**9), ("24GiB", 24 * 2**30), ("512MB", 512 * 10**6),
                                         ("1.5GiB", 3 * 2**29), ("24 gb", 24 * 10**9), ("10000000000", 10**10)])
def test_max_batch_units(size, limit):
    memory = training_memory(cnncalc.summarize(cnncalc.load(RESNET50)))
    result = invoke("summary", RESNET50, "--max-batch", size, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)["training"]["max_batch"]
    assert data == {"memory_bytes": limit, "batch": memory.max_batch(limit)}


def test_max_batch_that_fits_nothing_exits_1():
    result = invoke("summary", RESNET50, "--max-batch", "100MB")
    assert result.exit_code == 1
    assert "none (batch 1 needs" in result.stdout


@pytest.mark.parametrize("args, words", [
    (["--max-batch", "24XB"], "--max-batch expects a memory size"),
    (["--max-batch", "0"], "must be a positive size"),
    (["--max-batch", "-1GB"], "--max-batch expects a memory size"),
    (["--training", "--format", "csv"], "not offered with --format csv"),
    (["--training", "--input", "3,224..256..32"], "not a sweep"),
    (["--training", "--input", "3,H,W"], "needs numeric sizes"),
])
def test_misuse_is_a_usage_error(args, words):
    result = invoke("summary", RESNET50, *args)
    assert result.exit_code == 2, result.output
    assert words in result.stderr and "hint:" in result.stderr


HOSTILE = ["", " ", "-0", "1e400", "nan", "inf", "10**30", "0**-1", "9" * 5000, "x" * 100_000, "\x1b[31m1GB",
           "\u202e24GB", "24\x00GB", "1_000GB", "24,000GB", "0.0000001B", "99999999999999999999999999TB", "GB",
           "24GB24GB", "\udcff", "é" * 50, "--training", "adam"]


@pytest.mark.parametrize("flag", ["--max-batch", "--optimizer", "--precision"])
def test_hostile_values_end_in_an_exit_code(flag):
    for value in HOSTILE:
        started = time.perf_counter()
        result = invoke_without_crash("summary", str(SPECS / "lenet5.yaml"), flag, value)
        assert result.exit_code in (0, 1, 2), (value, result.output)
        assert time.perf_counter() - started < 5
        assert max(map(len, (result.stdout + result.stderr).splitlines() or [""])) < 20_000
        assert "\x1b" not in result.stderr and "\u202e" not in result.stderr


@settings(max_examples=60, deadline=None, database=None, phases=[Phase.generate],
          suppress_health_check=list(HealthCheck))
@given(case=training_case(process_share=2**62))
def test_fuzz_cases_of_the_training_flags(tmp_path_factory, case):
    """fuzz_cases' judge: exit 0, 1 or 2, no traceback, no raw control character, JSON
    that parses, within its time and memory. In-process only: a process forked from this
    one, which holds torch's models by now, would report their pages as its peak memory
    (benchmarks/fuzz.py runs these cases as processes too)."""
    outcome = run_case(case, str(tmp_path_factory.mktemp("fuzz")))
    assert not outcome.failures, f"{case!r} -> {outcome.status}: {outcome.failures}"


def test_training_imports_neither_numpy_nor_rich():
    code = ("import sys\n"
            "from typer.testing import CliRunner\n"
            "from cnncalc.cli import app\n"
            "result = CliRunner().invoke(app, ['summary', 'specs/resnet50.yaml', '--max-batch', '24GB'])\n"
            "assert result.exit_code == 0, result.output\n"
            "assert 'numpy' not in sys.modules and 'rich' not in sys.modules\n")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_a_long_network_is_quick(tmp_path):
    layers = "".join("  - {type: conv1d, out_channels: 2, kernel_size: 1}\n  - {type: relu}\n" for _ in range(4_000))
    path = write_spec(tmp_path, f"input: [2, 8]\nlayers:\n{layers}")
    started = time.perf_counter()
    result = invoke("summary", str(path), "--max-batch", "8GiB", "--format", "json")
    assert result.exit_code == 0 and time.perf_counter() - started < 10
