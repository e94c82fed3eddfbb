"""`cnncalc summary --convention TOOL`: cnncalc's prediction of each peer's figures equals
what the peer itself prints, for every zoo network.

Two twins of each zoo network: the module `cnncalc export --to pytorch` writes (proven equal
to the spec by tests/test_export_pytorch.py; its modules carry the spec's layer names, so
the per-layer figures are compared too) and the independent one (tests/torch_zoo.py by hand,
or torchvision's own model: totals). The peers are the real tools, pinned in the `test`
extra, run by tests/peer_tools.py in a process of its own. darknet and Keras do not install
here: their published output is quoted below and reproduced as specs.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings

import cnncalc
from cnncalc.conventions import TOOLS, convention
from cnncalc.summary import summarize
from fuzz_cases import run_case
from fuzz_conventions import convention_case
from helpers import ROOT, ZOO, ZOO_FILES, invoke, write_spec

FAST = settings(deadline=None, database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck))
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning",
                                        "ignore::FutureWarning")


PEERS = ("torchinfo", "fvcore", "ptflops", "thop")  # the tools that install: run for real


def _jobs(item) -> list:
    """The peer runs a selected test needs (see tests/peer_tools.py)."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    if item.originalname == "test_every_zoo_network_as_each_tool_prints_it":
        return [_job("export", params["path"], params["tool"])]
    if item.originalname == "test_independent_twins_as_each_tool_prints_them":
        return [_job("independent", _spec(params["stem"]), params["tool"])]
    if item.originalname == "test_a_batch_scales_as_each_tool_scales_it":
        return [_job("export", _spec("mnist_cnn"), tool, 3) for tool in PEERS]
    return []


def _spec(stem: str) -> str:
    return next(path for path in ZOO_FILES if path.endswith(f"/{stem}.yaml"))


def _job(twin: str, path: str, tool: str, batch: int = 1) -> dict:
    stem = path.rsplit("/", 1)[-1].removesuffix(".yaml")
    return {"twin": twin, "spec": path, "load": SMALLER.get(stem, {}), "tool": tool, "batch": batch}


@pytest.fixture(scope="module")
def peers(request) -> dict:
    """What the peers print for every job the selected tests need: one process for them all."""
    jobs = [job for item in request.session.items if item.module is sys.modules[__name__] for job in _jobs(item)]
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("peer_tools.py"))], input=json.dumps(jobs),
                          capture_output=True, text=True, cwd=ROOT, timeout=1200,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])})
    assert done.returncode == 0, done.stderr[-3000:]
    return {json.dumps(job, sort_keys=True): result for job, result in zip(jobs, json.loads(done.stdout))}


def _printed(peers: dict, *job) -> tuple[dict, dict]:
    result = peers[json.dumps(_job(*job), sort_keys=True)]
    return result["totals"], result["layers"]


def _check(peers: dict, network, path: str, tool: str, batch: int = 1) -> None:
    totals, layers = _printed(peers, "export", path, tool, batch)
    predicted = convention(summarize(network, batch), tool)
    assert predicted.totals == totals, (tool, predicted.totals, totals)
    rows = {row.name: row.counts for row in predicted.rows}
    for name, counts in layers.items():
        assert {key: rows[name][key] for key in counts} == counts, (tool, name)


# The rules read shapes only, so any valid input checks them: the two largest networks run
# at a smaller one, which keeps the CPU forward passes short.
SMALLER = {"unet": {"input_shape": [1, 188, 188]}, "deeplabv3_resnet50": {"variables": {"height": 128, "width": 128}}}


@pytest.mark.parametrize("tool", PEERS)
@pytest.mark.parametrize("path", ZOO_FILES, ids=lambda path: path.rsplit("/", 1)[-1])
def test_every_zoo_network_as_each_tool_prints_it(peers, path, tool):
    stem = path.rsplit("/", 1)[-1].removesuffix(".yaml")
    _check(peers, cnncalc.load(path, **SMALLER.get(stem, {})), path, tool)


