"""Exports of a network to other frameworks: one module per target, each with
`export(network) -> str` (source) or `-> bytes` (a binary model, the targets in BINARY,
whose `export` takes the weights' `seed` too). TARGETS names them for `cnncalc export --to`."""
from __future__ import annotations

from ..diagnostics import SpecError, UsageError

TARGETS = {"pytorch": "cnncalc.export.pytorch", "onnx": "cnncalc.export.onnx"}
BINARY = {"onnx": "model.onnx"}  # binary targets, and the file name their hint suggests


def check_options(to: str, output: str | None, seed: int | None) -> None:
    """Refuse, before any work, what a target cannot do: a binary model without -o (never
    onto a terminal; a pipe takes it by -o /dev/stdout), a seed for a target without weights."""
    if to in BINARY and output is None:
        raise UsageError(f"--to {to} writes a binary model, which needs a file",
                         hint=f"-o {BINARY[to]}, or -o /dev/stdout to pipe it")
    if seed is not None and seed < 0:
        raise UsageError(f"--seed must be a non-negative integer, got {seed}")
    if seed is not None and to not in BINARY:
        raise UsageError(f"--seed draws the weights that --to {' or '.join(BINARY)} carries; --to {to} has none",
                         hint="remove --seed")


def export(network, to: str, seed: int | None = None) -> str | bytes:
    """The source (str) or model (bytes) of `network` for the target `to` (a key of TARGETS);
    a binary model carries `cnncalc verify`'s weights for `seed` (default 0)."""
    from importlib import import_module

    module = import_module(TARGETS[to])
    return module.export(network, seed=seed or 0) if to in BINARY else module.export(network)


def numeric_shapes(network) -> dict:
    """Every layer's output shape (summary.infer_shapes), refused where a size is a symbol:
    an export writes one network."""
    from ..summary import infer_shapes

    shapes = infer_shapes(network)
    for name, shape in shapes.items():
        if not all(isinstance(d, int) for d in shape):
            raise SpecError(f"export needs numeric sizes, but '{name}' has shape {list(map(str, shape))}",
                            network.input_loc, hint="give the input's sizes, e.g. --input 3,224,224")
    return shapes
