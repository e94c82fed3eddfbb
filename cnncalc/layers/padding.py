"""Pieces of space: pad the trailing axes (constant, reflect, replicate, circular), and crop
the spatial axes to a size or to another layer's size (U-Net's crop-and-concat)."""
from __future__ import annotations

from ..diagnostics import SpecError
from .base import Arg, Layer, prod, shape_str, torch_call
from .reads import IDENTITY, Reads, slide
from .resampling import INDEX_WORK, PerAxis, per_axis
from .saving import INPUT, NOTHING, VIEW
from .window import axes_names

PAD_MODES = ("constant", "reflect", "replicate", "circular")


class _Pads(Arg):
    """One size for both sides of every spatial axis, or a list in F.pad's order."""

    def convert(self, name, value, evaluate, rank):
        if isinstance(value, list):
            if not value:
                raise SpecError(f"argument '{name}' must not be an empty list", arg=name)
            return tuple(Arg("int", minimum=0).convert(name, v, evaluate, rank) for v in value)
        return Arg("int", minimum=0).convert(name, value, evaluate, rank)


def _axis_label(rank: int, axis: int) -> str:
    """A per-sample axis by name where it is spatial: 'W', 'H', or 'axis 0'."""
    return axes_names(rank - 1)[axis - 1] if axis >= 1 and rank > 1 else f"axis {axis}"