# The independent twins (tests/torch_zoo.py by hand, torchvision's own models) give the same
# figures, but where they write a layer otherwise than cnncalc export does. There the tool's
# total is the prediction less those layers' share: (which spec layers, figures, 1/share, why).
TWIN_DIFFERENCES = {
    ("convnext_tiny", "torchinfo"): (lambda layer: layer.type == "scale", ("mult_adds",), 1,
                                     "torchvision keeps layer scale as a parameter of CNBlock, a module with "
                                     "children: no leaf, so torchinfo prices no MACs for it"),
    ("deeplabv3_resnet50", "ptflops"): (lambda layer: layer.type == "upsample", ("macs",), 2,
                                        "torchvision upsamples with F.interpolate, no nn.Upsample: ptflops counts "
                                        "the patched functional only, not the module hook as well (half)"),
    ("deeplabv3_resnet50", "thop"): (lambda layer: layer.type == "upsample", ("ops",), 1,
                                     "torchvision upsamples with F.interpolate: thop counts no functional"),
    ("r3d_18", "thop"): (lambda layer: layer.type == "conv3d" and layer.kernel_size == (3, 3, 3), ("ops", "params"), 1,
                         "torchvision's Conv3DSimple (its 16 3x3x3 convolutions) subclasses nn.Conv3d; thop 0.1.1 "
                         "looks up the exact class (pytorch-OpCounter#63; ultralytics/thop#144 fixed it)"),
    ("r3d_18", "ptflops"): (lambda layer: layer.type == "conv3d" and layer.kernel_size == (3, 3, 3), ("macs",), 1,
                            "ptflops looks up the exact class too: Conv3DSimple is a zero-op (ptflops#59)"),
}


@pytest.mark.parametrize("tool", PEERS)
@pytest.mark.parametrize("stem", ZOO)  # every zoo network has one (tests/torch_zoo.py, tests/torchvision_models.py)
def test_independent_twins_as_each_tool_prints_them(peers, stem, tool):
    totals, _ = _printed(peers, "independent", _spec(stem), tool)
    network = cnncalc.load(_spec(stem), **SMALLER.get(stem, {}))
    predicted = convention(summarize(network), tool)
    expected = dict(predicted.totals)
    if (stem, tool) in TWIN_DIFFERENCES:
        written_otherwise, figures, share, _why = TWIN_DIFFERENCES[stem, tool]
        layers = {node.name: node.layer for node in network.nodes}
        rows = [row for row in predicted.rows if written_otherwise(layers[row.name])]
        for figure in figures:
            expected[figure] -= sum(row.counts[figure] for row in rows) // share
        assert rows and expected != predicted.totals  # the documented difference is real
    assert totals == expected, (stem, tool, totals, predicted.totals)


def test_a_batch_scales_as_each_tool_scales_it(peers):
    for tool in PEERS:  # ptflops reports per sample, the others for the whole batch
        _check(peers, cnncalc.load(_spec("mnist_cnn")), _spec("mnist_cnn"), tool, batch=3)


