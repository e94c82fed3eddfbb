"""Element-wise merges that broadcast (add, mul, sub, div) and pieces (split, chunk, slice).

The merges broadcast by NumPy's and PyTorch's rules on the per-sample shapes, so their
torch twins are the torch operation applied per sample (torch.func.vmap). A piece of a
split or chunk is checked as the layer with `piece` set against torch.split(...)[i] and
torch.chunk(...)[i]; the spec language's NAME.0, NAME.1, … is tested at the end, with a
ShuffleNetV2 unit run against a hand-written torch twin on the same weights.
"""
from __future__ import annotations

import textwrap
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import vmap
from torch.utils.flop_counter import FlopCounterMode

import cnncalc
from cnncalc import SpecError
from cnncalc.backend import verify
from cnncalc.backend.execute import run
from cnncalc.backend.namespace import namespace
from cnncalc.backend.params import materialise
from cnncalc.layers import REGISTRY, prod
from cnncalc.summary import infer_shapes

from case_types import ForwardCase, TorchCase, batched, fn
from helpers import invoke, write_spec


def per_sample(f):
    """A torch function applied to each sample on its own: the per-sample broadcasting rule."""
    return fn(vmap(f))


def cut(x, axis: int, index):
    """x[..., index] along per-sample `axis` of a batched tensor."""
    return x[(slice(None),) * (batched(axis) % x.dim()) + (index,)]


# --- branches that give merges shapes to broadcast ---------------------------------------------
SQUEEZE = [{"name": "s", "type": "global_avg_pool", "from": "input"}]  # [C, 1, 1] of an input [C, H, W]
ROW_COLUMN = [{"name": "row", "type": "slice", "axis": 0, "stop": 1, "from": "input"},  # [1, W] of [H, W]
              {"name": "col", "type": "slice", "axis": 1, "stop": 1, "from": "input"}]  # [H, 1]
VECTOR = [{"name": "row", "type": "slice", "axis": 0, "stop": 1, "from": "input"},
          {"name": "v", "type": "reshape", "shape": [5], "from": "row"}]  # [W] of an input [H, W = 5]
CHANNELS = [{"name": "a", "type": "conv2d", "out_channels": 4, "kernel_size": 1, "from": "input"},
            {"name": "b", "type": "conv2d", "out_channels": 6, "kernel_size": 1, "from": "input"}]
FLAT = [{"name": "f", "type": "flatten", "from": "input"}, {"name": "i", "type": "identity", "from": "input"}]

OPS = {"add": torch.add, "mul": torch.mul, "sub": torch.sub, "div": torch.div}


def merge(id, input, kind, sources, before, f=None):
    return TorchCase(id, input, {"type": kind, "from": sources}, per_sample(f or OPS[kind]), before=before)


def piece(id, input, layer, f):
    return TorchCase(id, input, layer, fn(f))


SIZES = [2, 3, 1]
SLICES = [(1, None, 1, 0), (0, 4, 2, 1), (-3, -1, 1, -1), (-100, 100, 3, 1), (2, 3, 1, 0), (None, -2, 1, 0),
          (5, None, 4, -1)]  # (start, stop, step, axis) on [6, 7, 8]


def slice_args(start, stop, step, axis) -> dict:
    given = {"start": start, "stop": stop, "step": step, "axis": axis}
    return {name: value for name, value in given.items() if value is not None}


