"""Fuzz cases for `cnncalc diagram --format svg` (cnncalc/layout.py lays it out), as
hypothesis strategies giving fuzz_cases.Case objects, which tests/fuzz_cases.py's runner and
judge take as they are; tests/test_diagram_svg.py runs a few, and draws `graph_spec()`s to
check each picture's geometry.

The specs are what a layout finds hard: random DAGs of shape-keeping layers with merges of
2 to 5 branches, skips over many ranks, branches left hanging, and blocks nested up to three
deep, repeated, and entered or left from outside. Or any spec the other strategies draw.
The flags: --format svg, --depth 0 to 4 sometimes, --input sometimes."""
from __future__ import annotations

import functools

from hypothesis import strategies as st

from fuzz_cases import CASE_DIR, INPUT_VALUES, Case, _dump, _random, spec_bytes, valid_network

ELEMENTWISE = ["relu", "sigmoid", "tanh", "batchnorm1d"]


def _layers(rnd, blocks: list, count: int) -> list:
    """`count` layers, each reading the one before or any earlier one (or the input), some
    merging several, some being a block of `blocks`."""
    names: list = []
    layers = []
    for k in range(count):
        layer = {"name": f"l{k}"}
        kind = rnd.choice(["act"] * 4 + ["conv", "merge", "merge"] + ["block"] * (2 if blocks else 0))
        sources = names + ["input"]
        if kind == "merge" and len(sources) > 1:
            layer.update({"type": rnd.choice(["add", "mul"]),
                          "from": rnd.sample(sources, rnd.randint(2, min(5, len(sources))))})
        elif kind == "block":
            layer["block"] = rnd.choice(blocks)
            if rnd.random() < 0.3:
                layer["repeat"] = rnd.randint(1, 3)
        elif kind == "conv":
            layer.update({"type": "conv1d", "out_channels": 4, "kernel_size": 1})
        else:
            layer["type"] = rnd.choice(ELEMENTWISE)
        if "from" not in layer and rnd.random() < 0.25:
            layer["from"] = rnd.choice(sources)
        layers.append(layer)
        if "repeat" not in layer:  # a repeated block's instances are l3.0, l3.1, ...
            names.append(layer["name"])
    return layers


@functools.cache
@st.composite
def graph_spec(draw) -> bytes:
    """A network of up to ~120 layers on a [4, 8] input, in blocks nested up to three deep."""
    rnd = _random(draw)
    blocks: dict = {}
    for k in range(rnd.randint(0, 4)):
        blocks[f"b{k}"] = {"layers": _layers(rnd, list(blocks), rnd.randint(1, 6))}
    spec = {"name": "graph", "input": [4, 8], "blocks": blocks,
            "layers": _layers(rnd, list(blocks), rnd.randint(1, 25))}
    if not blocks:
        del spec["blocks"]
    return _dump(spec, sort_keys=False).encode()


@functools.cache
@st.composite
def diagram_svg_case(draw, process_share: int = 16) -> Case:
    """`cnncalc diagram SPEC --format svg` with drawn flags."""
    rnd = _random(draw)
    mix = rnd.random()  # mostly graphs made to be hard to lay out; else a valid network, or any spec
    data, source = ((draw(graph_spec()), "graph") if mix < 0.6 else (draw(valid_network()), "valid") if mix < 0.8
                    else draw(spec_bytes()))
    flags = ["--format", "svg"]
    if rnd.random() < 0.5:
        flags += ["--depth", str(rnd.randint(0, 4))]
    if rnd.random() < 0.1:
        flags += ["--input", rnd.choice(INPUT_VALUES)]
    return Case("diagram:svg", ["diagram", f"{CASE_DIR}/spec.yaml", *flags], {"spec.yaml": data},
                spec=f"svg-{source}", process=rnd.random() < 1 / process_share)
