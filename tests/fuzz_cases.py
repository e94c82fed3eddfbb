"""Hypothesis strategies and the case runner for fuzzing cnncalc's real commands, shared by
tests/test_fuzz.py (a few hundred cases) and benchmarks/fuzz.py (10,000 and more).

A case is a command line, the files it reads and, sometimes, a file-system object:

* the command: `summary` in every format, `check` (text and JSON), `check --update-expect`
  on a copy, `verify` under a small `--max-memory`, and a few bare invocations; with flags
  drawn as fuzz inputs too (negative, huge, `10**30`, `0**-1`, control characters, very
  long strings, invalid UTF-8, flags repeated, missing values);
* the spec: a zoo spec as written; a tree or text mutation of one; a generated spec; a
  YAML 1.1/1.2 ambiguity (yes/no/on/off, 010, 0o10, 0x10, 3:44, 1_000, tags, documents,
  BOM, CR/CRLF, flow and block style); or a scale generator (big files, long flow lists,
  long `from` chains, nested expression repeats, deep block chains, huge figures, amounts
  with thousands of digits);
* a file-system object: a FIFO, symlinks (out of the folder, in a loop, dangling),
  unreadable and read-only files and folders (the process runs without root's permission
  bypass),
  an empty folder, a broken pipe, a full disk (/dev/full).

`run_case` runs it in-process through typer's CliRunner (under a watchdog and an
address-space cap) or, for scale and file-system cases and a fraction of the others, as a
real `python -m cnncalc` process with a timeout, and `judge` says what is wrong: an exit
code other than 0, 1 or 2; a hang; a traceback; a raw control character (C0 but newline
and tab, DEL, C1, bidi controls) or a line of over 20,000 characters in the output; an
error exit without a message; JSON that does not parse, or summary figures that are not
exact integers; the time or the peak memory over its limit (verify: what it allocated
against --max-memory); the content of a file outside the folder echoed, or that file
written; a folder with an unreadable subfolder passing; and, for `--update-expect`,
anything changed outside `expect:` (BOM, line endings and mode included), an invalid spec
not left byte for byte, or a second update changing the file again.
"""
from __future__ import annotations

import copy
import functools
import json
import os
import random
import re
import resource
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
import traceback
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import yaml
from hypothesis import strategies as st

from cnncalc.layers import REGISTRY

from helpers import ZOO_FILES, cli_runner

ZOO_BYTES = [Path(path).read_bytes() for path in ZOO_FILES]
ZOO_TEXTS = [data.decode("utf-8") for data in ZOO_BYTES]
ZOO_TREES = [yaml.safe_load(text) for text in ZOO_TEXTS]
SMALL_ZOO = [text for path, text in zip(ZOO_FILES, ZOO_TEXTS)
             if os.path.basename(path) in ("lenet5.yaml", "lenet.yaml", "mnist_cnn.yaml", "numpy_cnn.yaml")]
LAYER_TYPES = sorted(REGISTRY)

SLOW_SECONDS = 5.0  # a case over this is a failure ("slow") ...
VERIFY_SLOW_SECONDS = 30.0  # ... except verify, which does the work, and scale specs, which may expand
SCALE_SLOW_SECONDS = 30.0  # to the 250,000-layer limit (the README measures 100,000 layers at 3.6 s)
HANG_SECONDS = 20.0  # a case still running after this is stopped ("hang"); a scale case after 60 s
SCALE_HANG_SECONDS = 60.0
MEMORY_LIMIT = 1 << 30  # peak resident memory of a case ("memory")
MEMORY_CEILING = 4 << 30  # address-space cap of a subprocess, so a runaway case cannot take the machine
MAX_LINE = 20_000  # characters in one line of output: a value echoed whole would be longer
SECRET = "S3CRET-7f3a91-do-not-echo"  # in files outside the folder a symlink points to

def _dump(tree, **options) -> str:
    """YAML text of a plain tree (libyaml's emitter: the pure-Python one dominated the time)."""
    return yaml.dump(tree, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), **options)


HOSTILE_SCALARS = [
    0, -1, 1, 2, 3, 7, 64, 1000, 10**6, 10**9, 2**31, 2**31 - 1, 2**63, 10**15, 10**16, 10**100, -10**18,
    0.5, -0.0, 1e308, 1e-308, float("inf"), float("-inf"), float("nan"), True, False, None, "",
    "x", "same", "valid", "input", "index", "repeat", "1/0", "1 // 0", "2 ** 1000", "10 ** 15 * 10",
    "9" * 400, "((((((((((1))))))))))", "(" * 300 + "1" + ")" * 300, "-" * 400 + "1", "not " * 200 + "1",
    "1 if 1 else " * 60 + "1", "min()", "max(1)", "ceil(1e308)", "floor(-1e400)", "abs(-3)", "__import__('os')",
    "open('/etc/passwd')", "width * 2", "index == 0", "2 if index == 0 else 1", "a" * 600, "true", "nan",
    "25.6M", "1.5GiB", "1e400", "9" * 40 + "T", "1,2,3", "[1, 2]", "{a: 1}", "\t", "é", "\u202e",
    "1 + " * 120 + "1", "(" * 100 + "1" + ")" * 100, "2 ** " * 90 + "1", "a\nb", [2**31 - 1] * 9,
    "\x1b[31mred", "a\rb", "\x07", "\x85", "\u2066x", "\x9b2J", "\x7f",
]


@functools.cache  # a strategy is built once: building one costs more than drawing from it
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


@functools.cache
@st.composite
def tree_mutation(draw):
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
    return _dump(tree, sort_keys=False, allow_unicode=True).encode("utf-8", "surrogatepass")


YAML_JUNK = [b":", b"- ", b"  ", b"\t", b"{", b"}", b"[", b"]", b"&a ", b"*a", b"&a [*a, *a, *a]", b"!!python/object:os.system ",
             b"!!binary ", b"!custom ", b"? ", b"|", b">", b"#", b"'", b'"', b"\n", b"\r\n", b"---\n", b"...\n",
             b"%YAML 1.1\n", b"<<: *a\n", b"\x00", b"\xff\xfe", b"\xc3", b"\xef\xbb\xbf", b"9999999999999999999",
             b"1e999", b".nan", b"~", b"null", b"repeat: 1000000000", b"from: input", b"when: ",
             b"expect: {params: 1}\n", b"9" * 5000, b"[" * 70, b"&x {a: *x}"]


@functools.cache
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


@functools.cache
def _expression():
    atoms = st.sampled_from(["1", "2", "3", "16", "width", "index", "c", "0", "2.5", "repeat", "[1, c]",
                             "[3, 3][index % 2]", "c[0]", "[c, [2]][-1]", "in_channels", "in[-1]"])
    ops = st.sampled_from([" + ", " - ", " * ", " // ", " / ", " % ", " ** ", " == ", " and ", " or "])
    return st.one_of(atoms, st.builds(lambda a, o, b: a + o + b, atoms, ops, atoms),
                     st.builds(lambda a, b: f"max({a}, {b})", atoms, atoms),
                     st.builds(lambda a, b, c: f"{a} if {b} else {c}", atoms, atoms, atoms))


@functools.cache
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
            choices = REGISTRY[kind].args[arg].choices  # words such as 'bilinear' are reached too
            item[arg] = draw(st.sampled_from(choices) if choices and draw(st.booleans()) else _argument_value())
    if draw(st.integers(0, 2)) == 0:
        item["name"] = draw(st.sampled_from(["a", "b", "c1", "x.y", "input", "1", "dup"]))
    if names and draw(st.integers(0, 3)) == 0:
        item["from"] = draw(st.one_of(st.sampled_from(names + ["input", "nope"]),
                                      st.lists(st.sampled_from(names + ["input"]), min_size=1, max_size=3)))
    if draw(st.integers(0, 5)) == 0:
        item["when"] = draw(st.sampled_from([True, False, "index == 0", "c > 2", 1]))
        if draw(st.booleans()):  # what a skipped entry stands for; sometimes without `when`
            item["else"] = draw(st.sampled_from(names + ["input", "nope", 3, ["a"]]))
    names.append(item.get("name", "a"))
    return item


@functools.cache
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
    return _dump(spec, sort_keys=False).encode("utf-8")