TORCH_CASES = [
    # --- element-wise merges ---
    merge("mul-squeeze-excitation", (6, 5, 5), "mul", ["s", "input"], SQUEEZE),
    merge("mul-excitation-second", (6, 5, 5), "mul", ["input", "s"], SQUEEZE),
    merge("mul-rank-1-with-2", (4, 5), "mul", ["v", "input"], VECTOR),
    merge("mul-three", (4, 5), "mul", ["row", "col", "input"], ROW_COLUMN, lambda a, b, c: a * b * c),
    merge("add-broadcast", (6, 5, 5), "add", ["input", "s"], SQUEEZE),
    merge("add-outer", (4, 5), "add", ["row", "col"], ROW_COLUMN),
    merge("add-three-widening", (4, 5), "add", ["row", "col", "input"], ROW_COLUMN, lambda a, b, c: a + b + c),
    merge("sub", (6, 5, 5), "sub", ["input", "s"], SQUEEZE),
    merge("sub-rank", (4, 5), "sub", ["v", "input"], VECTOR),
    merge("div", (6, 5, 5), "div", ["input", "s"], SQUEEZE),
    merge("div-widening", (6, 5, 5), "div", ["s", "input"], SQUEEZE),
    # --- pieces ---
    *[piece(f"split-piece{i}", (6, 4), {"type": "split", "sizes": SIZES, "piece": i},
            lambda x, i=i: torch.split(x, SIZES, dim=1)[i]) for i in range(3)],
    piece("split-last-axis", (3, 4, 7), {"type": "split", "sizes": [4, 3], "axis": -1, "piece": 1},
          lambda x: torch.split(x, [4, 3], dim=-1)[1]),
    piece("split-one", (3, 4), {"type": "split", "sizes": [4], "axis": 1, "piece": 0},
          lambda x: torch.split(x, [4], dim=2)[0]),
    # torch.chunk: pieces of ceil(n / chunks), possibly fewer than asked (5 in 4: 2, 2, 1)
    *[piece(f"chunk-{n}-in-{chunks}-piece{i}", (n, 3), {"type": "chunk", "chunks": chunks, "piece": i},
            lambda x, chunks=chunks, i=i: torch.chunk(x, chunks, dim=1)[i])
      for n, chunks, made in [(5, 4, 3), (6, 4, 3), (7, 3, 3), (8, 2, 2), (3, 5, 3), (1, 2, 1)] for i in range(made)],
    piece("chunk-axis-1", (2, 9, 4), {"type": "chunk", "chunks": 2, "axis": 1, "piece": 1},
          lambda x: torch.chunk(x, 2, dim=2)[1]),
    *[piece(f"slice-{start}-{stop}-{step}-axis{axis}", (6, 7, 8),
            {"type": "slice", **slice_args(start, stop, step, axis)},
            lambda x, s=slice(start, stop, step), a=axis: cut(x, a, s))
      for start, stop, step, axis in SLICES],
]

TORCH_ERRORS = [
    merge("mul-mismatch", (3, 8, 8), "mul", ["a", "b"], CHANNELS),
    merge("add-rank-mismatch", (4, 6), "add", ["f", "i"], FLAT),
    merge("sub-mismatch", (3, 8, 8), "sub", ["a", "b"], CHANNELS),
    merge("div-mismatch", (3, 8, 8), "div", ["b", "a"], CHANNELS),
    piece("split-sizes-short", (5, 3), {"type": "split", "sizes": [2, 2], "piece": 0},
          lambda x: torch.split(x, [2, 2], dim=1)[0]),
    piece("split-sizes-long", (5, 3), {"type": "split", "sizes": [2, 4], "piece": 0},
          lambda x: torch.split(x, [2, 4], dim=1)[0]),
    piece("split-negative-size", (5, 3), {"type": "split", "sizes": [-1, 6], "piece": 0},
          lambda x: torch.split(x, [-1, 6], dim=1)[0]),
    piece("split-piece-out-of-range", (5, 3), {"type": "split", "sizes": [2, 3], "piece": 2},
          lambda x: torch.split(x, [2, 3], dim=1)[2]),
    piece("split-axis-out-of-range", (5, 3), {"type": "split", "sizes": [1, 2], "axis": 2, "piece": 0},
          lambda x: torch.split(x, [1, 2], dim=3)[0]),
    piece("chunk-zero", (5, 3), {"type": "chunk", "chunks": 0, "piece": 0}, lambda x: torch.chunk(x, 0, dim=1)[0]),
    piece("chunk-missing-piece", (5, 3), {"type": "chunk", "chunks": 4, "piece": 3},
          lambda x: torch.chunk(x, 4, dim=1)[3]),
    piece("chunk-axis-out-of-range", (5, 3), {"type": "chunk", "chunks": 2, "axis": 2, "piece": 0},
          lambda x: torch.chunk(x, 2, dim=3)[0]),
    piece("slice-step-zero", (5, 3), {"type": "slice", "step": 0}, lambda x: x[:, ::0]),
    piece("slice-step-negative", (5, 3), {"type": "slice", "step": -1}, lambda x: x[:, ::-1]),
    piece("slice-axis-out-of-range", (5, 3), {"type": "slice", "axis": 2}, lambda x: x[:, :, :, 0:]),
]


