"""A progress bar for the forward pass, shown only once it has run for a second."""
from __future__ import annotations

import time


class LazyProgress:
    """Called as progress(done, total, layer) before each layer; draws a rich progress
    bar on `console` (a terminal only) once `delay` seconds have passed."""

    def __init__(self, console, delay: float = 1.0):
        self.console, self.delay = console, delay
        self.start = time.perf_counter()
        self.bar = self.task = None

    def __call__(self, done: int, total: int, layer: str) -> None:
        if self.bar is None:
            if done == 0:  # the pass starts now
                self.start = time.perf_counter()
            if time.perf_counter() - self.start < self.delay or not self.console.is_terminal or done >= total:
                return
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("verify"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                TextColumn("{task.description}"), console=self.console, transient=True)
            self.task = self.bar.add_task(layer, total=total, completed=done)
            self.bar.start()
        self.bar.update(self.task, completed=done, description=layer)
        if done >= total:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
