"""The array libraries verify can run on, and the few names they spell differently.

Layer forward passes are written once, against the array API standard
(https://data-apis.org/array-api/): `concat`, `permute_dims`, `astype`,
`clip(x, min=, max=)`, `take(x, i, axis=)`... NumPy 2 and array-api-strict have
these; NumPy 1.x and CuPy 13 miss a few, which `_Compat` supplies. No layer code
knows which library it runs on.
"""
from __future__ import annotations

import functools
import types

from ..diagnostics import UsageError

BACKENDS = ("numpy", "cupy", "array_api_strict")
DTYPES = ("float32", "float64")


class _Compat:
    """A module with the standard's spelling of the few functions it names otherwise."""

    def __init__(self, module: types.ModuleType):
        self._module = module
        self.__name__ = module.__name__
        for name, fallback in (("concat", "concatenate"), ("permute_dims", "transpose"), ("pow", "power")):
            if not hasattr(module, name):
                setattr(self, name, getattr(module, fallback))
        if not hasattr(module, "astype"):
            self.astype = lambda x, dtype, /, *, copy=True: x.astype(dtype, copy=copy)
        if not hasattr(module, "cumulative_sum"):
            self.cumulative_sum = functools.partial(_cumulative_sum, module)
        if not hasattr(module, "isdtype"):
            kinds = {"real floating": module.floating, "integral": module.integer, "bool": module.bool_}
            self.isdtype = lambda dtype, kind: module.issubdtype(dtype, kinds[kind])

    def clip(self, x, /, min=None, max=None):  # noqa: A002 (the standard's names)
        return self._module.clip(x, min, max)

    def __getattr__(self, name):
        return getattr(self._module, name)


def _cumulative_sum(module, x, /, *, axis=None, dtype=None, include_initial=False):
    """The standard's cumulative_sum from cumsum (NumPy < 2.1, CuPy)."""
    sums = module.cumsum(x, axis=axis, dtype=dtype)
    if include_initial:
        shape = list(sums.shape)
        shape[axis] = 1
        sums = module.concatenate([module.zeros(shape, dtype=sums.dtype), sums], axis=axis)
    return sums


def namespace(backend: str = "numpy"):
    """The array namespace of `backend`, or a UsageError (one line) when it is unavailable."""
    if backend == "numpy":
        import numpy

        return _Compat(numpy)
    if backend == "array_api_strict":
        try:
            import array_api_strict
        except ImportError:
            raise UsageError("the array_api_strict backend needs the array-api-strict package "
                             "(pip install array-api-strict)") from None
        return array_api_strict
    if backend == "cupy":
        return _Compat(_cupy())
    raise UsageError(f"unknown backend {backend!r} (one of {', '.join(BACKENDS)})")


def _cupy():
    try:
        import cupy
    except Exception as exc:  # ImportError, or a CUDA library that fails to load
        reason = "CuPy is not installed" if isinstance(exc, ImportError) else f"CuPy failed to load ({exc})"
        raise UsageError(f"--gpu: {reason}; install the GPU extra: pip install 'cnncalc[gpu]'") from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
        if count < 1:
            raise RuntimeError("no CUDA device")
        cupy.zeros(1).sum().item()  # a kernel launch: driver, runtime and device all work
    except Exception as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"--gpu: no usable CUDA GPU ({message})") from None
    return cupy


def dtype_of(xp, name: str):
    if name not in DTYPES:
        raise UsageError(f"--dtype must be one of {', '.join(DTYPES)}, got {name!r}")
    return getattr(xp, name)


def to_numpy(array):
    """Any backend's array as a NumPy array (copied from the device for CuPy)."""
    import numpy

    if hasattr(array, "get") and type(array).__module__.startswith("cupy"):
        return array.get()
    return numpy.asarray(array)


def device_memory(backend: str) -> tuple | None:
    """(free, total) bytes on the GPU for cupy; None for host backends."""
    if backend != "cupy":
        return None
    import cupy

    free, total = cupy.cuda.runtime.memGetInfo()
    return int(free), int(total)
