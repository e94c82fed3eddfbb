"""Receptive fields (`cnncalc summary --rf`, cnncalc/receptive.py) against PyTorch.

The oracle: in a twin whose weights are all positive (zero biases) and whose input is all
ones, back-propagate from one output position of a layer; the input positions with a
non-zero gradient are exactly those it depends on: nothing cancels, and ReLU, SiLU, GELU,
hard-swish pass a gradient at positive values. Max pooling routes its gradient to one
element, so the twin pools by the average over the same windows; batch and layer
normalisation become the identity (a positive affine map); squeeze-and-excitation's scale
and DeepLab's image pooling are detached for the windowed field, which cnncalc reports
beside its global mark, and checked whole apart. The field of a position is the extent of
that gradient along each axis; where cnncalc says a field end lies inside the input, the
gradient must end exactly there; where it lies in the padding, the gradient may not reach
it; and from those exact ends (the left positions' last inputs, the right positions'
first, one period of each) the test derives size, jump and offset itself and requires the
printed ones. An input too small to pin every figure fails the test, so it cannot pass
by clipping everything.

Here: the rules on small networks (PyTorch's own ops for each layer type, on random
chains from hypothesis too), every zoo network on a sample of its layers (the last
convolution of every stage and block, at least; channels narrowed, which changes no
field), the command's four formats and --depth, and hostile input.
"""
from __future__ import annotations

import math
import time
from contextlib import contextmanager
from fractions import Fraction

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from torch import nn

import cnncalc
from cnncalc.layers import REGISTRY
from cnncalc.layers.base import Layer
from cnncalc.layers.conv import _Conv
from cnncalc.layers.transposed import _ConvTranspose
from cnncalc.network import INPUT
from cnncalc.receptive import receptive_fields
from cnncalc.summary import infer_shapes

from fuzz_cases import run_case
from fuzz_receptive import receptive_case
from helpers import SPECS, invoke, write_spec
from torch_zoo import TORCH_ZOO, SparseConv2d
from torchvision_models import TORCHVISION_ZOO


@pytest.fixture(autouse=True)
def one_thread():
    """The twins' convolutions are tiny: one thread runs them faster than two, and a loaded
    machine's spinning threads would cost the most."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --------------------------------------------------------------------------------------
# The oracle
# --------------------------------------------------------------------------------------


def extents(grad: torch.Tensor, dims: list) -> list:
    """Per spatial axis of the source (its per-sample dims), the first and last position
    with a non-zero gradient, or None."""
    touched = grad != 0
    found = []
    for dim in dims:
        line = touched.any(dim=tuple(d for d in range(touched.dim()) if d != dim)) if touched.dim() > 1 else touched
        hit = torch.nonzero(line).flatten()
        found.append(None if len(hit) == 0 else (int(hit[0]), int(hit[-1])))
    return found


def reaches(axis, position: int, length: int) -> bool:
    """Whether cnncalc says the field of `position` reaches into the input (of `length`)."""
    span = axis.window.at(position)
    return span is not None and span[1] >= 0 and span[0] <= length - 1


def exact_ends(axis, position: int, size: int, length: int) -> tuple:
    """Which ends of a position's field PyTorch must show exactly: the one facing the
    middle of the axis (the last for the first half of `size` positions, the first for the
    second), where cnncalc puts it inside the input (of `length`). The other end lies
    towards a border, where a field passes through the padding of the layers on the way:
    positions past a layer's end, which cnncalc continues by the layer's pattern (its
    convention), and whose pattern can land inside the input where a strided layer has
    dropped the input's last positions (or a crop its first)."""
    first, last = axis.window.at(position)
    right = 2 * position >= size
    return right and first >= 0, not right and last <= length - 1


def plan(axis, size: int, length: int) -> list:
    """The positions to measure first along an output axis of `size` positions: the first
    and the last; from the first whose field reaches into the input (of `length`), one
    period and one more (their last ends pin the size and the jump); and one period back
    from the last such (their first ends pin the offset)."""
    period, real = axis.window.period, [p for p in range(size) if reaches(axis, p, length)] or [0]
    return sorted({0, size - 1} | set(range(real[0], min(size, real[0] + period + 1)))
                  | set(range(max(0, real[-1] - period + 1), real[-1] + 1)))