def forward_merge(id, kind, inputs, f=None):
    return ForwardCase(id, kind, {}, inputs, lambda xs, p, f=f or OPS[kind]: vmap(f)(*xs))


FORWARD_CASES = [
    forward_merge("add-broadcast", "add", [(3, 1, 1), (3, 4, 4)]),
    forward_merge("add-rank", "add", [(4,), (2, 3, 4)]),
    forward_merge("add-three-widening", "add", [(4, 1), (4, 1), (4, 5)], lambda a, b, c: a + b + c),
    forward_merge("add-three-in-place", "add", [(4, 5), (1, 5), (4, 1)], lambda a, b, c: a + b + c),
    forward_merge("mul-squeeze-excitation", "mul", [(6, 1, 1), (6, 3, 3)]),
    forward_merge("mul-three", "mul", [(1, 5), (4, 1), (5,)], lambda a, b, c: a * b * c),
    forward_merge("sub", "sub", [(3, 4, 4), (3, 1, 1)]),
    forward_merge("sub-rank", "sub", [(4,), (2, 3, 4)]),
    forward_merge("div", "div", [(3, 4), (1, 4)]),
    forward_merge("div-widening", "div", [(2, 1, 1), (2, 3, 3)]),
    ForwardCase("split", "split", {"sizes": SIZES, "piece": 1}, [(6, 4)],
                lambda xs, p: torch.split(xs[0], SIZES, dim=1)[1]),
    ForwardCase("split-last", "split", {"sizes": [4, 3], "axis": -1, "piece": 1}, [(3, 4, 7)],
                lambda xs, p: torch.split(xs[0], [4, 3], dim=-1)[1]),
    ForwardCase("chunk-short-last", "chunk", {"chunks": 4, "piece": 2}, [(5, 3)],
                lambda xs, p: torch.chunk(xs[0], 4, dim=1)[2]),
    ForwardCase("chunk-axis", "chunk", {"chunks": 3, "axis": 1, "piece": 0}, [(2, 7, 3)],
                lambda xs, p: torch.chunk(xs[0], 3, dim=2)[0]),
    *[ForwardCase(f"slice-{start}-{stop}-{step}-axis{axis}", "slice", slice_args(start, stop, step, axis),
                  [(6, 7, 8)], lambda xs, p, s=slice(start, stop, step), a=axis: cut(xs[0], a, s))
      for start, stop, step, axis in SLICES],
]

PARAM_LAWS: list = []  # none of these types has parameters


# --- FLOPs ---------------------------------------------------------------------------------------

MERGES = [case for case in TORCH_CASES if case.type in OPS]
PIECES = [case for case in TORCH_CASES if case.type not in OPS]


def _shapes(summary, record):
    known = {"input": summary.input_shape, **{r.name: r.output_shape for r in summary.layers}}
    return [known[name] for name in record.inputs]


