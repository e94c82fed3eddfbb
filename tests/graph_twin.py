"""A torch model and a cnncalc spec compared operation by operation, through torch.fx.

Forward hooks on leaf modules (tests/torch_zoo.py's `trace`) see only modules, and the
torchvision networks do much of their work in plain functions: residual adds
(`result += input`), squeeze-excitation's `scale * input`, `torch.flatten`, `x.chunk`,
`torch.cat`, `channel_shuffle`, `x.mean`, `F.interpolate`, ConvNeXt's `layer_scale * x`.
So the model is traced symbolically with torch.fx instead, every module without children
kept as one call (a conv, a batch norm, torchvision's LayerNorm2d, Permute,
StochasticDepth), and the graph is run once on a real input to record each tensor's shape.
The result is one `Op` per tensor operation, in the order torch runs them, each knowing
which ops it reads.

`compare(network, summary, ops, model)` then pairs the spec's rows with those ops one to
one, in order, and asserts for every pair: the same type, the same inputs (the same
producers, in the same order; either order for `add`/`mul`), the same output shape,
parameters, buffers and MACs, and the same settings (kernel, stride, padding, dilation,
groups, bias, eps, pool windows, dropout and stochastic-depth rates, the chunk piece, the
shuffle's groups, the interpolation mode...). Then the totals against the whole model. A spec that
leaves out an op, adds one, wires one differently or gets a setting wrong fails, naming
the first row that differs. Nothing in the graph is skipped: an op this module does not
know is an error, not a gap.

Spec rows must come in the order torch runs the ops (torchvision's RegNet runs the
projection shortcut before the block's body, so its spec lists `proj` first).
"""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import fx, nn

INPUT = "input"


# --------------------------------------------------------------------------
# What an op is, on the torch side
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Function:
    """A graph op that is a function call, not a module: what the README rules need."""
    target: str


@dataclass(frozen=True)
class AddOp(Function):
    pass


@dataclass(frozen=True)
class MulOp(Function):
    pass


@dataclass(frozen=True)
class ScaleOp(Function):
    """`parameter * x` with a learnt per-channel parameter (ConvNeXt's layer scale)."""
    parameter: nn.Parameter = field(default=None, compare=False)


@dataclass(frozen=True)
class CatOp(Function):
    dim: int = 1


@dataclass(frozen=True)
class FlattenOp(Function):
    start_dim: int = 0
    end_dim: int = -1


@dataclass(frozen=True)
class MeanOp(Function):
    dims: tuple = ()
    keepdim: bool = False


@dataclass(frozen=True)
class PieceOp(Function):
    """One piece of `x.chunk(chunks, dim)`, taken by `pieces[index]`."""
    chunks: int = 1
    dim: int = 0
    index: int = 0


@dataclass(frozen=True)
class ChannelShuffleOp(Function):
    groups: int = 1


@dataclass(frozen=True)
class InterpolateOp(Function):
    mode: str = "nearest"
    align_corners: bool | None = None


@dataclass
class Op:
    index: int
    kind: str  # cnncalc's type name for it: "conv2d", "add", "chunk", ...
    where: str  # the module's qualified name, or the fx node's name for a function
    module: object  # the nn.Module, or a Function record
    inputs: tuple  # the indices of the ops it reads, INPUT for the model's input
    input_shapes: tuple  # per sample (batch axis removed), one per tensor input
    output_shape: tuple  # per sample
    output_bytes: int  # bytes of the whole output tensor (all of the batch)
    params: int
    buffers: int  # batch norm's running mean and variance
    macs: int  # per sample: conv and linear only

    def describe(self) -> str:
        return f"torch op {self.index} {self.kind} at {self.where} <- {list(self.inputs)} -> {list(self.output_shape)}"


# --------------------------------------------------------------------------
# Leaf modules: their cnncalc type, and their settings as cnncalc names them
# --------------------------------------------------------------------------


def _pair(value, rank: int = 2) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * rank


def _conv(m: nn.Conv2d) -> dict:  # also Conv3d
    return {"out_channels": m.out_channels, "kernel_size": tuple(m.kernel_size), "stride": tuple(m.stride),
            "padding": tuple(m.padding), "dilation": tuple(m.dilation), "groups": m.groups,
            "bias": m.bias is not None}