def anchor(axis, length: int, size: int) -> int:
    """A position of an output axis (of `size` positions) whose field reaches into the input
    (of `length`), nearest the middle: where the other axes stay while one is measured."""
    for position in sorted(range(size), key=lambda p: abs(p - size // 2)):
        if reaches(axis, position, length):
            return position
    raise AssertionError("no position of this axis reads the input")


def samples(field, shape: tuple, lengths: list) -> list:
    """The output positions to back-propagate from first, one per sample of the batch:
    {output axis: position} for every field axis, the s-th planned position of each axis in
    sample s (an axis with fewer at its anchor)."""
    axes = {t: axis for t, axis in enumerate(field.axes) if axis is not None}
    plans = {t: plan(axis, shape[t], lengths[axis.axis]) for t, axis in axes.items()}
    anchors = {t: anchor(axis, lengths[axis.axis], shape[t]) for t, axis in axes.items()}
    return [{t: p[s] if s < len(p) else anchors[t] for t, p in plans.items()}
            for s in range(max(len(p) for p in plans.values()))]


def _backward(output, source, dims: list, picks: list) -> list:
    """The extents, per sample, of the gradient from output positions `picks` (sample s
    from picks[s], in batches of the output's; the axes without a position whole)."""
    batch, found = output.shape[0], []
    for start in range(0, len(picks), batch):
        chunk = picks[start:start + batch]
        loss = sum(output[(s, *(pick.get(t, slice(None)) for t in range(output.dim() - 1)))].sum()
                   for s, pick in enumerate(chunk))
        (grad,) = torch.autograd.grad(loss, source, retain_graph=True)
        found += [extents(grad[s], dims) for s in range(len(chunk))]
    return found


def missing(axis, found: dict, size: int, length: int) -> list:
    """Positions to measure next along an axis where the measured ones do not yet pin every
    figure (see derived): up to two periods more on the side that lacks them, inwards."""
    period, firsts, lasts = axis.window.period, *_exact(axis, found, size, length)
    phases = {i % period for i in found if found[i] is not None}
    jump = any(i + period in ends for ends in (firsts, lasts) for i in ends)
    left = [p for p in range(size // 2) if p not in found and reaches(axis, p, length)]
    right = [p for p in reversed(range(size // 2, size)) if p not in found and reaches(axis, p, length)]
    more = left[:2 * period] if not jump or phases - {i % period for i in lasts} else []
    return more + (right[:2 * period] if phases - {i % period for i in firsts} else [])


def _exact(axis, found: dict, size: int, length: int) -> tuple:
    """The measured first ends and last ends that are exact (exact_ends), by position."""
    firsts = {i: s[0] for i, s in found.items() if s and exact_ends(axis, i, size, length)[0]}
    lasts = {i: s[1] for i, s in found.items() if s and exact_ends(axis, i, size, length)[1]}
    return firsts, lasts


def check(field, output: torch.Tensor, source: torch.Tensor, dims: list, lengths: list, where: str) -> None:
    """The oracle's verdict on one layer (see the module's docstring): back-propagate from
    the planned positions, then from more until every figure is pinned (or none are left);
    every measured position must agree with cnncalc's span for it (agrees), and the figures
    derived from the measured ends must be cnncalc's."""
    picks = samples(field, tuple(output.shape[1:]), lengths)
    measured = {t: {} for t in picks[0]}
    for pick, spans in zip(picks, _backward(output, source, dims, picks)):
        for t, position in pick.items():
            measured[t].setdefault(position, spans[field.axes[t].axis])
    anchors = {t: anchor(field.axes[t], lengths[field.axes[t].axis], output.shape[t + 1]) for t in measured}
    for t, found in measured.items():
        axis, size, length = field.axes[t], output.shape[t + 1], lengths[field.axes[t].axis]
        # a position that read nothing although its field reaches into the input may be
        # padding, or its sample's position on another axis may be: measured alone
        again = [p for p, got in found.items() if got is None and reaches(axis, p, length)]
        again = again or missing(axis, found, size, length)
        while again:
            for position, spans in zip(again, _backward(output, source, dims, [{**anchors, t: p} for p in again])):
                found[position] = spans[axis.axis]
            again = missing(axis, found, size, length)
        said = f"{where}, output axis {t}"
        for position, got in found.items():
            agrees(axis, position, got, size, length, f"{said}, position {position}")
        assert derived(axis, found, size, length, said) == (axis.size, axis.jump, axis.offset), said


def agrees(axis, position: int, got, size: int, length: int, said: str) -> None:
    """The measured extent `got` of one position against cnncalc's span for it (exact_ends).
    A position that reads nothing at all in PyTorch is padding added inside the input's
    range (a pad layer after a valid convolution): its span is nominal, as padding's is,
    and says nothing to check."""
    claim = axis.window.at(position)
    if not reaches(axis, position, length):
        assert got is None, f"{said}: reads {got}, cnncalc says {claim}"
    elif got is not None:
        first, last = exact_ends(axis, position, size, length)
        assert not first or got[0] == claim[0], f"{said}: {got} vs {claim}"
        assert not last or got[1] == claim[1], f"{said}: {got} vs {claim}"


def derived(axis, found: dict, size: int, length: int, said: str) -> tuple:
    """Size, jump and offset from the measured ends that are exact (exact_ends: each was
    required equal to cnncalc's above): the jump from two ends a period apart, then each
    phase's first and last end brought to position 0's period."""
    period = axis.window.period
    firsts, lasts = _exact(axis, found, size, length)
    advances = {ends[i + period] - ends[i] for ends in (firsts, lasts) for i in ends if i + period in ends}
    assert len(advances) == 1, f"{said}: the input is too small to measure the jump exactly ({advances})"
    advance = advances.pop()
    size, offset = 0, None
    for phase in range(period):
        if all(found[i] is None for i in found if i % period == phase):
            continue  # positions of this phase read nothing (said so by the claim, checked above)
        first = {firsts[i] - (i - phase) // period * advance for i in firsts if i % period == phase}
        last = {lasts[i] - (i - phase) // period * advance for i in lasts if i % period == phase}
        assert len(first) == 1 and len(last) == 1, f"{said}, phase {phase}: not pinned by the input ({first}, {last})"
        size = max(size, last.pop() - (start := first.pop()) + 1)
        offset = start if phase == 0 else offset
    jump = Fraction(advance, period)
    return size, jump.numerator if jump.denominator == 1 else jump, offset


# --------------------------------------------------------------------------------------
# Small networks: a spec, and its twin made of PyTorch's own ops (positive weights)
# --------------------------------------------------------------------------------------


def positive(shape: tuple) -> torch.Tensor:
    """A weight of `shape` (output first) that averages: positive, summing to about 1."""
    return torch.full(shape, 1.0 / max(1, math.prod(shape[1:])), dtype=torch.float64)


def _pool(layer, x, rank):
    if layer.dilations() != (1,) * rank:  # a dilated max pool: its windows, averaged
        assert not layer.ceil_mode
        cols = F.unfold(x, layer.kernel_size, dilation=layer.dilation, padding=layer.padding, stride=layer.stride)
        return cols.view(x.shape[0], x.shape[1], -1, cols.shape[-1]).mean(2).view(
            x.shape[0], x.shape[1], *infer_out(x, layer))
    pool = getattr(F, f"avg_pool{rank}d")
    return pool(x, layer.kernel_size, layer.stride, layer.padding, ceil_mode=layer.ceil_mode)


def infer_out(x, layer):
    return layer.output_shape(tuple(x.shape[1:]))[1:]


def torch_layer(node, xs: list) -> torch.Tensor:
    """One cnncalc layer as PyTorch computes it, with positive weights."""
    layer, kind, x = node.layer, node.layer.type, xs[0]
    rank = x.dim() - 2
    if kind.startswith("conv_transpose"):
        weight = positive((x.shape[1], layer.out_channels // layer.groups, *layer.kernel_size))
        return getattr(F, f"conv_transpose{rank}d")(x, weight, stride=layer.stride, padding=layer.padding,
                                                      output_padding=layer.output_padding, groups=layer.groups,
                                                      dilation=layer.dilation)
    if kind.startswith("conv"):
        pads = [p for left, right in reversed(layer.paddings()) for p in (left, right)]
        weight = positive((layer.out_channels, x.shape[1] // layer.groups, *layer.kernel_size))
        return getattr(F, f"conv{rank}d")(F.pad(x, pads), weight, stride=layer.stride, dilation=layer.dilation,
                                          groups=layer.groups)
    if kind.startswith(("maxpool", "avgpool")):
        return _pool(layer, x, rank)
    if kind.startswith("adaptive"):
        return getattr(F, f"adaptive_avg_pool{rank}d")(x, infer_out(x, layer))
    if kind in ("global_avg_pool", "global_max_pool"):
        return x.mean(dim=tuple(range(2, x.dim())), keepdim=layer.keepdims)
    if kind in ("upsample", "interpolate"):
        return F.interpolate(x, size=tuple(infer_out(x, layer)) if layer.size is not None else None,
                             scale_factor=None if layer.size is not None else layer.scale_factor,
                             mode=layer.mode, align_corners=layer.align_corners,
                             recompute_scale_factor=layer.recompute_scale_factor or None)
    if kind == "pad":
        return F.pad(x, [layer.pad] * 2 * rank if isinstance(layer.pad, int) else list(layer.pad), mode=layer.mode)
    if kind == "crop":
        sizes = infer_out(x, layer) if len(xs) == 1 else xs[1].shape[2:]
        for dim, size in enumerate(sizes, start=2):
            x = x.narrow(dim, (x.shape[dim] - size) // 2, size)
        return x
    if kind == "concat":
        return torch.cat(xs, dim=layer.axis + 1 if layer.axis >= 0 else layer.axis)
    if kind in ("add", "mul"):
        result = xs[0]
        for other in xs[1:]:
            result = result + other if kind == "add" else result * other
        return result
    if kind == "slice":
        index = [slice(None)] * x.dim()
        index[layer.axis % (x.dim() - 1) + 1] = slice(layer.start, layer.stop, layer.step)
        return x[tuple(index)]
    if kind in ("split", "chunk"):
        dim = layer.axis % (x.dim() - 1) + 1
        pieces = torch.split(x, list(layer.sizes), dim) if kind == "split" else torch.chunk(x, layer.chunks, dim)
        return pieces[layer.piece]
    if kind == "pixel_shuffle":
        return F.pixel_shuffle(x, layer.upscale_factor)
    if kind == "pixel_unshuffle":
        return F.pixel_unshuffle(x, layer.downscale_factor)
    if kind == "mean":
        return x.mean(dim=tuple(a % (x.dim() - 1) + 1 for a in layer.axes), keepdim=layer.keepdims)
    if kind == "flatten":
        return x.flatten(layer.start_dim % (x.dim() - 1) + 1, layer.end_dim % (x.dim() - 1) + 1)
    if kind == "reshape":
        return x.reshape(x.shape[0], *layer.shape)
    if kind == "permute":
        return x.permute(0, *(d + 1 for d in layer.dims))
    if kind == "relu":
        return F.relu(x)
    if kind in ("identity", "dropout", "batchnorm2d"):
        return x
    raise NotImplementedError(f"no twin for {kind}")


def small_twin(network, batch: int):
    """The network as PyTorch runs it: (source, {layer name: output}), in float64."""
    source = torch.ones(batch, *network.input_shape, dtype=torch.float64, requires_grad=True)
    outputs = {INPUT: source}
    for node in network.nodes:
        outputs[node.name] = torch_layer(node, [outputs[name] for name in node.inputs])
    return source, outputs


def batch_for(fields: dict, shapes: dict, lengths: list) -> int:
    return max((len(samples(field, shapes[name], lengths)) for name, field in fields.items() if field.spatial),
               default=1)


def oracle(text: str, tmp_path, names=None, **load) -> dict:
    """Check every layer named in `names` (default: every layer with a field) of the spec
    `text` against its PyTorch twin; return cnncalc's fields."""
    network = cnncalc.load(str(write_spec(tmp_path, text)), **load)
    shapes = infer_shapes(network)
    fields = receptive_fields(network, shapes)
    lengths = list(network.input_shape[1:])
    source, outputs = small_twin(network, batch_for(fields, shapes, lengths))
    dims = list(range(1, len(network.input_shape)))
    for node in network.nodes:
        field = fields[node.name]
        if (names is None and field.spatial) or (names is not None and node.name in names):
            check(field, outputs[node.name], source, dims, lengths, node.name)
    return fields


def figures(field) -> list:
    return [(axis.size, axis.jump, axis.offset) for axis in field.spatial]


# --------------------------------------------------------------------------------------
# The rules, with the figures worked out by hand, and the oracle's word on each
# --------------------------------------------------------------------------------------


def test_dilation_and_asymmetric_kernels_and_strides(tmp_path):
    fields = oracle("""input: [1, 41, 37]
layers:
  - {name: a, type: conv2d, out_channels: 2, kernel_size: [3, 5], stride: [2, 1], padding: [1, 4], dilation: [1, 2]}
  - {name: b, type: conv2d, out_channels: 2, kernel_size: 3, stride: [1, 3], dilation: 3}
""", tmp_path)
    # a: H 3 every 2 from -1; W 5 taps 2 apart = 9, every 1, from -4
    assert figures(fields["a"]) == [(3, 2, -1), (9, 1, -4)]
    # b: H 3 + 2·3·2 = 15, jump 2; W 9 + 2·3·1 = 15, jump 3
    assert figures(fields["b"]) == [(15, 2, -1), (15, 3, -4)]


def test_padding_same_pads_the_right_more(tmp_path):
    fields = oracle("""input: [1, 20]
layers:
  - {name: even, type: conv1d, out_channels: 1, kernel_size: 4, padding: same}
  - {name: dilated, type: conv1d, out_channels: 1, kernel_size: 4, padding: same, dilation: 3}
""", tmp_path)
    # kernel 4: 3 padding, 1 left and 2 right (as PyTorch), so the field starts at -1
    assert figures(fields["even"]) == [(4, 1, -1)]
    # then 4 taps 3 apart: 9 more padding, 4 left
    assert figures(fields["dilated"]) == [(13, 1, -5)]


def test_dilated_max_pooling(tmp_path):
    fields = oracle("""input: [1, 30, 26]
layers:
  - {name: pool, type: maxpool2d, kernel_size: [3, 2], stride: [2, 3], padding: 1, dilation: [2, 3]}
""", tmp_path)
    assert figures(fields["pool"]) == [(5, 2, -1), (4, 3, -1)]


def test_rearranged_axes_keep_their_fields(tmp_path):
    fields = oracle("""input: [2, 12, 10]
layers:
  - {name: conv, type: conv2d, out_channels: 3, kernel_size: [3, 5], padding: [1, 0]}
  - {name: rows, type: crop, size: [1, null]}
  - {name: flat, type: flatten, start_dim: 1, end_dim: 2}
  - {name: lines, type: reshape, shape: [36, 6], from: conv}
  - {name: turned, type: permute, dims: [2, 0, 1], from: conv}
  - {name: merged, type: flatten, from: conv}
""", tmp_path, names=["conv", "flat", "lines", "turned"])
    assert figures(fields["flat"]) == [(5, 1, 0)]  # the one row folded away: W is left, position for position
    assert fields["flat"].axes[1].axis == 1
    assert figures(fields["lines"]) == [(5, 1, 0)] and fields["lines"].axes[0] is None  # C·H mixed, W kept
    assert [a.axis if a else None for a in fields["turned"].axes] == [1, None, 0]
    assert fields["merged"].spatial == ()


def test_ceil_mode_pooling(tmp_path):
    fields = oracle("""input: [2, 22, 23]
layers:
  - {name: conv, type: conv2d, out_channels: 2, kernel_size: 3}
  - {name: pool, type: maxpool2d, kernel_size: 3, stride: 2, padding: 1, ceil_mode: true}
  - {name: avg, type: avgpool2d, kernel_size: 2, ceil_mode: true}
""", tmp_path)
    assert figures(fields["pool"]) == [(5, 2, -1)] * 2
    assert figures(fields["avg"]) == [(7, 4, -1)] * 2  # the last window, cut short, reads what is left


def test_transposed_convolution_of_stride_2_jumps_by_a_half(tmp_path):
    fields = oracle("""input: [1, 9, 9]
layers:
  - {name: up, type: conv_transpose2d, out_channels: 1, kernel_size: 3, stride: 2, padding: 1, output_padding: 1}
  - {name: up2, type: conv_transpose2d, out_channels: 1, kernel_size: 4, stride: 2, padding: 1}
  - {name: conv, type: conv2d, out_channels: 1, kernel_size: 3, padding: 1}
""", tmp_path)
    up = fields["up"].spatial[0]
    assert (up.size, up.jump, up.offset) == (2, Fraction(1, 2), 0)  # even outputs read one input, odd two
    assert up.window.spans == ((0, 0), (0, 1))
    assert figures(fields["up2"])[0] == (2, Fraction(1, 4), -1)  # each reads two inputs of up, one apart
    assert figures(fields["conv"])[0] == (3, Fraction(1, 4), -1)


def test_transposed_convolution_that_leaves_positions_out(tmp_path):
    fields = oracle("""input: [1, 12]
layers:
  - {name: up, type: conv_transpose1d, out_channels: 1, kernel_size: 2, stride: 2, dilation: 2}
  - {name: sparse, type: conv_transpose1d, from: input, out_channels: 1, kernel_size: 2, stride: 3, dilation: 3}
  - {name: gaps, type: conv1d, out_channels: 1, kernel_size: 3, dilation: 3}
  - {name: half, type: conv_transpose1d, from: input, out_channels: 1, kernel_size: 1, stride: 2}
  - {name: spread, type: conv_transpose1d, out_channels: 1, kernel_size: 3, stride: 2, dilation: 3}
""", tmp_path)
    up = fields["up"].spatial[0]
    assert up.window.spans == ((-1, 0), None) and (up.size, up.jump, up.offset) == (2, Fraction(1, 2), -1)
    assert fields["up"].notes == ("L: 1 of every 2 positions read no input",)
    # output o = 3i + 3t: only every third reads an input, one or two 1 apart; a
    # convolution with taps 3 apart then reads only empty positions, or only full ones
    assert fields["sparse"].spatial[0].window.spans == ((-1, 0), None, None)
    assert fields["gaps"].spatial[0].window.spans == ((-1, 2), None, None)
    # the inputs of `spread`'s output o are 3 apart (o = 2i + 3t): one even, one odd of
    # `half`, whose odd positions read nothing
    assert figures(fields["spread"]) == [(1, Fraction(1, 4), 0)]


@pytest.mark.parametrize("mode, extra, expected", [
    ("nearest", "scale_factor: 2", (1, Fraction(1, 2), 0)),
    ("bilinear", "scale_factor: 2", (2, Fraction(1, 2), -1)),
    ("bilinear", "size: [11, 39], align_corners: true", (2, Fraction(1, 2), 0)),
    ("bicubic", "scale_factor: 4", (4, Fraction(1, 4), -2)),
    ("nearest", "scale_factor: 1.5", (1, Fraction(2, 3), 0)),
    ("bilinear", "size: [9, 8]", (2, Fraction(5, 2), 0)),
])
def test_upsampling(tmp_path, mode, extra, expected):
    fields = oracle(f"""input: [1, 6, 20]
layers:
  - {{name: up, type: upsample, mode: {mode}, {extra}}}
  - {{name: conv, type: conv2d, out_channels: 1, kernel_size: 3}}
""", tmp_path)
    if expected is not None:
        assert figures(fields["up"])[1] == expected


def test_upsampling_by_two_jumps_by_a_half(tmp_path):
    fields = oracle("""input: [1, 16]
layers:
  - {name: conv, type: conv1d, out_channels: 1, kernel_size: 3, stride: 2, padding: 1}
  - {name: up, type: upsample, scale_factor: 2, mode: linear}
""", tmp_path)
    assert figures(fields["up"]) == [(5, 1, -3)]  # two neighbours of jump 2, size 3 each


def test_concat_of_branches_with_different_fields_is_their_union(tmp_path):
    fields = oracle("""input: [1, 30, 30]
layers:
  - {name: small, type: conv2d, from: input, out_channels: 1, kernel_size: 3, padding: 1}
  - {name: wide, type: conv2d, from: input, out_channels: 1, kernel_size: 5, padding: 4, dilation: 2}
  - {name: cat, type: concat, from: [small, wide]}
""", tmp_path)
    assert figures(fields["cat"]) == [(9, 1, -4)] * 2
    assert fields["cat"].notes == ()  # centred alike, and the wide one holds the small one


def test_add_of_misaligned_branches_says_so(tmp_path):
    fields = oracle("""input: [1, 24, 24]
layers:
  - {name: same, type: conv2d, from: input, out_channels: 1, kernel_size: 3, padding: 1}
  - {name: valid, type: conv2d, from: input, out_channels: 1, kernel_size: 3}
  - {name: padded, type: pad, pad: [0, 2, 0, 2]}
  - {name: sum, type: add, from: [same, padded]}
""", tmp_path)
    assert figures(fields["sum"]) == [(4, 1, -1)] * 2
    assert fields["sum"].notes == ("the branches' fields differ, the field is their union: 'same' from -1 (size 3), "
                                   "'padded' from 0 (size 3), jump 1; centres 1 apart",)


def test_branches_with_different_jumps_have_no_union(tmp_path):
    fields = oracle("""input: [1, 16]
layers:
  - {name: strided, type: conv1d, from: input, out_channels: 1, kernel_size: 2, stride: 2}
  - {name: cut, type: slice, from: input, axis: 1, stop: 8}
  - {name: sum, type: add, from: [strided, cut]}
""", tmp_path, names=["strided", "cut"])
    assert fields["sum"].axes == (None, None)
    assert fields["sum"].notes == ("L: branches advance by different jumps ('strided' 2, 'cut' 1): their union does "
                                   "not slide, so L has no field from here on",)


def test_pieces_pads_crops_and_shuffles(tmp_path):
    fields = oracle("""input: [4, 26, 24]
layers:
  - {name: padded, type: pad, pad: [1, 2, 3, 0]}
  - {name: cut, type: crop, size: [20, 21]}
  - {name: every2, type: slice, axis: 1, start: 1, step: 2}
  - {name: halves, type: split, axis: 2, sizes: [7, 14]}
  - {name: down, type: pixel_unshuffle, downscale_factor: 2, from: halves.1}
  - {name: conv, type: conv2d, out_channels: 4, kernel_size: 3}
  - {name: up, type: pixel_shuffle, upscale_factor: 2, from: every2}
""", tmp_path)
    # H: 3 padding rows first, then the crop starts (29 - 20) // 2 = 4 rows in, and the
    # slice at its row 1: row 0 is input row 2, every 2; W: 1 padding column, crop (27 - 21) // 2 = 3
    assert figures(fields["every2"]) == [(1, 2, 2), (1, 1, 2)]
    # W after the split's second piece (from column 7) and the unshuffle (2 columns each)
    assert figures(fields["down"]) == [(3, 4, 2), (2, 2, 9)]
    assert figures(fields["conv"]) == [(11, 4, 2), (6, 2, 9)]
    assert figures(fields["up"]) == [(1, 1, 2), (1, Fraction(1, 2), 2)]


def test_adaptive_pooling_windows_vary(tmp_path):
    fields = oracle("""input: [1, 20, 28]
layers:
  - {name: pool, type: adaptive_avgpool2d, output_size: [8, 12]}
""", tmp_path)
    # 20 → 8: windows [0,3) [2,5) [5,8) [7,10) …: 3 at most, every 5/2; 28 → 12: [0,3) [2,5) [4,7) …
    assert figures(fields["pool"]) == [(3, Fraction(5, 2), 0), (3, Fraction(7, 3), 0)]


def test_global_reductions_have_no_field_and_make_what_reads_them_global(tmp_path):
    fields = oracle("""input: [4, 20, 20]
layers:
  - {name: conv, type: conv2d, out_channels: 4, kernel_size: 3, padding: 1}
  - {name: squeeze, type: global_avg_pool}
  - {name: fc, type: conv2d, out_channels: 4, kernel_size: 1}
  - {name: scaled, type: mul, from: [conv, fc]}
  - {name: rows, type: mean, axes: [1], keepdims: true, from: conv}
  - {name: wide, type: adaptive_avgpool2d, output_size: [1, 5], from: conv}
  - {name: row, type: crop, size: [1, null], from: conv}
  - {name: spread, type: add, from: [conv, row]}
""", tmp_path, names=["conv"])
    assert fields["squeeze"].axes == (None, None, None) and fields["squeeze"].is_global
    assert figures(fields["scaled"]) == [(3, 1, -1)] * 2 and fields["scaled"].is_global
    assert fields["rows"].axes[1] is None and figures(fields["rows"]) == [(3, 1, -1)] and fields["rows"].is_global
    assert not fields["conv"].is_global
    assert figures(fields["wide"]) == [(6, 4, -1)]
    # a branch broadcast along H (one row) is the same at every position: left out of the
    # union, and the sum is marked global
    assert figures(fields["spread"]) == [(3, 1, -1)] * 2 and fields["spread"].is_global
    assert fields["spread"].notes == ()


def test_statistics_over_positions_are_global(tmp_path):
    """Normalisation over positions, and softmax along one, read their axes whole; over
    channels, or at inference with running statistics, position for position."""
    layers = {"channels": "{type: layer_norm, axis: channels}", "running": "{type: batchnorm2d}",
              "tracked": "{type: instance_norm, track_running_stats: true}",
              "instance": "{type: instance_norm}", "group": "{type: group_norm, num_groups: 2}",
              "rows": "{type: layer_norm, axes: 2}", "softmax": "{type: softmax, axis: 2}",
              "over_channels": "{type: softmax, axis: 0}", "lrn": "{type: lrn, size: 3}"}
    text = "input: [4, 12, 12]\nlayers:\n  - {name: conv, type: conv2d, out_channels: 4, kernel_size: 3}\n"
    text += "".join(f"  - {{name: {name}, from: conv, {layer[1:]}\n" for name, layer in layers.items())
    fields = receptive_fields(cnncalc.load(str(write_spec(tmp_path, text))))
    assert {name for name in layers if fields[name].is_global} == {"instance", "group", "rows", "softmax"}
    assert all(figures(fields[name]) == [(3, 1, 0)] * 2 for name in layers)


def test_global_means_the_whole_input(tmp_path):
    """The un-detached gradient of a global layer covers every input position."""
    network = cnncalc.load(str(write_spec(tmp_path, """input: [2, 15, 15]
layers:
  - {name: conv, type: conv2d, out_channels: 2, kernel_size: 3, padding: 1}
  - {name: squeeze, type: global_avg_pool}
  - {name: scaled, type: mul, from: [conv, squeeze]}
""")))
    source, outputs = small_twin(network, 1)
    (grad,) = torch.autograd.grad(outputs["scaled"][0, :, 7, 7].sum(), source)
    assert bool((grad[0].abs().sum(0) > 0).all())
    assert receptive_fields(network)["scaled"].is_global


def test_one_dimensional_and_three_dimensional(tmp_path):
    oracle("""input: [1, 9, 13, 11]
layers:
  - {name: a, type: conv3d, out_channels: 2, kernel_size: [3, 1, 5], stride: [1, 2, 2], padding: [1, 0, 2]}
  - {name: b, type: maxpool3d, kernel_size: 2}
  - {name: c, type: conv_transpose3d, out_channels: 1, kernel_size: [2, 3, 2], stride: [2, 1, 2]}
""", tmp_path)


def test_the_default_is_for_layers_that_keep_their_shape():
    """A layer type that does not say how it reads (Layer.reads: position for position from
    its one input) keeps its input's shape in every case the suite has for it."""
    from test_layers_torch import CASES

    defaults = {kind for kind, cls in REGISTRY.items() if cls.reads is Layer.reads}
    cases = [case for case in CASES if case.type in defaults]
    assert {case.type for case in cases} == defaults
    for case in cases:
        network = cnncalc.loads(case.spec())
        shapes = infer_shapes(network)
        node = network.nodes[-1]
        assert len(node.inputs) == 1 and shapes[node.name] == shapes[node.inputs[0]], case.id


def test_tokens_are_positions(tmp_path):
    network = cnncalc.load(str(write_spec(tmp_path, """input: [50]
layers:
  - {type: embedding, num_embeddings: 10, embedding_dim: 4}
  - {type: permute, dims: [1, 0]}
  - {name: conv, type: conv1d, out_channels: 3, kernel_size: 5, padding: 2}
  - {name: flat, type: flatten}
""")))
    fields = receptive_fields(network)
    assert figures(fields["conv"]) == [(5, 1, -2)] and fields["flat"].spatial == ()


# --- random chains against PyTorch ----------------------------------------------------

def _layer_text(draw) -> str:
    kind = draw(st.sampled_from(["conv", "conv", "pool", "avg", "up", "transposed", "pad", "crop", "adaptive"]))
    k, s, d = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    if kind == "conv":
        return (f"{{type: conv1d, out_channels: 2, kernel_size: {k}, stride: {s}, dilation: {d}, "
                f"padding: {draw(st.integers(0, 3))}}}")
    if kind in ("pool", "avg"):
        kind = "maxpool1d" if kind == "pool" else "avgpool1d"
        return (f"{{type: {kind}, kernel_size: {k}, stride: {s}, padding: {draw(st.integers(0, k // 2))}, "
                f"ceil_mode: {draw(st.booleans())}}}")
    if kind == "up":
        mode = draw(st.sampled_from(["nearest", "linear"]))
        return f"{{type: upsample, mode: {mode}, scale_factor: {draw(st.sampled_from([2, 4, 0.5]))}}}"
    if kind == "transposed":
        return (f"{{type: conv_transpose1d, out_channels: 2, kernel_size: {k}, stride: {s}, dilation: {d}, "
                f"padding: {draw(st.integers(0, (k - 1) * d // 2))}}}")
    if kind == "pad":
        return f"{{type: pad, pad: [{draw(st.integers(0, 3))}, {draw(st.integers(0, 3))}]}}"
    if kind == "crop":
        return "{type: crop, size: in[1] - " + str(draw(st.integers(0, 3))) + "}"
    return "{type: adaptive_avgpool1d, output_size: in[1] // 2 + " + str(draw(st.integers(0, 3))) + "}"


@st.composite
def chains(draw):
    layers = [_layer_text(draw) for _ in range(draw(st.integers(1, 4)))]
    return "input: [1, " + str(draw(st.integers(24, 60))) + "]\nlayers:\n" + "".join(f"  - {l}\n" for l in layers)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=chains())
def test_random_chains_against_torch(tmp_path_factory, text):
    """Every layer of a random 1-D chain, at every planned position, as PyTorch sees it.
    (Only the exact ends are required here: a chain may shrink its input below what pins
    every figure, which the fixed cases above do pin.)"""
    path = write_spec(tmp_path_factory.mktemp("chain"), text)
    try:
        network = cnncalc.load(str(path))
        shapes = infer_shapes(network)
    except cnncalc.SpecError:
        return  # the chain does not fit its input
    fields = receptive_fields(network, shapes)
    length = network.input_shape[1]
    source, outputs = small_twin(network, batch_for(fields, shapes, [length]))
    for node in network.nodes:
        field = fields[node.name]
        if field.spatial:
            picks = samples(field, shapes[node.name], [length])
            for pick, spans in zip(picks, _backward(outputs[node.name], source, [1], picks)):
                for t, position in pick.items():
                    agrees(field.axes[t], position, spans[0], shapes[node.name][t], length,
                           f"{text}{node.name}, position {position}")


# --------------------------------------------------------------------------------------
# The zoo: every network against its twin (tests/torch_zoo.py, tests/torchvision_models.py)
# --------------------------------------------------------------------------------------

# stem -> (input size on every spatial axis (None: the spec's), channel divisor). The size is
# the smallest that pins every sampled layer's figures (a larger field needs a larger input;
# the figures do not depend on it); channels only cost time: a field is the same at any width.
ZOO_RUNS = {
    "lenet5": (40, 1), "lenet": (None, 1), "mnist_cnn": (None, 1), "numpy_cnn": (None, 1), "textcnn": (32, 1),
    "alexnet": (128, 64), "vgg16": (128, 64), "nin": (176, 64), "googlenet": (256, 64), "resnet18": (256, 64),
    "resnet50": (256, 64), "dcgan_generator": (8, 64), "unet": (224, 64),
    "regnet_x_400mf": (528, 64), "shufflenet_v2_x1_0": (304, 1), "mobilenet_v3_large": (336, 64),
    "efficientnet_b0": (464, 64), "convnext_tiny": (896, 64), "deeplabv3_resnet50": (520, 64),
    "r3d_18": ((64, 128, 128), 64),
}
CONVOLUTIONS = (_Conv, _ConvTranspose)


class Stop(Exception):
    """Raised by the last hook that is needed: the rest of the twin does not run."""


def zoo_network(stem: str, size):
    """The spec at the oracle's input size (DeepLabV3 sets its image-size variables)."""
    path = str(SPECS / f"{stem}.yaml")
    if size is None:
        return cnncalc.load(path)
    if stem == "deeplabv3_resnet50":
        return cnncalc.load(path, variables={"height": str(size), "width": str(size)})
    shape = list(cnncalc.load(path).input_shape)
    sizes = size if isinstance(size, tuple) else (size,) * (len(shape) - (len(shape) > 1))
    return cnncalc.load(path, input_shape=shape[:len(shape) - len(sizes)] + list(sizes))


def sampled(network, fields: dict) -> list:
    """The convolutions to check: the first and the last, and the last of every stage: the
    last before the jump changes, and the last of every top-level repeated block instance
    (ResNet's layer1 … layer4, also where dilation keeps the jump, as in DeepLabV3)."""
    convs = [node for node in network.nodes if isinstance(node.layer, CONVOLUTIONS) and fields[node.name].spatial]
    stage = lambda node: node.scope[0] if node.scope and "×" in node.scope[0][1] else None  # noqa: E731
    picks = {convs[0].name, convs[-1].name}
    for node, after in zip(convs, convs[1:]):
        jumps = [axis.jump for axis in fields[node.name].spatial] != [axis.jump for axis in fields[after.name].spatial]
        if jumps or stage(node) != stage(after):
            picks.add(node.name)
    return [node for node in convs if node.name in picks]


def _swap(model: nn.Module, make) -> None:
    """Replace each submodule m for which make(m) gives a module (names kept)."""
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            new = make(child)
            if new is not None:
                setattr(module, child_name, new)


class Summed(nn.Module):
    """A convolution of the same geometry on the sum of its input's channels: with positive
    weights, its output reads at each position what the original's does, the union over
    its input channels (a grouped or depthwise one's too, whose channels all see alike)."""

    def __init__(self, conv: nn.Module):
        super().__init__()
        self.conv = conv

    def forward(self, x):
        return self.conv(x.sum(1, keepdim=True))


def narrowed(model: nn.Module, divisor: int) -> nn.Module:
    """The model with every convolution Summed and its output channels divided, and every
    linear layer's features divided."""
    if divisor == 1:
        return model
    width = lambda c: max(1, c // divisor)  # noqa: E731

    def make(m):
        if isinstance(m, nn.modules.conv._ConvTransposeNd):
            return Summed(nn.modules.conv.__dict__[f"ConvTranspose{len(m.kernel_size)}d"](
                1, width(m.out_channels), m.kernel_size, m.stride, m.padding, m.output_padding, bias=False,
                dilation=m.dilation))
        if isinstance(m, nn.modules.conv._ConvNd):
            return Summed(nn.modules.conv.__dict__[f"Conv{len(m.kernel_size)}d"](
                1, width(m.out_channels), m.kernel_size, m.stride, m.padding, m.dilation, bias=False))
        if isinstance(m, nn.Linear):
            return nn.Linear(width(m.in_features), width(m.out_features), bias=False)
        return None

    _swap(model, make)
    for module in model.modules():  # ConvNeXt's layer scale, [C, 1, 1]
        if isinstance(getattr(module, "layer_scale", None), nn.Parameter):
            module.layer_scale = nn.Parameter(torch.ones(width(module.layer_scale.shape[0]), 1, 1))
    return model


def positive_twin(model: nn.Module) -> dict:
    """Make `model` the oracle's twin in place (see the module's docstring); returns the
    switch that detaches its global branches (on by default)."""
    pools = {nn.MaxPool1d: nn.AvgPool1d, nn.MaxPool2d: nn.AvgPool2d, nn.MaxPool3d: nn.AvgPool3d,
             nn.AdaptiveMaxPool1d: nn.AdaptiveAvgPool1d, nn.AdaptiveMaxPool2d: nn.AdaptiveAvgPool2d}

    def make(m):
        if isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.LayerNorm)):  # LayerNorm2d is one too
            return nn.Identity()
        if type(m) in (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d):
            assert m.dilation in (1, (1,) * 2, (1,) * 3), "a dilated max pool has no average twin"
            return pools[type(m)](m.kernel_size, m.stride, m.padding, ceil_mode=m.ceil_mode)
        if type(m) in pools:
            return pools[type(m)](m.output_size)
        return None

    _swap(model, make)
    switch = {"detach": True}
    for module in model.modules():
        if getattr(module, "inplace", False):
            module.inplace = False
        if type(module).__name__ in ("SqueezeExcitation", "ASPPPooling"):  # torchvision's global branches
            target = "_scale" if hasattr(module, "_scale") else "forward"
            run = getattr(module, target)
            setattr(module, target, lambda x, run=run: run(x).detach() if switch["detach"] else run(x))
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("bias"):
                parameter.zero_()
            else:
                parameter.fill_(1.0 / max(1, parameter[0].numel() if parameter.dim() else 1))
            parameter.requires_grad_(False)  # only the input's gradient is wanted
    return switch


@contextmanager
def _skipped_init():
    """torch.nn.init's initialisers as no-ops: positive_twin sets every weight anyway, and
    drawing the full-width twins' random weights would take most of the test's time."""
    saved = {name: getattr(nn.init, name) for name in dir(nn.init) if name.endswith("_") and name[0] != "_"}
    for name in saved:
        setattr(nn.init, name, lambda tensor, *args, **options: tensor)
    try:
        yield
    finally:
        for name, initialiser in saved.items():
            setattr(nn.init, name, initialiser)


def zoo_twin(stem: str, divisor: int) -> nn.Module:
    """The zoo's twin, narrowed by `divisor`."""
    build = TORCH_ZOO[stem][0] if stem in TORCH_ZOO else TORCHVISION_ZOO[stem][0]
    with _skipped_init():
        return narrowed(build(), divisor)


def zoo_input(stem: str, network, divisor: int, batch: int) -> torch.Tensor:
    if len(network.input_shape) == 1:  # tokens
        return torch.zeros(batch, *network.input_shape, dtype=torch.int64)
    channels = max(1, network.input_shape[0] // divisor)
    return torch.ones(batch, channels, *network.input_shape[1:], requires_grad=True)


def run_twin(model, x, network, upto, token_source: nn.Module | None):
    """Run `model` on `x` up to the spec's convolution `upto` (a node), and pair the spec's
    convolutions with the twin's, in the order they run: the same kernel, stride and
    dilation. Returns (source, {layer name: output}); the source is x, or for tokens the
    embedding's output. Outputs are kept as made: later in-place operations get a copy."""
    convs = [node for node in network.nodes if isinstance(node.layer, CONVOLUTIONS)]
    needed, made, hooks, source = convs.index(upto) + 1, [], [], {}

    def hook(module, inputs, output):
        made.append((module, output))
        if len(made) == needed:
            raise Stop
        return output.clone()

    def tokens(module, inputs, output):  # the vectors are the input whose positions count
        source["tokens"] = output.detach().requires_grad_()
        return source["tokens"]

    for module in model.modules():
        if isinstance(module, (nn.modules.conv._ConvNd, SparseConv2d)):
            hooks.append(module.register_forward_hook(hook))
    if token_source is not None:
        hooks.append(token_source.register_forward_hook(tokens))
    try:
        model.eval()(x)
    except Stop:
        pass
    finally:
        for handle in hooks:
            handle.remove()
    assert len(made) == needed, f"{len(made)} convolutions ran in the twin, {needed} in the spec"
    for node, (module, _) in zip(convs, made):
        kernel = module.kernel_size if isinstance(module.kernel_size, tuple) else (module.kernel_size,) * 2
        assert tuple(node.layer.kernel_size) == tuple(kernel), f"{node.name}: kernel {kernel} in the twin"
        if not isinstance(module, SparseConv2d):
            assert (tuple(node.layer.stride), tuple(node.layer.dilation)) == (module.stride, module.dilation), \
                f"{node.name}: stride {module.stride}, dilation {module.dilation} in the twin"
    return source.get("tokens", x), {node.name: output for node, (_, output) in zip(convs, made)}


# networks with squeeze-and-excitation (MobileNetV3, EfficientNet) or image pooling (DeepLabV3)
GLOBAL_ZOO = {"mobilenet_v3_large", "efficientnet_b0", "deeplabv3_resnet50"}


@pytest.mark.parametrize("stem", sorted(ZOO_RUNS))
def test_zoo_against_its_twin(stem):
    """The sampled layers of each zoo network against its twin: one run per batch size
    (the layers with a pattern of period P need about 2P positions, the others 3)."""
    size, divisor = ZOO_RUNS[stem]
    network = zoo_network(stem, size)
    shapes = infer_shapes(network)
    fields = receptive_fields(network, shapes)
    rows = sampled(network, fields)
    tokens = len(network.input_shape) == 1
    lengths = list(network.input_shape if tokens else network.input_shape[1:])
    dims = [0] if tokens else list(range(1, len(network.input_shape)))
    torch.manual_seed(0)
    model = zoo_twin(stem, divisor)
    switch = positive_twin(model)
    needs = {node.name: len(samples(fields[node.name], shapes[node.name], lengths)) for node in rows}
    for batch in sorted(set(needs.values())):
        group = [node for node in rows if needs[node.name] == batch]
        x = zoo_input(stem, network, divisor, batch)
        source, outputs = run_twin(model, x, network, group[-1], model.embedding if tokens else None)
        for node in group:
            check(fields[node.name], outputs[node.name], source, dims, lengths, f"{stem} {node.name}")
    globals_ = [node for node in rows if fields[node.name].is_global]
    assert bool(globals_) == (stem in GLOBAL_ZOO)
    if globals_:  # the global branches no longer detached, the last global layer reads every input position
        switch["detach"] = False
        source, outputs = run_twin(model, zoo_input(stem, network, divisor, 1), network, globals_[-1], None)
        output = outputs[globals_[-1].name]
        middle = tuple(n // 2 for n in output.shape[2:])
        (grad,) = torch.autograd.grad(output[(0, slice(None), *middle)].sum(), source)
        assert bool((grad[0] != 0).any(0).all()), f"{stem} {globals_[-1].name}: not every input position is read"


# --------------------------------------------------------------------------------------
# The command: --rf in every format, with --depth, and what it refuses
# --------------------------------------------------------------------------------------


def test_without_rf_nothing_changes():
    plain = invoke("summary", str(SPECS / "resnet18.yaml"), "--format", "json")
    assert plain.exit_code == 0 and "receptive_field" not in plain.output
    table = invoke("summary", str(SPECS / "resnet18.yaml"))
    assert "Jump" not in table.output and "Offset" not in table.output


def test_table_shows_size_jump_and_offset_per_row():
    result = invoke("summary", str(SPECS / "resnet50.yaml"), "--rf")
    assert result.exit_code == 0, result.stderr
    header = next(line for line in result.output.splitlines() if "Layer" in line)
    assert [cell.strip() for cell in header.split("┃")[-4:-1]] == ["RF", "Jump", "Offset"]
    rows = {line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[-4:-1]]
            for line in result.output.splitlines() if line.startswith("│")}
    assert rows["input"] == ["1", "1", "0"]
    assert rows["conv1"] == ["7", "2", "-3"]
    assert rows["layer4.2.conv3"] == ["427", "32", "-213"]  # as PhilippLangen measured for torchvision's
    assert rows["fc"] == ["-", "-", "-"]


def test_json_keys():
    result = invoke("summary", str(SPECS / "dcgan_generator.yaml"), "--rf", "--format", "json")
    import json

    layers = {layer["name"]: layer for layer in json.loads(result.output)["layers"]}
    assert layers["up.0.conv"]["receptive_field"] == {
        "axes": [{"axis": "H", "size": 5, "jump": "1/2", "offset": -4},
                 {"axis": "W", "size": 5, "jump": "1/2", "offset": -4}],
        "global": False, "notes": []}
    mobile = json.loads(invoke("summary", str(SPECS / "mobilenet_v3_large.yaml"), "--rf", "-f", "json").output)
    layers = {layer["name"]: layer["receptive_field"] for layer in mobile["layers"]}
    assert layers["classifier.3"] is None
    assert layers["features.16.0"]["global"] is True and layers["features.0.0"]["global"] is False


def test_json_says_why_a_field_is_lost(tmp_path):
    import json

    path = write_spec(tmp_path, "input: [1, 10, 10]\nlayers:\n  - {type: upsample, size: [10, 4099], mode: nearest}\n")
    (layer,) = json.loads(invoke("summary", str(path), "--rf", "-f", "json").output)["layers"]
    assert layer["receptive_field"] == {
        "axes": [{"axis": "H", "size": 1, "jump": 1, "offset": 0}], "global": False,
        "notes": ["upsample's ratio 10/4099 repeats only every 4,099 positions (above 4,096): no field is given "
                  "from here on"]}


def test_markdown_and_csv():
    markdown = invoke("summary", str(SPECS / "unet.yaml"), "--rf", "--format", "markdown").output
    assert "| Layer | Type | Output shape | Params | MACs | FLOPs | RF | Jump | Offset |" in markdown
    assert next(line for line in markdown.splitlines() if line.startswith("| enc0.conv1 |")).endswith(
        "| 3 | 1 | 0 |")
    assert ("- cat0: the branches' fields differ, the field is their union: 'crop0' from 88 (size 5), "
            "'up0' from 0 (size 204), jump 1; centres 3.5 apart") in markdown
    csv = invoke("summary", str(SPECS / "r3d_18.yaml"), "--rf", "--format", "csv").output.splitlines()
    assert csv[0].endswith(",rf_size,rf_jump,rf_offset,rf_global,rf_notes")
    stem = next(line for line in csv if line.startswith("stem.0,"))
    assert stem.endswith(",3x7x7,1x2x2,-1x-3x-3,false,")  # D, H, W: the stem strides space only
    assert next(line for line in csv if line.startswith("fc,")).endswith(",,,,true,")


def test_global_mark_and_notes_under_the_table():
    lines = invoke("summary", str(SPECS / "efficientnet_b0.yaml"), "--rf").output.splitlines()
    assert any(line.startswith("│ features.8 ") and "│ 851* │" in line for line in lines)
    assert "* each position also depends on values shared by all positions" in "\n".join(lines)
    unet = invoke("summary", str(SPECS / "unet.yaml"), "--rf").output
    assert "cat3: the branches' fields differ, the field is their union: 'crop3' from 32 (size 68)" in unet


def test_depth_folds_to_the_field_at_the_block_output():
    """A folded row shows its block's output field: that of the last layer folded into it."""
    network = cnncalc.load(str(SPECS / "resnet18.yaml"))
    fields = receptive_fields(network)
    import json

    data = json.loads(invoke("summary", str(SPECS / "resnet18.yaml"), "--rf", "--depth", "1", "-f", "json").output)
    rows = {layer["name"]: layer["receptive_field"] for layer in data["layers"]}
    for block, last in (("layer1", "layer1.1.relu"), ("layer4", "layer4.1.relu")):
        expected = fields[last].spatial[0]
        assert rows[block]["axes"][0] == {"axis": "H", "size": expected.size, "jump": expected.jump,
                                          "offset": expected.offset}
    assert rows["layer4"]["axes"][0]["size"] == 435  # not layer4.0's 307: the block's output
    table = invoke("summary", str(SPECS / "googlenet.yaml"), "--rf", "--depth", "1").output
    assert any(line.startswith("│ inception5b ") and line.rstrip().endswith("│ 379 │   32 │   -167 │")
               for line in table.splitlines())


@pytest.mark.parametrize("flags, says", [
    (["--input", "3,H,W"], "--rf needs the input's sizes as numbers"),
    (["--training"], "not with --training or an --input range"),
    (["--input", "3,224..256..32"], "not with --training or an --input range"),
])
def test_what_rf_refuses(flags, says):
    result = invoke("summary", str(SPECS / "resnet18.yaml"), "--rf", *flags)
    assert result.exit_code == 2 and says in result.stderr and "Traceback" not in result.stderr


# --------------------------------------------------------------------------------------
# Hostile input: exit 0, 1 or 2, no traceback, bounded time
# --------------------------------------------------------------------------------------

HOSTILE = [
    # a stride past the period limit, and a ratio whose pattern repeats every 2^31 - 3 positions
    "input: [1, 4]\nlayers:\n  - {type: conv_transpose1d, out_channels: 1, kernel_size: 3, stride: 100000}\n",
    "input: [1, 2147483645]\nlayers:\n  - {type: upsample, size: 2147483647, mode: linear}\n",
    "input: [1, 5, 5]\nlayers:\n  - {type: adaptive_avgpool2d, output_size: 100003}\n",
    "input: [1, 9]\nlayers:\n  - {type: upsample, scale_factor: 1.0000001, mode: nearest}\n",
    # huge kernels, dilations and paddings: arithmetic, not loops
    "input: [1, 2000000000]\nlayers:\n  - {type: conv1d, out_channels: 1, kernel_size: 1000000000, dilation: 2}\n",
    "input: [1, 64]\nlayers:\n  - {type: conv_transpose1d, out_channels: 1, kernel_size: 1000000000, stride: 4096,"
    " dilation: 4095}\n",
    # patterns that multiply, long patterns read through dilated windows (the work limit), and
    # merged from many branches
    "input: [1, 9000]\nlayers:\n" + "  - {type: conv_transpose1d, out_channels: 1, kernel_size: 3, stride: 3}\n" * 8
    + "  - {type: conv1d, out_channels: 1, kernel_size: 5, dilation: 7}\n" * 400,
    "input: [1, 8]\nlayers:\n  - {type: conv_transpose1d, out_channels: 1, kernel_size: 5000, stride: 4096}\n"
    + "  - {type: conv1d, out_channels: 1, kernel_size: 3, dilation: 7}\n" * 300,
    "input: [1, 8]\nlayers:\n  - {name: a, type: conv_transpose1d, out_channels: 1, kernel_size: 5000, stride: 4096}\n"
    "  - {type: add, from: [" + ", ".join(["a"] * 3000) + "]}\n",
    "input: [1, 50]\nlayers:\n  - {name: s, type: conv1d, out_channels: 1, kernel_size: 3, padding: 1}\n"
    "  - {name: v, type: conv1d, from: input, out_channels: 1, kernel_size: 3}\n  - {name: p, type: pad, pad: [2, 0]}\n"
    "  - {type: add, from: [" + ", ".join(["s", "p"] * 2000) + "]}\n",
    # many layers, many inputs, every kind of reduction and rearrangement
    "input: [2, 8, 8]\nlayers:\n" + "  - {type: conv2d, out_channels: 2, kernel_size: 3, padding: 1}\n" * 3000,
    "input: [2, 8, 8]\nlayers:\n  - {name: a, type: relu}\n  - {type: add, from: [" + ", ".join(["a"] * 5000) + "]}\n",
    "input: [2, 8, 8]\nlayers:\n  - {type: permute, dims: [2, 1, 0]}\n  - {type: reshape, shape: [8, 16]}\n"
    "  - {type: softmax, axis: 0}\n  - {type: flatten}\n  - {type: linear, out_features: 3}\n",
    "input: [500]\nlayers:\n  - {type: embedding, num_embeddings: 5, embedding_dim: 4}\n  - {type: layer_norm}\n"
    "  - {type: mean, axes: [0], keepdims: true}\n",
    "input: [4, 3, 3]\nlayers:\n  - {type: group_norm, num_groups: 2}\n  - {type: instance_norm}\n"
    "  - {type: chunk, chunks: 2, axis: 1}\n  - {type: concat, from: [chunk_1.0, chunk_1.1], axis: 1}\n",
]


@pytest.mark.parametrize("index", range(len(HOSTILE)))
def test_hostile_specs(tmp_path, index):
    """Each in a format of its own, in turn (the fields are the same in every one)."""
    path, fmt = write_spec(tmp_path, HOSTILE[index]), ["table", "json", "markdown", "csv"][index % 4]
    started = time.perf_counter()
    result = invoke("summary", str(path), "--rf", "--format", fmt)
    assert time.perf_counter() - started < 20
    assert result.exit_code in (0, 1, 2), result.output + result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert max(map(len, (result.output + result.stderr).splitlines())) < 20_000
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception


@settings(max_examples=30, deadline=None, database=None, phases=[Phase.generate],
          suppress_health_check=list(HealthCheck))
@given(case=receptive_case(process_share=10**9))
def test_fuzz_cases_for_rf(tmp_path_factory, case):
    """tests/fuzz_receptive.py's cases through the fuzz runner and judge: exit 0, 1 or 2,
    no traceback or raw control character, JSON that parses, within time and memory."""
    outcome = run_case(case, str(tmp_path_factory.mktemp("rf")))
    assert not outcome.failures, f"{case!r} -> {outcome.status}: {outcome.failures}"