@pytest.mark.parametrize("case", TORCH_CASES, ids=[c.id for c in TORCH_CASES])
def test_flops_follow_the_readme_rule(case):
    """README: add/mul/sub/div, (inputs − 1)·out, one operation per output element for each
    input after the first; split, chunk and slice are views, 0. MACs: 0 (no weighted sums).
    FlopCounterMode counts none of these operations (it counts matrix products and
    convolutions), so the rule written out here is the reference."""
    summary = cnncalc.summarize(cnncalc.loads(case.spec()), batch=3)
    record = summary.layers[-1]
    rule = (len(record.inputs) - 1) * prod(record.output_shape) if case.type in OPS else 0
    assert record.flops == 3 * rule
    assert record.macs == 0
    with FlopCounterMode(display=False) as counter:
        case.torch()(*(torch.zeros(1, *shape) for shape in _shapes(summary, record)))
    assert counter.get_total_flops() == 0


def test_every_type_of_the_family_has_cases():
    family = {"add", "mul", "sub", "div", "split", "chunk", "slice"}
    assert family <= set(REGISTRY)
    assert family <= {case.type for case in TORCH_CASES} and family <= {case.type for case in FORWARD_CASES}


# --- broadcasting: the rule, the refusal and its hint ----------------------------------------------

def summary(text: str, **options):
    return cnncalc.summarize(cnncalc.loads(textwrap.dedent(text), "spec.yaml"), **options)


def fails(tmp_path, text: str, *, at: str | tuple, layer: str | None = None, contains=(), hint: str | None = None,
          command: str = "summary") -> str:
    """`cnncalc summary` on `text` ends in exit 2 at file:line:col of `at`, with no traceback."""
    text = textwrap.dedent(text)
    path = write_spec(tmp_path, text)
    result = invoke(command, str(path))
    err = result.stderr
    assert result.exit_code == 2, result.output + err
    assert "Traceback" not in result.output + err and "internal error" not in err
    if isinstance(at, str):
        pos = text.index(at)
        at = (text.count("\n", 0, pos) + 1, pos - (text.rfind("\n", 0, pos) + 1) + 1)
    assert f"{path}:{at[0]}:{at[1]}: error:" in err, err
    if layer is not None:
        assert f"layer '{layer}'" in err, err
    for fragment in contains:
        assert fragment in err, err
    if hint is not None:
        assert "hint:" in err and hint in err, err
    return err


@pytest.mark.parametrize("a, b, out", [
    ((6, 1, 1), (6, 5, 5), (6, 5, 5)), ((5,), (4, 5), (4, 5)), ((1, 5), (4, 1), (4, 5)), ((3, 1, 7), (2, 1), (3, 2, 7)),
    ((1,), (2, 3, 4), (2, 3, 4)), ((2, 3), (2, 3), (2, 3)), ((4, 1, 1, 1), (3, 1, 2), (4, 3, 1, 2)),
])
def test_broadcast_shape_is_numpys(a, b, out):
    for kind in OPS:
        assert REGISTRY[kind]().output_shape(a, b) == out == np.broadcast_shapes(a, b)
        assert REGISTRY[kind]().output_shape(b, a) == out


@pytest.mark.parametrize("kind", ["mul", "sub", "div"])
def test_broadcast_refusal_names_the_rule_and_both_shapes(tmp_path, kind):
    text = f"""\
        input: [3, 8, 8]
        layers:
          - {{name: a, type: conv2d, out_channels: 4, kernel_size: 1}}
          - {{name: m, type: {kind}, from: [a, input]}}
        """
    err = fails(tmp_path, text, at="{name: m", layer="m", contains=["[4, 8, 8]", "[3, 8, 8]", "neither equal nor 1"],
                hint="aligned from the right")
    assert "projection" not in err and "shortcut" not in err


def test_add_refusal_of_a_residual_keeps_the_projection_hint(tmp_path):
    text = """\
        input: [3, 8, 8]
        layers:
          - {name: a, type: conv2d, out_channels: 4, kernel_size: 3, stride: 2, padding: 1}
          - {name: sum, type: add, from: [a, input]}
        """
    err = fails(tmp_path, text, at="{name: sum", layer="sum", contains=["[4, 4, 4]", "[3, 8, 8]"],
                hint="projection on the shortcut")
    assert "aligned from the right" in err  # the rule, too


