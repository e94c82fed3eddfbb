"""The forward pass: every node in order, each activation freed after its last reader."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..network import INPUT
from .memory import last_uses, out_of_memory
from .ops import Ops
from .params import Params, initial


@dataclass
class Executed:
    """What one node's forward pass actually did (shape includes the batch axis)."""

    name: str
    shape: tuple | None = None
    params: int = 0
    buffers: int = 0
    macs: int = 0
    finite: bool | None = None
    error: str | None = None
    problems: list = field(default_factory=list)  # parameter mismatches with the declared rule


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def finite(xp, y) -> bool:
    """No NaN or Inf in y, without a temporary of y's size: max and min propagate NaN
    (array API standard) and are infinite where an element is."""
    if any(int(d) == 0 for d in y.shape):
        return True
    return bool(xp.isfinite(xp.max(y))) and bool(xp.isfinite(xp.min(y)))


def run(network, xp, weights: dict, x, *, dtype: str = "float32", seed: int = 0,
        keep=(), check_finite: bool = True, progress=None):
    """Run the network on batch `x`. Returns ({node: Executed}, {name: array} for `keep`
    ("all" keeps every output) and the network's output)."""
    import numpy

    ops = Ops(xp)
    rng = numpy.random.default_rng([seed, 2])
    last = last_uses(network)
    keep_all = keep == "all"
    kept = set(() if keep_all else keep) | {network.output}
    values = {INPUT: x}
    records = {}
    total = len(network.nodes)
    for index, node in enumerate(network.nodes):
        record = records[node.name] = Executed(node.name)
        if progress is not None:
            progress(index, total, node.name)
        missing = [name for name in node.inputs if name not in values]
        if missing:
            record.error = f"not run: its input '{missing[0]}' did not run"
        else:
            declared, declared_buffers = weights.get(node.name, ({}, {}))
            params = Params(declared, declared_buffers,
                            lambda name, shape, init=node.layer.weight_init: xp.asarray(initial(rng, init, name, shape, dtype)))
            ops.reset()
            try:
                y = node.layer.forward(ops, params, *(values[name] for name in node.inputs))
            except NotImplementedError as error:
                record.error = str(error)
            except MemoryError:  # not a finding about this layer: the run cannot go on
                raise out_of_memory(node.name) from None
            except Exception as error:  # the computation itself refused: report it on this row
                record.error = _first_line(error)
            else:
                record.shape = tuple(int(d) for d in y.shape)
                record.macs = ops.reset()
                record.params, record.buffers = params.count, params.buffer_count
                record.problems = params.problems + [
                    f"the layer's rule declares '{name}', which the forward pass does not use"
                    for name in params.unused()]
                if check_finite and xp.isdtype(y.dtype, "real floating"):
                    record.finite = finite(xp, y)
                values[node.name] = y
                del y
        for name in set(node.inputs):  # free what no later node reads
            if last.get(name) == index and not keep_all and name not in kept:
                values.pop(name, None)
        if node.name not in last and not keep_all and node.name not in kept:
            values.pop(node.name, None)
    if progress is not None:
        progress(total, total, "")
    outputs = values if keep_all else {name: values[name] for name in kept if name in values}
    return records, outputs
