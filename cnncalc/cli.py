"""The command line: a thin layer that parses flags, calls the library, renders once.

Exit codes: 0 fine; 1 an expectation (or verification) failed; 2 the spec is invalid
or the command was misused; 3 an internal error (a bug in cnncalc: please report it).
A closed stdout (`| head -1`) ends the output quietly with the command's own exit code;
any other failed write (a full disk) is one line and exit 2.
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from enum import Enum
from typing import List, Optional

import typer

from .diagnostics import ECHO_LIMIT, CnncalcError, UsageError, safe, shown

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Exact shapes, parameters, MACs and FLOPs of CNNs described in YAML.")


def _version(show: bool) -> None:
    if show:
        from . import __version__

        sys.stdout.write(f"cnncalc {__version__}\n")
        raise typer.Exit()


@app.callback()
def _options(version: bool = typer.Option(False, "--version", is_eager=True, callback=_version,
                                          help="Print cnncalc's version and exit.")) -> None:
    """Exact shapes, parameters, MACs and FLOPs of CNNs described in YAML."""


class Format(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"
    csv = "csv"


def _console(stderr: bool = False):
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:  # rich would exit 1 here; `_writing` ends quietly instead
            self.quiet = True
            raise BrokenPipeError

    console = _Console(stderr=stderr, highlight=False, soft_wrap=stderr)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 400  # piped output: never truncate a table column; tables only use what they need
    return console


def _color(stream) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


class OutputError(CnncalcError):
    """The result could not be written (a full disk, a closed terminal)."""


@contextmanager
def _writing():
    """Around the writing of a command's result. A reader that went away (`| head -1`)
    ends the output quietly, as it does for other Unix tools, and the command keeps its
    exit code; any other write error is one line and exit 2."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        _stdout_to_devnull()
    except OSError as error:
        _stdout_to_devnull()
        raise OutputError(f"cannot write the output: {error.strerror or error}") from None


