"""Pause Python's cycle collector while a network is built or summarised.

These steps allocate hundreds of thousands of objects and create no reference cycles, yet
each allocation burst triggers a full collection that walks the whole, growing heap: for
a 100,000-layer spec that made the time grow faster than the layer count."""
from __future__ import annotations

import gc
from functools import wraps


def without_cycle_collection(function):
    @wraps(function)
    def paused(*args, **kwargs):
        if not gc.isenabled():
            return function(*args, **kwargs)
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            gc.enable()

    return paused
