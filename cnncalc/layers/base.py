"""What every layer type declares, and the registry that finds them by name.

A layer type is one class: its arguments (`args`), its shape rule (`output_shape`),
its parameters and buffers (`parameters`, `buffers`: the shape and initialiser of each,
see parameters.py), its cost (`macs`, `flops`), what training keeps of it for the
backward pass (`saved`, see saving.py), its forward pass (`forward`) and its PyTorch
module (`torch_code`, for cnncalc export) and ONNX nodes (`onnx_nodes`). Shape rules use only + - * // on
dimensions so that they can later carry symbols.
"""
from __future__ import annotations

import math
from typing import Callable, ClassVar

from ..diagnostics import SpecError
from .parameters import Param
from .reads import Reads, pointwise
from .saving import Needs, Saved

Shape = tuple
REGISTRY: dict[str, type["Layer"]] = {}
REQUIRED = object()


def prod(values) -> int:
    result = 1
    for value in values:
        result = result * value
    return result


def torch_call(constructor: str, *args, **keywords) -> str:
    """`constructor(args, keywords)` as Python source; every value by repr() (numbers,
    booleans, None, tuples and strings of the layer's own checked arguments, never spec text)."""
    written = [repr(value) for value in args] + [f"{key}={value!r}" for key, value in keywords.items()]
    return f"{constructor}({', '.join(written)})"


def torch_keywords(defaults: dict, **given) -> dict:
    """The keyword arguments that differ from torch's defaults; sizes equal on every axis as
    one number, as torch accepts them (for readable constructors)."""
    given = {key: value[0] if isinstance(value, tuple) and value and len(set(value)) == 1 else value
             for key, value in given.items()}
    return {key: value for key, value in given.items() if key not in defaults or defaults[key] != value}


def torch_dim(axis: int) -> int:
    """A per-sample axis as torch numbers it, with the batch axis in front."""
    return axis + 1 if axis >= 0 else axis