def _stdout_to_devnull() -> None:
    """What is still buffered for stdout goes nowhere, so Python's flush at exit cannot fail."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def report_error(error: CnncalcError) -> None:
    """Compiler-style: `file:line:col: error: ...`, the source line, a caret, a hint.
    Every piece that comes from the spec is made safe (see errors.shown)."""
    console = _console(stderr=True)
    console.print(f"[bold red]{_escape(error.headline())}[/bold red]")
    source = _source_line(error)
    if source is not None:
        line, caret = source
        console.print(f"  {_escape(line)}\n  {' ' * caret}[red]^[/red]")
    if error.hint:
        console.print(f"  [cyan]hint:[/cyan] {_escape(error.hint)}")


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _source_line(error: CnncalcError) -> tuple[str, int] | None:
    """The spec's line at the error, escaped and at most ECHO_LIMIT characters around the
    column, with the caret's offset in what is shown."""
    loc = error.loc
    if loc is None or not loc.line or loc.file.startswith("<"):
        return None
    try:
        with open(loc.file, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if number == loc.line:
                    return _window(line.rstrip("\n"), max(loc.col - 1, 0))
    except (OSError, UnicodeDecodeError):
        return None
    return None


def _window(line: str, col: int) -> tuple[str, int]:
    """At most ECHO_LIMIT characters of `line` around 0-based `col`, escaped, and where `col` is in them."""
    start = max(0, min(col - ECHO_LIMIT // 2, len(line) - ECHO_LIMIT))
    end = start + ECHO_LIMIT
    before, after = ("…" if start else ""), ("…" if end < len(line) else "")
    return before + safe(line[start:end]) + after, len(before) + len(safe(line[start:col]))


def run(action) -> None:
    """Run a command body, turning errors into messages and exit codes."""
    from .gcpause import without_cycle_collection

    try:
        code = without_cycle_collection(action)() or 0
    except CnncalcError as error:
        _report(report_error, error)
        code = error.exit_code
    except KeyboardInterrupt:
        code = 130
    except Exception as error:  # a bug: say so plainly, without a traceback
        _report(_report_bug, error)
        code = 3
    raise typer.Exit(code)


def _report(report, error) -> None:
    try:
        report(error)
    except BrokenPipeError:  # stderr closed too: nothing more to say
        pass


def _report_bug(error: Exception) -> None:
    _console(stderr=True).print(f"[bold red]internal error:[/bold red] {type(error).__name__}: "
                                f"{_escape(shown(error))}\n  please report this with the spec that caused it")


def parse_overrides(pairs: list) -> dict:
    overrides = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--set expects NAME=VALUE, got {pair!r}", hint="e.g. --set width=64")
        overrides[name.strip()] = value.strip()
    return overrides


def parse_shape(text: str | None):
    if text is None:
        return None
    try:
        dims = [int(part) for part in text.replace("x", ",").split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"--input expects sizes such as 3,224,224, got {text!r}") from None
    if not dims:
        raise UsageError(f"--input expects sizes such as 3,224,224, got {text!r}")
    if any(d < 1 for d in dims):
        raise UsageError(f"--input sizes must be positive, got {text!r}")
    return dims


def load_network(spec: str, overrides: list, input_shape: str | None):
    from .language.build import load

    return load(spec, variables=parse_overrides(overrides), input_shape=parse_shape(input_shape))


def _as_written(network, spec: str, variables: list, input_shape: str | None) -> bool:
    """Whether `network`, built with --set and --input, is the network the spec describes
    (the same evaluated variables and input shape); when not, say that expect: is skipped."""
    if not variables and input_shape is None:
        return True
    from .language.build import load

    overrides = parse_overrides(variables)
    try:
        written = load(spec)
    except CnncalcError:  # the spec builds only with the overrides
        changed = [f"--set {name}={value}" for name, value in overrides.items()]
        changed += [f"--input {input_shape}"] if input_shape is not None else []
    else:
        changed = [f"--set {name}={value}" for name, value in overrides.items()
                   if written.variables.get(name) != network.variables.get(name)]
        changed += [f"--input {input_shape}"] if tuple(written.input_shape) != tuple(network.input_shape) else []
    if changed:
        _console(stderr=True).print(f"note: expect: not checked: {_escape(shown(' '.join(changed)))} "
                                    f"change{'s' if len(changed) == 1 else ''} the network")
    return not changed


SetOption = typer.Option(None, "--set", metavar="NAME=VALUE", help="Override a variable of the spec's vars:.")
InputOption = typer.Option(None, "--input", metavar="C,H,W", help="Override the spec's input shape.")


@app.command()
def summary(
    spec: str = typer.Argument(..., metavar="SPEC", help="A YAML network spec."),
    input_shape: Optional[str] = InputOption,
    variables: Optional[List[str]] = SetOption,
    batch: int = typer.Option(1, "--batch", min=1, help="Batch size: scales MACs, FLOPs and activation memory."),
    depth: Optional[int] = typer.Option(None, "--depth", min=1,
                                        help="Show N levels of blocks: deeper instances fold into one row each."),
    output_format: Format = typer.Option(Format.table, "--format", "-f", help="Output format."),
) -> None:
    """Print every layer's output shape, parameters, MACs and FLOPs, and the totals."""

    def action():
        from .render import summary as render
        from .expect import check
        from .fold import fold
        from .summary import summarize

        network = load_network(spec, variables, input_shape)
        result = summarize(network, batch=batch)
        # expect: describes the spec as written, per sample (as `check` sees it): checked
        # whatever --batch says, and not at all when --set or --input change the network
        outcomes = []
        if network.expect and _as_written(network, spec, variables, input_shape):
            outcomes = check(result if batch == 1 else summarize(network), network.expect)
        rows = result.layers if depth is None else fold(result.layers, depth)
        with _writing():
            if output_format is Format.json:
                sys.stdout.write(render.to_json(result, outcomes, rows) + "\n")
            elif output_format is Format.markdown:
                sys.stdout.write(render.to_markdown(result, rows, outcomes))
            elif output_format is Format.csv:
                sys.stdout.write(render.to_csv(rows))
            else:
                sys.stdout.write(render.table_text(result, rows, outcomes, color=_color(sys.stdout)))
        return 1 if any(not outcome.ok for outcome in outcomes) else 0

    run(action)


@app.command()
def layers() -> None:
    """List the layer types a spec can use, with their arguments."""

    def action():
        from rich.table import Table

        from .layers import REGISTRY

        table = Table(header_style="bold", show_lines=False)
        table.add_column("type", style="cyan", no_wrap=True)
        table.add_column("kind")
        table.add_column("arguments (=default)")
        for name, cls in sorted(REGISTRY.items(), key=lambda item: (item[1].category, item[0])):
            args = "\n".join(_argument_text(arg, spec) for arg, spec in cls.args.items())
            table.add_row(name, cls.category, args or "-")
        with _writing():
            _console().print(table)

    run(action)


def _argument_text(name: str, arg) -> str:
    if arg.required:
        return f"[bold]{name}[/bold] (required)"
    if arg.default is None:  # no fixed default: its help says what it means when omitted
        return f"{name}: {_escape(arg.doc)}"
    return f"{name}={arg.default!r}"


class CheckFormat(str, Enum):
    text = "text"
    json = "json"


@app.command()
def check(
    files: List[str] = typer.Argument(..., metavar="FILE...",
                                      help="Spec files (a directory stands for the .yaml/.yml files in it)."),
    output_format: CheckFormat = typer.Option(CheckFormat.text, "--format", "-f",
                                              help="text: one problem per line; json: for tools."),
    verify: bool = typer.Option(False, "--verify", help="Also run each network and compare (needs the backend)."),
    update_expect: bool = typer.Option(False, "--update-expect",
                                       help="Write the current figures into each spec's expect: block."),
) -> None:
    """Check specs: shapes chain, and every expect: figure and budget holds.

    Exit 0 all good, 1 an expectation or budget failed, 2 a spec is invalid."""

    def action():
        from .render import summary as render
        from .check import check_files, verify_problems

        verifier = verify_problems if verify else None
        if update_expect:
            from .update_expect import update_files

            report, updated = update_files(files, verify=verifier)
        else:
            report, updated = check_files(files, verify=verifier), []
        with _writing():
            if output_format is CheckFormat.json:
                data = report.to_dict()
                if update_expect:
                    data["updated"] = updated
                sys.stdout.write(render.json_text(data) + "\n")
            else:
                _print_check(_console(), report, updated)
        return report.exit_code

    run(action)


def _print_check(console, report, updated: list) -> None:
    for path, changes in updated:
        console.print(f"{_escape(shown(path))}: updated {changes} expect figure{'s' if changes != 1 else ''}",
                      soft_wrap=True)
    for result in report.results:
        for problem in result.problems:  # messages and hints are made safe by check.Problem
            where = f"{shown(problem.loc, 2 * ECHO_LIMIT)}: " if problem.loc else ""
            console.print(f"{_escape(where)}[bold red]error:[/bold red] {_escape(problem.message)}",
                          soft_wrap=True)
            if problem.hint:
                console.print(f"  [cyan]hint:[/cyan] {_escape(problem.hint)}", soft_wrap=True)
    style = "green" if report.exit_code == 0 else "bold red"
    console.print(f"[{style}]{_escape(shown(report.verdict()))}[/{style}]", soft_wrap=True)


class VerifyFormat(str, Enum):
    table = "table"
    json = "json"


class VerifyDtype(str, Enum):
    float32 = "float32"
    float64 = "float64"


@app.command()
def verify(
    spec: str = typer.Argument(..., metavar="SPEC", help="A YAML network spec."),
    input_shape: Optional[str] = InputOption,
    variables: Optional[List[str]] = SetOption,
    gpu: bool = typer.Option(False, "--gpu", help="Run on the GPU with CuPy (pip install 'cnncalc\\[gpu]')."),
    batch: int = typer.Option(1, "--batch", min=1, help="Batch size of the random input."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random weights and input."),
    dtype: VerifyDtype = typer.Option(VerifyDtype.float32, "--dtype", help="Floating-point type of the run."),
    max_memory: Optional[str] = typer.Option(None, "--max-memory", metavar="SIZE",
                                             help="Refuse to run above this estimated peak (e.g. 4GB); "
                                                  "default: half the available memory."),
    output_format: VerifyFormat = typer.Option(VerifyFormat.table, "--format", "-f", help="Output format."),
) -> None:
    """Run the network for real and check every layer's shape, parameters and MACs.

    Random He/Glorot weights and input, one forward pass; actual shapes, parameters and executed MACs vs the rules.

    Exit 0 all agree, 1 a mismatch or NaN/Inf, 2 an invalid spec or an unavailable backend."""

    def action():
        from .backend import verify as run_verify
        from .backend.memory import parse_size
        from .backend.progress import LazyProgress
        from .render.verify import print_table, to_json

        limit = None if max_memory is None else parse_size(max_memory)
        network = load_network(spec, variables, input_shape)
        progress = LazyProgress(_console(stderr=True))
        try:
            result = run_verify(network, backend="cupy" if gpu else "numpy", batch=batch, seed=seed,
                                dtype=dtype.value, max_memory=limit, progress=progress)
        finally:
            progress.close()
        with _writing():
            if output_format is VerifyFormat.json:
                sys.stdout.write(to_json(result) + "\n")
            else:
                print_table(_console(), result)
        return 0 if result.ok else 1

    run(action)


def main() -> None:
    try:
        app(prog_name="cnncalc")
    except OSError as error:  # writing --help or --version failed (commands report their own, in run)
        _stdout_to_devnull()
        sys.stderr.write(f"error: cannot write the output: {error.strerror or error}\n")
        sys.exit(2)
