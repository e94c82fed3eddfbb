"""Training memory: what one training step holds at its peak, and the largest batch that
fits a memory size.

The peak is modelled as the sum of
  * the model's state: weights, buffers (running statistics), gradients, optimizer state
    and, under mixed precision, the float32 master weights the optimizer updates;
  * the tensors the forward pass keeps for the backward pass (PyTorch's saved tensors),
    all alive at the end of the forward pass: each layer type says what it keeps
    (Layer.saved); a tensor kept by several layers (a convolution's output, which the
    following batch norm keeps as its input) is counted once, and a view (flatten, a
    chunk's piece) is the tensor it views;
  * the backward pass's largest step: the gradient arriving at one layer's output and
    the gradients it sends to its inputs.
Left out: the allocator's caching and fragmentation, convolution workspaces, the CUDA
context, the loss function's own saved tensors, autocast's float copies of weights.
The saved tensors are exact against PyTorch's autograd in float32
(tests/test_training_memory.py); the rest is the model above.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, NamedTuple

from .diagnostics import SpecError, UsageError
from .layers.base import Layer, prod
from .layers.saving import ACTIVATION, BOOL, FLOAT32, INT64, Needs, Own
from .limits import MAX_DIM
from .network import INPUT


class Precision(NamedTuple):
    """Bytes per element of each part of a training step."""

    weights: int
    gradients: int
    master: int  # the float32 copy of the trained weights that the optimizer updates
    activation: int


# mixed precision as in ZeRO (Rajbhandari et al. 2020) and apex O2: 16-bit weights and
# gradients, float32 master weights and optimizer state; float32 buffers
PRECISIONS = {"fp32": Precision(4, 4, 0, 4), "fp16-mixed": Precision(2, 2, 4, 2),
              "bf16-mixed": Precision(2, 2, 4, 2)}


class Optimizer(NamedTuple):
    """What torch.optim keeps per trained parameter after a step (float32 throughout)."""

    buffers: int  # tensors of the parameter's size
    step: bool  # a float32 scalar `step` per parameter tensor


OPTIMIZERS = {"sgd": Optimizer(0, False), "momentum": Optimizer(1, False), "adam": Optimizer(2, True),
              "adamw": Optimizer(2, True)}
FLOAT32_BYTES = 4


def widths(precision: Precision) -> dict:
    """Bytes per element of each kind of kept tensor (layers/saving.py)."""
    return {ACTIVATION: precision.activation, FLOAT32: FLOAT32_BYTES, INT64: 8, BOOL: 1}


class Source(NamedTuple):
    """A tensor the network starts from: its per-sample shape, its kind, and whether it
    needs a gradient (the network's input does not)."""

    shape: tuple
    kind: str = ACTIVATION
    needs_grad: bool = False


class Step(NamedTuple):
    """One layer of the forward pass, as the walk over it needs it."""

    name: str
    layer: Layer
    inputs: tuple  # names of the tensors it reads
    output_shape: tuple
    trains: bool  # it has parameters that get gradients


class Kept(NamedTuple):
    """What the backward pass needs: the tensors kept, by the layer that made each (the
    shared ones: inputs, outputs) or kept it (its own ones), and the elements per sample
    of the largest backward step's gradients."""

    owners: dict  # name -> tuple of Own
    transient: int


def keep(sources: dict, steps: Iterable[Step]) -> Kept:
    """Walk the forward pass: which tensors need gradients, which are views, and what each
    layer keeps; every tensor once."""
    shapes = {name: source.shape for name, source in sources.items()}
    needs_grad = {name: source.needs_grad for name, source in sources.items()}
    memory = {name: name for name in sources}  # tensor -> the tensor whose memory it is
    made = {name: Own(prod(source.shape), kind=source.kind) for name, source in sources.items()}
    kept: dict = {}  # memory that is kept, in order (a dict as an ordered set)
    own: dict = defaultdict(tuple)
    transient, order = 0, list(sources)
    for step in steps:
        inputs = [shapes[name] for name in step.inputs]
        needs = Needs(tuple(needs_grad[name] for name in step.inputs), step.trains)
        rule = step.layer.saved(step.output_shape, *inputs, needs=needs)
        shapes[step.name] = step.output_shape
        needs_grad[step.name] = any(needs.inputs) or needs.params
        order.append(step.name)
        if rule.view:
            memory[step.name] = memory[step.inputs[0]]
        else:
            memory[step.name] = step.name
            made[step.name] = Own(prod(step.output_shape))
        if not needs_grad[step.name]:  # no backward through it: PyTorch records nothing
            continue
        for index in rule.inputs:
            kept[memory[step.inputs[index]]] = True
        if rule.output:
            kept[memory[step.name]] = True
        own[step.name] = rule.own
        if not rule.view:
            grads = sum(prod(shape) for shape, need in zip(inputs, needs.inputs) if need)
            transient = max(transient, prod(step.output_shape) + grads)
    owners = {name: ((made[name],) if name in kept else ()) + own[name] for name in order}
    return Kept({name: tensors for name, tensors in owners.items() if tensors}, transient)


def kept_bytes(kept: Kept, batch: int, width: dict) -> tuple:
    """(name, bytes) of each layer's kept tensors at `batch`, with `width` bytes per element of each kind."""
    return tuple((name, sum((batch * t.per_sample + t.fixed) * width[t.kind] for t in tensors))
                 for name, tensors in kept.owners.items())


@dataclass(frozen=True)
class TrainingMemory:
    """Bytes of one training step at `batch`, by part (see the module's docstring)."""

    optimizer: str
    precision: str
    batch: int
    weights: int
    buffers: int
    gradients: int
    optimizer_state: int
    master_weights: int
    saved_activations: int
    backward_transient: int
    per_sample: int  # bytes one more sample adds to the peak
    layers: tuple  # (name, bytes of the kept tensors it made or keeps as its own), in order

    @property
    def peak(self) -> int:
        return (self.weights + self.buffers + self.gradients + self.optimizer_state + self.master_weights
                + self.saved_activations + self.backward_transient)

    def max_batch(self, limit: int) -> int:
        """The largest batch whose peak is at most `limit` bytes (0: not even one sample),
        at most the batch limit."""
        fixed = self.peak - self.batch * self.per_sample
        if fixed > limit:
            return 0
        return MAX_DIM if self.per_sample == 0 else min(MAX_DIM, (limit - fixed) // self.per_sample)


def training_memory(summary, optimizer: str = "adam", precision: str = "fp32") -> TrainingMemory:
    """The memory of a training step of `summary`'s network at its batch, with `optimizer`
    (OPTIMIZERS) and `precision` (PRECISIONS)."""
    bits, method = _choice(PRECISIONS, precision, "precision"), _choice(OPTIMIZERS, optimizer, "optimizer")
    if summary.symbolic:
        raise UsageError("training memory needs numeric sizes: the input is symbolic",
                         hint="give the sizes, e.g. --input 3,224,224")
    network = summary.network
    tokens = any(INPUT in node.inputs and node.layer.token_range() is not None for node in network.nodes)
    sources = {INPUT: Source(tuple(network.input_shape), INT64 if tokens else ACTIVATION)}
    records = summary.layers
    steps = (Step(node.name, node.layer, tuple(node.inputs), record.output_shape, record.trainable_params > 0)
             for node, record in zip(network.nodes, records))
    kept = keep(sources, steps)
    width, batch = widths(bits), summary.batch
    layers = kept_bytes(kept, batch, width)
    per_sample = sum(t.per_sample * width[t.kind] for tensors in kept.owners.values() for t in tensors)
    totals = summary.totals
    trained_tensors = sum(len(record.param_shapes) for record in records if record.trainable_params > 0)
    return TrainingMemory(
        optimizer, precision, batch,
        weights=totals.params * bits.weights,
        buffers=totals.buffers * FLOAT32_BYTES,
        gradients=totals.trainable_params * bits.gradients,
        optimizer_state=FLOAT32_BYTES * (method.buffers * totals.trainable_params + method.step * trained_tensors),
        master_weights=totals.trainable_params * bits.master,
        saved_activations=sum(size for _, size in layers),
        backward_transient=batch * kept.transient * bits.activation,
        per_sample=per_sample + kept.transient * bits.activation,
        layers=layers)


def _choice(table: dict, name: str, what: str):
    if name not in table:
        raise UsageError(f"unknown {what} {name!r}", hint=f"one of {', '.join(table)}")
    return table[name]


def parse_size(text: str) -> int:
    """A memory size for --max-batch: '24GB' (GB = 10^9 bytes), '24GiB' (GiB = 2^30 bytes),
    '512MB', '1.5GiB', or bytes; the units of expect: amounts."""
    from .amounts import amount

    hint = "e.g. 24GB (24·10⁹ bytes), 24GiB (24·2³⁰ bytes) or 512MB; units: KB MB GB TB, KiB MiB GiB TiB"
    try:
        size = amount(str(text), None, "--max-batch")
    except SpecError:
        raise UsageError(f"--max-batch expects a memory size, got {text!r}", hint=hint) from None
    if size < 1:
        raise UsageError(f"--max-batch must be a positive size, got {text!r}", hint=hint)
    return size
