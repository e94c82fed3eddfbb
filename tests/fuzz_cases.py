"""Hypothesis strategies for fuzzing `cnncalc check`, shared by tests/test_fuzz.py (a few
hundred cases) and benchmarks/fuzz.py (10,000 and more).

A case is the bytes of one spec file, drawn three ways:

* tree mutations of the zoo specs: a node replaced by a hostile value (huge numbers,
  NaN, wrong types, tricky expressions, repeat counts, self references), a key
  deleted or added, an item duplicated;
* text mutations of the zoo specs: bytes inserted, deleted or replaced with YAML
  syntax, tags, anchors and aliases, NUL, invalid UTF-8, or the file truncated;
* generated specs: random layer lists, blocks with repeat/when/from, vars, expect.

`run_case` checks one case through the library and says what happened; the harness
asserts that nothing but a clean CnncalcError (exit 2) or an expectation outcome came
out, and that no case took more than a second.
"""
from __future__ import annotations

import glob
import os
import time
import traceback

import yaml
from hypothesis import strategies as st

from cnncalc.check import INTERNAL, check_file
from cnncalc.errors import CnncalcError
from cnncalc.layers import REGISTRY

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ZOO_FILES = sorted(glob.glob(os.path.join(ROOT, "specs", "*.yaml")))
ZOO_TEXTS = [open(path, encoding="utf-8").read() for path in ZOO_FILES]
ZOO_TREES = [yaml.safe_load(text) for text in ZOO_TEXTS]
LAYER_TYPES = sorted(REGISTRY)
MAX_SECONDS = 1.0

HOSTILE_SCALARS = [
    0, -1, 1, 2, 3, 7, 64, 1000, 10**6, 10**9, 2**31, 2**31 - 1, 2**63, 10**15, 10**16, 10**100, -10**18,
    0.5, -0.0, 1e308, 1e-308, float("inf"), float("-inf"), float("nan"), True, False, None, "",
    "x", "same", "valid", "input", "index", "repeat", "1/0", "1 // 0", "2 ** 1000", "10 ** 15 * 10",
    "9" * 400, "((((((((((1))))))))))", "(" * 300 + "1" + ")" * 300, "-" * 400 + "1", "not " * 200 + "1",
    "1 if 1 else " * 60 + "1", "min()", "max(1)", "ceil(1e308)", "floor(-1e400)", "abs(-3)", "__import__('os')",
    "open('/etc/passwd')", "width * 2", "index == 0", "2 if index == 0 else 1", "a" * 600, "true", "nan",
    "25.6M", "1.5GiB", "1e400", "9" * 40 + "T", "1,2,3", "[1, 2]", "{a: 1}", "\t", "é", "\u202e",
    "1 + " * 120 + "1", "(" * 100 + "1" + ")" * 100, "2 ** " * 90 + "1", "a\nb", [2**31 - 1] * 9,
]


def hostile_values(depth: int = 2):
    scalars = st.sampled_from(HOSTILE_SCALARS) | st.integers(-10, 300) | st.text(max_size=12)
    if depth <= 0:
        return scalars
    inner = hostile_values(depth - 1)
    return st.one_of(scalars, st.lists(inner, max_size=4),
                     st.dictionaries(st.sampled_from(["type", "block", "name", "from", "repeat", "when", "x",
                                                      "layers", "args", "params", "kernel_size"]),
                                     inner, max_size=3))