def shape_str(shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


class Arg:
    """A declared argument: its kind, default, lower bound and one line of help."""

    def __init__(self, kind: str, default=REQUIRED, doc: str = "", *, minimum=None,
                 choices: tuple = ()):
        self.kind, self.default, self.doc = kind, default, doc
        self.minimum, self.choices = minimum, choices

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def convert(self, name: str, value, evaluate: Callable, rank: int | None):
        """The argument's value from the spec (expressions evaluated), or a SpecError."""
        return _CONVERTERS[self.kind](self, name, value, evaluate, rank)


def _fail(name: str, message: str, hint: str | None = None):
    raise SpecError(f"argument '{name}' {message}", arg=name, hint=hint)


def _scalar(arg: Arg, name, value, evaluate, want: tuple, what: str):
    if isinstance(value, str):
        try:
            value = evaluate(value)
        except SpecError as exc:  # point at this argument, and name it
            if exc.arg is None:
                exc.within(f"argument '{name}' (expected {what})", arg=name)
            raise
    if isinstance(value, float) and int in want and float not in want and value.is_integer():
        value = int(value)
    if isinstance(value, bool) and bool not in want or not isinstance(value, want):
        _fail(name, f"must be {what}, got {value!r}")
    if arg.minimum is not None and value < arg.minimum:
        bound = "positive" if arg.minimum == 1 and what.startswith("an integer") else f">= {arg.minimum}"
        _fail(name, f"must be {bound}, got {value}")
    return value


def _int(arg, name, value, evaluate, rank):
    return _scalar(arg, name, value, evaluate, (int,), "an integer")


def _float(arg, name, value, evaluate, rank):
    value = float(_scalar(arg, name, value, evaluate, (int, float), "a number"))
    if not math.isfinite(value):  # YAML reads .nan and .inf as floats
        _fail(name, f"must be a finite number, got {value}")
    return value


def _bool(arg, name, value, evaluate, rank):
    return _scalar(arg, name, value, evaluate, (bool,), "true or false")


def _sizes(arg, name, value, evaluate, rank, allow_none=False):
    """An int for every spatial axis, or one int for all of them."""
    if not isinstance(value, list):
        value = [value] * rank
    if len(value) != rank:
        _fail(name, f"needs {rank} value{'s' if rank > 1 else ''} (one per spatial axis), got {len(value)}")
    if allow_none:
        return tuple(None if v is None else _int(arg, name, v, evaluate, rank) for v in value)
    return tuple(_int(arg, name, v, evaluate, rank) for v in value)


def _optional_sizes(arg, name, value, evaluate, rank):
    return _sizes(arg, name, value, evaluate, rank, allow_none=True)


def _choice_or_sizes(arg, name, value, evaluate, rank):
    if isinstance(value, str) and value in arg.choices:
        return value
    return _sizes(arg, name, value, evaluate, rank)


def _choice(arg, name, value, evaluate, rank):
    if value not in arg.choices:
        _fail(name, f"must be one of {', '.join(map(str, arg.choices))}, got {value!r}")
    return value


def _ints(arg, name, value, evaluate, rank):
    if not isinstance(value, list):
        _fail(name, f"must be a list of integers, got {value!r}")
    return tuple(_int(arg, name, v, evaluate, rank) for v in value)


def _int_lists(arg, name, value, evaluate, rank):
    if not isinstance(value, list) or not value:
        _fail(name, f"must be a non-empty list of lists of integers, got {value!r}")
    return tuple(_ints(arg, name, row, evaluate, rank) for row in value)


_CONVERTERS = {
    "int": _int, "float": _float, "bool": _bool, "sizes": _sizes,
    "optional_sizes": _optional_sizes, "choice_or_sizes": _choice_or_sizes,
    "choice": _choice, "ints": _ints, "int_lists": _int_lists,
}


class Layer:
    """Base of all layer types. Subclasses set `type` and `args` and override the rules."""

    type: ClassVar[str] = ""
    category: ClassVar[str] = ""  # for `cnncalc layers`: convolution, pooling, dense, ...
    args: ClassVar[dict[str, Arg]] = {}
    arity: ClassVar[int | tuple | None] = 1  # how many inputs: a count, the counts allowed, or None for two or more
    rank: ClassVar[int | None] = None  # spatial axes, for kernel_size-like arguments

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("type"):
            REGISTRY[cls.type] = cls

    def __init__(self, **values):
        for name, arg in self.args.items():
            if name in values:
                value = values[name]
            elif arg.required:
                raise SpecError(f"missing required argument '{name}' ({arg.doc})", arg=name)
            else:  # defaults are written in the spec's own terms (e.g. one int for all axes)
                value = None if arg.default is None else arg.convert(name, arg.default, None, self.rank)
            setattr(self, name, value)
        self.validate()

    def validate(self) -> None:
        """Checks between arguments, once they are all known."""

    @classmethod
    def from_spec(cls, raw: dict, evaluate: Callable) -> "Layer":
        values = {name: cls.args[name].convert(name, value, evaluate, cls.rank)
                  for name, value in raw.items()}
        return cls(**values)

    # --- the rules; shapes are per sample, without the batch axis ---
    def output_shape(self, *inputs: Shape) -> Shape:
        raise NotImplementedError

    def parameters(self, *inputs: Shape) -> dict[str, Param]:
        """The trainable parameters, each with its shape and its initialiser (for verify)."""
        return {}

    def buffers(self, *inputs: Shape) -> dict[str, Param]:
        """State that is not trained (running statistics), declared as parameters are."""
        return {}

    def param_shapes(self, *inputs: Shape) -> dict[str, Shape]:
        return {name: param.shape for name, param in self.parameters(*inputs).items()}

    def buffer_shapes(self, *inputs: Shape) -> dict[str, Shape]:
        return {name: param.shape for name, param in self.buffers(*inputs).items()}

    def macs(self, out: Shape, *inputs: Shape) -> int:
        return 0

    def flops(self, out: Shape, *inputs: Shape) -> int:
        return 0

    def saved(self, out: Shape, *inputs: Shape, needs: Needs) -> Saved:
        """What a training step's forward pass keeps of this layer for the backward pass
        (see saving.py), as PyTorch's autograd saves it; `needs` says which gradients are
        computed. Default: every input, which most gradient formulas read."""
        return Saved(inputs=tuple(range(len(inputs))))

    def reads(self, out: Shape, *inputs: Shape) -> Reads:
        """What each output position reads, axis by axis, for the receptive field (see
        reads.py). Default: the same position of its one input, as element-wise layers."""
        return pointwise(len(out))

    # --- the forward pass (cnncalc verify); arrays have the batch axis first ---
    def forward(self, ops, params, *inputs):
        """The layer's output array, computed from `inputs` with the array namespace
        `ops.xp` only (never a shape rule above), so one implementation runs on NumPy,
        CuPy and array-api-strict. `params(name, shape)` (and `params.buffer`) hands
        over the parameters this computation needs, with the shape it needs them in;
        `ops.matmul` counts the multiply-accumulates it executes. See cnncalc/backend."""
        raise NotImplementedError(f"layer type '{self.type}' has no forward pass")

    moves_no_data: ClassVar[bool] = False  # views and identities: no working arrays

    def workspace(self, batch: int, out: Shape, *inputs: Shape) -> int:
        """Elements of the working arrays the forward pass holds at once besides its inputs
        and its output, for a batch of `batch` (verify's memory estimate): an upper bound,
        measured per layer type in tests/test_verify_memory.py. Default: two temporaries
        of the output's size."""
        return 0 if self.moves_no_data else 2 * batch * prod(out)

    # --- the PyTorch export (cnncalc export --to pytorch) ---
    def torch_code(self, *inputs: Shape) -> str:
        """The constructor of a PyTorch module that computes this layer on a batch whose
        samples have the shapes `inputs`: one of torch's (`nn.Conv2d(3, 8, (3, 3))`) or of
        cnncalc/export/torch_modules.py, its arguments written by `torch_call`."""
        raise SpecError(f"no PyTorch export for layer type '{self.type}'",
                        hint="`cnncalc export` covers the types `cnncalc layers` lists with a torch equivalent")

    # --- the ONNX export (cnncalc export --to onnx) ---
    def onnx_nodes(self, builder, inputs: list, output: str, *shapes: Shape) -> None:
        """Write the ONNX nodes that compute this layer from the tensors `inputs` (per-sample
        shapes `shapes`) into the tensor `output`, with `builder` (cnncalc/export/onnx.py:
        nodes, constants, this layer's parameters as initializers)."""
        raise SpecError(f"no ONNX export for layer type '{self.type}'")

    def token_range(self) -> int | None:
        """When this layer reads integer tokens: how many distinct ones (verify's input)."""
        return None

    def pieces(self) -> list | None:
        """A layer with several outputs (split, chunk): one layer per output, each with its
        own rules, which the spec language makes the nodes NAME.0, NAME.1, …; None (the
        default) for a layer with one output."""
        return None

    # --- helpers for the rules ---
    def require_rank(self, shape: Shape, rank: int, what: str) -> None:
        if len(shape) != rank:
            raise SpecError(f"{self.type} expects a {rank}-D input per sample ({what}), "
                            f"got {len(shape)}-D {shape_str(shape)}",
                            hint="add a reshape, permute or flatten before this layer")

    def check_inferred(self, name: str, given, actual: int, source: str) -> None:
        """An argument that follows from the input must agree with it when given."""
        if given is not None and given != actual:
            raise SpecError(f"{name}={given} but the input has {actual} {source}",
                            arg=name, hint=f"remove '{name}' to infer it, or fix the previous layer")
