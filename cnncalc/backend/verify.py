"""Verify a network: run it for real and compare every layer with the symbolic figures."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..diagnostics import UsageError
from ..network import INPUT
from .memory import Estimate, available_ram, estimate, human, total_ram


@dataclass
class Check:
    rule: object  # the symbolic figure
    run: object  # what the forward pass did (None: it did not run)

    @property
    def ok(self) -> bool:
        return self.run is not None and self.rule == self.run

    def to_dict(self) -> dict:
        as_json = (lambda v: list(v) if isinstance(v, tuple) else v)
        return {"rule": as_json(self.rule), "run": as_json(self.run), "ok": self.ok}


@dataclass
class Row:
    name: str
    type: str
    shape: Check  # per sample when the batch axis is right, else with the batch axis
    params: Check
    buffers: Check
    macs: Check  # for the whole batch
    finite: bool | None = None
    error: str | None = None
    problems: list = field(default_factory=list)

    def checks(self) -> dict:
        """The figures compared, by the name reports give them."""
        return {"output_shape": self.shape, "params": self.params, "buffers": self.buffers, "macs": self.macs}

    @property
    def ok(self) -> bool:
        return (self.error is None and not self.problems and self.finite is not False
                and all(check.ok for check in self.checks().values()))

    def notes(self) -> list:
        notes = [self.error] if self.error else []
        if self.finite is False:
            notes.append("NaN or Inf in the output")
        return notes + list(self.problems)

    def to_dict(self) -> dict:
        return {"name": self.name, "type": self.type, "ok": self.ok,
                **{what: check.to_dict() for what, check in self.checks().items()},
                "finite": self.finite, "error": self.error, "problems": list(self.problems)}


@dataclass
class VerifyResult:
    name: str
    backend: str
    dtype: str
    batch: int
    seed: int
    rows: list
    seconds: float  # the forward pass
    estimate: Estimate
    max_memory: int

    @property
    def ok(self) -> bool:
        return all(row.ok for row in self.rows)

    @property
    def failures(self) -> list:
        return [row for row in self.rows if not row.ok]

    def total(self, what: str) -> Check:
        checks = [getattr(row, what) for row in self.rows]
        return Check(sum(c.rule for c in checks), sum(c.run or 0 for c in checks))

    def to_dict(self) -> dict:
        return {"name": self.name, "backend": self.backend, "dtype": self.dtype, "batch": self.batch,
                "seed": self.seed, "ok": self.ok, "failures": [row.name for row in self.failures],
                "forward_seconds": round(self.seconds, 4),
                "memory_estimate": {"params": self.estimate.params, "activations": self.estimate.activations,
                                    "total": self.estimate.total, "peak_layer": self.estimate.layer,
                                    "max_memory": self.max_memory},
                "totals": {"params": self.total("params").to_dict(), "macs": self.total("macs").to_dict()},
                "layers": [row.to_dict() for row in self.rows]}


def memory_limits(backend: str) -> tuple:
    """(the default limit, the most there is): half the available RAM and RAM + swap, or
    half the free GPU memory and the GPU's memory for cupy."""
    from .namespace import device_memory

    device = device_memory(backend)
    if device is not None:
        return device[0] // 2, device[1]
    return available_ram() // 2, total_ram()


def verify(network, *, backend: str = "numpy", batch: int = 1, seed: int = 0, dtype: str = "float32",
           max_memory: int | None = None, progress=None) -> VerifyResult:
    """Materialise every parameter, run one forward pass on a random batch, and compare each
    layer's output shape, parameter count and executed MACs with `summarize`'s.

    Refused (UsageError) before anything is allocated when the estimated peak is above
    `max_memory` (default: half the available memory) or above all the memory there is;
    a MemoryError while allocating is a UsageError naming the layer."""
    from ..summary import summarize
    from .execute import run
    from .namespace import dtype_of, namespace
    from .params import materialise, random_input

    if batch < 1:
        raise UsageError(f"--batch must be positive, got {batch}")
    if seed < 0:
        raise UsageError(f"--seed must be a non-negative integer, got {seed}")
    summary = summarize(network, batch=batch)  # an invalid spec stops here (exit 2)
    xp = namespace(backend)
    dtype_of(xp, dtype)
    shapes = {INPUT: tuple(network.input_shape), **{r.name: tuple(r.output_shape) for r in summary.layers}}
    guess = estimate(network, shapes, batch, 8 if dtype == "float64" else 4)
    default, most = memory_limits(backend)
    limit = default if max_memory is None else max_memory
    need = (f"verify would need about {human(guess.total)} (parameters {human(guess.params)} + "
            f"activations {human(guess.activations)} at layer '{guess.layer}')")
    if guess.total > min(limit, most):
        above = f"the --max-memory limit of {human(limit)}" if limit <= most else \
            f"all the memory there is ({human(most)})"
        raise UsageError(f"{need}, above {above}", hint="use a smaller --batch" + (
            " or raise --max-memory" if guess.total <= most else ""))
    weights = materialise(network, shapes, xp, dtype, seed)
    x = random_input(network, xp, batch, dtype, seed)
    start = time.perf_counter()
    records, _ = run(network, xp, weights, x, dtype=dtype, seed=seed, progress=progress)
    seconds = time.perf_counter() - start
    del weights, x
    rows = [compare(record, records[record.name], batch) for record in summary.layers]
    return VerifyResult(network.name, backend, dtype, batch, seed, rows, seconds, guess, limit)


def compare(record, executed, batch: int) -> Row:
    if executed.shape is None:
        shape = Check(tuple(record.output_shape), None)
    elif executed.shape[0] == batch:
        shape = Check(tuple(record.output_shape), executed.shape[1:])
    else:  # the batch axis itself went wrong: show whole shapes
        shape = Check((batch, *record.output_shape), executed.shape)
    ran = executed.shape is not None
    return Row(record.name, record.type, shape,
               Check(record.params, executed.params if ran else None),
               Check(record.buffers, executed.buffers if ran else None),
               Check(record.macs, executed.macs if ran else None),
               executed.finite, executed.error, executed.problems)
