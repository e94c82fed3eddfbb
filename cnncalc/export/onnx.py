"""`cnncalc export --to onnx`: a network as an ONNX model (opset OPSET), with the weights
`cnncalc verify` draws (backend/params.py `materialise`, the same seed), so that it runs as
it is (onnxruntime) and opens in Netron.

Names: the graph input is `input` (batch axis `N`, the spec's sizes after it); every spec
layer's output tensor, and the node that makes it, carry the layer's qualified name
(`layer1.0.conv1`); its parameters are initializers `NAME.weight`, `NAME.bias`,
`NAME.running_mean` …, as in the PyTorch export's state dict. A layer that ONNX has no
single operator for (LeNet-5's sparse convolution, RBF, adaptive pooling to a size that
does not divide) is composed of standard ones, in nodes named as their outputs,
`NAME/Op:k`; constants are `NAME/constant:k`. Every layer output has its shape in value_info.

Each layer type writes its own nodes (Layer.onnx_nodes) through the `Builder` here. Spec
names only ever become strings in the protobuf, never code. Only the onnx package (and
NumPy) is needed; it is imported here, in the export path alone.
"""
from __future__ import annotations

from ..backend.memory import available_ram, estimate, human
from ..diagnostics import SpecError, UsageError
from ..network import INPUT, Network
from . import numeric_shapes

OPSET = 21  # onnx 1.16 and onnxruntime 1.18 and later know it (tested: onnx 1.23, onnxruntime 1.32)
LIMIT = 2**31 - 1  # protobuf refuses a message of 2 GiB or more
BATCH = "N"


def _onnx():
    try:
        import onnx
    except ImportError:
        raise UsageError("exporting to ONNX needs the onnx package, which is not installed",
                         hint="pip install 'cnncalc[export]'") from None
    return onnx


class Builder:
    """What a layer's `onnx_nodes` writes with: nodes, constants, and the current layer's
    parameters as initializers; `ops` (backend Ops on NumPy) for constants that the layer's
    forward pass computes from sizes alone. Tensor names are unique: spec layer names first
    (reserved up front), then initializers and helper tensors, suffixed where they would clash."""

    def __init__(self, onnx, graph, weights: dict, reserved: set):
        from ..backend.namespace import namespace
        from ..backend.ops import Ops

        import numpy

        self.onnx, self.numpy, self.graph, self.weights = onnx, numpy, graph, weights
        self.ops = Ops(namespace("numpy"))
        self.taken = set(reserved)
        self.layer = ""  # the spec layer whose nodes are being written
        self.output = ""  # its output tensor
        self.count = 0
        self.made: dict = {}  # (layer, parameter, shape) -> initializer name

    def _unique(self, name: str) -> str:
        candidate, count = name, 1
        while candidate in self.taken:
            count += 1
            candidate = f"{name}~{count}"
        self.taken.add(candidate)
        return candidate

    def _fresh(self, what: str) -> str:
        """A new name of the current layer's: `LAYER/what:k`."""
        self.count += 1
        return f"{self.layer}/{what}:{self.count}"

    def node(self, op: str, inputs: list, output: str | None = None, **attributes) -> str:
        """One node `op` reading `inputs` ('' for an input left out); its output tensor's name
        (a fresh one, `LAYER/Op:k`, unless `output` is given). The node that makes the layer's
        own output is named as the layer; the others as their output."""
        output = output or self._unique(self._fresh(op))
        name = self.layer if output == self.output else output
        self.graph.node.append(self.onnx.helper.make_node(op, list(inputs), [output], name=name, **attributes))
        return output

    def _initializer(self, name: str, array) -> str:
        """`array` stored as the initializer `name` (made unique), written straight into the
        graph: one copy of the weights in the model, none in between."""
        name = self._unique(name)
        tensor = self.graph.initializer.add()
        tensor.name, tensor.data_type = name, self.onnx.helper.np_dtype_to_tensor_dtype(array.dtype)
        tensor.dims.extend(array.shape)
        tensor.raw_data = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()  # ONNX: little-endian
        return name

    def constant(self, values, dtype: str = "int64") -> str:
        """An initializer holding `values` (a list, nested lists or an array) as `dtype`."""
        return self._initializer(self._fresh("constant"), self.numpy.asarray(values, dtype=dtype))

    def full(self, shape: tuple, value: float) -> str:
        """A float32 initializer of `shape`, every element `value`."""
        return self._initializer(self._fresh("constant"), self.numpy.full(shape, value, dtype="float32"))

    def ints(self, values) -> str:
        return self.constant(list(values), "int64")

    def floats(self, values) -> str:
        return self.constant(values, "float32")

    def param(self, name: str, shape: tuple | None = None, buffer: bool = False) -> str:
        """The layer's parameter (buffer) `name` as the initializer `LAYER.name`, in `shape`
        (the same values, reshaped) when given."""
        key = (self.layer, name, shape)
        if key not in self.made:
            array = self.weights[self.layer][1 if buffer else 0][name]  # kept: another shape may be asked for
            array = array if shape is None else self.numpy.reshape(array, shape)
            self.made[key] = self._initializer(f"{self.layer}.{name}", array)
        return self.made[key]

    def buffer(self, name: str, shape: tuple | None = None) -> str:
        return self.param(name, shape, buffer=True)

    def per_channel(self, name: str, x: tuple, buffer: bool = False) -> str:
        """A [C] parameter shaped [C, 1, …] to broadcast over a batch of per-sample shape x."""
        return self.param(name, (x[0], *(1,) * (len(x) - 1)), buffer)

    def reshape(self, x: str, shape, output: str | None = None) -> str:
        """x reshaped to the per-sample `shape` (the batch axis kept)."""
        return self.node("Reshape", [x, self.ints([0, *shape])], output)

    def transpose(self, x: str, perm, output: str | None = None) -> str:
        """x with its per-sample axes in the order `perm` (the batch axis first)."""
        return self.node("Transpose", [x], output, perm=[0, *(p + 1 for p in perm)])

    def window_pads(self, x: tuple, out: tuple, kernel, stride, dilation, left) -> list:
        """ONNX `pads` (all begins, then all ends) of a window op over x's spatial axes that
        gives exactly out's lengths: `left` before, and after as much as the last window
        reaches past the input (ceil_mode's windows, 'same' padding)."""
        right = [max(0, (o - 1) * s + d * (k - 1) + 1 - n - p)
                 for n, o, k, s, d, p in zip(x[1:], out[1:], kernel, stride, dilation, left)]
        return [*left, *right]

    def standardise(self, x: str, axes: list, eps: float) -> str:
        """(x - mean) / sqrt(var + eps) over the ONNX `axes`, the biased variance."""
        axes = self.ints(axes)
        centred = self.node("Sub", [x, self.node("ReduceMean", [x, axes])])
        variance = self.node("ReduceMean", [self.node("Mul", [centred, centred]), axes])
        spread = self.node("Sqrt", [self.node("Add", [variance, self.floats(eps)])])
        return self.node("Div", [centred, spread])

    def affine(self, y: str, x: tuple, scale: bool, bias: bool, output: str) -> str:
        """y times the per-channel `weight` (when `scale`), plus `bias` (when `bias`)."""
        if scale:
            y = self.node("Mul", [y, self.per_channel("weight", x)], None if bias else output)
        if bias:
            y = self.node("Add", [y, self.per_channel("bias", x)], output)
        return y if y == output else self.node("Identity", [y], output)