INCLUDE_PATHS = ["lib.yaml", "./lib.yaml", "lib2.yaml", "spec.yaml", "../outside/secret.yaml", "/etc/passwd",
                 "~/lib.yaml", "missing.yaml", ".", "", "a\x00b.yaml", "link.yaml", "pipe.yaml", "x" * 300,
                 "lib.yaml/..", "../tree/lib.yaml", "\x1b[31mred.yaml"]


@functools.cache
@st.composite
def include_spec(draw):
    """A spec that includes block libraries, and the libraries: (spec bytes, {name: bytes}).
    The libraries may include each other (cycles too), clash with the spec's blocks, hold
    vars, or not be libraries at all; the paths may escape the folder or name nothing."""
    paths = st.lists(st.sampled_from(INCLUDE_PATHS[:4]) | st.sampled_from(INCLUDE_PATHS), max_size=3)
    files = {}
    for name in ("lib.yaml", "lib2.yaml"):
        if draw(st.integers(0, 5)) == 0:
            files[name] = draw(spec_bytes())[0]  # any spec: a network, a mutated one, junk
            continue
        library = {"blocks": {f"unit{name[3:-5]}": {"args": {"c": draw(st.sampled_from([None, 4, [1, 3]]))},
                                                    "layers": draw(st.lists(_layer([], []), min_size=1, max_size=3))}}}
        if draw(st.booleans()):
            library["vars"] = {"c": draw(st.one_of(st.integers(1, 8), _expression())), "width": 4}
        if draw(st.booleans()):
            library["include"] = draw(paths)
        files[name] = _dump(library, sort_keys=False).encode("utf-8", "surrogatepass")
    spec = yaml.safe_load(draw(generated_spec())) if draw(st.booleans()) else {"input": [3, 8, 8]}
    spec["include"] = draw(st.one_of(paths, st.sampled_from(INCLUDE_PATHS)))
    blocks = ["unit", "unit2", "unit"] + list(spec.get("blocks", {}))
    spec["layers"] = draw(st.lists(_layer([], blocks), min_size=1, max_size=4))
    return _dump(spec, sort_keys=False).encode("utf-8", "surrogatepass"), files


@functools.cache
def zoo_spec():
    """A zoo spec exactly as written: comments, layout and a full expect: block."""
    return st.sampled_from(ZOO_BYTES)


# --- valid networks: the deep paths (rendering, verify, update-expect) need specs that build

_ELEMENTWISE = ["relu", "relu6", "leaky_relu", "prelu", "sigmoid", "tanh", "gelu", "silu", "dropout", "identity"]