def test_add_refusal_of_ranks_that_differ_explains_broadcasting_only(tmp_path):
    text = """\
        input: [4, 6]
        layers:
          - {name: f, type: flatten}
          - {name: sum, type: add, from: [f, input]}
        """
    err = fails(tmp_path, text, at="{name: sum", layer="sum", contains=["[24]", "[4, 6]"], hint="missing leading axis")
    assert "projection" not in err


def test_refusal_of_a_third_input_names_what_came_before():
    with pytest.raises(SpecError) as caught:
        REGISTRY["add"]().output_shape((1, 5), (4, 1), (3, 5))
    assert "[4, 5] (inputs 0 … 1 broadcast together) with [3, 5] (input 2)" in caught.value.message


@pytest.mark.parametrize("kind, inputs", [("sub", 3), ("div", 1), ("sub", 1)])
def test_sub_and_div_take_exactly_two_inputs(tmp_path, kind, inputs):
    sources = ", ".join(["input", "r", "r"][:inputs])
    text = f"""\
        input: [3, 8]
        layers:
          - {{name: r, type: relu}}
          - {{name: m, type: {kind}, from: [{sources}]}}
        """
    fails(tmp_path, text, at=f"[{sources}]", layer="m", contains=["takes two inputs", f"names {inputs}"],
          hint="from: [a, b]")


def test_squeeze_excitation_counts_its_multiply():
    result = summary("""\
        input: [16, 7, 7]
        layers:
          - {name: pool, type: global_avg_pool}
          - {name: fc1, type: conv2d, out_channels: 4, kernel_size: 1}
          - {name: act, type: relu}
          - {name: fc2, type: conv2d, out_channels: 16, kernel_size: 1}
          - {name: gate, type: sigmoid}
          - {name: scale, type: mul, from: [gate, input]}
        """)
    record = result.layer("scale")
    assert record.inputs == ["gate", "input"] and record.output_shape == (16, 7, 7)
    assert record.flops == 16 * 7 * 7 and record.macs == 0  # fvcore#42 skips this multiply


# --- pieces: the rules ---------------------------------------------------------------------------

def test_chunk_pieces_are_torchs():
    for n in range(1, 13):
        for chunks in range(1, 8):
            expected = [tuple(t.shape[1:]) for t in torch.chunk(torch.zeros(1, n), chunks, dim=1)]
            got = []
            for index in range(chunks):
                try:
                    got.append(REGISTRY["chunk"](chunks=chunks, piece=index).output_shape((n,)))
                except SpecError:
                    assert index == len(expected), (n, chunks)  # the first missing piece; none after it exists
                    break
            assert got == expected, (n, chunks)


def test_slice_is_pythons():
    for n in range(1, 9):
        for start in [None, -10, -3, -1, 0, 1, 4, 9]:
            for stop in [None, -10, -2, 0, 3, 8, 20]:
                for step in [1, 2, 3]:
                    given = {k: v for k, v in {"start": start, "stop": stop}.items() if v is not None}
                    layer = REGISTRY["slice"](**given, step=step, axis=0)
                    expected = len(range(n)[start:stop:step])
                    if expected == 0:  # torch gives an empty tensor; cnncalc's sizes are positive
                        with pytest.raises(SpecError, match="is empty"):
                            layer.output_shape((n, 2))
                    else:
                        assert layer.output_shape((n, 2)) == (expected, 2), (n, start, stop, step)


def test_a_whole_split_has_no_shape_of_its_own():
    """Without `piece`, a split is its pieces (Layer.pieces); only the language makes them nodes."""
    layer = REGISTRY["split"](sizes=(1, 2))
    assert [p.piece for p in layer.pieces()] == [0, 1]
    assert REGISTRY["split"](sizes=(1, 2), piece=1).pieces() is None
    assert REGISTRY["slice"]().pieces() is None and REGISTRY["add"]().pieces() is None
    with pytest.raises(SpecError, match="several outputs"):
        layer.output_shape((3,))