# darknet (AlexeyAB), `darknet detector test cfg/coco.data cfg/yolov3-tiny.cfg ...` at 416 x 416, as
# printed in https://blog.csdn.net/juluwangriyue/article/details/109543317 (layers 0-15, up to the
# first [yolo]):
YOLOV3_TINY_PRINTED = """
   0 conv     16       3 x 3/ 1    416 x 416 x   3 ->  416 x 416 x  16 0.150 BF
   1 max                2x 2/ 2    416 x 416 x  16 ->  208 x 208 x  16 0.003 BF
   2 conv     32       3 x 3/ 1    208 x 208 x  16 ->  208 x 208 x  32 0.399 BF
   3 max                2x 2/ 2    208 x 208 x  32 ->  104 x 104 x  32 0.001 BF
   4 conv     64       3 x 3/ 1    104 x 104 x  32 ->  104 x 104 x  64 0.399 BF
   5 max                2x 2/ 2    104 x 104 x  64 ->   52 x  52 x  64 0.001 BF
   6 conv    128       3 x 3/ 1     52 x  52 x  64 ->   52 x  52 x 128 0.399 BF
   7 max                2x 2/ 2     52 x  52 x 128 ->   26 x  26 x 128 0.000 BF
   8 conv    256       3 x 3/ 1     26 x  26 x 128 ->   26 x  26 x 256 0.399 BF
   9 max                2x 2/ 2     26 x  26 x 256 ->   13 x  13 x 256 0.000 BF
  10 conv    512       3 x 3/ 1     13 x  13 x 256 ->   13 x  13 x 512 0.399 BF
  11 max                2x 2/ 1     13 x  13 x 512 ->   13 x  13 x 512 0.000 BF
  12 conv   1024       3 x 3/ 1     13 x  13 x 512 ->   13 x  13 x1024 1.595 BF
  13 conv    256       1 x 1/ 1     13 x  13 x1024 ->   13 x  13 x 256 0.089 BF
  14 conv    512       3 x 3/ 1     13 x  13 x 256 ->   13 x  13 x 512 0.399 BF
  15 conv    255       1 x 1/ 1     13 x  13 x 512 ->   13 x  13 x 255 0.044 BF
"""

# The same layers as a spec: [convolutional] with batch_normalize=1 and activation=leaky is a
# conv without bias, a batch norm and a leaky ReLU; the last is activation=linear, with a bias.
# Layer 11, a 2x2 maxpool of stride 1, pads one row and column at the end to keep 13 x 13.
def _darknet_conv(index: int, filters: int, size: int, linear: bool = False) -> str:
    if linear:
        return f"  - {{name: conv{index}, type: conv2d, out_channels: {filters}, kernel_size: {size}}}\n"
    return (f"  - {{name: conv{index}, type: conv2d, out_channels: {filters}, kernel_size: {size}, "
            f"padding: same, bias: false}}\n  - {{name: bn{index}, type: batchnorm2d}}\n"
            f"  - {{name: leaky{index}, type: leaky_relu, negative_slope: 0.1}}\n")