@functools.cache
@st.composite
def valid_network(draw):
    """A random network that builds: 2-D or 1-D layers whose arguments fit the shape they
    read, residual and branching blocks, a classifier, and an expect: block (often wrong)."""
    rnd = _random(draw)
    two_d = rnd.random() < 0.7
    channels = rnd.randint(1, 4)
    size = rnd.randint(4, 24) if rnd.random() < 0.85 else rnd.choice([64, 128, 256, 512])  # near --max-memory
    dims = "2d" if two_d else "1d"
    spec = {"name": rnd.choice(["net", "fuzz", "a b", "ünï", "x" * 80, "\x1b[2Jnet", "ne\u202et", "n\x85t"]),
            "input": [channels, size, size] if two_d else [channels, size]}
    if rnd.random() < 0.3:
        spec["input"] = [size * 2]  # tokens, read by an embedding
        spec["vars"] = {"vocab": rnd.randint(2, 50), "dim": rnd.randint(1, 8), "width": rnd.randint(1, 8)}
        layers = [{"type": "embedding", "num_embeddings": "vocab", "embedding_dim": "dim"},
                  {"type": "permute", "dims": [1, 0]}]
        channels, size, dims, two_d = "dim", size * 2, "1d", False
    else:
        spec["vars"] = {"width": rnd.randint(1, 8)}
        layers = []
    if rnd.random() < 0.4:
        spec["blocks"] = {"residual": {"args": {"c": None}, "layers": [
            {"name": "conv", "type": f"conv{dims}", "out_channels": "c", "kernel_size": 3, "padding": 1},
            {"name": "bn", "type": f"batchnorm{dims}", "when": "index % 2 == 0"},
            {"name": "act", "type": rnd.choice(_ELEMENTWISE)},
            {"name": "add", "type": "add", "from": ["act", "input"]}]},
            "branches": {"layers": [
                {"name": "a", "type": f"conv{dims}", "out_channels": 2, "kernel_size": 1, "from": "input"},
                {"name": "b", "type": f"maxpool{dims}", "kernel_size": 3, "stride": 1, "padding": 1, "from": "input"},
                {"name": "cat", "type": "concat", "from": ["a", "b"]}]}}
    for _ in range(rnd.randint(1, 6)):
        kind = rnd.choice(["conv", "conv", "pool", "act", "act", "norm", "block", "adaptive", "lrn"])
        if kind == "conv":
            kernel = rnd.randint(1, min(3, size))
            layer = {"type": f"conv{dims}", "out_channels": rnd.choice([1, 2, 4, 8, "width", "2 * width"]),
                     "kernel_size": kernel, "padding": rnd.randint(0, kernel // 2), "stride": rnd.choice([1, 1, 2]),
                     "bias": rnd.random() < 0.7}
            size = (size + 2 * layer["padding"] - kernel) // layer["stride"] + 1
            channels = layer["out_channels"]
        elif kind == "pool" and size >= 2:
            layer = {"type": rnd.choice([f"maxpool{dims}", f"avgpool{dims}"]), "kernel_size": 2}
            size //= 2
        elif kind == "norm":
            layer = {"type": f"batchnorm{dims}", "affine": rnd.random() < 0.8}
        elif kind == "adaptive":
            out = rnd.randint(1, size)
            layer = {"type": rnd.choice([f"adaptive_avgpool{dims}", f"adaptive_maxpool{dims}"]),
                     "output_size": [out, out] if two_d else out}
            size = out
        elif kind == "lrn" and two_d:
            layer = {"type": "lrn", "size": rnd.choice([1, 3, 5])}
        elif kind == "block" and "blocks" in spec:
            if rnd.random() < 0.5:
                layer = {"block": "residual", "repeat": rnd.randint(1, 3), "c": channels}
            else:
                layer = {"block": "branches"}
                channels = f"2 + {channels}"
        else:
            layer = {"type": rnd.choice(_ELEMENTWISE)}
        if rnd.random() < 0.3:  # a name is echoed by every command: sometimes one with control characters
            layer["name"] = f"l{len(layers)}" + (rnd.choice(["\x1b[0m", "\u202e", "\r", "\x9b"]) if rnd.random() < 0.1
                                                 else "")
        layers.append(layer)
    layers.append({"type": "flatten"})
    layers.append({"type": rnd.choice(["linear", "linear", "rbf"]), "out_features": rnd.randint(1, 16)})
    if rnd.random() < 0.3:
        layers.append({"type": "softmax"})
    spec["layers"] = layers
    if rnd.random() < 0.7:
        keys = ["params", "macs", "flops", "buffers", "output_shape", "max_params", "max_macs", "param_memory",
                "activation_memory", "trainable_params"]
        spec["expect"] = {key: ([rnd.randint(1, 16)] if key == "output_shape" else
                                rnd.choice([rnd.randint(0, 10**6), f"{rnd.randint(0, 10**6):,}", "1.5M", "1_000",
                                            "2KiB", "10G"]))
                          for key in rnd.sample(keys, rnd.randint(1, 4))}
    text = _dump(spec, sort_keys=False, allow_unicode=True, default_flow_style=rnd.choice([None, False]))
    return text.encode("utf-8")


# --- scale generators: a few drawn numbers, a big spec built from them ------------------

def _flat_layers(n: int, flow: bool, kind: str) -> str:
    if kind == "named":
        items = [f"{{name: l{i}, type: relu}}" for i in range(n)]
    else:
        items = [{"relu": "{type: relu}", "linear": "{type: linear, out_features: 4}"}[kind]] * n
    if flow:  # one line of megabytes: error messages must not echo it whole
        return "layers: [" + ", ".join(items) + "]\n"
    return "layers:\n" + "".join(f"  - {item}\n" for item in items)


@functools.cache
@st.composite
def big_file(draw, big: bool = True):
    """Tens of thousands of layers, block or flow style; rarely beyond the layer limit."""
    n = draw(st.sampled_from(([1000, 5000, 20000, 50000] if big else [1000, 5000]) * 6 + [300_000]))
    layers = _flat_layers(n, draw(st.booleans()), draw(st.sampled_from(["relu", "linear", "named"])))
    return ("input: [4]\n" + layers).encode()


@functools.cache
@st.composite
def long_flow_list(draw, big: bool = True):
    """A flow list of 10^3..10^5 items where a short one is expected."""
    n = draw(st.sampled_from([1000, 10_000, 100_000] if big else [1000, 10_000]))
    ones = "[" + ", ".join(["1"] * n) + "]"
    where = draw(st.sampled_from(["input", "kernel_size", "output_shape", "from_add", "from_concat",
                                  "vars", "reshape", "permute"]))
    if where == "input":
        return f"input: {ones}\nlayers: [{{type: relu}}]\n".encode()
    if where == "kernel_size":
        return f"input: [1, 8, 8]\nlayers: [{{type: maxpool2d, kernel_size: {ones}}}]\n".encode()
    if where == "output_shape":
        return f"input: [4]\nlayers: [{{type: relu}}]\nexpect: {{output_shape: {ones}}}\n".encode()
    if where in ("from_add", "from_concat"):
        kind = where[5:]
        names = "[" + ", ".join(["a"] * n) + "]"
        return f"input: [4]\nlayers: [{{name: a, type: relu}}, {{type: {kind}, from: {names}}}]\n".encode()
    if where == "vars":
        names = "{" + ", ".join(f"v{i}: v{i - 1} + 1" if i else "v0: 1" for i in range(n)) + "}"
        return f"input: [4]\nvars: {names}\nlayers: [{{type: linear, out_features: v{n - 1} % 7 + 1}}]\n".encode()
    if where == "reshape":
        return f"input: [1]\nlayers: [{{type: reshape, shape: {ones}}}]\n".encode()
    return f"input: [1]\nlayers: [{{type: permute, dims: {list(range(n))}}}]\n".encode()


@functools.cache
@st.composite
def from_chain(draw, big: bool = True):
    """Thousands of layers each reading the next or the previous, or skipped, then readers."""
    n = draw(st.sampled_from([1000, 5000, 20000, 50000] if big else [1000, 5000]))
    kind = draw(st.sampled_from(["skipped", "backward", "forward", "skipped_forward", "fan_in"]))
    lines = ["input: [4]", "layers:"]
    if kind == "skipped":
        lines += [f"  - {{name: s{i}, type: relu, when: false}}" for i in range(n)]
        readers = draw(st.sampled_from([1, 100, 1000]))
        lines += [f"  - {{name: r{j}, type: relu, from: s{n - 1}}}" for j in range(readers)]
    elif kind == "backward":
        lines += [f"  - {{name: b{i}, type: relu, from: {f'b{i - 1}' if i else 'input'}}}" for i in range(n)]
    elif kind == "forward":
        lines += [f"  - {{name: f{i}, type: relu, from: f{i + 1}}}" for i in range(n)]
        lines.append(f"  - {{name: f{n}, type: relu, from: input}}")
    elif kind == "skipped_forward":
        lines += [f"  - {{name: f{i}, type: relu, from: f{i + 1}, when: false}}" for i in range(n)]
        lines.append(f"  - {{name: f{n}, type: relu, from: input, when: false}}")
        lines.append("  - {name: out, type: relu, from: f0}")
    else:
        lines.append("  - {name: a, type: relu, when: false}")
        lines += ["  - {type: add, from: [a, a]}"] * n
    return ("\n".join(lines) + "\n").encode()


@functools.cache
@st.composite
def nested_repeats(draw):
    """Blocks repeated inside blocks, counts written as expressions, layers maybe switched off."""
    levels = draw(st.integers(2, 6))
    when = draw(st.sampled_from(["", ", when: false", ", when: 'index > 10 ** 9'", ", when: index == 0"]))
    lines = ["input: [4]", "blocks:", f"  b0: {{layers: [{{type: relu{when}}}]}}"]
    for level in range(1, levels + 1):
        count = draw(st.sampled_from(['"10**3"', '"10**5"', '"10 ** 2"', "2", '"2 ** 20"', '"10**9"', "'repeat'"]))
        lines.append(f"  b{level}: {{layers: [{{block: b{level - 1}, repeat: {count}}}]}}")
    outer = draw(st.sampled_from([1, 10, 1000]))
    lines += ["layers:", "  - {type: relu}", f"  - {{block: b{levels}, repeat: {outer}}}"]
    return ("\n".join(lines) + "\n").encode()


@functools.cache
@st.composite
def deep_blocks(draw, big: bool = True):
    """block_0 uses block_1 ... block_depth; maybe each twice (2^depth layers)."""
    depth = draw(st.sampled_from([10, 100, 500, 1000, 5000] if big else [10, 100, 1000]))
    twice = draw(st.booleans())
    uses = "[{block: b%d}, {block: b%d}]" if twice else "[{block: b%d}]"
    lines = ["input: [4]", "blocks:"]
    lines += [f"  b{i}: {{layers: {uses % ((i + 1, i + 1) if twice else (i + 1,))}}}" for i in range(depth)]
    lines += [f"  b{depth}: {{layers: [{{type: relu}}]}}", "layers:", "  - {block: b0}"]
    return ("\n".join(lines) + "\n").encode()


HUGE = 2**31 - 1


@functools.cache
@st.composite
def huge_figures(draw):
    """Layers whose figures are huge but exact: adaptive pools with huge output sizes,
    reshape+linear chains with big dimensions, wide convolutions."""
    kind = draw(st.sampled_from(["adaptive", "adaptive_max", "linear_chain", "reshape_linear", "conv"]))
    if kind.startswith("adaptive"):
        pool = "adaptive_maxpool" if kind == "adaptive_max" else "adaptive_avgpool"
        size = draw(st.sampled_from([HUGE, 10**6, 46341, 2**20]))
        if draw(st.booleans()):
            return (f"input: [{HUGE}]\nlayers: [{{type: reshape, shape: [1, {HUGE}]}}, "
                    f"{{type: {pool}1d, output_size: {size}}}]\n").encode()
        return f"input: [1, 46341, 46341]\nlayers: [{{type: {pool}2d, output_size: [{size}, {size}]}}]\n".encode()
    if kind == "linear_chain":
        n = draw(st.sampled_from([2, 10, 100]))
        return (f"input: [{HUGE}]\nlayers:\n" + f"  - {{type: linear, out_features: {HUGE}}}\n" * n).encode()
    if kind == "reshape_linear":
        return (f"input: [{HUGE}]\nlayers:\n  - {{type: reshape, shape: [{HUGE}, 1]}}\n"
                f"  - {{type: linear, out_features: {HUGE}}}\n  - {{type: flatten}}\n").encode()
    return (f"input: [65535, 65535, 1]\nlayers:\n  - {{type: conv2d, out_channels: {HUGE}, kernel_size: 1}}\n"
            f"  - {{type: conv2d, out_channels: {HUGE}, kernel_size: 1}}\n").encode()


@functools.cache
@st.composite
def huge_amounts(draw):
    """expect: amounts with thousands of digits."""
    digits = draw(st.sampled_from([400, 4000, 4300, 5000, 100_000]))
    amount = draw(st.sampled_from(["9" * digits, "1" + "0" * digits + "K", "1e" + "9" * 4, "0." + "0" * digits + "1M",
                                   ",".join(["999"] * (digits // 3)), "9" * digits + ".5GiB"]))
    key = draw(st.sampled_from(["params", "macs", "max_params", "max_activation_memory", "flops"]))
    quoted = draw(st.booleans())
    value = f'"{amount}"' if quoted else amount
    return f"input: [4]\nlayers: [{{type: linear, out_features: 2}}]\nexpect:\n  {key}: {value}\n".encode()


@functools.cache
def scale_spec(big: bool = True):
    """Scale specs; `big=False` keeps them to thousands of layers (for the test suite)."""
    return st.one_of(big_file(big), long_flow_list(big), from_chain(big), nested_repeats(), deep_blocks(big),
                     huge_figures(), huge_amounts())


# --- YAML 1.1 / 1.2 ambiguities ----------------------------------------------------------

AMBIGUOUS = ["yes", "no", "on", "off", "y", "n", "Yes", "NO", "On", "true", "True", "FALSE", "!!bool maybe",
             "!!int 1.5", "!!float abc", "!!int ''", "010", "0o10",
             "0x10", "0b10", "0O10", "3:44", "1:00:00", "1_000", "1__0", "_1", ".inf", "-.inf", ".NaN", "~",
             "null", "Null", "", "!!bool yes", "!!bool 'true'", "!!int 010", "!!int '3'", "!!int 0x1f",
             "!!str 3", "!!float 1", "!!float '8'", "!!null ''", "!!seq []", "!!map {}", "!<tag:yaml.org,2002:int> 8",
             "+8", "8.", "8.0", "8e0", "0.8e1", "'8'", '"8"', '"\\x38"', "8 # eight", "1,000", "8K",
             "2019-01-01", "=", "<<", "!!binary AA==", "!local 8", "&a 8", "*a", "? 8", "- 8", "8"]


@functools.cache
def _ambiguous():
    return st.sampled_from(AMBIGUOUS)


@functools.cache
@st.composite
def yaml_ambiguity(draw):
    """A small valid network with ambiguous scalars placed where numbers, booleans and names
    go, and in expect:, written in block or flow style, with YAML directives, several
    documents, a BOM, CR or CRLF line endings."""
    value = lambda default: draw(st.one_of(st.just(default), _ambiguous()))  # noqa: E731
    flow = draw(st.booleans())
    layers = [f"{{type: conv2d, out_channels: n, kernel_size: {value('3')}, bias: {value('true')}}}",
              f"{{type: relu, when: {value('true')}}}",
              "{type: flatten}",
              f"{{name: {value('fc')}, type: linear, out_features: {value('10')}}}"]
    body = ("layers: [" + ", ".join(layers) + "]\n") if flow else ("layers:\n" + "".join(f"  - {l}\n" for l in layers))
    expect_items = [f"params: {value('1,000')}", f"macs: {value('8')}", f"output_shape: [{value('10')}]"]
    expect_items = draw(st.lists(st.sampled_from(expect_items), unique=True, max_size=3))
    if draw(st.booleans()):
        expect_items.append(f"max_params: {value('10M')}")
    style = draw(st.sampled_from(["block", "flow", "comments", "empty", "null", "none"]))
    if style == "block":
        expect = "expect:\n" + "".join(f"  {item}\n" for item in expect_items)
    elif style == "flow":
        expect = "expect: {" + ", ".join(expect_items) + "}\n"
    elif style == "comments":
        expect = "expect:   # figures\n" + "".join(f"  {item}  # kept\n" for item in expect_items) + "  # end\n"
    else:
        expect = {"empty": "expect:\n", "null": "expect: ~\n", "none": ""}[style]
    head = f"input: [{value('1')}, 8, 8]\nvars: {{n: {value('4')}}}\n"
    if draw(st.booleans()):
        head = f"name: {value('net')}\n" + head
    parts = [head, body, expect] if draw(st.booleans()) else [head, expect, body]
    text = "".join(parts)
    text = draw(st.sampled_from(["", "---\n", "%YAML 1.1\n---\n", "%YAML 1.2\n---\n", "--- \n",
                                 "%TAG !e! tag:e,2000:\n---\n"])) + text
    text += draw(st.sampled_from(["", "", "...\n", "---\n", "---\ninput: [1]\n", "# trailing\n", "\n\n"]))
    if draw(st.booleans()):
        text = text.rstrip("\n")  # no newline at the end
    text = text.replace("\n", draw(st.sampled_from(["\n", "\n", "\r\n", "\r"])))
    bom = draw(st.sampled_from(["", "", "\ufeff"]))
    return (bom + text).encode("utf-8")


@functools.cache
@st.composite
def zoo_restyled(draw):
    """A zoo spec with its line endings, BOM, final newline or expect: block changed."""
    text = draw(st.sampled_from(ZOO_TEXTS))
    change = draw(st.sampled_from(["crlf", "cr", "bom", "no_final_newline", "no_expect", "empty_expect",
                                   "expect_first", "tabs_in_comments", "bom_crlf"]))
    head, sep, tail = text.partition("\nexpect:")
    if change == "no_expect" and sep:
        text = head + "\n"
    elif change == "empty_expect" and sep:
        text = head + "\nexpect:\n"
    elif change == "expect_first" and sep:
        text = "expect:" + tail.rstrip("\n") + "\n" + head + "\n"
    elif change == "tabs_in_comments":
        text = text.replace("# ", "#\t")
    elif change == "no_final_newline":
        text = text.rstrip("\n")
    if change in ("crlf", "bom_crlf"):
        text = text.replace("\n", "\r\n")
    if change == "cr":
        text = text.replace("\n", "\r")
    if change in ("bom", "bom_crlf"):
        text = "\ufeff" + text
    return text.encode("utf-8")


@functools.cache
@st.composite
def spec_bytes(draw):
    """Any spec, mixed: (bytes, strategy name)."""
    name = draw(st.sampled_from(["zoo"] * 3 + ["restyled"] * 3 + ["tree"] * 4 + ["text"] * 3 + ["generated"] * 3
                                + ["valid"] * 4 + ["yaml"] * 4))
    strategy = {"zoo": zoo_spec, "restyled": zoo_restyled, "tree": tree_mutation, "text": text_mutation,
                "generated": generated_spec, "valid": valid_network, "yaml": yaml_ambiguity}[name]
    return draw(strategy()), name


@functools.cache
@st.composite
def small_spec_bytes(draw):
    """Specs small enough to run for real under a small --max-memory (for verify)."""
    name = draw(st.sampled_from(["small_zoo", "generated", "valid", "valid", "valid", "yaml", "small_tree"]))
    if name == "valid":
        return draw(valid_network()), name
    if name == "small_zoo":
        return draw(st.sampled_from(SMALL_ZOO)).encode(), name
    if name == "generated":
        return draw(generated_spec()), name
    if name == "yaml":
        return draw(yaml_ambiguity()), name
    tree = copy.deepcopy(yaml.safe_load(draw(st.sampled_from(SMALL_ZOO))))
    places = [path for path in _paths(tree) if path[0] in ("layers", "vars", "input")]
    path = draw(st.sampled_from(places))
    _get(tree, path[:-1])[path[-1]] = copy.deepcopy(draw(hostile_values(1)))
    return _dump(tree, sort_keys=False, allow_unicode=True).encode("utf-8", "surrogatepass"), name


# --- command lines: flags are fuzz inputs too --------------------------------------------

CASE_DIR = "@@CASE@@"  # stands for the case's folder in a drawn argument

HOSTILE_FLAG_VALUES = ["0", "-1", "-0", "1", "2", "10**30", str(10**30), "0**-1", "1e400", "1e3", "nan", "inf",
                       "", " ", "+3", "0x10", "1_000", "\u0663", "3\x1b[31m", "\x1b]0;title\x07", "\u202e3",
                       "a\rb", "a\nb", "9" * 5000, "x" * 100_000, str(2**63), str(-(2**63)), str(2**64), "\x00",
                       "\x85", "\udcff", "--", "-", "--batch", "=", "1,2", "é" * 50]
SET_NAMES = ["width", "c", "n", "classes", "x", "", " ", "a b", "\x1b[2J", "index", "repeat", "input", "ÿ" * 3]
SET_VALUES = HOSTILE_FLAG_VALUES[:30] + ["2 ** 1000", "1/0", "width * 2", "(" * 300 + "1" + ")" * 300,
                                         "10 ** 15 * 10", "same", "true", "[1]", "{a: 1}"]
INPUT_VALUES = ["3,32,32", "1,28,28", "4", "3x32x32", "3, 32, 32", "0", "-1,2", "1," * 100, ",", "10**30",
                str(2**31), "1," * 8 + "1", "a,b", "3,32,32\x1b[0m", "1.5,2", "3;32;32", "\u0663,\u0663",
                # symbolic sizes and sweeps
                "3,H,W", "1,H,W", "3,S,S", "H", "3,H", "3,H,W,D", "3,H,32", "3,index,W", "3,in,W", "3,_,W",
                "3,H" + "H" * 5000 + ",W", "3,16..64..16", "1,28..36..4", "3,1..100000", "3,1..100001",
                "3,64..32", "3,0..9", "3,9..9..0", "3,8..64..8,8..64..8", "3,8..64..8,8..32..8", "3,H,8..16"]
# sizes --range / --at
SIZE_RANGES = ["1..64", "1..1024", "32..32", "64..32", "0..9", "1..100000", "1..100001", "10", "a..b", "1..9..2",
               "", "1.." + "9" * 40, "-5..5"]
SIZE_PICKS = ["224", "32,64", "1", "0", "H", "1,2,3,4,5,6,7,8", "99999999", "", "3..9"]


def _random(draw):
    """A random.Random for weighted choices: hypothesis's own draws (and its randoms())
    favour edge cases, which would make every rare branch common. Seeded by drawn numbers,
    so a run is the same for the same --seed."""
    return random.Random(f"{draw(st.integers(0, 2**64))}-{draw(st.integers(0, 2**64))}")


def _hostile(draw, rnd, common):
    """Usually a sensible value, sometimes (one in six) a hostile one."""
    if rnd.random() < 1 / 6:
        return draw(st.one_of(st.sampled_from(HOSTILE_FLAG_VALUES), st.text(max_size=8),
                              st.integers(-(2**70), 2**70).map(str)))
    return draw(common)


@functools.cache
def _summary_flags(fmt):
    return {
        "--format": st.just(fmt),
        "--depth": st.integers(1, 5).map(str),
        "--batch": st.integers(1, 8).map(str),
        "--set": st.one_of(st.sampled_from(["width=8", "c=2", "classes=10", "noequals", "=3", "width=="]),
                           st.builds(lambda n, v: f"{n}={v}", st.sampled_from(SET_NAMES), st.sampled_from(SET_VALUES))),
        "--input": st.sampled_from(INPUT_VALUES),
        "--percent": None, "--by-type": None,  # flags without a value
        "--top": st.sampled_from(["1", "3", "0", "-1", "999999999999", "x"]),
        "--rank": st.sampled_from(["params", "macs", "flops", "buffers", ""]),
    }


EXPLAIN_NAMES = ["layer1.0.conv1", "nosuch", "", "-", "--", "\x1b[31m", "C" * 5000, "input", "a.b.c", "🙂"]


def _explain_flags(fmt):
    return {flag: values for flag, values in _summary_flags(fmt).items()
            if flag not in ("--depth", "--percent", "--by-type", "--top", "--rank")}


def _sizes_flags(fmt):
    return {
        "--format": st.just(fmt),
        "--range": st.sampled_from(SIZE_RANGES),
        "--at": st.sampled_from(SIZE_PICKS),
        "--batch": st.integers(1, 8).map(str),
        "--set": st.builds(lambda n, v: f"{n}={v}", st.sampled_from(SET_NAMES), st.sampled_from(SET_VALUES)),
    }


@functools.cache
def _verify_flags():
    return {
        "--max-memory": st.sampled_from(["64MB", "128MB", "256MB", "100MiB", "67108864"]),
        "--batch": st.integers(1, 4).map(str),
        "--seed": st.one_of(st.integers(0, 2**32).map(str), st.sampled_from(["-1", str(2**64), str(10**30)])),
        "--dtype": st.sampled_from(["float32", "float64"]),
        "--format": st.sampled_from(["table", "json"]),
        "--set": st.builds(lambda n, v: f"{n}={v}", st.sampled_from(SET_NAMES[:6]), st.sampled_from(SET_VALUES)),
        "--input": st.sampled_from(["3,32,32", "1,28,28", "1,8,8", "0", "1," * 9 + "1", "10**30", "-1"]),
    }


HOSTILE_MAX_MEMORY = ["0", "-1", "1e400", "10**30", "0**-1", "", "abc", "1KB", "\x1b[31m", "9" * 5000, "nan",
                      "64 MB", "64mb", "0.5MB", "-64MB", "1e-9GB"]


def _flags(draw, rnd, options: dict, required=()) -> list:
    """`required` flags and a few of `options` (maybe repeated), values sometimes hostile."""
    chosen = list(required) + [rnd.choice(sorted(options)) for _ in range(rnd.choice([0, 0, 1, 1, 2, 3, 4]))]
    args = []
    for name in chosen:
        if name == "--max-memory" and rnd.random() < 0.1:  # a run one lets through meets the address-space cap
            args += [name, rnd.choice(HOSTILE_MAX_MEMORY)]
        elif options[name] is None:
            args.append(name)
        else:
            args += [name, _hostile(draw, rnd, options[name])]
    if rnd.random() < 1 / 30:  # misuse: an unknown flag, a flag without its value
        args.append(rnd.choice(["--bogus", "-x", "--format", "--depth", "--set", "--max-memory"]))
    return args


def _place(rnd, spec_args: list, flags: list) -> list:
    """Flags after the spec, before it, split around it, or before `--`."""
    where = rnd.choice(["after", "after", "after", "before", "split", "dashdash"])
    if where == "before":
        return flags + spec_args
    if where == "split" and flags:
        cut = rnd.randrange(len(flags) // 2 + 1) * 2
        return flags[:cut] + spec_args + flags[cut:]
    if where == "dashdash":
        return flags + ["--"] + spec_args
    return spec_args + flags


FILE_NAMES = ["spec.yaml"] * 12 + ["spec.yml", "Spec.YAML", "a b.yaml", "-dash.yaml", "\x1b[31mred.yaml",
                                   "ça.yaml", "new\nline.yaml", "x" * 200 + ".yaml", "\u202egnp.yaml", "tab\t.yaml",
                                   "noext", ".hidden.yaml"]


@dataclass(repr=False)
class Case:
    command: str  # what it runs: "summary:json", "check:text", "update", "verify", "misc", ...
    args: list  # argv after `cnncalc`; CASE_DIR in an argument stands for the case's folder
    files: dict  # name -> bytes, written into the case's folder before the run
    spec: str = ""  # which strategy drew the spec
    setup: str = ""  # a file-system object made before the run (see SETUPS)
    process: bool = False  # run as a real process

    def __repr__(self) -> str:  # hypothesis prints a failing case: not megabytes of it
        files = {name: f"{len(data):,} bytes: {data[:120]!r}{'...' if len(data) > 120 else ''}"
                 for name, data in self.files.items()}
        args = [arg if len(arg) < 200 else f"{arg[:100]}... ({len(arg):,} characters)" for arg in self.args]
        return (f"Case({self.command!r}, {args!r}, {files!r}, spec={self.spec!r}, setup={self.setup!r}, "
                f"process={self.process!r})")

    def _repr_pretty_(self, printer, cycle) -> None:  # hypothesis's printer, which would show every byte
        printer.text(repr(self))

    @property
    def label(self) -> str:
        return f"{self.command}+{self.setup}" if self.setup else self.command

    def to_dict(self) -> dict:
        return {"command": self.command, "args": self.args, "files": sorted(self.files), "spec": self.spec,
                "setup": self.setup, "process": self.process}


@functools.cache
@st.composite
def command_case(draw, process_share: int = 16, scale_share: int = 25):
    """A spec, a command and its flags; one case in `process_share` runs as a real process,
    one in `scale_share` (0: none) reads a scale spec (and always runs as a process)."""
    rnd = _random(draw)
    command = rnd.choice(["summary"] * 8 + ["check"] * 4 + ["update"] * 4 + ["verify"] * 2
                         + ["misc", "sizes", "explain", "diagram"])
    if command == "misc":
        args = rnd.choice([["layers"], ["--version"], ["--help"], [], ["nosuch"], ["summary"], ["check"],
                           ["verify"], ["summary", "--help"], ["layers", "extra"], ["--version", "layers"]])
        return Case("misc", list(args), {}, process=rnd.random() < 1 / process_share)
    libraries = {}
    if command == "verify":
        data, strategy = draw(small_spec_bytes())
    elif scale_share and rnd.random() < 1 / scale_share:
        data, strategy = draw(scale_spec()), "scale"
    elif rnd.random() < 1 / 20:
        (data, libraries), strategy = draw(include_spec()), "include"
    else:
        data, strategy = draw(spec_bytes())
    name = draw(st.sampled_from(FILE_NAMES)) if rnd.random() < 0.1 else "spec.yaml"
    files = {**libraries, name: data}
    target = [f"{CASE_DIR}/{name}"]
    if command in ("check", "update") and rnd.random() < 0.15:  # more files, or the folder
        other, _ = draw(spec_bytes())
        files["other.yaml"] = other
        target = rnd.choice([[CASE_DIR], target + [f"{CASE_DIR}/other.yaml"], target + target])
    if command == "summary":
        fmt = rnd.choice(["table", "json", "markdown", "csv"])
        flags = _flags(draw, rnd, _summary_flags(fmt), ["--format"] if fmt != "table" or rnd.random() < 0.5 else [])
        label = f"summary:{fmt}"
    elif command == "check":
        fmt = rnd.choice(["text", "text", "json"])
        flags = ["--format", _hostile(draw, rnd, st.just(fmt))] if fmt == "json" or rnd.random() < 0.5 else []
        label = f"check:{fmt}"
    elif command == "update":
        flags = ["--update-expect"] + rnd.choice([[], [], ["--format", _hostile(draw, rnd, st.just("json"))]])
        label = "update"
    elif command == "sizes":
        fmt = rnd.choice(["table", "json"])
        flags = _flags(draw, rnd, _sizes_flags(fmt), ["--format"])
        label = f"sizes:{fmt}"
    elif command == "diagram":
        fmt = rnd.choice(["mermaid", "dot", "svg"])
        flags = _flags(draw, rnd, {"--format": st.just(fmt), "--depth": st.integers(0, 4).map(str),
                                   "--input": st.sampled_from(INPUT_VALUES)}, ["--format"])
        label = f"diagram:{fmt}"
    elif command == "explain":
        fmt = rnd.choice(["text", "markdown", "latex", "json"])
        flags = _flags(draw, rnd, _explain_flags(fmt), ["--format"])
        target += rnd.choice([[], [], ["conv1"], ["C3", "F6"], [rnd.choice(EXPLAIN_NAMES)]])
        label = f"explain:{fmt}"
    else:
        flags = _flags(draw, rnd, _verify_flags(), ["--max-memory"])
        label = "verify"
    args = ["check" if command == "update" else command] + _place(rnd, target, flags)
    process = strategy == "scale" or rnd.random() < 1 / process_share
    return Case(label, args, files, spec=strategy, process=process)


# --- file-system objects (always real processes) -----------------------------------------

SETUPS = ["fifo", "fifo_in_folder", "symlink_out", "symlink_in", "symlink_loop", "folder_loop", "dangling",
          "unreadable", "unreadable_folder", "readonly_file", "readonly_folder", "empty_folder", "broken_pipe",
          "dev_full", "dev_zero", "spec_is_folder"]
WITHOUT_DAC = {"unreadable", "unreadable_folder", "readonly_file", "readonly_folder"}  # root, minus its bypass
SECRET_SPECS = [f"{SECRET}: [\n".encode(),
                f"input: [3]\nname: {SECRET}\nlayers: [{{type: bogus}}]\n".encode(),
                f"input: [3]\nlayers: [{{name: {SECRET}, type: linear}}]\n".encode(),
                f"input: [3]\nname: x\nlayers: [{{type: relu}}]  # {SECRET}\nexpect: {{params: 7}}\n".encode(),
                f"input: [3]\nlayers:\n  - {{type: relu, when: {SECRET}}}\n".encode()]


@functools.cache
@st.composite
def fs_case(draw, setup: str | None = None):
    setup = setup or draw(st.sampled_from(SETUPS))
    data, strategy = draw(st.one_of(spec_bytes(), st.sampled_from(ZOO_BYTES).map(lambda d: (d, "zoo"))))
    files = {"spec.yaml": data}
    spec_path, folder = f"{CASE_DIR}/spec.yaml", CASE_DIR
    summary = ["summary", spec_path, "--format", draw(st.sampled_from(["table", "json", "markdown", "csv"]))]
    check = ["check", folder] + draw(st.sampled_from([[], ["--format", "json"], ["--update-expect"]]))
    update = ["check", "--update-expect", spec_path]
    if setup in ("fifo", "dangling", "unreadable", "dev_zero"):
        path = "/dev/zero" if setup == "dev_zero" else spec_path
        args = draw(st.sampled_from([["summary", path], ["check", path], ["check", "--update-expect", path],
                                     ["verify", path, "--max-memory", "64MB"], check]))
    elif setup in ("fifo_in_folder", "symlink_out", "symlink_loop", "folder_loop", "unreadable_folder",
                   "empty_folder"):
        args = check if setup != "symlink_loop" or draw(st.booleans()) else ["summary", f"{CASE_DIR}/a.yaml"]
    elif setup == "symlink_in":
        args = draw(st.sampled_from([update, check, ["summary", f"{CASE_DIR}/link.yaml"]]))
    elif setup in ("readonly_file", "readonly_folder"):
        args = draw(st.sampled_from([update, check + ["--update-expect"]]))
    elif setup == "spec_is_folder":
        args = draw(st.sampled_from([["summary", folder], ["verify", folder, "--max-memory", "64MB"]]))
    else:  # broken_pipe, dev_full: output that cannot be written
        args = draw(st.sampled_from([summary, ["check", spec_path], ["layers"], ["--help"]]))
    if setup == "symlink_out":
        files["outside"] = draw(st.sampled_from(SECRET_SPECS))
    if setup in ("symlink_out", "fifo_in_folder") and draw(st.booleans()):  # included, it must be refused too
        target = "link.yaml" if setup == "symlink_out" else "pipe.yaml"
        files["spec.yaml"] = f"include: [{target}]\ninput: [3]\nlayers: [{{type: relu}}]\n".encode()
        if setup == "symlink_out" and draw(st.booleans()):
            files["spec.yaml"] = b"include: [../outside/secret.yaml]\ninput: [3]\nlayers: [{type: relu}]\n"
        args = draw(st.sampled_from([args, ["summary", spec_path], ["check", spec_path]]))
    if setup == "empty_folder":
        files = {}
    command = args[0] if args else "misc"
    if "--update-expect" in args:
        command = "update"
    elif command in ("summary", "check") and "--format" in args:
        command += ":" + args[args.index("--format") + 1]
    elif command == "summary":
        command = "summary:table"
    elif command == "check":
        command = "check:text"
    return Case(command, args, files, spec=strategy, setup=setup, process=True)


@functools.cache
@st.composite
def fuzz_cases(draw, process_share: int = 16, fs_share: int = 40):
    """Every kind of case, mixed: one in `fs_share` is a file-system object."""
    if _random(draw).random() < 1 / fs_share:
        return draw(fs_case())
    if _random(draw).random() < 1 / 12:  # cnncalc diff: tests/fuzz_diff.py (imported here: it imports this module)
        from fuzz_diff import diff_case

        return draw(diff_case(process_share))
    if _random(draw).random() < 1 / 20:  # summary --training: tests/fuzz_training.py (the same)
        from fuzz_training import training_case

        return draw(training_case(process_share))
    if _random(draw).random() < 1 / 20:  # summary --rf: tests/fuzz_receptive.py (the same)
        from fuzz_receptive import receptive_case

        return draw(receptive_case(process_share))
    if _random(draw).random() < 1 / 20:  # cnncalc export / schema: tests/fuzz_export.py (the same)
        from fuzz_export import export_case

        return draw(export_case(process_share))
    if _random(draw).random() < 1 / 20:  # cnncalc report: tests/fuzz_report.py (the same)
        from fuzz_report import report_case

        return draw(report_case(process_share))
    if _random(draw).random() < 1 / 20:  # diagram --format svg: tests/fuzz_diagram_svg.py (the same)
        from fuzz_diagram_svg import diagram_svg_case

        return draw(diagram_svg_case(process_share))
    if _random(draw).random() < 1 / 20:  # summary --convention: tests/fuzz_conventions.py (the same)
        from fuzz_conventions import convention_case

        return draw(convention_case(process_share))
    return draw(command_case(process_share))


# --- running a case -----------------------------------------------------------------------

ENV = {"NO_COLOR": "1", "TERM": "dumb", "FORCE_COLOR": None, "CLICOLOR_FORCE": None, "COLUMNS": None,
       "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None}
# C0 but newline and tab (ESC and CR included), DEL, C1, bidi controls, and undecodable bytes
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\udc80-\udcff]")


@dataclass
class Outcome:
    code: Optional[int]  # None: stopped after HANG_SECONDS (SCALE_HANG_SECONDS)
    stdout: str
    stderr: str
    seconds: float
    memory: int  # bytes: a process's peak RSS; in-process, verify's traced peak or the rise of this process's peak
    failures: list = field(default_factory=list)  # (kind, detail)

    @property
    def status(self) -> str:
        return "hang" if self.code is None else f"exit {self.code}"


class CaseTimeout(BaseException):
    """Raised in the main thread when an in-process case runs past HANG_SECONDS (a
    BaseException, so that the command's own `except Exception` cannot swallow it)."""


def run_case(case: Case, workdir: str) -> Outcome:
    """Make the case's files, run it, judge it; the case's folder is removed afterwards."""
    import tempfile

    root = tempfile.mkdtemp(dir=workdir)
    tree = os.path.join(root, "tree")
    try:
        _prepare(case, root, tree)
        args = [arg.replace(CASE_DIR, tree) if isinstance(arg, str) else arg for arg in case.args]
        before = snapshot(root)
        run = _in_process if not case.process else _in_subprocess
        outcome = run(case, args, root)
        outcome.stdout, outcome.stderr = outcome.stdout.replace(tree, "<case>"), outcome.stderr.replace(tree, "<case>")
        after = snapshot(root)
        judge(case, args, outcome, before, after)
        if case.command == "update" and outcome.code == 0 and before != after and not outcome.failures:
            again = run(case, args, root)  # a second update finds nothing to change
            if again.code != 0 or snapshot(root) != after:
                outcome.failures.append(("preservation", f"a second --update-expect changed the file again or "
                                                         f"ended {again.status}: {_tail(again)}"))
        return outcome
    finally:
        _remove(root)


def _prepare(case: Case, root: str, tree: str) -> None:
    os.mkdir(tree)
    outside = os.path.join(root, "outside")
    os.mkdir(outside)
    for name, data in case.files.items():
        target = os.path.join(outside, "secret.yaml") if name == "outside" else os.path.join(tree, name)
        with open(target, "wb") as handle:
            handle.write(data)
    spec = os.path.join(tree, "spec.yaml")
    setup = case.setup
    if setup == "fifo":
        os.remove(spec)
        os.mkfifo(spec)
    elif setup == "fifo_in_folder":
        os.mkfifo(os.path.join(tree, "pipe.yaml"))
    elif setup == "symlink_out":
        os.symlink(os.path.join(outside, "secret.yaml"), os.path.join(tree, "link.yaml"))
    elif setup == "symlink_in":
        os.symlink(spec, os.path.join(tree, "link.yaml"))
    elif setup == "symlink_loop":
        os.symlink(os.path.join(tree, "b.yaml"), os.path.join(tree, "a.yaml"))
        os.symlink(os.path.join(tree, "a.yaml"), os.path.join(tree, "b.yaml"))
    elif setup == "folder_loop":
        os.mkdir(os.path.join(tree, "sub"))
        os.symlink(tree, os.path.join(tree, "sub", "loop"))
    elif setup == "dangling":
        os.remove(spec)
        os.symlink(os.path.join(tree, "missing.yaml"), spec)
    elif setup == "unreadable":
        os.chmod(spec, 0)
    elif setup == "unreadable_folder":
        sub = os.path.join(tree, "sub")
        os.mkdir(sub)
        shutil.copy(spec, os.path.join(sub, "inner.yaml"))
        os.chmod(sub, 0)
    elif setup == "readonly_file":
        os.chmod(spec, 0o444)
    elif setup == "readonly_folder":
        os.chmod(tree, 0o555)


def snapshot(root: str) -> dict:
    """Every regular file under root: relative path -> (bytes, mode)."""
    files = {}
    for folder, dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            try:
                info = os.lstat(path)
                if stat.S_ISREG(info.st_mode):
                    with open(path, "rb") as handle:
                        files[os.path.relpath(path, root)] = (handle.read(), stat.S_IMODE(info.st_mode))
            except OSError:
                continue
    return files


def _remove(root: str) -> None:
    for folder, dirs, _ in os.walk(root):
        for name in dirs:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, 0o755)
    os.chmod(root, 0o755)
    shutil.rmtree(root, ignore_errors=True)


def _on_timeout(signum, frame):
    raise CaseTimeout()


def _in_process(case: Case, args: list, root: str) -> Outcome:
    from cnncalc.cli import app

    runner = cli_runner(env=ENV)
    args = [arg.decode("utf-8", "surrogateescape") if isinstance(arg, bytes) else arg for arg in args]
    tracing = case.command == "verify"
    if tracing:
        import cnncalc.backend.verify  # noqa: F401 - imported before tracing: its import is not the run's memory
        import numpy  # noqa: F401

        tracemalloc.start()
    previous = signal.signal(signal.SIGALRM, _on_timeout)
    signal.setitimer(signal.ITIMER_REAL, HANG_SECONDS)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    limits = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as handle:  # a runaway case gets a MemoryError, not the machine
        mapped = int(handle.read().split()[0]) * resource.getpagesize()
    cap = mapped + MEMORY_CEILING // 2
    resource.setrlimit(resource.RLIMIT_AS, (cap if limits[1] == resource.RLIM_INFINITY else min(cap, limits[1]),
                                            limits[1]))
    started = time.perf_counter()
    try:
        result = runner.invoke(app, args)
    except CaseTimeout:
        return Outcome(None, "", "", time.perf_counter() - started, 0)
    finally:
        resource.setrlimit(resource.RLIMIT_AS, limits)
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        peak = tracemalloc.get_traced_memory()[1] if tracing else 0
        if tracing:
            tracemalloc.stop()
    seconds = time.perf_counter() - started
    rise = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) * 1024  # this process's peak, raised by the case
    outcome = Outcome(result.exit_code, result.stdout, result.stderr, seconds, max(peak, rise))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        outcome.failures.append(("exception", "".join(traceback.format_exception(*result.exc_info))[-3000:]))
    return outcome


def _hang_seconds(case: Case) -> float:
    return SCALE_HANG_SECONDS if case.spec == "scale" else HANG_SECONDS


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CEILING, MEMORY_CEILING))


def _limit_memory_and_access():
    """Also drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the bounding set, so that file
    permissions bind the child even when the tests run as root (as they do here)."""
    import ctypes

    _limit_memory()
    if os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        for capability in (1, 2):
            libc.prctl(24, capability, 0, 0, 0)  # PR_CAPBSET_DROP


def _in_subprocess(case: Case, args: list, root: str) -> Outcome:
    argv = [sys.executable, "-m", "cnncalc"]
    argv += [arg if isinstance(arg, bytes) else arg.replace("\0", "").encode("utf-8", "surrogateescape")
             for arg in args]
    env = {key: value for key, value in os.environ.items() if ENV.get(key, "") is not None}
    env.update({key: value for key, value in ENV.items() if value is not None})
    err_path = os.path.join(root, "stderr")
    out_path = os.path.join(root, "stdout")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        stdout = out
        if case.setup == "dev_full":
            stdout = open("/dev/full", "wb")
        elif case.setup == "broken_pipe":
            stdout = subprocess.PIPE
        started = time.perf_counter()
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=err, cwd=root, env=env,
                                   preexec_fn=_limit_memory_and_access if case.setup in WITHOUT_DAC else _limit_memory)
        stopped = []
        timer = threading.Timer(_hang_seconds(case), lambda: (stopped.append(True), process.kill()))
        timer.start()
        try:
            if case.setup == "broken_pipe":
                process.stdout.read(10)  # the reader goes away, like `| head -c 10`
                process.stdout.close()
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        if stdout is not out and stdout is not subprocess.PIPE:
            stdout.close()
    with open(out_path, "rb") as out, open(err_path, "rb") as err:
        output, errors = out.read(), err.read()
    os.remove(out_path)
    os.remove(err_path)
    code = None if stopped else process.returncode
    return Outcome(code, output.decode("utf-8", "surrogateescape"), errors.decode("utf-8", "surrogateescape"),
                   seconds, usage.ru_maxrss * 1024)


# --- judging an outcome -----------------------------------------------------------------

def _tail(outcome: Outcome, size: int = 400) -> str:
    return repr((outcome.stderr.strip() or outcome.stdout.strip())[-size:])


def judge(case: Case, args: list, outcome: Outcome, before: dict, after: dict) -> None:
    """Add to outcome.failures what is wrong with it; `before` and `after` are snapshots of
    the case's folder (the spec files, and the file outside it a symlink points to)."""
    fail = outcome.failures.append
    text = outcome.stdout + outcome.stderr
    if outcome.code is None:
        fail(("hang", f"still running after {_hang_seconds(case):.0f} s"))
    elif outcome.code not in (0, 1, 2):
        fail(("exit-code", f"exit {outcome.code}: {_tail(outcome)}"))
    if "Traceback (most recent call last)" in text or "Exception ignored" in text:
        fail(("traceback", _tail(outcome, 1500)))
    found = CONTROL.search(text)
    if found:
        at = found.start()
        fail(("control-char", f"{found.group()!r} in {text[max(0, at - 60):at + 40]!r}"))
    longest = max(text.splitlines() or [""], key=len)
    if len(longest) > MAX_LINE:
        fail(("long-line", f"a line of {len(longest):,} characters: {longest[:100]!r}..."))
    limit = (VERIFY_SLOW_SECONDS if case.command == "verify" else SCALE_SLOW_SECONDS if case.spec == "scale"
             else SLOW_SECONDS)
    if outcome.code is not None and outcome.seconds > limit:
        fail(("slow", f"took {outcome.seconds:.1f} s (limit {limit:.0f} s), {outcome.status}"))
    if outcome.memory > MEMORY_LIMIT:
        what = "peak RSS" if case.process else "rise of the harness's peak RSS"
        fail(("memory", f"{what} {outcome.memory / 1e6:,.0f} MB (limit {MEMORY_LIMIT / 1e6:,.0f} MB)"))
    formats = [value for flag, value in zip(args, args[1:]) if flag == "--format"]
    if formats and formats[-1] == "json":  # the last --format is the one that counts
        if outcome.stdout.strip() and outcome.code in (0, 1, 2) and case.setup not in ("broken_pipe", "dev_full"):
            try:
                data = json.loads(outcome.stdout)
            except ValueError as error:
                fail(("bad-json", f"{error}: {outcome.stdout[:200]!r}"))
            else:
                inexact = _inexact_figures(data) if case.command.startswith("summary") else []
                if inexact:
                    fail(("inexact", f"figures that are not exact integers: {inexact[:5]}"))
    if outcome.code not in (0, None) and not text.strip() and case.setup not in ("broken_pipe", "dev_full"):
        fail(("silent", f"exit {outcome.code} without a message"))
    if case.setup == "unreadable_folder" and outcome.code == 0:  # a hook would pass a commit it never checked
        fail(("unreadable-skipped", "a folder holding an unreadable subfolder passed, its specs unchecked"))
    if SECRET in text:
        fail(("secret-echoed", "the content of a file outside the folder was printed"))
    outside = os.path.join("outside", "secret.yaml")
    if outside in before and before[outside] != after.get(outside):
        fail(("outside-write", "a file outside the folder, reached through a symlink, was modified"))
    if case.command == "update":
        _judge_update(case, outcome, before, after)
    if case.command == "verify" and outcome.code in (0, 1) and not case.process:
        _judge_verify_memory(args, outcome)


FIGURES = ("params", "trainable_params", "non_trainable_params", "buffers", "macs", "flops", "param_memory",
           "activation_memory")


def _inexact_figures(data) -> list:
    """summary --format json: every total and per-layer figure is an exact integer (with a
    symbolic input, a formula: text; a sweep's rows, integers)."""
    if not isinstance(data, dict):
        return [f"not an object: {type(data).__name__}"]
    if "sizes" in data:
        return [f"{row.get('input_shape')}.{key}={row[key]!r}" for row in data["sizes"] for key in FIGURES
                if key in row and type(row[key]) is not int]
    if "conditions" in data:  # symbolic: figures are formulas or numbers
        data = {**data, "totals": {k: 0 if isinstance(v, str) else v for k, v in (data.get("totals") or {}).items()},
                "layers": [{k: 0 if isinstance(v, str) else v for k, v in layer.items()}
                           for layer in data.get("layers") or []]}
    records = [("totals", data.get("totals") or {})] + [(str(layer.get("name")), layer)
                                                        for layer in data.get("layers") or []]
    return [f"{where}.{key}={record[key]!r}" for where, record in records for key in FIGURES
            if key in record and (type(record[key]) is not int)]


def _judge_update(case: Case, outcome: Outcome, before: dict, after: dict) -> None:
    """Only expect: changes, BOM, line endings and mode are kept; an invalid spec (exit 2
    with one file) is left byte for byte."""
    single = len(case.files) == 1 and case.setup in ("", "readonly_file", "readonly_folder", "symlink_in")
    for name, (old, mode) in before.items():
        if not name.startswith("tree" + os.sep) or name not in after or after[name] == (old, mode):
            continue
        new, new_mode = after[name]
        where = f"{name[5:]!r}"
        if outcome.code not in (0, 1, None) and single:  # stopped (None): old or new, as a whole
            outcome.failures.append(("preservation", f"{where} changed though the run ended {outcome.status}"))
            continue
        problems = []
        if new_mode != mode:
            problems.append(f"mode {mode:o} became {new_mode:o}")
        if old.startswith(b"\xef\xbb\xbf") != new.startswith(b"\xef\xbb\xbf"):
            problems.append("the BOM was " + ("dropped" if old.startswith(b"\xef\xbb\xbf") else "added"))
        if b"\r\n" in old and old.count(b"\n") == old.count(b"\r\n") and new.count(b"\n") != new.count(b"\r\n"):
            problems.append("CRLF line endings became mixed")
        if b"\r" not in old and b"\r" in new:
            problems.append("a CR appeared")
        if b"\r" in old and b"\n" not in old and b"\n" in new:
            problems.append("CR line endings became LF")
        old_tree, new_tree = _without_expect(old), _without_expect(new)
        if isinstance(new_tree, Exception):
            problems.append(f"the new file does not parse: {new_tree}")
        elif not isinstance(old_tree, Exception) and old_tree != new_tree:
            problems.append(f"outside expect: changed: {_first_difference(old_tree, new_tree)}")
        if problems:
            outcome.failures.append(("preservation", f"{where} ({outcome.status}): " + "; ".join(problems)))


def _without_expect(data: bytes):
    """The spec's YAML as cnncalc reads it, without expect: (an exception if it does not parse)."""
    from cnncalc.language.reader import load_yaml

    try:
        tree = load_yaml(data.decode("utf-8-sig"))
    except Exception as error:  # noqa: BLE001 - what went wrong is the report
        return error
    if isinstance(tree, dict):
        tree.pop("expect", None)
    return _plain(tree)


def _plain(value):
    """Plain dicts, lists and comparable scalars (NaN equal to NaN, 1 unlike True)."""
    if isinstance(value, dict):
        return {_plain(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, float) and value != value:
        return ("nan",)
    return (type(value).__name__, value)


def _first_difference(old, new, path="") -> str:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in list(old) + [k for k in new if k not in old]:
            if old.get(key, "<missing>") != new.get(key, "<missing>"):
                shown = key[1] if isinstance(key, tuple) else key
                return _first_difference(old.get(key, "<missing>"), new.get(key, "<missing>"), f"{path}/{shown}")
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (a, b) in enumerate(zip(old, new)):
            if a != b:
                return _first_difference(a, b, f"{path}/{index}")
    return f"at {path or '/'}: {str(old)[:80]} became {str(new)[:80]}"


def _judge_verify_memory(args: list, outcome: Outcome) -> None:
    """verify ran: what it allocated (NumPy arrays included, traced) stays near --max-memory."""
    from cnncalc.backend.memory import parse_size
    from cnncalc.diagnostics import Diagnostic

    given = [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == "--max-memory"]
    try:
        limit = parse_size(given[-1])
    except (Diagnostic, IndexError, ValueError, OverflowError):
        return
    from cnncalc.language import reader as source

    # reading the spec allocates a buffer of the file-size limit (it is not verify's memory)
    if outcome.memory > limit * 1.25 + (16 << 20) + getattr(source, "MAX_FILE_BYTES", 16 << 20):
        outcome.failures.append(("verify-memory", f"allocated {outcome.memory / 1e6:,.1f} MB under --max-memory "
                                                  f"{given[-1]} ({limit / 1e6:,.1f} MB)"))
