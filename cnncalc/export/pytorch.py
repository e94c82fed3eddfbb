"""`cnncalc export --to pytorch`: a network as a plain PyTorch source file, to read and to train.

Every spec layer is one module attribute (its constructor from the layer type's
`torch_code`), named as in the spec where Python allows; each block instance is a module
of a class of its own block (instances of the same block that come out alike share one
class; a repeated block is an nn.Sequential of its instances), and `forward` runs the
layers in spec order. Classes torch lacks are copied in from torch_modules.py, so the file
needs torch alone. `SPEC_NAMES` maps each spec layer to its module's path in the state dict.

Nothing from the spec reaches the file but identifiers made of [A-Za-z0-9_] and values
written by ascii()/repr() of numbers, booleans and strings, so no spec can put code in it.
"""
from __future__ import annotations

import ast
import functools
import keyword
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..diagnostics import SpecError
from ..network import INPUT, Network
from . import numeric_shapes

# attributes of nn.Module (torch 2.x) that a layer name must not replace
MODULE_ATTRIBUTES = frozenset("""
T_destination add_module apply bfloat16 buffers call_super_init children compile cpu cuda double
dump_patches eval extra_repr float forward get_buffer get_extra_state get_parameter get_submodule half
ipu load_state_dict modules mtia named_buffers named_children named_modules named_parameters parameters
register_backward_hook register_buffer register_forward_hook register_forward_pre_hook
register_full_backward_hook register_full_backward_pre_hook register_load_state_dict_post_hook
register_load_state_dict_pre_hook register_module register_parameter register_state_dict_post_hook
register_state_dict_pre_hook requires_grad_ set_extra_state set_submodule share_memory state_dict to
to_empty train training type xpu zero_grad
""".split())
RESERVED = MODULE_ATTRIBUTES | {"self", "x", "torch", "nn", "F"}
_HELPERS = Path(__file__).with_name("torch_modules.py")


def identifier(name: str, taken: set) -> str:
    """A readable Python identifier for a spec name ([A-Za-z0-9_] only), unique in `taken`
    (which it joins): 'downsample.0' -> 'downsample_0', '3x3' -> '_3x3', 'class' -> 'class_',
    'é-1' -> '_1'."""
    base = re.sub(r"[^A-Za-z0-9_]", "_", name) or "_"
    if base[0].isdigit():
        base = "_" + base
    base = re.sub("^__+", "_", base)  # two leading underscores would be name-mangled in a class
    if keyword.iskeyword(base) or keyword.issoftkeyword(base) or base in RESERVED:
        base += "_"
    return _unique(base, taken, "_")


def class_name(name: str, taken: set) -> str:
    """A CamelCase class name for a block or network name, unique in `taken`."""
    words = [word for word in re.split(r"[^A-Za-z0-9]+", name) if word]
    base = "".join(word[:1].upper() + word[1:] for word in words) or "Block"
    if base[0].isdigit() or keyword.iskeyword(base):  # 'none' -> 'None' is a keyword
        base = "Block" + base
    return _unique(base, taken, "")


def _unique(base: str, taken: set, separator: str) -> str:
    candidate, count = base, 1
    while candidate in taken:
        count += 1
        candidate = f"{base}{separator}{count}"
    taken.add(candidate)
    return candidate


@dataclass(eq=False)
class Instance:
    """A block instance (or the network): its layers and inner instances in order."""

    prefix: str  # qualified name: 'layer1.0'; '' for the network
    local: str  # its name in the list that holds it: 'layer1', '0'
    block: str
    items: list = field(default_factory=list)  # Node, Instance, or Repeat


@dataclass(eq=False)
class Repeat:
    """A repeated block: its instances, chained."""

    prefix: str
    local: str
    instances: list = field(default_factory=list)


def _repeats(scope: tuple, depth: int) -> bool:
    """Whether scope[depth] is a repeated block ('bottleneck×3'), whose instances follow."""
    if depth + 1 >= len(scope):
        return False
    label, (index, block) = str(scope[depth][1]), scope[depth + 1]
    count = label[len(str(block)) + 1:]
    return label.startswith(f"{block}×") and count.isdigit() and str(index).isdigit() and int(index) < int(count)