# --- pieces in the spec language -----------------------------------------------------------------

SHUFFLE_UNIT = """\
    input: [16, 8, 8]
    layers:
      - {name: parts, type: chunk, chunks: 2}
      - {name: conv1, type: conv2d, out_channels: 8, kernel_size: 1, bias: false, from: parts.1}
      - {name: bn1, type: batchnorm2d}
      - {name: relu1, type: relu}
      - {name: dw, type: conv2d, out_channels: 8, kernel_size: 3, padding: 1, groups: 8, bias: false}
      - {name: bn2, type: batchnorm2d}
      - {name: conv2, type: conv2d, out_channels: 8, kernel_size: 1, bias: false}
      - {name: bn3, type: batchnorm2d}
      - {name: relu2, type: relu}
      - {name: cat, type: concat, from: [parts.0, relu2]}
    """


class ShuffleUnit(nn.Module):
    """torchvision's ShuffleNetV2 InvertedResidual with stride 1, without the channel shuffle."""

    def __init__(self, channels: int = 16):
        super().__init__()
        half = channels // 2
        self.conv1, self.bn1 = nn.Conv2d(half, half, 1, bias=False), nn.BatchNorm2d(half)
        self.dw, self.bn2 = nn.Conv2d(half, half, 3, padding=1, groups=half, bias=False), nn.BatchNorm2d(half)
        self.conv2, self.bn3 = nn.Conv2d(half, half, 1, bias=False), nn.BatchNorm2d(half)

    def forward(self, x):
        x1, x2 = x.chunk(2, dim=1)
        y = F.relu(self.bn1(self.conv1(x2)))
        y = F.relu(self.bn3(self.conv2(self.bn2(self.dw(y)))))
        return torch.cat((x1, y), dim=1)


def test_shufflenet_unit_reads_both_halves():
    network = cnncalc.loads(textwrap.dedent(SHUFFLE_UNIT), "spec.yaml")
    result = cnncalc.summarize(network)
    rows = {record.name: record for record in result.layers}
    assert list(rows)[:2] == ["parts.0", "parts.1"]  # each piece is a row, at the split's place
    assert rows["parts.0"].type == rows["parts.1"].type == "chunk"
    assert rows["parts.0"].inputs == rows["parts.1"].inputs == ["input"]
    assert rows["parts.0"].output_shape == rows["parts.1"].output_shape == (8, 8, 8)
    assert rows["conv1"].inputs == ["parts.1"] and rows["cat"].inputs == ["parts.0", "relu2"]
    assert rows["parts.0"].flops == rows["parts.0"].params == 0
    twin = ShuffleUnit().eval()
    assert result.output_shape == (16, 8, 8)
    assert result.totals.params == sum(p.numel() for p in twin.parameters())
    assert result.totals.macs == sum(rows[n].macs for n in ("conv1", "dw", "conv2")) == 8 * 64 * (8 + 9 + 8)


def test_shufflenet_unit_runs_like_torch_on_the_same_weights():
    network = cnncalc.loads(textwrap.dedent(SHUFFLE_UNIT), "spec.yaml")
    xp = namespace("numpy")
    weights = materialise(network, infer_shapes(network), xp, seed=3)
    twin = ShuffleUnit().eval()
    with torch.no_grad():
        for name, module in twin.named_children():
            params, buffers = weights[name]
            for key, array in {**params, **buffers}.items():
                getattr(module, key).copy_(torch.from_numpy(np.asarray(array)))
    x = np.random.default_rng(0).standard_normal((2, 16, 8, 8), dtype=np.float32)
    records, out = run(network, xp, weights, x)
    with torch.no_grad():
        expected = twin(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)
    assert records["parts.1"].shape == (2, 8, 8, 8) and records["parts.0"].error is None
    assert verify(network, batch=2).ok