def _batchnorm(m: nn.BatchNorm2d) -> dict:  # also BatchNorm3d
    return {"eps": m.eps, "affine": m.affine}


def _layer_norm(m: nn.LayerNorm) -> dict:
    return {"eps": m.eps, "elementwise_affine": m.elementwise_affine, "bias": m.bias is not None}


def _maxpool(m: nn.MaxPool2d) -> dict:
    return {"kernel_size": _pair(m.kernel_size), "stride": _pair(m.stride), "padding": _pair(m.padding),
            "dilation": _pair(m.dilation), "ceil_mode": m.ceil_mode}


def _avgpool(m: nn.AvgPool2d) -> dict:
    return {"kernel_size": _pair(m.kernel_size), "stride": _pair(m.stride), "padding": _pair(m.padding),
            "ceil_mode": m.ceil_mode, "count_include_pad": m.count_include_pad}


def _linear(m: nn.Linear) -> dict:
    return {"out_features": m.out_features, "bias": m.bias is not None}


def _nothing(m) -> dict:
    return {}


def _torchvision_modules() -> list:
    """torchvision's own leaf modules, looked up only when torchvision is imported."""
    import sys

    ops = sys.modules.get("torchvision.ops.misc")
    depth = sys.modules.get("torchvision.ops.stochastic_depth")
    convnext = sys.modules.get("torchvision.models.convnext")
    found = []
    if convnext is not None:  # before nn.LayerNorm, which it subclasses
        found.append((convnext.LayerNorm2d, ("layer_norm",), lambda m: {**_layer_norm(m), "axis": "channels"}))
    if ops is not None:
        found.append((ops.Permute, ("permute",), lambda m: {"dims": tuple(d - 1 for d in m.dims[1:])}))
    if depth is not None:
        found.append((depth.StochasticDepth, ("stochastic_depth",), lambda m: {"p": m.p, "mode": m.mode}))
    return found


# (module class, the cnncalc types it may be, its settings) — the first match wins
MODULES: list = [
    (nn.Conv2d, ("conv2d",), _conv),
    (nn.Conv3d, ("conv3d",), _conv),
    (nn.BatchNorm2d, ("batchnorm2d",), _batchnorm),
    (nn.BatchNorm3d, ("batchnorm3d",), _batchnorm),
    (nn.LayerNorm, ("layer_norm",), lambda m: {**_layer_norm(m), "axis": None}),
    (nn.Linear, ("linear",), _linear),
    (nn.ReLU, ("relu",), _nothing),
    (nn.ReLU6, ("relu6",), _nothing),
    (nn.Hardswish, ("hardswish",), _nothing),
    (nn.Hardsigmoid, ("hardsigmoid",), _nothing),
    (nn.SiLU, ("silu",), _nothing),
    (nn.Sigmoid, ("sigmoid",), _nothing),
    (nn.GELU, ("gelu",), lambda m: {"approximate": m.approximate}),
    (nn.MaxPool2d, ("maxpool2d",), _maxpool),
    (nn.AvgPool2d, ("avgpool2d",), _avgpool),
    (nn.AdaptiveAvgPool2d, ("adaptive_avgpool2d", "global_avg_pool"),
     lambda m: {"output_size": _pair(m.output_size)}),
    (nn.AdaptiveAvgPool3d, ("adaptive_avgpool3d", "global_avg_pool"),
     lambda m: {"output_size": _pair(m.output_size, 3)}),
    (nn.Dropout, ("dropout",), lambda m: {"p": m.p}),
    (nn.Flatten, ("flatten",), lambda m: {"start_dim": m.start_dim - 1, "end_dim": _dim(m.end_dim)}),
]


def _dim(dim: int) -> int:
    """A torch axis (counting the batch) as cnncalc's per-sample axis."""
    return dim - 1 if dim > 0 else dim


def module_kind(module: nn.Module):
    for cls, kinds, settings in _torchvision_modules() + MODULES:
        if isinstance(module, cls):
            return kinds, settings(module)
    raise TypeError(f"graph_twin knows no cnncalc type for torch module {type(module).__name__}")


# --------------------------------------------------------------------------
# Tracing
# --------------------------------------------------------------------------


