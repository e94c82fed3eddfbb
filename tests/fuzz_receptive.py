"""Fuzz cases for `cnncalc summary --rf` (cnncalc/receptive.py), as hypothesis strategies
giving fuzz_cases.Case objects, which tests/fuzz_cases.py's runner and judge take as they
are: `receptive_case()` mixes them into its cases, tests/test_receptive_field.py runs a
few.

The specs are chains of the layers whose geometry makes fields: convolutions (dilated,
strided, 'same'), pools (ceil_mode, adaptive), transposed convolutions, upsampling by
scale and by size, pixel (un)shuffle, pad, crop, slices, and merges of branches that
disagree, with arguments from the plain to the hostile: strides and ratios past the
period limit, kernels of 10^9, sizes near 2^31. Or any spec the other strategies draw.
The flags: --rf in every format, with --depth, --input (numbers, symbols, ranges),
--batch and --training sometimes.
"""
from __future__ import annotations

import functools

from hypothesis import strategies as st

from fuzz_cases import CASE_DIR, Case, _dump, _random, spec_bytes, valid_network

BIG = [4095, 4096, 4097, 65537, 10**9, 2**31 - 1]


def _size(rnd) -> int:
    return rnd.choice([1, 1, 2, 2, 3, 3, 4, 5, 8, 13]) if rnd.random() < 0.95 else rnd.choice(BIG)


def _layer(rnd, rank: int, names: list) -> dict:
    """One layer of a field-making kind, its arguments drawn plain or hostile."""
    dims = f"{rank}d"
    kind = rnd.choice(["conv", "conv", "pool", "avg", "adaptive", "transposed", "upsample", "pad", "crop",
                       "slice", "merge", "shuffle", "reduce"])
    if kind == "conv":
        layer = {"type": f"conv{dims}", "out_channels": rnd.choice([1, 2]), "kernel_size": _size(rnd),
                 "stride": _size(rnd), "dilation": _size(rnd),
                 "padding": rnd.choice([0, 1, 2, "same", "valid", _size(rnd)])}
        if layer["padding"] == "same":
            layer["stride"] = 1
    elif kind in ("pool", "avg"):
        kernel = _size(rnd)
        layer = {"type": f"{'maxpool' if kind == 'pool' else 'avgpool'}{dims}", "kernel_size": kernel,
                 "stride": _size(rnd), "padding": rnd.randint(0, kernel // 2), "ceil_mode": rnd.random() < 0.5}
    elif kind == "adaptive":
        layer = {"type": f"adaptive_avgpool{dims}", "output_size": _size(rnd)}
    elif kind == "transposed":
        layer = {"type": f"conv_transpose{dims}", "out_channels": 1, "kernel_size": _size(rnd),
                 "stride": _size(rnd), "dilation": _size(rnd)}
    elif kind == "upsample" and rank <= 3:
        mode = rnd.choice(["nearest", {1: "linear", 2: "bilinear", 3: "trilinear"}[rank]]
                          + (["bicubic"] if rank == 2 else []))
        layer = {"type": "upsample", "mode": mode}
        if rnd.random() < 0.5:
            layer["scale_factor"] = rnd.choice([2, 3, 0.5, 1.5, 1.0000001, 0.7, 1e-6, 4096.5])
        else:
            layer["size"] = _size(rnd)
        if mode != "nearest" and rnd.random() < 0.3:
            layer["align_corners"] = True
    elif kind == "pad":
        layer = {"type": "pad", "pad": [rnd.randint(0, 3) for _ in range(2 * rank)]}
    elif kind == "crop":
        layer = {"type": "crop", "size": _size(rnd)}
    elif kind == "slice":
        layer = {"type": "slice", "axis": rnd.randint(0, rank), "start": rnd.randint(-3, 3),
                 "step": rnd.choice([1, 2, 3, 4097])}
    elif kind == "merge" and names:
        layer = {"type": rnd.choice(["add", "mul", "concat"]), "from": [rnd.choice(names) for _ in range(2)]}
    elif kind == "shuffle" and rank == 2:
        layer = {"type": rnd.choice(["pixel_shuffle", "pixel_unshuffle"]), rnd.choice(["upscale_factor",
                 "downscale_factor"]): rnd.choice([1, 2, 4097])}
    elif kind == "reduce":
        layer = rnd.choice([{"type": "global_avg_pool"}, {"type": "mean", "axes": [1], "keepdims": True},
                            {"type": "instance_norm"}, {"type": "softmax", "axis": 1}, {"type": "flatten"}])
    else:
        layer = {"type": "relu"}
    layer["name"] = f"l{len(names)}"
    names.append(layer["name"])
    return layer


@functools.cache
@st.composite
def field_spec(draw) -> bytes:
    """A chain of field-making layers on a 1-, 2- or 3-D input, often too much for it (an
    error, exit 2, is as good an outcome as a table)."""
    rnd = _random(draw)
    rank = rnd.choice([1, 2, 2, 3])
    sizes = [rnd.choice([8, 16, 31, 64]) if rnd.random() < 0.9 else rnd.choice(BIG) for _ in range(rank)]
    names: list = []
    layers = [_layer(rnd, rank, names) for _ in range(rnd.randint(1, 6))]
    return _dump({"input": [rnd.randint(1, 4), *sizes], "layers": layers}, sort_keys=False).encode()


@functools.cache
@st.composite
def receptive_case(draw, process_share: int = 16) -> Case:
    """`cnncalc summary SPEC --rf` in a drawn format, with drawn flags."""
    rnd = _random(draw)
    source = rnd.choice(["field", "field", "field", "valid", "any"])
    if source == "field":
        data = draw(field_spec())
    elif source == "valid":
        data = draw(valid_network())
    else:
        data, source = draw(spec_bytes())
    fmt = rnd.choice(["table", "json", "markdown", "csv"])
    flags = ["--rf", "--format", fmt]
    for flag, values in (("--depth", ["1", "2", "3"]), ("--batch", ["1", "3"]),
                         ("--input", ["3,32,32", "1,17", "2,9,9,9", "3,H,W", "3,32..64..32", "1,4096"]),
                         ("--training", None)):
        if rnd.random() < 0.15:
            flags += [flag] if values is None else [flag, rnd.choice(values)]
    return Case(f"summary:{fmt}", ["summary", f"{CASE_DIR}/spec.yaml", *flags], {"spec.yaml": data},
                spec=f"rf-{source}", process=rnd.random() < 1 / process_share)