class Pad(Layer):
    """Pad the trailing axes, as F.pad: `pad` lists (before, after) per axis starting from the
    LAST axis: [left, right] pads W; [left, right, top, bottom] pads W then H; six values add
    front and back (D). One number pads both sides of every spatial axis. Sizes are >= 0:
    F.pad's negative padding (a cut) is crop's job here."""

    type = "pad"
    category = "pieces"
    args = {
        "pad": _Pads("ints", doc="sizes in F.pad's order, last axis first: [left, right, top, bottom, "
                                 "front, back]; or one for every side of every spatial axis"),
        "mode": Arg("choice", "constant", "constant (value), reflect (mirror without the edge), replicate "
                                          "(repeat the edge) or circular (wrap around)", choices=PAD_MODES),
        "value": Arg("float", 0.0, "the fill value of mode constant"),
    }

    def torch_code(self, x):
        return torch_call("Pad", tuple(size for pair in reversed(self.pairs(len(x))) for size in pair), self.mode,
                          self.value)

    def onnx_nodes(self, builder, inputs, output, x):
        pairs = self.pairs(len(x))
        pairs = [(0, 0)] * (len(x) + 1 - len(pairs)) + pairs  # the batch axis and those not padded
        mode = {"replicate": "edge", "circular": "wrap"}.get(self.mode, self.mode)
        value = [builder.floats(self.value)] if self.mode == "constant" else []
        builder.node("Pad", [*inputs, builder.ints([p for side in zip(*pairs) for p in side]), *value], output,
                     mode=mode)

    def validate(self):
        if isinstance(self.pad, tuple) and len(self.pad) % 2:
            raise SpecError(f"pad has {len(self.pad)} values; it needs pairs (before, after), last axis first",
                            arg="pad", hint="e.g. [left, right] or [left, right, top, bottom]")
        if self.mode != "constant" and self.value != 0:
            raise SpecError(f"mode {self.mode} takes no fill value (value: {self.value})", arg="value",
                            hint="value is for mode constant, as PyTorch")

    def pairs(self, rank: int) -> list:
        """(before, after) for each of the trailing axes it pads, first of them first."""
        if isinstance(self.pad, int):
            return [(self.pad, self.pad)] * (rank - 1)
        return [(self.pad[i], self.pad[i + 1]) for i in range(0, len(self.pad), 2)][::-1]

    def output_shape(self, x):
        rank = len(x)
        if isinstance(self.pad, int) and rank < 2:
            raise SpecError(f"one pad size pads every spatial axis, but {shape_str(x)} has none", arg="pad",
                            hint="give a list in F.pad's order, e.g. [left, right]")
        pairs = self.pairs(rank)
        if len(pairs) > rank:
            raise SpecError(f"pad gives {len(pairs)} axes (before, after) but the input {shape_str(x)} has {rank}",
                            arg="pad", hint="pad lists two sizes per axis, starting from the last axis")
        first = rank - len(pairs)
        if self.mode != "constant":
            if not 1 <= len(pairs) <= 3 or rank - len(pairs) > 1:
                raise SpecError(f"mode {self.mode} pads the last 1, 2 or 3 axes of an input with at most one "
                                f"more axis (the channels), got {len(pairs)} padded of {shape_str(x)}", arg="pad",
                                hint="as PyTorch: [C, L] with 2 values, [C, H, W] with 4, [C, D, H, W] with 6")
            for axis, (before, after) in enumerate(pairs, start=first):
                length = x[axis]
                if self.mode == "reflect" and max(before, after) >= length:
                    raise SpecError(f"reflect padding ({before}, {after}) must be less than the input's "
                                    f"{_axis_label(rank, axis)} ({length})", arg="pad",
                                    hint="reflection mirrors the input without its edge; use replicate, or pad less")
                if self.mode == "circular" and max(before, after) > length:
                    raise SpecError(f"circular padding ({before}, {after}) must be at most the input's "
                                    f"{_axis_label(rank, axis)} ({length})", arg="pad",
                                    hint="circular padding wraps around at most once, as PyTorch")
        return (*x[:first], *(n + before + after for n, (before, after) in zip(x[first:], pairs)))

    def reads(self, out, x):
        """Position i of a padded axis is position i - before of the input: the added ones
        count as positions past the border (as a convolution's padding), whatever they hold."""
        pairs = self.pairs(len(x))
        first = len(x) - len(pairs)
        return Reads((*(((0, axis, IDENTITY),) for axis in range(first)),
                      *(((0, axis, slide(1, -before)),) for axis, (before, _) in enumerate(pairs, start=first))))

    def saved(self, out, x, *, needs):
        return INPUT if self.mode in ("reflect", "replicate") else NOTHING  # as PyTorch's backward kernels

    def workspace(self, batch, out, x):
        """constant: none (the output is filled, then the input copied in). Otherwise one
        gather per padded axis: the array before it (unless the input) and after it
        (unless the output), and the index arrays."""
        if self.mode == "constant":
            return 0
        pairs = self.pairs(len(x))
        first = len(x) - len(pairs)
        shape, peak, before = list(x), 0, 0
        stages = [a for a, p in enumerate(pairs, start=first) if p != (0, 0)]
        for k, axis in enumerate(stages):
            shape[axis] = out[axis]
            after = batch * prod(shape)
            peak = max(peak, before + (0 if k == len(stages) - 1 else after))
            before = after
        return peak + INDEX_WORK * sum(out)

    def forward(self, ops, params, x):
        xp = ops.xp
        pairs = self.pairs(x.ndim - 1)
        if self.mode == "constant":
            return ops.pad(x, pairs, self.value)
        for axis, (before, after) in enumerate(pairs, start=x.ndim - len(pairs)):
            if before or after:
                length = x.shape[axis]
                position = xp.arange(-before, length + after, dtype=xp.int64)
                if self.mode == "reflect":  # -1 -> 1, L -> L - 2
                    position = xp.abs(position)
                    index = xp.where(position >= length, 2 * (length - 1) - position, position)
                elif self.mode == "replicate":
                    index = xp.clip(position, min=0, max=length - 1)
                else:  # circular
                    index = position % length
                x = xp.take(x, index, axis=axis)
        return x


