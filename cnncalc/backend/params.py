"""Parameters: materialised from the records each layer type declares (shape and
initialiser, cnncalc/layers/parameters.py), handed to the forward pass by an accessor that
records what the computation actually consumed.

Initialisation (NumPy's Generator on the host, then moved to the backend, so a seed
gives the same weights on every backend):
  conv / linear weights   He normal, std sqrt(2 / fan_in) (fan_in: all axes but the first;
                          a sparse-conv row `weight.j` is one output map's whole fan-in;
                          transposed conv: C_in/groups * k / prod(stride), the products one
                          output position sums on average)
  rbf centres             Glorot uniform, limit sqrt(6 / (fan_in + fan_out))
  embedding rows          N(0, 1), as PyTorch
  biases                  U(-0.1, 0.1), non-zero so that a mis-wired bias shows
  other scales            U(0.5, 1.5) (batch/layer/group/instance-norm scales of any shape, layer scale,
                          PReLU slopes, subsampling coefficients)
  running_mean / _var     N(0, 0.1^2) / U(0.5, 1.5)
"""
from __future__ import annotations

from ..layers.base import prod, shape_str
from ..layers.parameters import Uniform
from ..network import INPUT
from .memory import out_of_memory

# what stands in for a parameter the layer's rule does not declare (or declares in another
# shape): small and finite, so that the pass goes on; its values are no finding
STAND_IN = Uniform(-0.1, 0.1)


def draw(rng, param, dtype: str):
    """A NumPy array of the record `param`'s shape, drawn from its initialiser in `dtype`."""
    return param.init.draw(rng, tuple(int(d) for d in param.shape), dtype)


class Params:
    """What a forward pass receives as `params`: `params(name, shape)` for a parameter,
    `params.buffer(name, shape)` for a buffer. The shape is the one the computation
    needs (from its input array and arguments); when the layer's rule declared none, or
    another shape, the mismatch is noted and a fresh array of the needed shape stands in,
    so the pass goes on. `used` holds what was consumed: the actual parameter count."""

    def __init__(self, declared: dict, declared_buffers: dict, make):
        self.declared, self.declared_buffers = declared, declared_buffers
        self.make = make  # shape -> array, for a missing or mis-shaped one
        self.used: dict = {}
        self.used_buffers: dict = {}
        self.problems: list = []

    def __call__(self, name: str, shape):
        return self._take(name, shape, self.declared, self.used, "parameter")

    def buffer(self, name: str, shape):
        return self._take(name, shape, self.declared_buffers, self.used_buffers, "buffer")

    def _take(self, name, shape, declared, used, what):
        shape = tuple(int(d) for d in shape)
        array = declared.get(name)
        if array is None:
            self.problems.append(f"the forward pass needs {what} '{name}' {shape_str(shape)}, "
                                 "which the layer's rule does not declare")
            array = self.make(shape)
        elif tuple(array.shape) != shape:
            self.problems.append(f"the forward pass needs {what} '{name}' as {shape_str(shape)}, "
                                 f"the layer's rule declares {shape_str(tuple(array.shape))}")
            array = self.make(shape)
        used[name] = shape
        return array

    def unused(self) -> list:
        return [n for n in self.declared if n not in self.used] + \
               [n for n in self.declared_buffers if n not in self.used_buffers]

    @property
    def count(self) -> int:
        return sum(prod(s) for s in self.used.values())

    @property
    def buffer_count(self) -> int:
        return sum(prod(s) for s in self.used_buffers.values())


def materialise(network, shapes: dict, xp, dtype: str = "float32", seed: int = 0) -> dict:
    """{node name: (parameters, buffers)}, each {name: backend array}, as the layer types
    declare them (shape and initialiser), in node order from one seeded generator."""
    import numpy

    rng = numpy.random.default_rng(seed)
    result = {}
    for node in network.nodes:
        inputs = [shapes[name] for name in node.inputs]
        try:
            params, buffers = ({name: xp.asarray(draw(rng, param, dtype)) for name, param in declared(*inputs).items()}
                               for declared in (node.layer.parameters, node.layer.buffers))
        except MemoryError:
            raise out_of_memory(node.name) from None
        result[node.name] = (params, buffers)
    return result


def random_input(network, xp, batch: int, dtype: str = "float32", seed: int = 0):
    """A random batch for the network's input: N(0, 1) values, or integer tokens below the
    smallest vocabulary when an embedding reads the input."""
    import numpy

    rng = numpy.random.default_rng([seed, 1])
    shape = (batch, *network.input_shape)
    vocab = [node.layer.token_range() for node in network.nodes
             if INPUT in node.inputs and node.layer.token_range() is not None]
    try:
        if vocab:
            return xp.asarray(rng.integers(0, min(vocab), shape, dtype=numpy.int64))
        return xp.asarray(rng.standard_normal(shape, dtype=dtype))
    except MemoryError:
        raise out_of_memory("input") from None
