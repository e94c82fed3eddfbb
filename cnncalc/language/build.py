"""Turn a parsed YAML spec into a Network: the top-level keys checked, variables and the
input shape evaluated, the layers expanded (blocks, repeats, `when`) and named, `from`
resolved, the graph ordered, the output found and `expect:` read."""
from __future__ import annotations

from ..diagnostics import Location, SpecError, did_you_mean
from ..gcpause import without_cycle_collection
from ..network import DTYPES, INPUT, Network
from . import expectations, values
from .blocks import Blocks
from .expansion import Expander
from .graph import Graph, order
from .keys import check_keys
from .naming import Names
from .reader import Mapping, Sequence, kind_of, load_yaml, read_text

TOP_KEYS = ("name", "description", "input", "dtype", "vars", "blocks", "layers", "output", "expect")


@without_cycle_collection
def load(path: str, *, variables: dict | None = None, input_shape=None) -> Network:
    """Read and build the spec at `path`. `variables` override its `vars:`."""
    return build(load_yaml(read_text(path), path), path, variables=variables, input_shape=input_shape)


@without_cycle_collection
def loads(text: str, file: str = "<spec>", **options) -> Network:
    return build(load_yaml(text, file), file, **options)


def build(doc, file: str, *, variables: dict | None = None, input_shape=None) -> Network:
    if not isinstance(doc, Mapping):
        raise SpecError(f"a spec must be a mapping (with 'input' and 'layers'), got {kind_of(doc)}",
                        getattr(doc, "loc", Location(file, 1, 1)))
    check_keys(doc, TOP_KEYS, "top-level key")
    for key in ("input", "layers"):
        if key not in doc:
            raise SpecError(f"missing required top-level key '{key}'", doc.loc,
                            hint="a spec needs 'input' (e.g. [3, 224, 224]) and 'layers'")
    scope = values.variables(doc, variables or {})
    shape_loc = doc.where("input")
    dims = values.input_shape(input_shape if input_shape is not None else doc["input"], shape_loc, scope)
    dtype = doc.get("dtype", "float32")
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise SpecError(f"unknown dtype {dtype!r}", doc.where("dtype"),
                        hint=did_you_mean(str(dtype), DTYPES, "dtypes"))
    blocks = Blocks.of(doc, scope)
    layers = doc["layers"]
    if not isinstance(layers, Sequence) or not layers:
        raise SpecError("'layers' must be a non-empty list", doc.where("layers"))
    names, graph = Names(file), Graph()
    output = Expander(blocks, names, graph).body(layers, "", scope, INPUT, (), ())
    if "output" in doc:
        output = str(doc["output"])
        graph.refs_at[output] = doc.where("output")
    nodes = order(graph.resolve(names.hint))
    output = graph.follow(output, doc.where("output") if "output" in doc else doc.loc)
    if output not in {node.name for node in nodes}:
        _no_output(doc, output, graph, names)
    name = doc.get("name") or file.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return Network(str(name), file, dims, shape_loc, dtype, nodes, output, scope, expectations.parse(doc))


def _no_output(doc: Mapping, output: str, graph: Graph, names: Names) -> None:
    """The error for an output that is no layer: a wrong 'output', or every layer skipped."""
    if "output" in doc:
        raise SpecError(f"'output' names '{doc['output']}', which is not a layer", doc.where("output"),
                        hint=names.hint(output))
    if output == INPUT:
        raise SpecError("the network has no layers: every layer is switched off by 'when'", doc.where("layers"))
    raise SpecError(f"the network's output '{output}' is not a layer", graph.refs_at.get(output, doc.loc),
                    hint=names.hint(output))