def _tree(network: Network) -> Instance:
    """The network's nodes grouped by the block instances that hold them."""
    root = Instance("", "", network.name)
    made: dict = {}
    for node in network.nodes:
        parent, prefix = root, ""
        for depth, (segment, label) in enumerate(node.scope):
            prefix = f"{prefix}.{segment}" if prefix else str(segment)
            holder = made.get(prefix)
            if holder is None:
                local = str(segment)
                holder = made[prefix] = (Repeat(prefix, local) if _repeats(node.scope, depth)
                                         else Instance(prefix, local, str(label)))
                (parent.instances if isinstance(parent, Repeat) else parent.items).append(holder)
            parent = holder
        parent.items.append(node)
    return root


def _lists(instance: Instance) -> dict:
    """The layers named HEAD.0 … HEAD.n-1 (torchvision's `downsample.0`, `downsample.1`) that
    become one nn.ModuleList HEAD, so that the state dict keeps the spec's names:
    {local name: (HEAD, index)}. Only where HEAD is a plain identifier that nothing else
    in the class is called and the indices run 0 … n-1."""
    nodes = [item.name[len(instance.prefix) + 1:] if instance.prefix else item.name
             for item in instance.items if not isinstance(item, (Instance, Repeat))]
    taken = {local for local in nodes if "." not in local} | {item.local for item in instance.items
                                                               if isinstance(item, (Instance, Repeat))}
    groups: dict = {}
    for local in nodes:
        head, _, index = local.partition(".")
        if index.isdigit() and index == str(int(index)) and identifier(head, set()) == head:
            groups.setdefault(head, []).append(int(index))
    return {f"{head}.{index}": (head, index) for head, indices in groups.items()
            if head not in taken and sorted(indices) == list(range(len(indices))) for index in indices}


@functools.cache
def _helper_classes() -> dict:
    """The source of each class of torch_modules.py, by name."""
    text = _HELPERS.read_text(encoding="utf-8")
    return {item.name: ast.get_source_segment(text, item) for item in ast.parse(text).body
            if isinstance(item, ast.ClassDef)}


