"""The network a spec describes: layer nodes in an order where inputs come first."""
from __future__ import annotations

from dataclasses import dataclass, field

from .diagnostics import Location
from .layers.base import Layer

INPUT = "input"
DTYPES = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8}  # bytes per element


@dataclass(eq=False)
class Node:
    name: str  # qualified: "layer3.2.conv1"
    layer: Layer
    inputs: list  # qualified names of the nodes feeding this one (INPUT for the network's input)
    loc: Location
    arg_locs: dict = field(default_factory=dict)
    from_loc: Location | None = None
    scope: tuple = ()  # ((segment, label), ...) of the block instances holding this node
    trainable: bool = True


@dataclass(eq=False)
class Network:
    name: str
    file: str
    input_shape: tuple
    input_loc: Location
    dtype: str
    nodes: list  # topologically ordered
    output: str  # the node whose shape is the network's output
    variables: dict = field(default_factory=dict)
    expect: tuple | None = None  # the records of the spec's `expect:` (language.expectations), in its order
