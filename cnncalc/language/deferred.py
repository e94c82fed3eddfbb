"""Layer arguments that read the incoming shape: `groups: in_channels`,
`out_channels: 6 * in[0]`, `kernel_size: "[in[1], 1]"`.

In a layer's arguments, `in` is the shape of the layer's input per sample (of its first
input, when it has several), as a list such as [32, 56, 56], and `in_channels` is its
first axis, `in[0]`. They are names like variables: a variable or block argument of the
same name hides them, so a block that takes `in_channels` as an argument keeps it.
Only a layer's own arguments can read them; `when`, `repeat`, block arguments and vars
are evaluated before any shape is known.

Such a layer cannot be made while the spec is expanded: `make` returns a Deferred one,
which is made (its arguments evaluated and checked, errors located at them) when the
shapes are inferred once the network is built (`bind`), so `--input` changes it too."""
from __future__ import annotations

from ..diagnostics import SpecError
from ..layers.base import Layer
from . import expressions as expr
from . import values

SHAPE_NAMES = frozenset({"in", "in_channels"})


def make(cls: type, raw: dict, scope: dict) -> Layer:
    """The layer `cls` with arguments `raw` in `scope`; a Deferred one when an argument reads
    the incoming shape."""
    reader = _reader(raw, scope)
    if reader is None:
        return cls.from_spec(raw, lambda text: expr.evaluate(text, scope))
    if getattr(cls, "pieces", Layer.pieces) is not Layer.pieces:
        raise SpecError(f"argument '{reader}' reads the incoming shape, which a {cls.type}'s arguments cannot",
                        arg=reader, hint="its pieces must be known before shapes are: write the sizes, or pass "
                                         "them as a block argument")
    return Deferred(cls, raw, scope)


def _reader(raw: dict, scope: dict) -> str | None:
    """The first argument whose expression names `in` or `in_channels` (not hidden by `scope`)."""
    for key, value in raw.items():
        if (isinstance(value, list) or isinstance(value, str) and "in" in value) \
                and _reads(value, SHAPE_NAMES - scope.keys()):
            return key
    return None


def _reads(value, unbound: frozenset) -> bool:
    if isinstance(value, list):
        return any(_reads(item, unbound) for item in value)
    if not unbound or not isinstance(value, str) or "in" not in value:
        return False
    try:
        return bool(expr.names(value) & unbound)
    except SpecError:  # not an expression: the layer reports it
        return False


class Deferred(Layer):
    """A layer whose arguments read the incoming shape: made by `output_shape`, the first
    rule asked of it, from the shape it is given. Never outlives `bind`."""

    def __init__(self, cls: type, raw: dict, scope: dict):  # not Layer.__init__: nothing is known yet
        self.cls, self.raw, self.scope = cls, raw, scope
        self.type, self.category, self.rank = cls.type, cls.category, cls.rank
        self.bound: Layer | None = None

    def output_shape(self, *inputs):
        self.bound = self.made(inputs)
        return self.bound.output_shape(*inputs)

    def made(self, inputs) -> Layer:
        shape = list(inputs[0]) if inputs else []
        known = {"in": shape, **({"in_channels": shape[0]} if shape else {})}
        scope = {**known, **self.scope}  # the spec's own names come first
        raw = values.listed(self.raw, scope, values.list_names(scope))
        return self.cls.from_spec(raw, lambda text: expr.evaluate(text, scope))


def bind(network) -> None:
    """Make every Deferred layer of `network` from the shapes it receives (inferring them
    once, with every error located as summary locates it)."""
    waiting = [node for node in network.nodes if isinstance(node.layer, Deferred)]
    if not waiting:
        return
    from ..summary import infer_shapes

    infer_shapes(network)
    for node in waiting:
        node.layer = node.layer.bound
