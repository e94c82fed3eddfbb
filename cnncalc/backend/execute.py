"""The forward pass: every node in order, each activation freed after its last reader."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..network import INPUT
from .liveness import schedule
from .memory import out_of_memory
from .ops import Ops
from .params import STAND_IN, Params


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
        check_finite: bool = True, progress=None):
    """Run the network on batch `x`. Returns ({node: Executed}, the network's output array,
    or None when it did not run)."""
    import numpy

    ops = Ops(xp)
    rng = numpy.random.default_rng([seed, 2])
    values = {INPUT: x}
    records = {}
    steps = schedule(network)
    for index, (node, dying) in enumerate(steps):
        record = records[node.name] = Executed(node.name)
        if progress is not None:
            progress(index, len(steps), node.name)
        missing = [name for name in node.inputs if name not in values]
        if missing:
            record.error = f"not run: its input '{missing[0]}' did not run"
        else:
            declared, declared_buffers = weights.get(node.name, ({}, {}))
            params = Params(declared, declared_buffers, lambda shape: xp.asarray(STAND_IN.draw(rng, shape, dtype)))
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
        for name in dying:
            values.pop(name, None)  # absent when it did not run
    if progress is not None:
        progress(len(steps), len(steps), "")
    return records, values.get(network.output)
