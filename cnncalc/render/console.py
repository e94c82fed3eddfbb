"""The rich console every command writes through, and when to use colour."""
from __future__ import annotations

import os


def console(stderr: bool = False):
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:  # rich would exit 1 here; the CLI ends quietly instead
            self.quiet = True
            raise BrokenPipeError

    made = _Console(stderr=stderr, highlight=False, soft_wrap=stderr)
    if not made.is_terminal and "COLUMNS" not in os.environ:
        made.width = 400  # piped output: never truncate a table column; tables only use what they need
    return made


def color(stream) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def escape(text: str) -> str:
    """`text` with rich's markup brackets escaped, so a name is printed as written."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)