class Crop(Layer):
    """Cut the spatial axes (all but the channels) to `size`, centred, or, with two inputs
    (from: [x, ref]), to ref's spatial sizes: U-Net's crop-and-concat. Offset per axis:
    (L - size) // 2, so an odd difference leaves the extra row or column at the start
    and cuts it at the end (bottom, right)."""

    type = "crop"
    category = "pieces"
    arity = (1, 2)  # the input, and optionally the reference
    args = {
        "size": PerAxis(Arg("int", minimum=1), "the output's spatial sizes (one for all, or a list; null keeps "
                                                "an axis); omit it and give from: [x, ref] to crop to ref's",
                         allow_null_items=True),
    }

    def torch_code(self, *inputs):
        if len(inputs) == 2:
            return "Crop()"  # to the reference's sizes
        return torch_call("Crop", per_axis(self, "size", self.size, len(inputs[0]) - 1))

    def onnx_nodes(self, builder, inputs, output, *xs):
        """A Slice of the centred window (the reference gives only its sizes, known here)."""
        x, sizes = xs[0], self.target(*xs)
        starts = [(n - s) // 2 for n, s in zip(x[1:], sizes)]
        builder.node("Slice", [inputs[0], builder.ints(starts), builder.ints(a + s for a, s in zip(starts, sizes)),
                               builder.ints(range(2, len(x) + 1))], output)

    def target(self, x, ref=None) -> tuple:
        """The output's spatial sizes for input shape x (and reference shape ref)."""
        if ref is not None:
            if self.size is not None:
                raise SpecError("crop takes 'size' or a reference input (from: [x, ref]), not both", arg="size",
                                hint="remove 'size' to crop to the reference's sizes")
            if len(ref) != len(x):
                raise SpecError(f"the reference {shape_str(ref)} has {len(ref)} axes, the input {shape_str(x)} "
                                f"{len(x)}", arg="from", hint="crop to a layer of the same rank")
            return tuple(ref[1:])
        if self.size is None:
            raise SpecError("crop needs 'size', or a reference input: from: [x, ref]", arg="size",
                            hint="e.g. {type: crop, from: [enc1, up1]} crops enc1 to up1's height and width")
        sizes = per_axis(self, "size", self.size, len(x) - 1)
        return tuple(n if s is None else s for n, s in zip(x[1:], sizes))

    def output_shape(self, *xs):
        x = xs[0]
        if len(x) < 2:
            raise SpecError(f"crop expects [C, ...] with spatial axes after the channels, got {shape_str(x)}")
        sizes = self.target(*xs)
        for axis, (n, s) in enumerate(zip(x[1:], sizes), start=1):
            if s > n:
                source = "the reference's" if len(xs) == 2 else "size"
                raise SpecError(f"cannot crop the input's {_axis_label(len(x), axis)} ({n}) to {s} "
                                f"({source} {_axis_label(len(x), axis)})", arg="from" if len(xs) == 2 else "size",
                                hint="crop only cuts; to enlarge, use pad (or crop the other input)")
        return (x[0], *sizes)

    def reads(self, out, x, ref=None):
        """Position i of a cut axis is position i + (L - size) // 2 of the input; the
        reference gives only its sizes."""
        return Reads((((0, 0, IDENTITY),), *(((0, axis, slide(1, (n - s) // 2)),)
                                             for axis, n, s in zip(range(1, len(x)), x[1:], out[1:]))))

    def workspace(self, batch, out, *inputs):
        return 0  # the cut is copied once, into the output

    def saved(self, out, *inputs, needs):
        return VIEW  # PyTorch crops by slicing: a view of the input

    def forward(self, ops, params, x, ref=None):
        """A copy of the centred window, so that the output does not keep the whole input
        alive (verify frees the input after its last reader; a view would hold it)."""
        per_sample = tuple(x.shape[1:])
        sizes = self.target(per_sample, None if ref is None else tuple(ref.shape[1:]))
        window = tuple(slice((n - s) // 2, (n - s) // 2 + s) for n, s in zip(per_sample[1:], sizes))
        return ops.xp.astype(x[(slice(None), slice(None), *window)], x.dtype, copy=True)
