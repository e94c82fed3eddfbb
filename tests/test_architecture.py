"""The layout keeps its promises: no import cycles between cnncalc's modules (lazy imports
inside functions included), and no code outside a layer type's own module that switches
on a layer type's name or a parameter's name."""
from __future__ import annotations

import ast
from pathlib import Path

from cnncalc.layers import REGISTRY

PACKAGE = Path(__file__).resolve().parents[1] / "cnncalc"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path, known: set) -> set:
    """Every cnncalc module `name` imports, at the top or inside a function."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            module = f"{base}.{node.module}" if node.level and node.module else (node.module if not node.level else base)
            targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {target for target in targets if target in known and target != name}
    return found


def _cycle(graph: dict) -> list | None:
    state, stack = {}, []

    def visit(module):
        state[module] = 1
        stack.append(module)
        for other in sorted(graph[module]):
            if state.get(other) == 1:
                return stack[stack.index(other):] + [other]
            if not state.get(other):
                found = visit(other)
                if found:
                    return found
        stack.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if not state.get(module):
            found = visit(module)
            if found:
                return found
    return None


def _graph() -> dict:
    """Module -> the cnncalc modules it imports. An import of an enclosing package is left
    out: Python has run that package's __init__ before the module, so it closes no cycle."""
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        graph[name] = {other for other in _imports(name, path, set(modules)) if not name.startswith(other + ".")}
    return graph


def test_the_import_graph_is_seen():
    graph = _graph()
    assert "cnncalc.summary" in graph["cnncalc.render.summary"]
    assert "cnncalc.language.reader" in graph["cnncalc.language.build"]
    assert "cnncalc.summary" in graph["cnncalc"]


def test_no_import_cycles():
    cycle = _cycle(_graph())
    assert cycle is None, " -> ".join(cycle)


def _names_switched_on() -> set:
    """Layer type names, and the parameter and buffer names the zoo's layers declare."""
    from cnncalc import load
    from cnncalc.summary import infer_shapes

    names = set(REGISTRY)
    for spec in sorted((PACKAGE.parent / "specs").glob("*.yaml")):
        network = load(str(spec))
        shapes = infer_shapes(network)
        for node in network.nodes:
            inputs = [shapes[name] for name in node.inputs]
            names |= set(node.layer.param_shapes(*inputs)) | set(node.layer.buffer_shapes(*inputs))
    return names


def test_no_switch_on_a_type_or_parameter_name_outside_the_layers():
    names = _names_switched_on()
    assert {"conv2d", "running_var", "bias"} <= names
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.parent.name == "layers":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                operands = [node.left, *node.comparators]
                attributes = [o for o in operands if isinstance(o, ast.Attribute) and o.attr == "type"]
                strings = [o.value for o in operands if isinstance(o, ast.Constant) and o.value in names]
                if attributes or strings:
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr in ("startswith", "endswith")
                  and any(isinstance(a, ast.Constant) and a.value in names for a in node.args)):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert not found, f"switches on a layer type or parameter name: {found}"
