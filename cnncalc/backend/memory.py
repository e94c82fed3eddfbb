"""Peak memory of a verify run, estimated from the symbolic shapes before anything is
allocated: all parameters and buffers, plus at each layer the activations still alive
(those a later layer reads), its output and its working arrays (im2col columns, padded
copies, temporaries)."""
from __future__ import annotations

import os
from dataclasses import dataclass

from ..diagnostics import SpecError, UsageError
from ..amounts import amount
from ..layers.base import prod
from ..network import INPUT
from ..render import human as _units
from .liveness import schedule


@dataclass
class Estimate:
    params: int  # bytes of parameters and buffers
    activations: int  # bytes of activations and working arrays alive at the worst layer
    layer: str  # where that is

    @property
    def total(self) -> int:
        return self.params + self.activations


def parse_size(text: str) -> int:
    """'4GB', '512MB', '1.5GiB', '1000000' -> bytes, in the units of `expect:` amounts
    (KB/MB/GB decimal, KiB/MiB/GiB binary)."""
    try:
        size = amount(str(text), None, "--max-memory")
    except SpecError:
        raise UsageError(f"--max-memory expects a size such as 4GB, 512MB or 1.5GiB, got {text!r}") from None
    if size < 1:
        raise UsageError(f"--max-memory must be positive, got {text!r}")
    return size


def human(size: int) -> str:
    return _units(size, "B")


def available_ram() -> int:
    """MemAvailable from /proc/meminfo, else free physical pages."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 8 * 1024**3


def total_ram() -> int:
    """MemTotal + SwapTotal from /proc/meminfo, else physical memory: more than this no
    run can get, whatever --max-memory says."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            fields = dict(line.split(":", 1) for line in handle if ":" in line)
        return sum(int(fields[key].split()[0]) * 1024 for key in ("MemTotal", "SwapTotal") if key in fields)
    except (OSError, ValueError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2**63 - 1  # unknown: only NumPy's own limit on an array's bytes


def out_of_memory(where: str) -> UsageError:
    """The error for a MemoryError while verify allocates (parameters, input or a layer)."""
    return UsageError("out of memory while running verify", layer=where,
                      hint="use a smaller --batch, or a --max-memory below the memory free on this "
                           "machine so that verify refuses before it allocates")


def estimate(network, shapes: dict, batch: int, itemsize: int) -> Estimate:
    """The input stays alive to the end (verify holds it); every other activation is
    freed after its last reader, as the forward pass does (liveness.schedule)."""
    params = 0
    for node in network.nodes:
        inputs = [shapes[name] for name in node.inputs]
        params += sum(prod(s) for s in node.layer.param_shapes(*inputs).values())
        params += sum(prod(s) for s in node.layer.buffer_shapes(*inputs).values())
    tokens = any(INPUT in node.inputs and node.layer.token_range() is not None for node in network.nodes)
    alive = {INPUT: prod(shapes[INPUT]) * (max(1, 8 // itemsize) if tokens else 1)}  # per sample; tokens are int64
    worst, where = 0, INPUT
    for node, dying in schedule(network):
        out = shapes[node.name]
        inputs = [shapes[name] for name in node.inputs]
        now = batch * (sum(alive.values()) + prod(out)) + node.layer.workspace(batch, out, *inputs)
        if now > worst:
            worst, where = now, node.name
        alive[node.name] = prod(out)
        for name in dying:
            del alive[name]
    return Estimate(params * itemsize, worst * itemsize, where)