class LeafTracer(fx.Tracer):
    """Every module without children is one call; `wrap` functions stay one call too."""

    def __init__(self, wrap: tuple = ()):
        super().__init__(autowrap_functions=tuple(wrap))

    def is_leaf_module(self, module: nn.Module, qualified_name: str) -> bool:
        return not any(True for _ in module.children())


class _Shapes(fx.Interpreter):
    """Runs the graph once, keeping what each node gave: its tensors' shapes and bytes."""

    def __init__(self, module):
        super().__init__(module)
        self.results: dict = {}

    def run_node(self, node):
        result = super().run_node(node)
        self.results[node] = _describe(result)
        return result


def _describe(value):
    if isinstance(value, torch.Tensor):
        return ("tensor", tuple(value.shape), value.numel() * value.element_size())
    if isinstance(value, (tuple, list)) and value and all(isinstance(v, torch.Tensor) for v in value):
        return ("tensors", len(value))
    return ("other",)


ADDS = {operator.add, operator.iadd, torch.add, "add", "add_", "__add__", "__iadd__"}
MULS = {operator.mul, operator.imul, torch.mul, "mul", "mul_", "__mul__", "__imul__"}
CHUNKS = {torch.chunk, "chunk"}
FLATTENS = {torch.flatten, "flatten"}
MEANS = {torch.mean, "mean"}
CATS = {torch.cat, torch.concat}
INTERPOLATES = {F.interpolate}


def _argument(node: fx.Node, position: int, keyword: str, default=None):
    if len(node.args) > position:
        return node.args[position]
    return node.kwargs.get(keyword, default)


def graph_ops(model: nn.Module, input_shape: tuple, dtype: torch.dtype = torch.float32, batch: int = 1,
              wrap: tuple = ()) -> list[Op]:
    """The model's tensor operations in the order torch runs them (see the module's doc).
    `wrap`: functions to keep as one op (ShuffleNetV2's channel_shuffle)."""
    model = model.eval()
    tracer = LeafTracer(wrap)
    graph = tracer.trace(model)
    module = fx.GraphModule(tracer.root, graph)
    shapes = _Shapes(module)
    torch.manual_seed(0)
    x = torch.randn(batch, *input_shape, dtype=dtype)
    with torch.no_grad():
        shapes.run(x)
    results = shapes.results
    wrapped = {fn: fn.__name__ for fn in wrap}

    ops: list[Op] = []
    producer: dict = {}  # fx node -> op index, INPUT, or ("pieces", node) for a chunk

    def tensor_inputs(node):
        found = []
        fx.node.map_arg((node.args, node.kwargs), lambda n: found.append(n))
        inputs = []
        for n in found:
            if n.op == "get_attr" or results[n][0] != "tensor":
                continue
            inputs.append(producer[n])
        return tuple(inputs)

    def add(node, kind, where, record, inputs, params=0, buffers=0, macs=0):
        _, shape, nbytes = results[node]
        in_shapes = tuple(ops[i].output_shape if i != INPUT else tuple(x.shape[1:]) for i in inputs)
        op = Op(len(ops), kind, where, record, inputs, in_shapes, shape[1:], nbytes, params, buffers, macs)
        ops.append(op)
        producer[node] = op.index

    for node in graph.nodes:
        if node.op == "placeholder":
            producer[node] = INPUT
            continue
        if node.op in ("get_attr", "output"):
            continue
        kind_of_result = results[node][0]
        target = node.target
        name = target if isinstance(target, str) else getattr(target, "__name__", str(target))
        if node.op == "call_module":
            sub = module.get_submodule(target)
            kinds, _ = module_kind(sub)
            params = sum(p.numel() for p in sub.parameters())
            buffers = sum(b.numel() for n, b in sub.named_buffers() if n.endswith(("running_mean", "running_var")))
            add(node, kinds[0], target, sub, tensor_inputs(node), params, buffers, module_macs(sub, results[node][1]))
            continue
        if target in CHUNKS:
            assert kind_of_result == "tensors", node
            producer[node] = ("pieces", node)
            continue
        if target is operator.getitem and isinstance(node.args[0], fx.Node) and \
                isinstance(producer.get(node.args[0]), tuple):
            chunk = node.args[0]
            record = PieceOp("chunk", chunks=_argument(chunk, 1, "chunks"),
                             dim=_argument(chunk, 2, "dim", 0), index=node.args[1])
            add(node, "chunk", node.name, record, tensor_inputs(chunk))
            continue
        if kind_of_result == "tensors":
            raise TypeError(f"graph_twin knows only chunk among ops giving several tensors, not {node.format_node()}")
        if kind_of_result != "tensor":
            continue  # x.shape, x.size(), their items: no tensor, no op
        inputs = tensor_inputs(node)
        if target in ADDS:
            add(node, "add", node.name, AddOp(name), inputs)
        elif target in MULS:
            parameters = [a for a in node.args if isinstance(a, fx.Node) and a.op == "get_attr"]
            if parameters:
                parameter = module.get_parameter(parameters[0].target)
                add(node, "scale", parameters[0].target, ScaleOp(name, parameter), inputs, params=parameter.numel())
            else:
                add(node, "mul", node.name, MulOp(name), inputs)
        elif target in CATS:
            add(node, "concat", node.name, CatOp(name, dim=_argument(node, 1, "dim", 0)), inputs)
        elif target in FLATTENS:
            add(node, "flatten", node.name, FlattenOp(name, start_dim=_argument(node, 1, "start_dim", 0),
                                                      end_dim=_argument(node, 2, "end_dim", -1)), inputs)
        elif target in MEANS:
            dims = _argument(node, 1, "dim")
            add(node, "mean", node.name, MeanOp(name, dims=tuple(_pair(dims, 1)),
                                                keepdim=_argument(node, 2, "keepdim", False)), inputs)
        elif target in INTERPOLATES:
            add(node, "upsample", node.name, InterpolateOp(name, mode=_argument(node, 3, "mode", "nearest"),
                                                           align_corners=_argument(node, 4, "align_corners")), inputs)
        elif target in wrapped and wrapped[target] == "channel_shuffle":
            add(node, "channel_shuffle", node.name, ChannelShuffleOp(name, groups=_argument(node, 1, "groups")), inputs)
        else:
            raise TypeError(f"graph_twin knows no cnncalc type for {node.op} {name} ({node.format_node()})")

    (out,) = [n for n in graph.nodes if n.op == "output"]
    result = out.args[0]
    assert isinstance(result, fx.Node) and producer[result] == len(ops) - 1, \
        "the model's output is not its last op: reorder the graph or the spec cannot follow it"
    return ops