class _Writer:
    def __init__(self, network: Network):
        self.network = network
        self.shapes = numeric_shapes(network)
        self.readers: dict = {}
        for node in network.nodes:
            for source in node.inputs:
                self.readers.setdefault(source, []).append(node.name)
        self.classes: list = []  # source of each class, inner ones first
        self.bodies: dict = {}  # (block, body) -> class name: alike instances share one
        self.class_names = {*_helper_classes(), "Model", "F"}  # what the file defines or imports besides
        self.helpers: set = set()
        self.paths: dict = {}  # spec layer name -> module path
        self.found_ends: dict = {}

    def names_in(self, instance) -> set:
        """Every node name inside an instance (or repeat)."""
        items = instance.instances if isinstance(instance, Repeat) else instance.items
        names = set()
        for item in items:
            names |= {item.name} if hasattr(item, "layer") else self.names_in(item)
        return names

    def ends(self, instance) -> tuple:
        """(input, output) node names of an instance or repeat, from who reads what."""
        if id(instance) not in self.found_ends:
            self.found_ends[id(instance)] = self._ends(instance)
        return self.found_ends[id(instance)]

    def _ends(self, instance) -> tuple:
        inside = self.names_in(instance)
        inputs = {source for name in inside for source in self._node(name).inputs if source not in inside}
        outputs = {name for name in inside if name == self.network.output
                   or any(reader not in inside for reader in self.readers.get(name, ()))}
        if len(inputs) != 1 or len(outputs) > 1:
            raise SpecError(f"cannot export block instance '{instance.prefix}': it reads {sorted(inputs)} "
                            f"and is read at {sorted(outputs)}")
        last = max(inside, key=self.position.__getitem__)
        return inputs.pop(), outputs.pop() if outputs else last

    def _node(self, name: str):
        return self._nodes[name]

    def write(self) -> str:
        self._nodes = {node.name: node for node in self.network.nodes}
        self.position = {node.name: index for index, node in enumerate(self.network.nodes)}
        root = _tree(self.network)
        network_class = class_name(self.network.name, self.class_names)
        self._class(root, network_class, INPUT, self.network.output, "")
        helpers = _helper_classes()
        used = [helpers[name] for name in helpers if name in self.helpers]
        names = "".join(f"    {ascii(spec)}: {ascii(path)},\n" for spec, path in self.paths.items())
        header = ['"""A network as a PyTorch module, exported by `cnncalc export --to pytorch`.',
                  "",
                  "`Model` is the network; `SPEC_NAMES` maps each spec layer to its module's path",
                  'in the state dict; `INPUT_SHAPE` is the input per sample."""',
                  f"# spec: {ascii(self.network.name)}",
                  *(["import operator", "from functools import reduce", ""] if "Merge" in self.helpers else []),
                  "import torch", "import torch.nn.functional as F", "from torch import nn"]
        parts = ["\n".join(header), *used, *self.classes,
                 f"Model = {network_class}\nINPUT_SHAPE = {tuple(self.network.input_shape)!r}\n"
                 f"SPEC_NAMES = {{\n{names}}}"]
        return "\n\n\n".join(parts) + "\n"

    def _class(self, instance: Instance, name: str | None, source: str, output: str, path: str) -> str:
        """Writes the class of `instance` (reading `source`, giving `output`); its name."""
        lists = _lists(instance)
        init, forward, attrs = [], [], {head for head, _ in lists.values()}
        members: dict = {}  # list head -> {index: constructor}
        variables = {source: "x"}
        holder = source  # the value `x` holds now
        last_use = self._last_uses(instance, source, output)
        for index, item in enumerate(instance.items):
            if isinstance(item, (Instance, Repeat)):
                inner_in, inner_out = self.ends(item)
                attr = identifier(item.local, attrs)
                init.append(f"        self.{attr} = {self._instance(item, inner_in, inner_out, path + attr)}")
                call, variable = f"self.{attr}", attr
                args, produced = [variables[inner_in]], inner_out
            else:
                local = item.name[len(instance.prefix) + 1:] if instance.prefix else item.name
                code = self._code(item)
                if local in lists:  # HEAD.i: member i of the nn.ModuleList HEAD
                    head, member = lists[local]
                    if head not in members:
                        init.append(head)  # where the list is made, once all its members are known
                    members.setdefault(head, {})[member] = code
                    call, variable, at = f"self.{head}[{member}]", identifier(local, attrs), f"{head}.{member}"
                else:
                    attr = identifier(local, attrs)
                    init.append(f"        self.{attr} = {code}")
                    call, variable, at = f"self.{attr}", attr, attr
                self.paths[item.name] = path + at
                if not item.trainable:
                    init.append(f"        {call}.requires_grad_(False)")
                args, produced = [variables[name] for name in item.inputs], item.name
            free = last_use.get(holder, -1) <= index
            variables[produced] = "x" if free else variable
            if free:
                holder = produced
            forward.append(f"        {variables[produced]} = {call}({', '.join(args)})")
        forward.append(f"        return {variables[output]}")
        init = [line if line not in members else f"        self.{line} = nn.ModuleList([" + ", ".join(
                    members[line][member] for member in sorted(members[line])) + "])" for line in init]
        body = "\n".join(["    def __init__(self):", "        super().__init__()", *init, "",
                          "    def forward(self, x):", *forward])
        key = (instance.block, body)
        if name is None and key in self.bodies:
            return self.bodies[key]
        name = name or class_name(instance.block, self.class_names)
        self.bodies[key] = name
        what = "The network" if not instance.prefix else f"Block {ascii(instance.block)}"
        self.classes.append(f"class {name}(nn.Module):\n    # {what}\n{body}")
        return name

    def _code(self, node) -> str:
        """The constructor of a node's module, noting the helper classes it needs."""
        try:
            code = node.layer.torch_code(*(self.shapes[name] for name in node.inputs))
        except SpecError as exc:
            raise exc.located(node.loc, node.name) from None
        self.helpers |= {helper for helper in _helper_classes() if code.startswith(helper + "(")}
        return code

    def _instance(self, item, source: str, output: str, path: str) -> str:
        if isinstance(item, Repeat):
            made, previous = [], source
            for index, instance in enumerate(item.instances):
                _, out = self.ends(instance)
                made.append(self._class(instance, None, previous, out, f"{path}.{index}.") + "()")
                previous = out
            return f"nn.Sequential({', '.join(made)})"
        return self._class(item, None, source, output, path + ".") + "()"

    def _last_uses(self, instance: Instance, source: str, output: str) -> dict:
        """For each value in this class: the index of the last item that reads it (the
        return counts as one past the end)."""
        uses = {}
        for index, item in enumerate(instance.items):
            reads = [self.ends(item)[0]] if isinstance(item, (Instance, Repeat)) else item.inputs
            for name in reads:
                uses[name] = index
        uses[output] = len(instance.items)
        return uses


def export(network: Network) -> str:
    """The PyTorch source of `network`."""
    return _Writer(network).write()
