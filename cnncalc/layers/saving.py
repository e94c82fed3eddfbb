"""What a layer's backward pass needs from its forward pass: the records of `Layer.saved`.

A training step's forward pass keeps, for each layer, the tensors its gradient formulas
read (PyTorch's autograd "saved tensors"): some of its inputs, maybe its output, and
tensors of its own (dropout masks, max-pool indices, normalisation statistics). An input
is the tensor its producer made, so two layers keeping it keep one tensor; cnncalc/training.py
counts each tensor once. Records are named tuples: one is made per layer.
"""
from __future__ import annotations

from typing import NamedTuple

# what a kept tensor holds, which fixes its width (cnncalc/training.py: bytes per precision)
ACTIVATION = "activation"  # the activations' dtype: 4 bytes in fp32, 2 under mixed precision
FLOAT32 = "float32"  # float32 under mixed precision too: normalisation statistics
INT64 = "int64"  # max-pool indices, integer tokens, index lists
BOOL = "bool"  # one byte: dropout's mask
KINDS = (ACTIVATION, FLOAT32, INT64, BOOL)


class Own(NamedTuple):
    """A tensor a layer makes and keeps beside its inputs and output: `per_sample`
    elements for every sample of the batch, plus `fixed` elements whatever the batch
    (per-channel statistics of a batch norm)."""

    per_sample: int = 0
    fixed: int = 0
    kind: str = ACTIVATION


class Needs(NamedTuple):
    """Which gradients the backward pass computes through a layer: for each input, whether
    it needs one (it depends on trained parameters), and whether the layer's own
    parameters are trained. Formulas keep only what the needed gradients read."""

    inputs: tuple = ()
    params: bool = False


class Saved(NamedTuple):
    """What a layer keeps for its backward pass, and whether its output is a view."""

    inputs: tuple = ()  # which inputs it keeps, by position: its producers' tensors
    output: bool = False  # whether it keeps its own output
    own: tuple = ()  # Own records: tensors of its own
    view: bool = False  # its output is its first input's tensor (a view, or the input itself)


NOTHING = Saved()
VIEW = Saved(view=True)
INPUT = Saved(inputs=(0,))
OUTPUT = Saved(output=True)
