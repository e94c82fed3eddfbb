"""`cnncalc export --to pytorch`: the file it writes builds, without cnncalc, a model whose
layers have the spec's output shapes, parameters, buffers and MACs (every zoo spec, on
torch's meta device), and which computes what `cnncalc verify` computes once verify's
weights are loaded by name (every layer type's case, and the small zoo nets). Nothing in a
spec can put code into the file."""
from __future__ import annotations

import ast
import math
import types

import numpy
import pytest
import torch
from hypothesis import HealthCheck, Phase, given, settings
from torch import nn

import cnncalc
from cnncalc.backend.execute import run
from cnncalc.backend.params import materialise, random_input
from cnncalc.export.pytorch import MODULE_ATTRIBUTES, export
from cnncalc.layers import REGISTRY, Layer
from cnncalc.summary import infer_shapes, summarize
from fuzz_cases import run_case, valid_network
from fuzz_export import export_case
from helpers import ZOO_FILES, invoke_without_crash, write_spec
from test_layers_torch import CASES

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
FAST = settings(deadline=None, database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck))


def module_of(source: str) -> types.ModuleType:
    """The exported source run as a module of its own, with nothing of cnncalc in reach."""
    module = types.ModuleType("exported")
    exec(compile(source, "<exported>", "exec"), module.__dict__)
    return module


