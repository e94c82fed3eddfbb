"""Many input sizes at once: `--input 3,224..640..32` (a sweep: one summary per size) and
`cnncalc sizes` (which sizes a network takes at all)."""
from __future__ import annotations

import re
from typing import NamedTuple

from .diagnostics import SpecError, UsageError
from .figures import Figures
from .limits import MAX_DIM
from .symbolic import MAX_SYMBOL

MAX_SIZES = 100_000  # sizes one sweep or one `sizes` run may try

_RANGE = re.compile(r"^(\d+)\.\.(\d+)(?:\.\.(\d+))?$")
_NAME = re.compile(r"^[A-Za-z_]\w*$")
_HINT = "e.g. --input 3,224,224, --input 3,H,W (symbolic sizes), --input 3,224..640..32 (a sweep)"


def parse_input(text: str) -> list:
    """--input's parts: a size (int), a symbol (str) or a range (first..last[..step])."""
    parts = [part.strip() for part in text.replace("x", ",").split(",")]
    if not any(parts) or not all(parts):
        raise UsageError(f"--input expects sizes such as 3,224,224, got {text!r}", hint=_HINT)
    shape = []
    for part in parts:
        if len(part) > 40:  # a number of thousands of digits is not a size (and int() refuses it)
            raise UsageError(f"--input cannot read a part of {len(part):,} characters in its sizes",
                             hint=_HINT)
        if re.fullmatch(r"[-+]?\d+", part):
            size = int(part)
            if size < 1:
                raise UsageError(f"--input sizes must be positive, got {text!r}")
            if size > MAX_DIM:
                raise UsageError(f"--input size {size:,} is above the limit of {MAX_DIM:,}, in {text!r}")
            shape.append(size)
        elif _NAME.match(part):
            if len(part) > MAX_SYMBOL:
                raise UsageError(f"--input size names are at most {MAX_SYMBOL} characters, got one of {len(part):,}")
            shape.append(part)
        elif _RANGE.match(part):
            shape.append(_range(part, text))
        else:
            raise UsageError(f"--input cannot read {part!r} in {text!r}", hint=_HINT)
    return shape


def _range(part: str, text: str) -> range:
    first, last, step = (int(g) if g else None for g in _RANGE.match(part).groups())
    step = step or 1
    if not 1 <= first <= last <= MAX_DIM or not 1 <= step <= MAX_DIM:
        raise UsageError(f"--input range {part} in {text!r} must run upwards from 1 to at most {MAX_DIM:,} "
                         "with a positive step", hint="e.g. 224..640..32")
    sizes = range(first, last + 1, step)
    if len(sizes) > MAX_SIZES:
        raise UsageError(f"--input range {part} has {len(sizes):,} sizes, above the limit of {MAX_SIZES:,}",
                         hint="use a larger step")
    return sizes


def shapes_of(shape: list, rank: int | None = None) -> list[tuple]:
    """The input shapes a sweep runs: every range advances together (they must have the
    same length), so 3,224..640..32,224..640..32 gives square inputs. A shape written with
    one range after the channels (3,224..640..32) stands for that size on every spatial
    axis of a spec whose input has `rank` axes."""
    if rank is not None and len(shape) == 2 and isinstance(shape[1], range) and rank > 2:
        shape = [shape[0]] + [shape[1]] * (rank - 1)
    if any(isinstance(part, str) for part in shape):
        raise UsageError("--input cannot sweep a range and keep a symbolic size at once",
                         hint="give numbers beside the range, e.g. 3,224..640..32")
    ranges = [part for part in shape if isinstance(part, range)]
    if len({len(r) for r in ranges}) > 1:
        raise UsageError("--input ranges must have as many sizes as each other, to advance together",
                         hint="e.g. 3,224..640..32,224..640..32")
    return [tuple(part[i] if isinstance(part, range) else part for part in shape) for i in range(len(ranges[0]))]


class SweepRow(NamedTuple):
    """One size of a sweep: its summary's totals, or why the network refuses it."""

    input_shape: tuple
    output_shape: tuple | None
    figures: Figures | None
    activation_memory: int | None
    problem: SpecError | None

    def to_dict(self) -> dict:
        data = {"input_shape": list(self.input_shape)}
        if self.problem is not None:
            return {**data, "valid": False, "problem": self.problem.message, "layer": self.problem.layer}
        return {**data, "valid": True, "output_shape": list(self.output_shape), **self.figures.to_dict(),
                "activation_memory": self.activation_memory}


def sweep(spec: str, shape: list, overrides: dict, batch: int) -> list[SweepRow]:
    """One summary per input shape of `shape` (parse_input's, with ranges)."""
    from .language.build import load

    written = load(spec, variables=overrides)  # the spec itself must be valid
    return summaries_at(spec, shapes_of(shape, len(written.input_shape)), overrides, batch)