def _integers(network: Network) -> set:
    """The tensors that hold integer tokens: the input, when an embedding reads it, and what
    only rearranges it (anything but an embedding that reads tokens alone)."""
    found = set()
    if any(INPUT in node.inputs and node.layer.token_range() is not None for node in network.nodes):
        found.add(INPUT)
        for node in network.nodes:
            if all(name in found for name in node.inputs) and node.layer.token_range() is None:
                found.add(node.name)
    return found


def export(network: Network, seed: int = 0) -> bytes:
    """The ONNX model of `network`, serialised, with verify's weights for `seed`."""
    import numpy

    from ..backend.params import materialise

    onnx = _onnx()
    shapes = numeric_shapes(network)
    size = estimate(network, shapes, 1, 4).params  # every parameter and buffer, in float32
    if size >= LIMIT:
        raise UsageError(f"the model's weights take {human(size)} in float32, above ONNX's limit of 2 GiB "
                         "for one file", hint="export a smaller network (fewer channels or layers)")
    if 3 * size > available_ram():  # the initializers and the serialised model, with room to spare
        raise UsageError(f"exporting needs about {human(3 * size)} of memory for the weights, more than is free",
                         hint="export on a machine with more memory, or a smaller network")
    model = onnx.ModelProto(ir_version=10, producer_name="cnncalc",  # IR 10: onnx 1.16, onnxruntime 1.18
                            doc_string=f"exported by cnncalc export --to onnx from {network.file!r}; "
                                       f"weights: cnncalc verify's, seed {seed}")
    model.opset_import.add(domain="", version=OPSET)
    graph = model.graph
    graph.name = network.name
    weights = materialise(network, shapes, numpy, seed=seed)
    builder = Builder(onnx, graph, weights, {INPUT, *(node.name for node in network.nodes)})
    for node in network.nodes:
        builder.layer, builder.output, builder.count = node.name, node.name, 0
        try:
            node.layer.onnx_nodes(builder, list(node.inputs), node.name, *(shapes[name] for name in node.inputs))
        except SpecError as exc:
            raise exc.located(node.loc, node.name) from None
        weights.pop(node.name)  # written: freed while the next layers are
    integers = _integers(network)

    def info(name: str):
        element = onnx.TensorProto.INT64 if name in integers else onnx.TensorProto.FLOAT
        return onnx.helper.make_tensor_value_info(name, element, [BATCH, *shapes[name]])

    graph.input.append(info(INPUT))
    graph.output.append(info(network.output))
    graph.value_info.extend(info(node.name) for node in network.nodes if node.name != network.output)
    try:  # the weights fit, but nodes and constants may still tip it over
        data = model.SerializeToString()
    except ValueError:  # protobuf refuses a message of 2 GiB or more
        data = None
    if data is None or len(data) >= LIMIT:
        raise UsageError("the model is above ONNX's limit of 2 GiB for one file",
                         hint="export a smaller network (fewer channels or layers)")
    return data
