"""Check many spec files in one process: parse, propagate shapes, and evaluate each
spec's `expect:` block (exact figures and budgets).

Every file gets a `FileResult` whatever it holds: a spec that cannot be read or built
is `invalid` (exit 2), one whose expectations or budgets fail is `failed` (exit 1); a
valid block library (blocks for other specs to include, no network) is `ok`.
Nothing a file contains can make `check_files` raise; a bug in cnncalc itself is
recorded as `internal` (exit 3) with its traceback, so that one bad file never hides
the results of the others.
"""
from __future__ import annotations

import os
import shlex
import stat
import time
import traceback
from dataclasses import dataclass, field

from .diagnostics import Diagnostic, Location

OK, FAILED, INVALID, INTERNAL = "ok", "failed", "invalid", "internal"
EXIT_CODES = {OK: 0, FAILED: 1, INVALID: 2, INTERNAL: 3}
SPEC_SUFFIXES = (".yaml", ".yml")
UPDATE_HINT = "if the new figure is right, accept it with: cnncalc check --update-expect {file}"


@dataclass
class FileResult:
    path: str
    status: str = OK
    problems: list = field(default_factory=list)  # Diagnostics, in the order found
    outcomes: list = field(default_factory=list)  # expect.Outcome, passed and failed
    summary: object = None  # summary.Summary when the spec could be built
    library: bool = False  # a valid block library: blocks for other specs to include, no network
    seconds: float = 0.0
    traceback: str | None = None  # only for status "internal"

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def to_dict(self) -> dict:
        data = {"file": self.path, "status": self.status,
                "problems": [problem.to_dict() for problem in self.problems],
                "expect": [outcome.to_dict() for outcome in self.outcomes]}
        if self.library:
            data["library"] = True
        if self.summary is not None:
            data["name"] = self.summary.name
            data["output_shape"] = list(self.summary.output_shape)
            data["totals"] = self.summary.totals.to_dict()
        return data


@dataclass
class Report:
    results: list

    @property
    def exit_code(self) -> int:
        return max((result.exit_code for result in self.results), default=0)

    def counts(self) -> dict:
        counts = {OK: 0, FAILED: 0, INVALID: 0, INTERNAL: 0}
        for result in self.results:
            counts[result.status] += 1
        return counts

    def to_dict(self) -> dict:
        return {"files": [result.to_dict() for result in self.results],
                "counts": self.counts(), "exit_code": self.exit_code}


class Skipped(str):
    """A path found under a folder that is reported and never read: `reason` says why."""

    def __new__(cls, path: str, reason: str):
        skipped = super().__new__(cls, path)
        skipped.reason = reason
        return skipped


def expand_paths(paths) -> list:
    """Files as given; a directory stands for the .yaml/.yml files under it (sorted).

    Under a directory, a symlink that leads out of it, and anything that is not a regular
    file (a FIFO, a device, a socket), is a `Skipped` path: reported, never opened. So is
    a directory with no spec files, and one that cannot be listed."""
    files = []
    for path in paths:
        if os.path.isdir(path):
            top = os.path.realpath(path)
            found = []

            def unreadable(error: OSError) -> None:  # a folder that cannot be listed is reported, not passed over
                found.append(Skipped(error.filename, f"cannot read folder: {error.strerror}"))

            for root, dirs, names in os.walk(path, onerror=unreadable):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found += [_found(os.path.join(root, name), top) for name in names if name.endswith(SPEC_SUFFIXES)]
            files += sorted(found) or [Skipped(path, "no spec files (.yaml/.yml) under this folder")]
        else:
            files.append(path)
    return files


def _found(path: str, top: str) -> str:
    """`path`, or a Skipped one, judged by lstat/stat only: nothing is opened."""
    if os.path.islink(path) and os.path.commonpath([top, os.path.realpath(path)]) != top:
        return Skipped(path, "symlink points outside the checked folder; not followed")
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        return Skipped(path, f"cannot read file: {error.strerror}")
    if not stat.S_ISREG(mode):
        return Skipped(path, "not a regular file (a FIFO, device or socket); not opened")
    return path


def check_file(path: str, *, verify=None) -> FileResult:
    """Check one spec file. `verify`, when given, is called with the built Network and
    must return a list of Diagnostics (empty when the spec's figures hold when run)."""
    started = time.perf_counter()
    result = FileResult(path)
    if isinstance(path, Skipped):
        result.status = INVALID
        result.problems.append(Diagnostic(path.reason, Location(path)))
        return result
    try:
        _check(result, path, verify)
    except Diagnostic as error:
        result.status = INVALID
        result.problems.append(error.located(Location(path)))
    except Exception as error:  # a bug in cnncalc: keep going with the other files
        result.status = INTERNAL
        result.traceback = traceback.format_exc()
        result.problems.append(Diagnostic(f"internal error: {type(error).__name__}: {error}", Location(path),
                                          hint="this is a bug in cnncalc; please report it with this spec",
                                          kind="internal"))
    result.seconds = time.perf_counter() - started
    return result


def _check(result: FileResult, path: str, verify) -> None:
    from .expect import check
    from .language.build import BlockLibrary, load
    from .summary import summarize

    try:
        network = load(path)
    except BlockLibrary:  # read and checked: there is no network to count
        result.library = True
        return
    summary = summarize(network)
    result.summary = summary
    result.outcomes = check(summary, network.expect)
    for outcome in result.outcomes:
        if not outcome.ok:
            hint = None if outcome.budget else UPDATE_HINT.format(file=shlex.quote(path))
            result.problems.append(Diagnostic(outcome.message(), outcome.loc, hint=hint,
                                              kind="budget" if outcome.budget else "expect"))
    if verify is not None:
        result.problems += verify(network)
    if result.problems:
        result.status = FAILED


def verify_problems(network) -> list:
    """`--verify`: run the network with cnncalc.backend (NumPy) and turn every layer whose
    run disagrees with the rules into a Diagnostic at that layer's line."""
    from .backend import verify

    result = verify(network)
    where = {node.name: node.loc for node in network.nodes}
    problems = []
    for row in result.failures:
        details = [f"{what.replace('_', ' ')}: rules say {_shown(check.rule)}, the run gave {_shown(check.run)}"
                   for what, check in row.checks().items() if not check.ok]
        details += row.notes()
        problems.append(Diagnostic("; ".join(details or ["the run disagrees"]),
                                   where.get(row.name, Location(network.file)), layer=row.name, kind="verify"))
    return problems


def _shown(value) -> str:
    from .amounts import figure_text

    return "nothing (it did not run)" if value is None else figure_text(value)


def check_files(paths, *, verify=None) -> Report:
    """Check every file (directories expanded); never raises for what a file holds."""
    return Report([check_file(path, verify=verify) for path in expand_paths(paths)])
