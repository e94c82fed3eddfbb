"""Convolution, 1-D, 2-D and 3-D, with groups, dilation, 'same'/'valid' padding and
LeNet-5-style sparse connection tables."""
from __future__ import annotations

from itertools import product

from ..diagnostics import SpecError
from .base import Arg, Layer, prod, torch_call, torch_keywords
from .parameters import BIAS, HeNormal, Param
from .reads import Reads, slide
from .saving import INPUT, INT64, Own, Saved
from .window import axes_names, check_positive, conv_length

# elements of im2col columns made at once (8 MiB in float32): small enough that the
# allocator hands the same warm memory to every block, instead of fresh pages
COLUMN_BLOCK = 1 << 21
# output positions of a block at least (unless one sample has fewer), so that the
# weights are read once for many positions
MIN_POSITIONS = 256
# a convolution runs a row of its outer axis at a time (rows_of_outer_axis) only where each
# row's GEMM has at least ROW_POSITIONS columns and ROW_DEPTH products a sum, so that it
# still runs at full speed (measured: below these, whole columns are faster)
ROW_POSITIONS = 256
ROW_DEPTH = 512

def block_samples(batch: int, columns: int) -> int:
    """Samples per block (`columns`: working elements per sample): all of them while they
    fit COLUMN_BLOCK, else as many as fit, at least one."""
    return max(1, min(batch, COLUMN_BLOCK // max(1, columns)))


def blocking(batch: int, lengths, per_position: int) -> tuple:
    """How a batch of positions (`lengths` per spatial axis; `per_position` working elements
    a position) is cut into blocks, as (samples, axis, rows): a block is `samples` samples,
    one index on each spatial axis before `axis`, `rows` indices on `axis` (fewer at the
    end) and all of every later one. Whole samples while one sample fits COLUMN_BLOCK;
    else one sample, and the fewest rows that fit, but at least MIN_POSITIONS positions."""
    positions = prod(lengths)
    budget = max(MIN_POSITIONS, COLUMN_BLOCK // max(1, per_position))
    if per_position == 0 or positions <= budget:
        return block_samples(batch, per_position * positions), 0, lengths[0]
    for axis in range(len(lengths)):
        row = prod(lengths[axis + 1:])
        if row <= budget:
            return 1, axis, max(1, budget // row)
    return 1, len(lengths) - 1, 1


def blocks(batch: int, lengths, samples: int, axis: int, rows: int):
    """Every block of a blocking: (the samples' slice, a slice per spatial axis up to `axis`)."""
    for first in range(0, batch, samples):
        for outer in product(*(range(n) for n in lengths[:axis])):
            for start in range(0, lengths[axis], rows):
                yield (slice(first, min(batch, first + samples)),
                       (*(slice(i, i + 1) for i in outer), slice(start, min(lengths[axis], start + rows))))


def block_positions(lengths, axis: int, rows: int) -> int:
    """Positions of one sample in the largest block."""
    return min(lengths[axis], rows) * prod(lengths[axis + 1:])


class _Conv(Layer):
    category = "convolution"
    args = {
        "out_channels": Arg("int", None, "number of output channels (rows of 'connections' if omitted)", minimum=1),
        "kernel_size": Arg("sizes", doc="window size, one int or one per spatial axis", minimum=1),
        "stride": Arg("sizes", 1, "step between windows", minimum=1),
        "padding": Arg("choice_or_sizes", 0, "zeros added on both sides, or 'same' / 'valid'",
                       minimum=0, choices=("same", "valid")),
        "dilation": Arg("sizes", 1, "spacing between kernel elements", minimum=1),
        "groups": Arg("int", 1, "channel groups (groups = in_channels: depthwise)", minimum=1),
        "bias": Arg("bool", True, "one additive bias per output channel"),
        "in_channels": Arg("int", None, "input channels (inferred; checked when given)", minimum=1),
        "connections": Arg("int_lists", None, "sparse table: for each output map, the input maps it sees"),
    }

    def torch_code(self, x):
        padding = self.padding if isinstance(self.padding, str) else tuple(self.padding)
        if self.connections is not None:
            return torch_call("SparseConv", self.connections, self.kernel_size, self.stride, padding, self.dilation,
                              self.bias)
        return torch_call(f"nn.Conv{self.rank}d", x[0], self.out_channels, **torch_keywords(
            {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "bias": True}, kernel_size=self.kernel_size,
            stride=self.stride, padding=padding, dilation=self.dilation, groups=self.groups, bias=self.bias))

    def onnx_nodes(self, builder, inputs, output, x):
        """One Conv; a connection table as one Conv per output map over the maps it gathers
        (its kernel `weight.j`), joined, then the bias."""
        window = {"kernel_shape": list(self.kernel_size), "strides": list(self.stride),
                  "dilations": list(self.dilation), "pads": [p for side in zip(*self.paddings()) for p in side]}
        if self.connections is None:
            bias = [builder.param("bias")] if self.bias else []
            builder.node("Conv", [*inputs, builder.param("weight"), *bias], output, group=self.groups, **window)
            return
        maps = [builder.node("Conv", [builder.node("Gather", [*inputs, builder.ints(row)], axis=1),
                                      builder.param(f"weight.{j}", (1, len(row), *self.kernel_size))], **window)
                for j, row in enumerate(self.connections)]
        joined = builder.node("Concat", maps, None if self.bias else output, axis=1)
        if self.bias:
            builder.node("Add", [joined, builder.per_channel("bias", (self.out_channels, *x[1:]))], output)

    def validate(self):
        if self.connections is not None:
            if self.out_channels is None:
                self.out_channels = len(self.connections)
            elif self.out_channels != len(self.connections):
                raise SpecError(f"out_channels={self.out_channels} but 'connections' has "
                                f"{len(self.connections)} rows", arg="connections",
                                hint="give one row of input maps per output map")
            if self.groups != 1:
                raise SpecError("'connections' and 'groups' cannot be combined", arg="groups")
        elif self.out_channels is None:
            raise SpecError("missing required argument 'out_channels'", arg="out_channels")
        if self.padding == "same" and any(s != 1 for s in self.stride):
            raise SpecError(f"padding='same' needs stride 1, got stride={list(self.stride)}",
                            arg="padding", hint="PyTorch refuses 'same' for strided convolutions; give padding as numbers")
        if self.out_channels % self.groups:
            raise SpecError(f"out_channels ({self.out_channels}) must be divisible by groups ({self.groups})",
                            arg="groups")

    def paddings(self):
        """Padding per side and axis as (left, right) pairs."""
        if self.padding == "valid":
            return tuple((0, 0) for _ in self.kernel_size)
        if self.padding == "same":
            total = [d * (k - 1) for k, d in zip(self.kernel_size, self.dilation)]
            return tuple((t // 2, t - t // 2) for t in total)
        return tuple((p, p) for p in self.padding)

    def output_shape(self, x):
        self.require_rank(x, self.rank + 1, "channels first: [C, " + ", ".join(axes_names(self.rank)) + "]")
        channels = x[0]
        self.check_inferred("in_channels", self.in_channels, channels, "channels")
        if self.connections is not None:
            for row in self.connections:
                bad = [i for i in row if not 0 <= i < channels]
                if bad or not row or len(set(row)) != len(row):
                    raise SpecError(f"connection row {list(row)} must list distinct input maps in 0..{channels - 1}",
                                    arg="connections")
        elif channels % self.groups:
            raise SpecError(f"input channels ({channels}) must be divisible by groups ({self.groups})",
                            arg="groups", hint=f"input shape is [{', '.join(map(str, x))}]")
        pads = self.paddings()
        # the padded length with no further padding: 'same' may pad one side more
        lengths = tuple(conv_length(n + left + right, k, s, 0, d)
                        for n, k, s, (left, right), d in zip(x[1:], self.kernel_size, self.stride, pads, self.dilation))
        check_positive(lengths, x[1:], self.kernel_size, self.stride, [p for p, _ in pads], self.dilation,
                       axes=axes_names(self.rank))
        return (self.out_channels, *lengths)

    def saved(self, out, x, *, needs):
        """The input; for 'same' padding that is uneven on an axis, PyTorch's copy of it
        padded by one at the end of those axes. A connection table keeps what its PyTorch
        twin does (one convolution per output map, of the input maps an index list gathers):
        each output map's gathered maps, and the index lists (int64) when the input needs a
        gradient."""
        extra = [d * (k - 1) % 2 if self.padding == "same" else 0 for k, d in zip(self.kernel_size, self.dilation)]
        positions = prod(n + e for n, e in zip(x[1:], extra))
        if self.connections is None:
            return Saved(own=(Own(x[0] * positions),)) if any(extra) else INPUT
        maps = sum(len(row) for row in self.connections)
        lists = (Own(fixed=maps, kind=INT64),) if needs.inputs[0] else ()
        return Saved(own=(Own(maps * positions), *lists))

    def kernel_inputs(self, channels: int) -> int:
        """Input maps summed by all output maps together (sparse or dense)."""
        if self.connections is not None:
            return sum(len(row) for row in self.connections)
        return self.out_channels * (channels // self.groups)

    def reads(self, out, x):
        """Every input channel (of its group or table row); on each spatial axis k positions d
        apart, every s, from minus the left padding."""
        return Reads(((), *(((0, axis, slide(s, -left, k, d)),) for axis, k, s, d, (left, _)
                            in zip(range(1, len(x)), self.kernel_size, self.stride, self.dilation, self.paddings()))),
                     whole=((0, 0),))

    def parameters(self, x):
        """He-normal kernels over each output map's fan-in (for a connection table, one
        kernel `weight.j` per output map, over the maps it sees) and the bias."""
        taps = prod(self.kernel_size)
        if self.connections is not None:
            params = {f"weight.{j}": Param((len(row), *self.kernel_size), HeNormal(len(row) * taps))
                      for j, row in enumerate(self.connections)}
        else:
            per_group = x[0] // self.groups
            params = {"weight": Param((self.out_channels, per_group, *self.kernel_size), HeNormal(per_group * taps))}
        if self.bias:
            params["bias"] = Param((self.out_channels,), BIAS)
        return params

    def macs(self, out, x):
        return prod(out[1:]) * self.kernel_inputs(x[0]) * prod(self.kernel_size)

    def flops(self, out, x):
        return 2 * self.macs(out, x) + (prod(out) if self.bias else 0)

    def block_samples(self, batch: int, columns: int) -> int:
        """Samples per im2col block (`columns`: elements per sample): all of them while they
        fit COLUMN_BLOCK, else as many as fit, at least one."""
        return block_samples(batch, columns)

    def columns_are_a_view(self) -> bool:
        return prod(self.kernel_size) == 1 and all(s == 1 for s in self.stride)

    def rows_of_outer_axis(self, channels: int, lengths) -> bool:
        """Whether to run a row of the outer axis at a time (forward_by_rows): for a dense
        kernel wider than 1 on that axis, with stride and dilation 1 there, over large rows
        whose sample's columns would not fit one block. Each input row's columns are then
        made once and serve the k output rows that read them: k times fewer copies."""
        inner_taps = prod(self.kernel_size[1:])
        return (self.connections is None and self.rank > 1 and self.kernel_size[0] > 1
                and self.stride[0] == 1 and self.dilation[0] == 1
                and prod(lengths[1:]) >= ROW_POSITIONS and channels // self.groups * inner_taps >= ROW_DEPTH
                and channels * prod(self.kernel_size) * prod(lengths) > COLUMN_BLOCK)

    def workspace(self, batch, out, x):
        """The padded input (when padded) and, per block (blocking), the im2col columns
        (none when they are a view of the input), for a connection table the input maps one
        output map sees and the per-map results, and the block's result before it is copied
        into the output (when there is more than one block)."""
        padded = prod(n + left + right for n, (left, right) in zip(x[1:], self.paddings())) * x[0]
        taps, lengths = prod(self.kernel_size), out[1:]
        if self.rows_of_outer_axis(x[0], lengths):
            row, kept = prod(lengths[1:]), self.kernel_size[0]
            per_sample = kept * x[0] * (taps // kept) * row + 2 * out[0] * row  # k rows' columns, result, sum
            samples = block_samples(batch, per_sample)
            weights = out[0] * (x[0] // self.groups) * taps  # regrouped by outer offset
            return batch * (padded if padded != prod(x) else 0) + samples * per_sample + weights
        per_position = 0 if self.columns_are_a_view() else x[0] * taps
        samples, axis, rows = blocking(batch, lengths, per_position)
        positions = block_positions(lengths, axis, rows)  # per sample of a block
        block = per_position * positions
        if self.connections is not None:
            block += max(len(row) for row in self.connections) * taps * positions + out[0] * positions
        if samples < batch or positions < prod(lengths):
            block += out[0] * positions
        return batch * (padded if padded != prod(x) else 0) + samples * block

    def forward(self, ops, params, x):
        """im2col by strided copies (ops.im2col), then one GEMM; groups as one batched
        GEMM; a connection table as one GEMM per output map over only the maps it sees,
        so the executed MACs are the sparse count. Columns beyond COLUMN_BLOCK elements are
        made and multiplied a block at a time (blocking): a block of samples, or of output
        rows of one sample, cut from the padded input with its windows' reach."""
        xp = ops.xp
        batch, channels = x.shape[0], x.shape[1]
        taps = prod(self.kernel_size)
        padded = ops.pad(x, self.paddings())
        lengths = ops.window_counts(padded.shape[2:], self.kernel_size, self.stride, self.dilation)
        if self.rows_of_outer_axis(channels, lengths):
            return self.forward_by_rows(ops, params, padded, lengths)
        weights = self.gemm_weights(params, channels)
        samples, axis, rows = blocking(batch, lengths, 0 if self.columns_are_a_view() else channels * taps)
        reach = [d * (k - 1) + 1 for k, d in zip(self.kernel_size, self.dilation)]
        y = None
        for samples_cut, region in blocks(batch, lengths, samples, axis, rows):
            source = [slice(r.start * s, (r.stop - 1) * s + extent) for r, s, extent in zip(region, self.stride, reach)]
            cols = ops.im2col(padded[(samples_cut, slice(None), *source, ...)], self.kernel_size, self.stride,
                              self.dilation)
            part = self.gemm(ops, weights, xp.reshape(cols, (cols.shape[0], channels, taps, -1)))
            del cols
            if samples >= batch and axis == 0 and rows >= lengths[0]:
                y = part
            else:
                if y is None:
                    y = xp.empty((batch, part.shape[1], *lengths), dtype=part.dtype)
                sizes = [r.stop - r.start for r in region]
                y[(samples_cut, slice(None), *region, ...)] = xp.reshape(
                    part, (part.shape[0], part.shape[1], *sizes, *lengths[axis + 1:]))
            del part
        y = xp.reshape(y, (batch, -1, *lengths))
        if self.bias:
            y += xp.reshape(params("bias", (y.shape[1],)), (-1, *(1 for _ in lengths)))
        return y

    def forward_by_rows(self, ops, params, padded, lengths):
        """A row of the outer axis at a time: output row o is the sum over the kernel's
        outer offsets t of a GEMM with the inner-axes columns of input row o + t. Those
        columns are made once per input row and kept while a later output row still reads
        them (k rows at most). Samples a block: as many as fit COLUMN_BLOCK."""
        xp = ops.xp
        batch, channels = padded.shape[0], padded.shape[1]
        kept, inner = self.kernel_size[0], self.kernel_size[1:]
        inner_taps, row = prod(inner), prod(lengths[1:])
        weight = params("weight", (self.out_channels, channels // self.groups, *self.kernel_size))
        # one [out, in/groups * inner taps] matrix per outer offset, contiguous (one copy in all)
        by_offset = xp.reshape(xp.permute_dims(weight, (2, 0, 1, *range(3, weight.ndim))),
                               (kept, self.out_channels, -1))
        y = xp.empty((batch, self.out_channels, lengths[0], row), dtype=padded.dtype)
        samples = block_samples(batch, kept * channels * inner_taps * row + 2 * self.out_channels * row)
        for first in range(0, batch, samples):
            cut = slice(first, min(batch, first + samples))
            columns = {}  # input row -> its columns [n, C, inner taps, row]
            for o in range(lengths[0]):
                columns.pop(o - 1, None)  # read by no later output row
                total = None
                for t in range(kept):
                    if o + t not in columns:
                        cols = ops.im2col(padded[cut, :, o + t, ...], inner, self.stride[1:], self.dilation[1:])
                        columns[o + t] = xp.reshape(cols, (cols.shape[0], channels, inner_taps, row))
                    part = self.gemm(ops, by_offset[t, ...], columns[o + t])
                    if total is None:
                        total = part
                    else:
                        total += part
                    del part
                y[cut, :, o, ...] = total
                del total
            del columns
        y = xp.reshape(y, (batch, self.out_channels, *lengths))
        if self.bias:
            y += xp.reshape(params("bias", (y.shape[1],)), (-1, *(1 for _ in lengths)))
        return y

    def gemm_weights(self, params, channels: int):
        """The weights as the GEMM takes them: [(input maps, weight)] per output map for a
        connection table, else one [groups, out/groups, in/groups * taps] array."""
        if self.connections is not None:
            return [(row, params(f"weight.{j}", (len(row), *self.kernel_size)))
                    for j, row in enumerate(self.connections)]
        per_group = channels // self.groups
        return params("weight", (self.out_channels, per_group, *self.kernel_size))

    def gemm(self, ops, weights, cols):
        """Columns [n, C, taps, positions] times the weights: [n, out_channels, positions]."""
        xp = ops.xp
        n, channels, taps, positions = cols.shape
        if self.connections is not None:
            maps = []
            for row, weight in weights:
                seen = xp.take(cols, xp.asarray(row, dtype=xp.int64), axis=1)
                maps.append(ops.matmul(xp.reshape(weight, (1, len(row) * taps)),
                                       xp.reshape(seen, (n, len(row) * taps, positions))))
                del seen  # before the next map's copy
            return xp.concat(maps, axis=1)
        groups = self.groups
        per_group = channels // groups
        if groups == 1:
            return ops.matmul(xp.reshape(weights, (self.out_channels, channels * taps)),
                              xp.reshape(cols, (n, channels * taps, positions)))
        y = ops.matmul(xp.reshape(weights, (groups, self.out_channels // groups, per_group * taps)),
                       xp.reshape(cols, (n, groups, per_group * taps, positions)))
        return xp.reshape(y, (n, self.out_channels, positions))


class Conv1d(_Conv):
    type = "conv1d"
    rank = 1


class Conv2d(_Conv):
    type = "conv2d"
    rank = 2


class Conv3d(_Conv):
    type = "conv3d"
    rank = 3
