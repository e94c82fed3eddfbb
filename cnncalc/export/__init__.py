"""Exports of a network to other frameworks' source: one module per target, each with
`export(network) -> str`. TARGETS names them for `cnncalc export --to`."""
from __future__ import annotations

import os

from ..diagnostics import UsageError

TARGETS = {"pytorch": "cnncalc.export.pytorch"}


def export(network, to: str) -> str:
    """The source of `network` for the target `to` (a key of TARGETS)."""
    from importlib import import_module

    return import_module(TARGETS[to]).export(network)


def write(source: str, output: str, spec: str) -> None:
    """Write `source` to the file `output`: beside it first, then renamed over it, so that a
    failure (OSError) never leaves half a file, and never over the spec it came from."""
    import tempfile

    if os.path.exists(output) and os.path.exists(spec) and os.path.samefile(output, spec):
        raise UsageError(f"-o {output!r} is the spec itself: the export would replace it",
                         hint="write the module to a .py file of its own")
    temporary = None
    try:
        handle, temporary = tempfile.mkstemp(prefix=".cnncalc-", suffix=".tmp",
                                             dir=os.path.dirname(os.path.abspath(output)))
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(source)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(temporary, 0o666 & ~mask)  # as open() would make it, not mkstemp's 0600
        if os.path.isdir(output):
            raise IsADirectoryError(21, "Is a directory")
        os.replace(temporary, output)
    finally:
        if temporary is not None and os.path.isfile(temporary):
            os.unlink(temporary)