def test_pieces_in_a_repeated_block_with_list_from_and_output():
    result = summary("""\
        input: [8, 6]
        blocks:
          halves:
            layers:
              - {name: parts, type: split, sizes: [3, 5]}
              - {name: wide, type: slice, stop: 3, from: [parts.1]}
              - {name: sum, type: add, from: [parts.0, wide]}
              - {name: back, type: concat, from: [sum, parts.1]}
        layers:
          - {name: s, block: halves, repeat: 2}
          - {name: top, type: chunk, chunks: 2, axis: -1}
        output: top.1
        """)
    assert result.layer("s.0.parts.1").output_shape == (5, 6)
    assert result.layer("s.1.parts.0").inputs == ["s.0.back"]
    assert result.layer("s.1.wide").inputs == ["s.1.parts.1"]
    assert result.layer("top.1").output_shape == (8, 3)
    assert result.output_shape == (8, 3)


def test_a_piece_nothing_reads_is_left_out_but_the_first_stays():
    result = summary("""\
        input: [5, 2]
        layers:
          - {name: parts, type: chunk, chunks: 4}
          - {name: r, type: relu, from: parts.2}
        """)
    # torch.chunk of 5 in 4 makes three pieces (2, 2, 1): a fourth, unread, is no error
    assert [r.name for r in result.layers] == ["parts.0", "parts.2", "r"]
    assert result.layer("r").output_shape == (1, 2)


def test_an_unread_split_still_checks_its_sizes(tmp_path):
    text = """\
        input: [5, 2]
        layers:
          - {name: parts, type: split, sizes: [2, 2]}
          - {name: r, type: relu, from: input}
        """
    fails(tmp_path, text, at="[2, 2]", layer="parts.0", contains=["add up to 4", "size 5"], hint="torch.split")


def test_reading_the_whole_is_an_error_naming_the_pieces(tmp_path):
    text = """\
        input: [8, 6]
        layers:
          - {name: parts, type: chunk, chunks: 3}
          - {name: r, type: relu, from: parts}
        """
    fails(tmp_path, text, at="parts}", layer="r", contains=["'parts' is a chunk of 3 pieces"],
          hint="name one piece: parts.0 … parts.2")


def test_the_entry_after_a_split_must_name_a_piece(tmp_path):
    text = """\
        input: [8, 6]
        layers:
          - {name: parts, type: split, sizes: [4, 4]}
          - {name: r, type: relu}
        """
    fails(tmp_path, text, at="{name: r", layer="r", contains=["'parts' is a split of 2 pieces"],
          hint="name one piece: parts.0 or parts.1")


def test_a_split_as_the_network_output_must_name_a_piece(tmp_path):
    text = """\
        input: [8, 6]
        layers:
          - {name: r, type: relu}
          - {name: parts, type: split, sizes: [4, 4]}
        """
    fails(tmp_path, text, at="{name: parts", contains=["'parts' is a split of 2 pieces"], hint="parts.0 or parts.1")
    fails(tmp_path, textwrap.dedent(text) + "output: parts\n", at=(5, 9), contains=["'parts'"],
          hint="parts.0 or parts.1")


def test_a_block_whose_output_is_a_split_must_name_a_piece(tmp_path):
    text = """\
        input: [8, 6]
        blocks:
          halves:
            layers:
              - {name: parts, type: split, sizes: [4, 4]}
        layers:
          - {name: h, block: halves}
          - {name: r, type: relu, from: h}
        """
    fails(tmp_path, text, at="h}", layer="r", contains=["'h' is a split of 2 pieces"], hint="h.parts.0 or h.parts.1")


