"""Where the cost is (cnncalc/cost.py): totals by layer type, the heaviest layers and the
shares, against the PyTorch twins' own modules (tests/torch_zoo.py), layer by layer."""
from __future__ import annotations

import json
import math
from collections import defaultdict

import pytest

from cnncalc.cost import by_type, heaviest, percent, shares
from cnncalc.figures import Figures
from test_zoo import pair  # noqa: F401  (the fixture: each hand twin's summary and torch trace)


def test_totals_by_type_are_the_twins_modules_summed_by_kind(pair):
    """Layers and torch modules align one to one (test_zoo); each torch module kind falls
    under one type (LeNet-5's sparse C3 is a conv2d), and each type's params and MACs are
    its modules' sums."""
    stem, summary, modules = pair
    kinds, types_of_kind = defaultdict(list), defaultdict(set)
    for record, module in zip(summary.layers, modules):
        kinds[record.type].append(module)
        types_of_kind[module.kind].add(record.type)
    assert all(len(types) == 1 for types in types_of_kind.values()), f"{stem}: {dict(types_of_kind)}"
    for total in by_type(summary.layers):
        twins = kinds[total.type]
        assert total.layers == len(twins)
        assert total.figures.params == sum(m.params for m in twins)
        assert total.figures.macs == sum(m.macs for m in twins)
    assert sum(t.layers for t in by_type(summary.layers)) == len(modules)


def test_types_are_ordered_heaviest_first(pair):
    _, summary, _ = pair
    ranked = [(t.figures.macs, t.figures.params) for t in by_type(summary.layers)]
    assert ranked == sorted(ranked, reverse=True)


@pytest.mark.parametrize("figure", ["params", "macs", "flops"])
def test_heaviest_layers_are_the_largest_in_order(pair, figure):
    _, summary, modules = pair
    top = heaviest(summary.layers, 5, figure)
    values = [getattr(record, figure) for record in top]
    assert values == sorted((getattr(r, figure) for r in summary.layers), reverse=True)[:5]
    if figure != "flops":  # the twin's own largest modules
        assert values == sorted((getattr(m, figure) for m in modules), reverse=True)[:5]
    ties = [r.name for r in summary.layers if getattr(r, figure) == values[-1]]
    assert [r.name for r in top if getattr(r, figure) == values[-1]] == ties[:sum(v == values[-1] for v in values)]


def test_shares_add_up_to_the_whole(pair):
    _, summary, _ = pair
    totals = summary.totals.figures
    for key, figure in (("params_pct", "params"), ("macs_pct", "macs")):
        if getattr(totals, figure) == 0:
            continue
        layer_shares = [shares(r.figures, totals)[key] for r in summary.layers]
        assert math.isclose(sum(layer_shares), 100, rel_tol=1e-9)
        assert math.isclose(sum(t.to_dict(totals)[key] for t in by_type(summary.layers)), 100, rel_tol=1e-9)


def test_a_share_of_nothing_is_none_not_zero():
    assert percent(0, 0) is None
    assert percent(1, 4) == 25.0
    assert shares(Figures(), Figures()) == {"params_pct": None, "macs_pct": None}


def test_ranking_by_an_unknown_figure_is_refused():
    with pytest.raises(ValueError, match="params, macs, flops"):
        heaviest([], 1, "buffers")


# --- the command line: --percent, --by-type, --top --------------------------------------------

def _json(*args):
    from helpers import SPECS, invoke

    result = invoke("summary", str(SPECS / "resnet50.yaml"), *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_percent_columns_are_each_rows_share():
    data = _json("--percent")
    totals = data["totals"]
    for layer in data["layers"]:
        assert layer["params_pct"] == 100 * layer["params"] / totals["params"]
        assert layer["macs_pct"] == 100 * layer["macs"] / totals["macs"]
    assert math.isclose(sum(layer["macs_pct"] for layer in data["layers"]), 100)


def test_by_type_rows_are_the_types_totals():
    data = _json("--by-type")
    rows = {row["name"]: row for row in data["layers"]}
    assert rows["conv2d"]["type"] == "53 layers" and rows["conv2d"]["macs"] == 4_087_136_256
    assert sum(row["params"] for row in data["layers"]) == data["totals"]["params"]
    assert data["layers"][0]["name"] == "conv2d"  # heaviest first


@pytest.mark.parametrize("figure", ["params", "macs", "flops"])
def test_top_rows_are_the_heaviest(figure):
    data = _json("--top", "4", "--rank", figure)
    everything = _json()
    assert [row[figure] for row in data["layers"]] == sorted((row[figure] for row in everything["layers"]),
                                                             reverse=True)[:4]
    assert data["totals"] == everything["totals"]  # totals are always the network's


def test_top_blocks_under_depth():
    data = _json("--depth", "1", "--top", "1")
    assert data["layers"][0]["name"] == "layer3"


@pytest.mark.parametrize("output_format", ["table", "markdown", "csv"])
def test_shares_in_every_format(output_format):
    from helpers import SPECS, invoke

    result = invoke("summary", str(SPECS / "lenet5.yaml"), "--percent", "--format", output_format)
    assert result.exit_code == 0
    assert ("79.1%" if output_format != "csv" else "79.0") in result.stdout  # C5's share of LeNet-5's params


@pytest.mark.parametrize("args", [["--by-type", "--depth", "1"], ["--by-type", "--rf"], ["--top", "0"],
                                  ["--top", "2", "--rf"], ["--rank", "buffers", "--top", "1"]])
def test_conflicting_cost_flags_are_usage_errors(args):
    from helpers import SPECS, invoke

    result = invoke("summary", str(SPECS / "lenet5.yaml"), *args)
    assert result.exit_code == 2 and "Traceback" not in result.output
