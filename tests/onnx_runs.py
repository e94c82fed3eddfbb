"""What tests/test_export_onnx.py runs on an exported ONNX model: onnx's checker and shape
inference, onnxruntime against verify's forward pass. A module without pytest, torch or
hypothesis, so that the zoo's models run in a process of their own (`check_zoo_spec`):
VGG-16's takes 550 MB, and what a process has once held it keeps (test_fuzz judges the
memory of processes forked from pytest's)."""
from __future__ import annotations

import numpy
import onnx
import onnxruntime

import cnncalc
from cnncalc.backend.execute import run
from cnncalc.backend.ops import Ops
from cnncalc.backend.params import Params, materialise, random_input
from cnncalc.export.onnx import BATCH, export
from cnncalc.network import INPUT
from cnncalc.summary import infer_shapes

TOLERANCE = 1e-4  # of the largest magnitude of the expected output (at least 1): fp32 sums in another order


def model_of(network, seed: int = 0) -> onnx.ModelProto:
    return onnx.load_from_string(export(network, seed=seed))


def inferred_shapes(model: onnx.ModelProto) -> dict:
    """{tensor: shape} as onnx's shape inference finds them, with the shapes the export
    declares (value_info, the output's) taken away first. The float initializers (weights)
    become graph inputs of their shape: inference reads their shapes, not their values."""
    bare = onnx.ModelProto()
    bare.CopyFrom(model)
    graph = bare.graph
    graph.ClearField("value_info")
    for output in graph.output:
        output.type.tensor_type.ClearField("shape")
    weights = [tensor for tensor in graph.initializer if tensor.data_type == onnx.TensorProto.FLOAT]
    graph.input.extend(onnx.helper.make_tensor_value_info(tensor.name, tensor.data_type, tensor.dims)
                       for tensor in weights)
    kept = [tensor for tensor in graph.initializer if tensor.data_type != onnx.TensorProto.FLOAT]
    graph.ClearField("initializer")
    graph.initializer.extend(kept)
    bare = onnx.shape_inference.infer_shapes(bare, check_type=True, strict_mode=True)
    return {info.name: [dim.dim_value if dim.HasField("dim_value") else dim.dim_param
                        for dim in info.type.tensor_type.shape.dim]
            for info in [*bare.graph.value_info, *bare.graph.output]}


def numpy_outputs(network, weights: dict, x) -> dict:
    """Every layer's output of the forward pass verify runs (cnncalc.backend.execute.run's,
    but with every activation kept)."""
    values = {INPUT: x}
    for node in network.nodes:
        params, buffers = weights[node.name]
        accessor = Params(params, buffers, make=None)
        values[node.name] = node.layer.forward(Ops(numpy), accessor, *(values[name] for name in node.inputs))
        assert accessor.problems == []
    return values


def onnxruntime_outputs(model: onnx.ModelProto, x, every_layer: bool) -> dict:
    """{tensor: array} that onnxruntime computes: the graph's output, and with `every_layer`
    every layer's (each value_info made an output too)."""
    if every_layer:
        model.graph.output.extend(model.graph.value_info)
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return dict(zip([output.name for output in session.get_outputs()], session.run(None, {INPUT: x})))


def difference(actual, expected) -> float:
    """The largest difference over the largest finite magnitude expected (at least 1); equal
    infinities (a max pool's window of padding alone: -inf) differ by nothing."""
    assert actual.shape == expected.shape
    with numpy.errstate(invalid="ignore"):
        gap = numpy.where(actual == expected, 0.0, numpy.abs(actual.astype("float64") - expected))
    scale = max(float(numpy.abs(expected[numpy.isfinite(expected)]).max(initial=0.0)), 1.0)
    return float(gap.max(initial=0.0)) / scale


def same_as_verify(network, batch: int = 2, every_layer: bool = True) -> float:
    """The exported model computes verify's output (and every layer's) on verify's weights
    and input; the largest relative difference."""
    model = model_of(network)
    onnx.checker.check_model(model, full_check=True)
    x = random_input(network, numpy, batch)
    actual = onnxruntime_outputs(model, x, every_layer)
    weights = materialise(network, infer_shapes(network), numpy)
    if every_layer:
        expected = numpy_outputs(network, weights, x)
        assert set(actual) == {node.name for node in network.nodes}
        return max(difference(actual[name], numpy.asarray(expected[name])) for name in actual)
    _, output = run(network, numpy, weights, x)
    return difference(actual[network.output], output)


def check_zoo_spec(path: str, small_input: list | None) -> float:
    """A zoo spec's model passes the checker, its shapes are cnncalc's, every layer's shape
    is declared, and it computes verify's output (at `small_input`, when given, for the
    networks whose forward pass takes longest); the relative difference."""
    network = cnncalc.load(path)
    model = model_of(network)
    onnx.checker.check_model(model, full_check=True)
    inferred, shapes = inferred_shapes(model), infer_shapes(network)
    assert {node.name: inferred[node.name] for node in network.nodes} == \
        {node.name: [BATCH, *shapes[node.name]] for node in network.nodes}
    declared = {info.name for info in [*model.graph.value_info, *model.graph.output]}
    assert declared == {node.name for node in network.nodes}  # every layer's shape, for Netron
    if small_input is not None:
        return same_as_verify(cnncalc.load(path, input_shape=small_input), batch=1, every_layer=False)
    x = random_input(network, numpy, 1)
    actual = onnxruntime_outputs(model, x, every_layer=False)[network.output]
    _, expected = run(network, numpy, materialise(network, shapes, numpy), x)
    return difference(actual, expected)
