"""Turn a parsed YAML spec into a Network: the top-level keys checked, variables and the
input shape evaluated, included files read for their blocks, the layers expanded
(blocks, repeats, `when`) and named, `from` resolved, the graph ordered, the output
found and `expect:` read. A file of blocks alone (no `input`, no `layers`) is a block
library: checked the same way, then refused as a network (BlockLibrary)."""
from __future__ import annotations

from ..diagnostics import Location, SpecError, did_you_mean
from ..gcpause import without_cycle_collection
from ..network import DTYPES, INPUT, Network
from . import deferred, expectations, values
from .blocks import Blocks
from .expansion import Expander
from .graph import Graph, order
from .keys import check_keys
from .naming import Names
from .reader import Budget, Mapping, Sequence, kind_of, load_yaml, read_text

TOP_KEYS = ("name", "description", "include", "input", "dtype", "vars", "blocks", "layers", "output", "expect")
LIBRARY_KEYS = ("name", "description", "include", "vars", "blocks")


class BlockLibrary(SpecError):
    """The file is a block library, not a network: valid, but there is nothing to count.
    `check` counts it as fine; every other command reports it (exit 2)."""


@without_cycle_collection
def load(path: str, *, variables: dict | None = None, input_shape=None) -> Network:
    """Read and build the spec at `path`. `variables` override its `vars:`."""
    budget = Budget()
    return build(load_yaml(read_text(path, budget), path, budget), path, variables=variables,
                 input_shape=input_shape, budget=budget)


@without_cycle_collection
def loads(text: str, file: str = "<spec>", **options) -> Network:
    budget = Budget(len(text.encode("utf-8", "surrogatepass")))
    return build(load_yaml(text, file, budget), file, budget=budget, **options)


def build(doc, file: str, *, variables: dict | None = None, input_shape=None, budget: Budget | None = None,
          files=None) -> Network:
    """The Network `doc` (read from `file`) describes; `budget` is what reading it used of
    the limits that the files it includes share with it; `files` reads those (include.sources)."""
    if not isinstance(doc, Mapping):
        raise SpecError(f"a spec must be a mapping (with 'input' and 'layers'), got {kind_of(doc)}",
                        getattr(doc, "loc", Location(file, 1, 1)))
    if "blocks" in doc and "input" not in doc and "layers" not in doc:
        _library(doc, file, variables or {}, budget, files)
    check_keys(doc, TOP_KEYS, "top-level key")
    for key in ("input", "layers"):
        if key not in doc:
            raise SpecError(f"missing required top-level key '{key}'", doc.loc,
                            hint="a spec needs 'input' (e.g. [3, 224, 224]) and 'layers'")
    written = input_shape if input_shape is not None else doc["input"]
    scope = values.variables(doc, variables or {}, values.size_names(written))
    shape_loc = doc.where("input")
    dims = values.input_shape(written, shape_loc, scope, witnesses=_numbers(doc["input"]))
    dtype = doc.get("dtype", "float32")
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise SpecError(f"unknown dtype {dtype!r}", doc.where("dtype"),
                        hint=did_you_mean(str(dtype), DTYPES, "dtypes"))
    blocks = Blocks.of(doc, scope, file, budget, files)
    layers = doc["layers"]
    if not isinstance(layers, Sequence) or not layers:
        raise SpecError("'layers' must be a non-empty list", doc.where("layers"))
    names, graph = Names(file), Graph()
    expander = Expander(blocks, names, graph)
    output = expander.body(layers, "", scope, INPUT, (), ())
    if "output" in doc:
        output = str(doc["output"])
        graph.refs_at[output] = doc.where("output")
    expander.skipped.check(output, doc.where("output") if "output" in doc else None)
    nodes = order(graph.resolve(names.hint))
    output = graph.follow(output, doc.where("output") if "output" in doc else doc.loc)
    if output not in {node.name for node in nodes}:
        _no_output(doc, output, graph, names)
    name = doc.get("name") or file.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    network = Network(str(name), file, dims, shape_loc, dtype, nodes, output, scope, expectations.parse(doc))
    deferred.bind(network)  # layers whose arguments read the incoming shape, made from it
    return network


def _library(doc: Mapping, file: str, variables: dict, budget: Budget | None, files) -> None:
    """A file of blocks for specs to include: its keys, vars, includes and block
    definitions checked, then BlockLibrary raised, for it describes no network."""
    check_keys(doc, LIBRARY_KEYS, "top-level key", of=" for a block library (a file of blocks alone)")
    blocks = Blocks.of(doc, values.variables(doc, variables), file, budget, files)
    count = len(doc["blocks"]) if isinstance(doc["blocks"], Mapping) else 0
    raise BlockLibrary(f"a block library ({count} block{'s' if count != 1 else ''}, {len(blocks.table)} with "
                       "its includes), not a network: it has 'blocks' but no 'input' and 'layers'", doc.loc,
                       hint=f"include it from a spec (include: [{file.rsplit('/', 1)[-1]}]); `cnncalc check` "
                            "accepts it as it is")


def _no_output(doc: Mapping, output: str, graph: Graph, names: Names) -> None:
    """The error for an output that is no layer: a wrong 'output', or every layer skipped."""
    if "output" in doc:
        raise SpecError(f"'output' names '{doc['output']}', which is not a layer", doc.where("output"),
                        hint=names.hint(output))
    if output == INPUT:
        raise SpecError("the network has no layers: every layer is switched off by 'when'", doc.where("layers"))
    raise SpecError(f"the network's output '{output}' is not a layer", graph.refs_at.get(output, doc.loc),
                    hint=names.hint(output))


def _numbers(shape) -> list:
    """The spec's own input sizes where they are written as numbers (witnesses for symbols)."""
    return [dim if isinstance(dim, int) else None for dim in shape] if isinstance(shape, list) else []