def module_macs(module: nn.Module, output_shape: tuple) -> int:
    """Multiply-accumulates per sample: conv and linear only (as torch_zoo.layer_macs)."""
    out = math.prod(output_shape[1:])
    if isinstance(module, nn.modules.conv._ConvNd):
        return out * (module.in_channels // module.groups) * math.prod(module.kernel_size)
    if isinstance(module, nn.Linear):
        return module.in_features * out
    return 0


# --------------------------------------------------------------------------
# Pairing a spec with the ops
# --------------------------------------------------------------------------


def _function_settings(op: Op) -> dict:
    record = op.module
    if isinstance(record, CatOp):
        return {"axis": _dim(record.dim)}
    if isinstance(record, FlattenOp):
        return {"start_dim": _dim(record.start_dim), "end_dim": _dim(record.end_dim)}
    if isinstance(record, MeanOp):
        return {"axes": tuple(_dim(d) for d in record.dims), "keepdims": record.keepdim}
    if isinstance(record, PieceOp):
        return {"chunks": record.chunks, "axis": _dim(record.dim), "piece": record.index}
    if isinstance(record, ChannelShuffleOp):
        return {"groups": record.groups}
    if isinstance(record, InterpolateOp):
        return {"mode": record.mode, "align_corners": record.align_corners}
    return {}


def _same(ours, theirs) -> bool:
    if isinstance(ours, (tuple, list)) or isinstance(theirs, (tuple, list)):
        rank = len(ours) if isinstance(ours, (tuple, list)) else len(theirs)
        return tuple(_pair(ours, rank)) == tuple(_pair(theirs, rank))
    if isinstance(ours, float) or isinstance(theirs, float):
        return ours is not None and theirs is not None and math.isclose(ours, theirs, rel_tol=1e-12)
    return ours == theirs


COMMUTATIVE = {"add", "mul"}


@dataclass
class Pairing:
    rows: list  # summary LayerRecords, in order
    nodes: list  # network Nodes, in order
    ops: list  # torch Ops, in order: rows[i] <-> ops[i]


def pair_up(network, summary, ops: list[Op]) -> Pairing:
    """The spec's rows and the torch ops, one to one, checked as the module doc says;
    an AssertionError names the first row that differs."""
    rows, nodes = list(summary.layers), list(network.nodes)
    assert [r.name for r in rows] == [n.name for n in nodes]
    position = {INPUT: INPUT, **{r.name: i for i, r in enumerate(rows)}}
    for i, (row, node, op) in enumerate(zip(rows, nodes, ops)):
        where = f"row {i} '{row.name}' ({row.type}) vs {op.describe()}"
        kinds, settings = _kinds_and_settings(op)
        assert row.type in kinds, f"{where}: types differ (torch: {' or '.join(kinds)})"
        inputs = tuple(position[name] for name in row.inputs)
        if row.type in COMMUTATIVE:
            assert sorted(map(str, inputs)) == sorted(map(str, op.inputs)), f"{where}: inputs differ: {inputs}"
        else:
            assert inputs == op.inputs, f"{where}: inputs differ: {inputs}"
        theirs = (op.output_shape, op.params, op.buffers, op.macs)
        ours = (tuple(row.output_shape), row.params, row.buffers, row.macs)
        assert ours == theirs, f"{where}: (shape, params, buffers, MACs) {ours} here, {theirs} in torch"
        if row.type == "global_avg_pool":  # torch's AdaptiveAvgPool2d(1): its output shape says it all
            settings = {}
        for attribute, value in settings.items():
            mine = getattr(node.layer, attribute)
            assert _same(mine, value), f"{where}: {attribute} is {mine!r} here, {value!r} in torch"
    assert len(rows) == len(ops), (
        f"{len(rows)} rows in the spec, {len(ops)} ops in torch; first unpaired: "
        + (f"row '{rows[len(ops)].name}'" if len(rows) > len(ops) else ops[len(rows)].describe()))
    assert position[network.output] == len(ops) - 1, f"the spec's output is '{network.output}', not its last row"
    return Pairing(rows, nodes, ops)


def _kinds_and_settings(op: Op):
    if isinstance(op.module, nn.Module):
        return module_kind(op.module)
    return (op.kind,), _function_settings(op)


def compare(network, summary, ops: list[Op], model: nn.Module) -> Pairing:
    """pair_up, then the totals against the whole model: parameters, running statistics,
    MACs and the output shape."""
    pairing = pair_up(network, summary, ops)
    totals = summary.totals
    assert totals.params == sum(p.numel() for p in model.parameters())
    running = sum(b.numel() for n, b in model.named_buffers() if n.endswith(("running_mean", "running_var")))
    assert totals.buffers == running
    assert totals.macs == sum(op.macs for op in ops)
    assert tuple(summary.output_shape) == ops[-1].output_shape
    return pairing


def copy_weights(pairing: Pairing, weights: dict) -> None:
    """cnncalc's materialised arrays into the paired torch modules (and layer-scale
    parameters), so that both compute the same function."""
    import numpy as np

    with torch.no_grad():
        for node, op in zip(pairing.nodes, pairing.ops):
            params, buffers = weights[node.name]
            arrays = {**params, **buffers}
            if isinstance(op.module, ScaleOp):
                (array,) = arrays.values()
                target = op.module.parameter
                target.copy_(torch.from_numpy(np.ascontiguousarray(array)).reshape(target.shape))
                continue
            if not arrays:
                continue
            state = op.module.state_dict()
            for name, array in arrays.items():
                assert name in state, f"{node.name}: torch {type(op.module).__name__} has no '{name}'"
                assert tuple(state[name].shape) == tuple(array.shape), (node.name, name)
                state[name].copy_(torch.from_numpy(np.ascontiguousarray(array)))
            missing = {n for n in state if not n.endswith("num_batches_tracked")} - set(arrays)
            assert not missing, f"{node.name}: torch {type(op.module).__name__} also has {sorted(missing)}"