def macs(module: nn.Module, inputs: tuple, output: torch.Tensor) -> int | None:
    """Multiply-accumulates per sample, by PyTorch's own sizes; None where no rule applies
    (layers whose MACs the spec counts are all covered: see the test)."""
    out = math.prod(output.shape[1:])
    if isinstance(module, nn.modules.conv._ConvTransposeNd):  # every input value times its group's weights
        return math.prod(inputs[0].shape[2:]) * module.in_channels * (module.out_channels // module.groups) \
            * math.prod(module.kernel_size)
    if isinstance(module, nn.modules.conv._ConvNd):
        return out * (module.in_channels // module.groups) * math.prod(module.kernel_size)
    if isinstance(module, nn.Linear):
        return out * module.in_features
    if type(module).__name__ == "SparseConv":
        return math.prod(output.shape[2:]) * sum(w.numel() for w in module.weight)
    if type(module).__name__ == "RBF":
        return out * module.weight.shape[1]
    return None


def traced(network, source: str, device: str = "meta") -> dict:
    """{spec layer: (output shape, params, buffers, MACs, trainable params)} of the exported
    model's forward."""
    exported = module_of(source)
    with torch.device(device):
        model = exported.Model().eval()
    seen = {}
    for name, path in exported.SPEC_NAMES.items():
        module = model.get_submodule(path)
        buffers = sum(b.numel() for n, b in module.named_buffers() if not n.endswith("num_batches_tracked"))
        module.register_forward_hook(lambda m, i, o, name=name, buffers=buffers: seen.__setitem__(
            name, (tuple(o.shape[1:]), sum(p.numel() for p in m.parameters()), buffers, macs(m, i, o),
                   sum(p.numel() for p in m.parameters() if p.requires_grad))))
    tokens = any(node.layer.token_range() for node in network.nodes)
    x = torch.zeros((1, *network.input_shape), dtype=torch.long if tokens else torch.float32, device=device)
    with torch.no_grad():
        model(x)
    return seen


@pytest.mark.parametrize("path", ZOO_FILES, ids=lambda path: path.rsplit("/", 1)[-1])
def test_every_zoo_spec_exports_to_its_figures(path):
    network = cnncalc.load(path)
    seen = traced(network, export(network))
    for record in summarize(network).layers:
        shape, params, buffers, counted, trainable = seen[record.name]
        assert (shape, params, buffers, trainable) == (tuple(record.output_shape), record.figures.params,
                                                       record.figures.buffers, record.figures.trainable_params)
        assert counted == record.figures.macs if counted is not None else record.figures.macs == 0, record.name


def _same_as_verify(network, tolerance: float = 1e-4) -> None:
    """The exported model, with verify's weights loaded by name, computes verify's output."""
    exported = module_of(export(network))
    model = exported.Model().eval()
    weights = materialise(network, infer_shapes(network), numpy)
    state = {f"{exported.SPEC_NAMES[node]}.{name}": torch.from_numpy(numpy.asarray(array))
             for node, declared in weights.items() for arrays in declared for name, array in arrays.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert [name for name in missing if not name.endswith("num_batches_tracked")] == [] and unexpected == []
    x = random_input(network, numpy, 2)
    _, expected = run(network, numpy, weights, x)
    with torch.no_grad():
        actual = model(torch.from_numpy(x)).numpy()
    assert actual.shape == expected.shape
    assert numpy.abs(actual - expected).max() <= tolerance * max(numpy.abs(expected).max(), 1.0)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_every_layer_type_computes_what_verify_computes(case):
    _same_as_verify(cnncalc.loads(case.spec()))


def test_every_layer_type_has_an_export():
    assert {case.type for case in CASES} == REGISTRY.keys()
    assert [kind for kind, cls in REGISTRY.items() if cls.torch_code is Layer.torch_code] == []


SMALL = {"lenet5": None, "lenet": None, "mnist_cnn": None, "numpy_cnn": None, "textcnn": None,
         "dcgan_generator": None, "resnet18": [3, 64, 64], "unet": [1, 188, 188], "convnext_tiny": [3, 64, 64],
         "shufflenet_v2_x1_0": [3, 64, 64], "mobilenet_v3_large": [3, 64, 64], "efficientnet_b0": [3, 64, 64]}


@pytest.mark.parametrize("name", SMALL)
def test_small_zoo_nets_compute_what_verify_computes(name):
    from helpers import SPECS

    _same_as_verify(cnncalc.load(str(SPECS / f"{name}.yaml"), input_shape=SMALL[name]))


def test_frozen_layers_stay_frozen(tmp_path):
    spec = ("input: [3, 8, 8]\nlayers:\n"
            "  - {name: stem, type: conv2d, out_channels: 4, kernel_size: 3, trainable: false}\n"
            "  - {type: batchnorm2d, trainable: false}\n  - {type: flatten}\n  - {type: linear, out_features: 2}\n")
    network = cnncalc.load(str(write_spec(tmp_path, spec)))
    seen = traced(network, export(network))
    totals = summarize(network).totals.figures
    assert sum(row[4] for row in seen.values()) == totals.trainable_params == 2 * 144 + 2
    assert sum(row[1] for row in seen.values()) == totals.params


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_resnets_have_torchvisions_state_dict(name):
    """The spec's names are torchvision's, so its pretrained weights load into the export."""
    from helpers import SPECS
    from torchvision_models import models

    exported = module_of(export(cnncalc.load(str(SPECS / f"{name}.yaml"))))
    with torch.device("meta"):
        ours, theirs = exported.Model().state_dict(), getattr(models, name)().state_dict()
    assert {key: value.shape for key, value in ours.items()} == {key: value.shape for key, value in theirs.items()}


def test_blocks_become_classes_and_names_stay():
    from helpers import SPECS

    source = export(cnncalc.load(str(SPECS / "resnet50.yaml")))
    classes = [node.name for node in ast.parse(source).body if isinstance(node, ast.ClassDef)]
    assert classes[-1] == "Resnet50" and "Bottleneck" in classes
    assert "self.layer1 = nn.Sequential(Bottleneck(), Bottleneck2(), Bottleneck2())" in source
    model = module_of(source).Model()
    assert "layer1.0.downsample.0.weight" in model.state_dict()  # HEAD.0, HEAD.1: an nn.ModuleList
    assert "import cnncalc" not in source and "from cnncalc" not in source


HOSTILE = '''name: "x\\"\\"\\"\\nimport os\\nos.system('touch PWNED')\\n\\"\\"\\"'"
input: [3, 8, 8]
blocks:
  none:
    layers: [{type: relu}]
  model:
    layers: [{block: none}]
  "a'b\\n\\"\\"\\"\\nimport os #":
    layers:
      - {name: class, type: conv2d, out_channels: 4, kernel_size: 3, padding: 1}
      - {name: forward, type: relu}
      - {name: self, type: relu}
layers:
  - {name: "3x3", type: conv2d, out_channels: 4, kernel_size: 3, padding: 1}
  - {name: a.b, type: relu}
  - {name: a_b, type: relu}
  - {name: x, type: relu}
  - {name: training, type: relu}
  - {name: "é-1", type: relu}
  - {name: import, block: "a'b\\n\\"\\"\\"\\nimport os #"}
  - {name: if, type: add, from: [a.b, import]}
  - {name: Model, block: model}
'''


def test_hostile_names_make_plain_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    network = cnncalc.load(str(write_spec(tmp_path, HOSTILE)))
    source = export(network)
    tree = ast.parse(source)
    allowed = (ast.Import, ast.ImportFrom, ast.ClassDef, ast.Assign)
    assert [type(node).__name__ for node in tree.body[1:] if not isinstance(node, allowed)] == []
    calls = {node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id for node in ast.walk(tree)
             if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute))}
    assert not calls & {"system", "exec", "eval", "__import__", "open"}
    seen = traced(network, source, device="cpu")
    assert set(seen) == {node.name for node in network.nodes}
    assert not (tmp_path / "PWNED").exists()
    names = module_of(source).SPEC_NAMES
    attributes = [path.rsplit(".", 1)[-1] for path in names.values()]
    assert all(name.isidentifier() and name.isascii() for name in attributes)
    assert not set(attributes) & MODULE_ATTRIBUTES
    assert names["a.b"] != names["a_b"]


def test_cli_writes_the_file_and_refuses_cleanly(tmp_path):
    from helpers import SPECS

    lenet = str(SPECS / "lenet5.yaml")
    out = tmp_path / "lenet5.py"
    result = invoke_without_crash("export", lenet, "--to", "pytorch", "-o", str(out))
    assert result.exit_code == 0 and result.stdout == ""
    assert out.read_text() == invoke_without_crash("export", lenet, "--to", "pytorch").stdout
    assert module_of(out.read_text()).Model()(torch.zeros(1, 1, 32, 32)).shape == (1, 10)
    for args in (["-o", str(tmp_path / "missing" / "x.py")], ["-o", str(tmp_path)], []):
        to = ["--to", "onnx"] if not args else ["--to", "pytorch"]
        result = invoke_without_crash("export", lenet, *to, *args)
        assert result.exit_code == 2, result.output
    symbolic = write_spec(tmp_path, "input: [3, H, W]\nlayers:\n  - {type: conv2d, out_channels: 4, kernel_size: 3}\n")
    result = invoke_without_crash("export", str(symbolic), "--to", "pytorch")
    assert result.exit_code == 2 and "--input" in result.stderr
    assert invoke_without_crash("export", str(symbolic), "--to", "pytorch", "--input", "3,16,16").exit_code == 0
    assert invoke_without_crash("export", str(tmp_path / "nope.yaml"), "--to", "pytorch").exit_code == 2


def test_export_never_replaces_its_spec_nor_leaves_half_a_file(tmp_path):
    from helpers import SPECS

    spec = tmp_path / "net.yaml"
    spec.write_bytes((SPECS / "lenet5.yaml").read_bytes())
    before = spec.read_bytes()
    result = invoke_without_crash("export", str(spec), "--to", "pytorch", "-o", str(spec))
    assert result.exit_code == 2 and "is the spec itself" in result.stderr
    assert spec.read_bytes() == before
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "net.py").mkdir()  # a folder in the way: refused, and nothing left behind
    assert invoke_without_crash("export", str(spec), "--to", "pytorch", "-o", str(folder / "net.py")).exit_code == 2
    assert [p.name for p in folder.iterdir()] == ["net.py"]
    target = folder / "model.py"
    target.write_text("old")
    assert invoke_without_crash("export", str(spec), "--to", "pytorch", "-o", str(target)).exit_code == 0
    assert target.read_text().startswith('"""A network as a PyTorch module')
    assert sorted(p.name for p in folder.iterdir()) == ["model.py", "net.py"]


def test_module_attributes_list_is_torchs():
    public = {name for name in dir(nn.Module) if not name.startswith("_")}
    assert public <= MODULE_ATTRIBUTES


@settings(FAST, max_examples=25)
@given(data=valid_network())
def test_generated_networks_export_to_their_figures(data):
    try:  # the strategy makes networks that build, and now and then one with a hostile value
        network = cnncalc.loads(data.decode("utf-8"))
    except cnncalc.SpecError:
        return
    seen = traced(network, export(network))
    for record in summarize(network).layers:
        assert seen[record.name][:3] == (tuple(record.output_shape), record.figures.params, record.figures.buffers)
        assert seen[record.name][4] == record.figures.trainable_params


@settings(FAST, max_examples=40)
@given(case=export_case(process_share=20))
def test_fuzz_cases(tmp_path_factory, case):
    outcome = run_case(case, str(tmp_path_factory.mktemp("fuzz")))
    assert not outcome.failures, f"{case!r} -> {outcome.status}: {outcome.failures}"
