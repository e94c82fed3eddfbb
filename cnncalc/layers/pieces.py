"""Layers that cut a piece out of their input along one axis: `slice`, and `split` and
`chunk`, whose pieces the spec language names NAME.0, NAME.1, … (Layer.pieces), or that
give one piece when `piece` is set. Each piece is a view of its input: no arithmetic,
no working arrays.

The piece's range along the axis follows from the input's size there (chunk's piece size
does), so it is worked out in the shape rule, and again by the forward pass from the
array it is given; the forward pass clamps before it slices, as the array API leaves
out-of-range slice bounds unspecified.
"""
from __future__ import annotations

from .. import limits  # read when used: tests lower limits.MAX_LAYERS
from ..diagnostics import SpecError
from .base import Arg, Layer, shape_str, torch_call, torch_dim
from .reads import IDENTITY, Reads, slide
from .saving import VIEW

AXIS = Arg("int", 0, "the axis to cut along (per sample; 0 = channels, -1 = last)")


class _Cut(Layer):
    """A range [start, stop) with a step along `axis`; subclasses say which (`bounds`)."""

    category = "pieces"
    moves_no_data = True

    def bounds(self, n: int) -> tuple[int, int, int]:
        """(start, stop, step) along an axis of size n, with 0 <= start <= stop <= n."""
        raise NotImplementedError

    def output_shape(self, x):
        if not -len(x) <= self.axis < len(x):
            raise SpecError(f"axis {self.axis} is out of range for a {len(x)}-D input {shape_str(x)}", arg="axis",
                            hint=f"per-sample axes are 0 … {len(x) - 1} (or -{len(x)} … -1)")
        axis = self.axis % len(x)
        start, stop, step = self.bounds(x[axis])
        if stop <= start:
            raise self.empty(x[axis], start, stop)
        return (*x[:axis], (stop - start + step - 1) // step, *x[axis + 1:])

    def reads(self, out, x):
        """Position i of the cut axis is position start + i·step of the input; the others as they are."""
        axis = self.axis % len(x)
        start, _, step = self.bounds(x[axis])
        return Reads(tuple(((0, a, slide(step, start) if a == axis else IDENTITY),) for a in range(len(x))))

    def saved(self, out, x, *, needs):
        return VIEW  # a view: a layer keeping the piece keeps the whole input's tensor

    def empty(self, n: int, start: int, stop: int) -> SpecError:
        return SpecError(f"the piece [{start}:{stop}] of axis {self.axis} (size {n}) is empty",
                         hint="cnncalc's sizes are positive")

    def onnx_nodes(self, builder, inputs, output, x):
        axis = self.axis % len(x)
        start, stop, step = self.bounds(x[axis])
        builder.node("Slice", [*inputs, *(builder.ints([value]) for value in (start, stop, axis + 1, step))], output)

    def forward(self, ops, params, x):
        axis = self.axis % (x.ndim - 1) + 1  # the batch axis comes first
        n = int(x.shape[axis])
        start, stop, step = self.bounds(n)
        return x[(*(slice(None),) * axis, slice(start, stop if stop < n else None, step), ...)]


def _clamp(index: int, n: int) -> int:
    """A Python slice bound on an axis of size n: negative counts from the end, then 0..n."""
    return min(max(index + n if index < 0 else index, 0), n)


class Slice(_Cut):
    """x[start:stop:step] along `axis`, as Python and torch slice: negative bounds count
    from the end, bounds beyond the axis are clamped; the result must not be empty."""

    type = "slice"
    args = {
        "start": Arg("int", 0, "first index (negative counts from the end)"),
        "stop": Arg("int", None, "index to stop before (default: the end; negative counts from the end)"),
        "step": Arg("int", 1, "take every step-th element", minimum=1),
        "axis": AXIS,
    }

    def torch_code(self, x):
        return torch_call("Slice", torch_dim(self.axis), self.start, self.stop, self.step)

    def bounds(self, n):
        return _clamp(self.start, n), n if self.stop is None else _clamp(self.stop, n), self.step

    def empty(self, n, start, stop):
        stop_text = "" if self.stop is None else self.stop
        return SpecError(f"slice [{self.start}:{stop_text}] of axis {self.axis} (size {n}) is empty",
                         arg="start" if self.stop is None else "stop",
                         hint="negative bounds count from the end and bounds beyond the axis are clamped, "
                              "as in Python; cnncalc's sizes are positive, so the slice must keep something")


class _Pieces(_Cut):
    """A layer whose output is several pieces; with `piece` set, the layer of that piece."""

    def count(self) -> int:
        """How many pieces at most (chunk may give fewer)."""
        raise NotImplementedError

    def validate(self):
        if self.piece is not None and self.piece >= self.count():
            raise SpecError(f"piece {self.piece} is out of range: {self.type} makes {self.count()} "
                            f"piece{'s' if self.count() > 1 else ''} here", arg="piece",
                            hint=f"pieces are numbered 0 … {self.count() - 1}")

    def pieces(self):
        if self.piece is not None:
            return None
        given = {name: getattr(self, name) for name in self.args}
        return [type(self)(**{**given, "piece": index}) for index in range(self.count())]

    def bounds(self, n):
        if self.piece is None:
            raise SpecError(f"{self.type} has several outputs; this layer is none of them",
                            hint="set 'piece', or read one piece as NAME.0, NAME.1, …")
        return self.piece_bounds(n)


PIECE = Arg("int", None, "the one piece to output (0-based); without it every piece is a layer, "
                         "read as NAME.0, NAME.1, …", minimum=0)


class Split(_Pieces):
    """torch.split(x, sizes, axis): consecutive pieces of the given sizes, which must add up
    to the axis's size."""

    type = "split"
    args = {
        "sizes": Arg("ints", doc="the size of each piece along the axis; they add up to its size", minimum=1),
        "axis": AXIS,
        "piece": PIECE,
    }

    def torch_code(self, x):
        return torch_call("Piece", "split", self.sizes, torch_dim(self.axis), self.piece)

    def validate(self):
        if not self.sizes:
            raise SpecError("'sizes' must list at least one size", arg="sizes")
        super().validate()

    def count(self):
        return len(self.sizes)

    def piece_bounds(self, n):
        if sum(self.sizes) != n:
            raise SpecError(f"split sizes {list(self.sizes)} add up to {sum(self.sizes)}, but axis {self.axis} "
                            f"has size {n}", arg="sizes",
                            hint="the sizes must add up to the axis's size exactly, as torch.split requires")
        start = sum(self.sizes[:self.piece])
        return start, start + self.sizes[self.piece], 1


class Chunk(_Pieces):
    """torch.chunk(x, chunks, axis): pieces of ceil(n / chunks) along an axis of size n, the
    last one smaller when it does not divide; so there may be fewer than `chunks` pieces
    (n = 5, chunks = 4: sizes 2, 2, 1)."""

    type = "chunk"
    args = {
        "chunks": Arg("int", doc="how many pieces at most (each of ceil(n / chunks))", minimum=1),
        "axis": AXIS,
        "piece": PIECE,
    }

    def torch_code(self, x):
        return torch_call("Piece", "chunk", self.chunks, torch_dim(self.axis), self.piece)

    def validate(self):
        if self.piece is None and self.chunks > limits.MAX_LAYERS:
            raise SpecError(f"chunks={self.chunks:,} is above the limit of {limits.MAX_LAYERS:,} layers",
                            arg="chunks", hint="each piece is a layer; set 'piece' to take just one")
        super().validate()

    def count(self):
        return self.chunks

    def piece_bounds(self, n):
        size = (n + self.chunks - 1) // self.chunks  # ceil(n / chunks)
        made = (n + size - 1) // size
        if self.piece >= made:
            raise SpecError(f"chunk of an axis of size {n} into {self.chunks} makes only {made} piece"
                            f"{'s' if made > 1 else ''} of up to {size}, so there is no piece {self.piece}",
                            arg="piece",
                            hint=f"torch.chunk's pieces are ceil({n} / {self.chunks}) = {size} long, so the "
                                 f"last ones may be missing: read piece 0 … {made - 1}")
        start = self.piece * size
        return start, min(start + size, n), 1
