"""A command's result written to a file (-o FILE), safely: beside the file first, then
renamed over it, so that a failure (OSError) never leaves half a file; and never over the
spec the result came from. Shared by `cnncalc export` and `cnncalc report`."""
from __future__ import annotations

import os

from .diagnostics import UsageError


def write_file(text: str | bytes, output: str, spec: str, what: str, hint: str) -> None:
    """Write `text` (str as UTF-8, or bytes) to the file `output`; refused (UsageError,
    saying `what` would replace it, with `hint`) when `output` is the spec itself. A device
    or a pipe (/dev/stdout, /dev/full) is written into, never replaced by a file."""
    import stat
    import tempfile

    if os.path.exists(output) and os.path.exists(spec) and os.path.samefile(output, spec):
        raise UsageError(f"-o {output!r} is the spec itself: {what} would replace it", hint=hint)
    if os.path.exists(output) and not stat.S_ISREG(os.stat(output).st_mode) and not os.path.isdir(output):
        with _opened(output, text) as file:
            file.write(text)
        return
    temporary = None
    try:
        handle, temporary = tempfile.mkstemp(prefix=".cnncalc-", suffix=".tmp",
                                             dir=os.path.dirname(os.path.abspath(output)))
        with _opened(handle, text) as file:
            file.write(text)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(temporary, 0o666 & ~mask)  # as open() would make it, not mkstemp's 0600
        if os.path.isdir(output):
            raise IsADirectoryError(21, "Is a directory")
        os.replace(temporary, output)
    finally:
        if temporary is not None and os.path.isfile(temporary):
            os.unlink(temporary)


def _opened(file, text):
    """`file` (a path or a descriptor) open for writing `text`: bytes as they are, str as UTF-8."""
    return open(file, "wb") if isinstance(text, bytes) else open(file, "w", encoding="utf-8")