YOLOV3_TINY_SPEC = "name: yolov3_tiny\ninput: [3, 416, 416]\nlayers:\n" + "".join(
    _darknet_conv(index, 16 << (index // 2), 3) + f"  - {{name: max{index + 1}, type: maxpool2d, kernel_size: 2}}\n"
    for index in range(0, 10, 2)) + (
    _darknet_conv(10, 512, 3) + "  - {name: pad11, type: pad, pad: [0, 1, 0, 1]}\n"
    "  - {name: max11, type: maxpool2d, kernel_size: 2, stride: 1}\n"
    + _darknet_conv(12, 1024, 3) + _darknet_conv(13, 256, 1) + _darknet_conv(14, 512, 3)
    + _darknet_conv(15, 255, 1, linear=True))


def test_darknet_as_it_prints_yolov3_tiny(tmp_path):
    printed = [line.split() for line in YOLOV3_TINY_PRINTED.strip().splitlines()]
    report = convention(summarize(cnncalc.load(str(write_spec(tmp_path, YOLOV3_TINY_SPEC)))), "darknet")
    rows = {row.name: row for row in report.rows}
    for fields in printed:
        kind = "conv" if fields[1] == "conv" else "max"
        row = rows[f"{kind}{fields[0]}"]
        assert f"{row.counts['flops'] / 1e9:.3f}" == fields[-2], fields
    folded = [row for row in report.rows if row.type in ("batchnorm2d", "leaky_relu")]
    assert {row.counts["flops"] for row in folded} == {0}
    assert report.uncounted == ["pad11"]  # darknet's maxpool pads itself: no section of its own
    # the total adds the unrounded figures: within half a unit of the last printed place per layer
    assert abs(report.totals["flops"] / 1e9 - sum(float(fields[-2]) for fields in printed)) <= 0.0005 * len(printed)


# Keras, from https://stackoverflow.com/questions/42521005 (quoted at
# https://devpeace.com/keras/42521005/how-the-number-of-parameters-associated-with-batchnormalization-layer-is-2048):
#   x = keras.layers.Input(batch_shape = (None, 4096))
#   hidden = keras.layers.Dense(512, activation = 'relu')(x)
#   hidden = keras.layers.BatchNormalization()(hidden)
#   hidden = keras.layers.Dropout(0.5)(hidden)
#   predictions = keras.layers.Dense(80, activation = 'sigmoid')(hidden)
# model.summary():
#   dense_1 (Dense) (None, 512) 2097664 input_3[0][0]
#   batchnormalization_1 (BatchNorma (None, 512) 2048 dense_1[0][0]
#   dropout_1 (Dropout) (None, 512) 0 batchnormalization_1[0][0]
#   dense_2 (Dense) (None, 80) 41040 dropout_1[0][0]
#   Total params: 2,140,752
#   Trainable params: 2,139,728
#   Non-trainable params: 1,024
KERAS_SPEC = """
name: keras_mlp
input: [4096]
layers:
  - {name: dense_1, type: linear, out_features: 512}
  - {name: relu_1, type: relu}
  - {name: batchnormalization_1, type: batchnorm1d}
  - {name: dropout_1, type: dropout, p: 0.5}
  - {name: dense_2, type: linear, out_features: 80}
  - {name: sigmoid_2, type: sigmoid}
"""


def test_keras_as_it_prints_a_batch_norm_mlp(tmp_path):
    report = convention(summarize(cnncalc.load(str(write_spec(tmp_path, KERAS_SPEC)))), "keras")
    params = {row.name: row.counts["params"] for row in report.rows}
    assert [params[name] for name in ("dense_1", "batchnormalization_1", "dropout_1", "dense_2")] == \
        [2097664, 2048, 0, 41040]
    assert report.totals == {"params": 2140752, "trainable": 2139728, "non_trainable": 1024}
    assert report.ours == {"params": 2139728, "trainable": 2139728, "non_trainable": 0}  # the stats are buffers
    assert [row.name for row in report.rows if row.why] == ["batchnormalization_1"]


def test_the_cli_prints_each_tool_in_each_format():
    for tool in TOOLS:
        for output_format in ("table", "json", "markdown"):
            result = invoke("summary", "specs/resnet18.yaml", "--convention", tool, "-f", output_format)
            assert result.exit_code == 0, result.output
    table = invoke("summary", "specs/resnet18.yaml", "--convention", "fvcore").output
    assert "Where fvcore differs from cnncalc, and why:" in table
    assert "bn1: flops (MACs): eval-mode batch norm: 2 per input element" in table


def test_the_cli_refuses_what_a_convention_cannot_show(tmp_path):
    symbolic = write_spec(tmp_path, "name: s\ninput: [3, H, W]\nlayers:\n  - {type: conv2d, out_channels: 4, kernel_size: 3}\n")
    for args in (["--input", "3,H,W"], ["--input", "3,8..16..8,8"], ["--depth", "1"], ["--rf"], ["-f", "csv"], ["--training"]):
        result = invoke("summary", str(symbolic), "--convention", "thop", *args)
        assert result.exit_code == 2 and "Traceback" not in result.output, (args, result.output)


def test_summary_stays_light_without_the_option():
    import subprocess
    import sys

    code = ("import sys; from cnncalc.cli import app; "
            "print(any(name.startswith('cnncalc.conventions.') and name != 'cnncalc.conventions.core' "
            "for name in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


@settings(FAST, max_examples=40)
@given(case=convention_case(process_share=20))
def test_fuzz_cases(tmp_path_factory, case):
    """Any spec, any flags: exit 0, 1 or 2 with no traceback, in bounded time and memory,
    nothing written or lost (fuzz_cases.run_case judges it)."""
    outcome = run_case(case, str(tmp_path_factory.mktemp("fuzz")))
    assert not outcome.failures, f"{case!r} -> {outcome.status}: {outcome.failures}"