def _paths(tree, path=()):
    """Every (container, key) place in a plain YAML tree."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield path + (key,)
            yield from _paths(value, path + (key,))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            yield path + (index,)
            yield from _paths(value, path + (index,))


def _get(tree, path):
    for key in path:
        tree = tree[key]
    return tree


@st.composite
def tree_mutation(draw):
    import copy

    tree = copy.deepcopy(draw(st.sampled_from(ZOO_TREES)))
    for _ in range(draw(st.integers(1, 4))):
        places = list(_paths(tree))
        if not places:
            break
        path = draw(st.sampled_from(places))
        parent, key = _get(tree, path[:-1]), path[-1]
        action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "duplicate", "add_key",
                                       "repeat", "self_from", "recursive_block"]))
        if action == "replace":  # a copy: a shared value could be mutated into a cycle
            parent[key] = copy.deepcopy(draw(hostile_values()))
        elif action == "delete":
            del parent[key]
        elif action == "duplicate" and isinstance(parent, list):
            parent.insert(key, copy.deepcopy(parent[key]))
        elif action == "add_key" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["repeat", "when", "from", "name", "trainable", "expect", "vars",
                                         "output", "dtype", "zzz"]))] = copy.deepcopy(draw(hostile_values(1)))
        elif action == "repeat" and isinstance(parent, dict) and "block" in parent:
            parent["repeat"] = draw(st.sampled_from([0, 1, 5, 10**3, 10**6, 10**9, 2**63, "10 ** 9", -3]))
        elif action == "self_from" and isinstance(parent, dict) and "name" in parent:
            parent["from"] = parent["name"]
        elif action == "recursive_block" and isinstance(tree, dict) and isinstance(tree.get("blocks"), dict):
            names = list(tree["blocks"])
            for name in names:
                body = tree["blocks"][name]
                if isinstance(body, dict) and isinstance(body.get("layers"), list):
                    body["layers"].append({"block": draw(st.sampled_from(names)), "repeat": 1000})
    return yaml.safe_dump(tree, sort_keys=False, allow_unicode=True).encode("utf-8", "surrogatepass")


YAML_JUNK = [b":", b"- ", b"  ", b"\t", b"{", b"}", b"[", b"]", b"&a ", b"*a", b"&a [*a, *a, *a]", b"!!python/object:os.system ",
             b"!!binary ", b"!custom ", b"? ", b"|", b">", b"#", b"'", b'"', b"\n", b"\r\n", b"---\n", b"...\n",
             b"%YAML 1.1\n", b"<<: *a\n", b"\x00", b"\xff\xfe", b"\xc3", b"\xef\xbb\xbf", b"9999999999999999999",
             b"1e999", b".nan", b"~", b"null", b"repeat: 1000000000", b"from: input", b"when: ",
             b"expect: {params: 1}\n", b"9" * 5000, b"[" * 70, b"&x {a: *x}"]


@st.composite
def text_mutation(draw):
    data = bytearray(draw(st.sampled_from(ZOO_TEXTS)).encode("utf-8"))
    for _ in range(draw(st.integers(1, 5))):
        position = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["insert", "insert", "delete", "replace", "truncate", "bytes"]))
        if action == "insert":
            data[position:position] = draw(st.sampled_from(YAML_JUNK))
        elif action == "delete":
            del data[position:position + draw(st.integers(1, 40))]
        elif action == "replace":
            data[position:position + draw(st.integers(1, 8))] = draw(st.sampled_from(YAML_JUNK))
        elif action == "truncate":
            del data[position:]
        else:
            data[position:position] = draw(st.binary(max_size=6))
    return bytes(data)


def _expression():
    atoms = st.sampled_from(["1", "2", "3", "16", "width", "index", "c", "0", "2.5", "repeat"])
    ops = st.sampled_from([" + ", " - ", " * ", " // ", " / ", " % ", " ** ", " == ", " and ", " or "])
    return st.one_of(atoms, st.builds(lambda a, o, b: a + o + b, atoms, ops, atoms),
                     st.builds(lambda a, b: f"max({a}, {b})", atoms, atoms),
                     st.builds(lambda a, b, c: f"{a} if {b} else {c}", atoms, atoms, atoms))


def _argument_value():
    return st.one_of(st.integers(-2, 12), st.sampled_from([True, False, "same", "valid", None, 0.5]),
                     _expression(), st.lists(st.integers(-1, 6), min_size=0, max_size=4),
                     st.lists(st.lists(st.integers(0, 3), max_size=3), max_size=3))


@st.composite
def _layer(draw, names: list, blocks: list):
    item = {}
    if blocks and draw(st.integers(0, 4)) == 0:
        item["block"] = draw(st.sampled_from(blocks))
        if draw(st.booleans()):
            item["repeat"] = draw(st.one_of(st.integers(-1, 4), st.sampled_from(["c", "2 * c", 10**7])))
        if draw(st.booleans()):
            item["c"] = draw(_argument_value())
    else:
        kind = draw(st.sampled_from(LAYER_TYPES))
        item["type"] = kind
        args = list(REGISTRY[kind].args)
        for arg in draw(st.lists(st.sampled_from(args), unique=True, max_size=len(args))) if args else []:
            item[arg] = draw(_argument_value())
    if draw(st.integers(0, 2)) == 0:
        item["name"] = draw(st.sampled_from(["a", "b", "c1", "x.y", "input", "1", "dup"]))
    if names and draw(st.integers(0, 3)) == 0:
        item["from"] = draw(st.one_of(st.sampled_from(names + ["input", "nope"]),
                                      st.lists(st.sampled_from(names + ["input"]), min_size=1, max_size=3)))
    if draw(st.integers(0, 5)) == 0:
        item["when"] = draw(st.sampled_from([True, False, "index == 0", "c > 2", 1]))
    names.append(item.get("name", "a"))
    return item


@st.composite
def generated_spec(draw):
    spec = {"input": draw(st.one_of(
        st.lists(st.integers(1, 40), min_size=1, max_size=4),
        st.sampled_from([[3, 32, 32], [1, 28, 28], [500], [3, 2**31], [0, 5], "width", [10**9, 10**9],
                         [2**31 - 1] * 9, [2**31 - 1] * 8, [2] * 300, ["9" * 5000]])))}
    if draw(st.booleans()):
        spec["vars"] = {"width": draw(st.integers(1, 64)), "c": draw(st.one_of(st.integers(1, 8), _expression()))}
    blocks = {}
    if draw(st.booleans()):
        names: list = []
        blocks["unit"] = {"args": {"c": draw(st.sampled_from([None, 4, 8]))},
                          "layers": draw(st.lists(_layer(names, []), min_size=1, max_size=4))}
        if draw(st.booleans()):
            blocks["outer"] = {"args": {"c": 2}, "layers": draw(st.lists(_layer([], ["unit"]), min_size=1, max_size=3))}
        spec["blocks"] = blocks
    names = []
    spec["layers"] = draw(st.lists(_layer(names, list(blocks)), min_size=1, max_size=8))
    if draw(st.booleans()):
        spec["expect"] = draw(st.dictionaries(
            st.sampled_from(["params", "macs", "flops", "max_params", "max_macs", "max_activation_memory",
                             "output_shape", "layers", "param_memory", "bogus"]),
            st.one_of(st.integers(0, 10**7), st.sampled_from(["25.6M", "1.5GiB", "9" * 400 + "T", "x", [10]]),
                      st.lists(st.integers(1, 10), max_size=3),
                      st.dictionaries(st.sampled_from(["a", "b", "c1"]),
                                      st.dictionaries(st.sampled_from(["params", "output_shape", "zz"]),
                                                      st.integers(0, 100), max_size=2), max_size=2)),
            max_size=4))
    return yaml.safe_dump(spec, sort_keys=False).encode("utf-8")


def cases():
    """Every kind of case, mixed."""
    return st.one_of(tree_mutation(), text_mutation(), generated_spec())


def run_case(data: bytes, path: str) -> tuple[str, float, str | None]:
    """Check one case; (status, seconds, crash report or None). A crash is anything but a
    CnncalcError or an expectation outcome: a traceback, or a case over MAX_SECONDS."""
    with open(path, "wb") as handle:
        handle.write(data)
    started = time.perf_counter()
    try:
        result = check_file(path)
    except CnncalcError as error:  # check_file turns these into results; never raised
        return "raised", time.perf_counter() - started, f"check_file raised {error!r}"
    except Exception:
        return "raised", time.perf_counter() - started, traceback.format_exc()
    seconds = time.perf_counter() - started
    if result.status == INTERNAL:
        return result.status, seconds, result.traceback
    if result.status == "invalid" and not all(p.message and "\n" not in p.headline() for p in result.problems):
        return result.status, seconds, f"not a one-line error: {[p.headline() for p in result.problems]}"
    if seconds > MAX_SECONDS:
        return result.status, seconds, f"took {seconds:.2f} s"
    return result.status, seconds, None