def test_a_piece_out_of_range(tmp_path):
    text = """\
        input: [8, 6]
        layers:
          - {name: parts, type: split, sizes: [3, 5]}
          - {name: r, type: relu, from: [parts.2]}
        """
    fails(tmp_path, text, at="[parts.2]", layer="r", contains=["'parts.2' names piece 2 of 'parts'", "2 pieces"],
          hint="parts.0 or parts.1")
    text = textwrap.dedent(text).replace("from: [parts.2]", "from: parts.0") + "output: parts.7\n"
    fails(tmp_path, text, at="parts.7", contains=["piece 7"], hint="parts.0 or parts.1")


def test_a_chunk_piece_that_torch_does_not_make(tmp_path):
    text = """\
        input: [5, 6]
        layers:
          - {name: parts, type: chunk, chunks: 4}
          - {name: r, type: relu, from: parts.3}
        """
    fails(tmp_path, text, at="{name: parts", layer="parts.3", contains=["makes only 3 pieces of up to 2", "no piece 3"],
          hint="ceil(5 / 4) = 2")


def test_a_piece_name_taken_twice(tmp_path):
    text = """\
        input: [8, 6]
        layers:
          - {name: parts.1, type: relu}
          - {name: parts, type: chunk, chunks: 2, from: input}
          - {name: r, type: relu, from: parts.0}
        """
    fails(tmp_path, text, at="{name: parts,", layer="parts", contains=["duplicate layer name 'parts.1'"],
          hint="spec.yaml:3:12")


@pytest.mark.parametrize("args, at, contains", [
    ("sizes: [3, x]", "[3, x]", "sizes"), ("sizes: []", "[]", "at least one"),
    ("sizes: [8], piece: 1", "1}", "piece 1"),
    ("sizes: 8", "8}", "list of integers"), ("sizes: [0, 8]", "[0, 8]", "positive"),
])
def test_bad_split_arguments_point_at_them(tmp_path, args, at, contains):
    text = f"input: [8, 6]\nlayers:\n  - {{name: parts, type: split, {args}}}\n  - {{type: relu, from: parts.0}}\n"
    fails(tmp_path, text, at=at, layer="parts", contains=[contains])


def test_huge_chunk_counts_are_refused_quickly(tmp_path):
    start = time.perf_counter()
    fails(tmp_path, "input: [8]\nlayers:\n  - {name: p, type: chunk, chunks: 1000000000000}\n"
                    "  - {type: relu, from: p.0}\n", at="1000000000000", contains=["above the limit"],
          hint="set 'piece'")
    # one piece of a huge chunk count is plain arithmetic
    result = summary("input: [8]\nlayers:\n  - {type: chunk, chunks: 1000000000000, piece: 0}\n")
    assert result.output_shape == (1,)
    # and a huge slice is clamped
    result = summary("input: [8]\nlayers:\n  - {type: slice, start: -1000000000000000, stop: 1000000000000000}\n")
    assert result.output_shape == (8,)
    assert time.perf_counter() - start < 5


def test_many_pieces_count_toward_the_layer_limit(tmp_path, monkeypatch):
    from cnncalc import limits
    monkeypatch.setattr(limits, "MAX_LAYERS", 100)
    text = "input: [500]\nlayers:\n  - {name: p, type: chunk, chunks: 99}\n  - {type: relu, from: p.0}\n"
    with pytest.raises(SpecError, match="more than 100 layers"):
        summary(text)


def test_verify_runs_pieces_and_broadcasts(tmp_path):
    text = """\
        input: [6, 5, 5]
        layers:
          - {name: parts, type: split, sizes: [2, 4]}
          - {name: s, type: global_avg_pool, from: parts.1}
          - {name: gate, type: sigmoid}
          - {name: m, type: mul, from: [parts.1, gate]}
          - {name: d, type: div, from: [m, s]}
          - {name: t, type: slice, start: -1, from: parts.0}
          - {name: sum, type: add, from: [d, t, s]}
        """
    path = write_spec(tmp_path, textwrap.dedent(text))
    result = invoke("verify", str(path))
    assert result.exit_code == 0, result.output
    assert "✓ verified" in result.stdout