def summaries_at(spec: str, shapes: list, overrides: dict, batch: int) -> list[SweepRow]:
    """One summary per input shape; a size the network refuses is a row saying why, not an
    error."""
    from .language.build import load
    from .summary import summarize

    rows = []
    for sizes in shapes:
        try:
            result = summarize(load(spec, variables=overrides, input_shape=list(sizes)), batch=batch)
        except SpecError as problem:
            rows.append(SweepRow(sizes, None, None, None, problem))
            continue
        rows.append(SweepRow(sizes, result.output_shape, result.totals.figures, result.totals.activation_memory,
                             None))
    return rows


class SizesReport(NamedTuple):
    """Which sizes of one symbol (every spatial axis at once) a network takes."""

    name: str
    pattern_shape: tuple  # the input with the swept size as S: [3, S, S]
    first: int
    last: int
    valid: list  # the valid sizes, ascending

    def pattern(self) -> str:
        """The valid sizes in words: 'every multiple of 32 from 32', 'every size from 15'."""
        valid = self.valid
        if not valid:
            return f"no size from {self.first} to {self.last}"
        if len(valid) == 1:
            return f"only {valid[0]}"
        step = valid[1] - valid[0]
        if all(b - a == step for a, b in zip(valid, valid[1:])) and valid[-1] + step > self.last:
            if step == 1:
                return f"every size from {valid[0]}" + (f" to {valid[-1]}" if valid[-1] < self.last else "")
            if valid[0] % step == 0:
                return f"every multiple of {step} from {valid[0]}"
            return f"every size ≡ {valid[0] % step} (mod {step}) from {valid[0]}"
        runs: list = []
        for size in valid:
            if runs and runs[-1][1] == size - 1:
                runs[-1][1] = size
            else:
                runs.append([size, size])
        return ", ".join(str(a) if a == b else f"{a}…{b}" for a, b in runs)

    def shape_at(self, size: int) -> tuple:
        return tuple(size if s == "S" else s for s in self.pattern_shape)

    def to_dict(self) -> dict:
        return {"name": self.name, "input": [str(s) for s in self.pattern_shape], "first": self.first,
                "last": self.last, "valid": self.valid, "smallest": self.valid[0] if self.valid else None,
                "pattern": self.pattern()}


MAX_PATHS = 256  # symbolic runs one `sizes` may make (each decides a whole region of sizes)


def valid_sizes(spec: str, overrides: dict, first: int, last: int) -> SizesReport:
    """Every size S from `first` to `last` for which the network takes an input with S on
    every spatial axis (every layer's output positive, every merge aligned).

    The shape rules run on a symbol S whose witness is the smallest size not yet decided.
    The comparisons they record (symbolic.Condition) up to the end, or up to the error,
    hold at that size; every size where they all hold takes the same branches, so it is
    valid, or fails at the same place, just as that size does. One run decides a whole
    region; the next starts at the smallest size left. The answer is that of trying each
    size as a number (tests/test_symbolic.py), in a few runs."""
    import numpy

    from .conditions import holds, statements
    from .language.build import load
    from .summary import infer_shapes
    from .symbolic import Size, tracing

    if not 1 <= first <= last <= MAX_DIM or last - first >= MAX_SIZES:
        raise UsageError(f"--range {first}..{last} must run upwards within 1..{MAX_DIM:,}, "
                         f"at most {MAX_SIZES:,} sizes")
    written = load(spec, variables=overrides)
    rank = len(written.input_shape)
    pattern = tuple(["S"] * rank if rank == 1 else [written.input_shape[0], *["S"] * (rank - 1)])
    network = load(spec, variables=overrides, input_shape=list(pattern))
    sizes = numpy.arange(first, last + 1, dtype=numpy.int64 if last <= 10**5 else object)
    undecided = numpy.ones(len(sizes), dtype=bool)
    valid = numpy.zeros(len(sizes), dtype=bool)
    for _ in range(MAX_PATHS):
        if not undecided.any():
            return SizesReport(written.name, pattern, first, last, [int(s) for s in sizes[valid]])
        witness = int(sizes[undecided][0])
        network.input_shape = tuple(Size.symbol("S", witness) if s == "S" else s for s in pattern)
        with tracing() as conditions:
            try:
                infer_shapes(network)
                works = True
            except SpecError:
                works = False
        region = undecided.copy()
        for formula, kind, _ in statements(conditions):
            region &= holds(formula.evaluate({"S": sizes}), kind)
        valid |= region & works
        undecided &= ~region
    raise UsageError(f"the network takes more than {MAX_PATHS} different paths through its rules "
                     f"for sizes {first}..{last}", hint="give a narrower --range")
