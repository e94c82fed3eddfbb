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

from .diagnostics import Diagnostic, UsageError
from .render.check import FORMATS as check_formats
from .render.console import console
from .render.summary import FORMATS as summary_formats
from .render.verify import FORMATS as verify_formats

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


def _choices(name: str, values) -> type[Enum]:
    """A typer choice from the names a renderer (or the backend) offers: one list, not two."""
    return Enum(name, {value: value for value in values}, type=str)


Format = _choices("Format", summary_formats)
CheckFormat = _choices("CheckFormat", check_formats)
VerifyFormat = _choices("VerifyFormat", verify_formats)
VerifyDtype = _choices("VerifyDtype", ("float32", "float64"))


class OutputError(Diagnostic):
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


def run(action) -> None:
    """Run a command body, turning errors into messages and exit codes."""
    from .gcpause import without_cycle_collection
    from .render import diagnostics

    try:
        code = without_cycle_collection(action)() or 0
    except Diagnostic as error:
        _report(diagnostics.show, error)
        code = error.exit_code
    except KeyboardInterrupt:
        code = 130
    except Exception as error:  # a bug: say so plainly, without a traceback
        _report(diagnostics.show_bug, error)
        code = 3
    raise typer.Exit(code)


def _report(show, error) -> None:
    try:
        show(console(stderr=True), error)
    except BrokenPipeError:  # stderr closed too: nothing more to say
        pass


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
    except Diagnostic:  # the spec builds only with the overrides
        changed = [f"--set {name}={value}" for name, value in overrides.items()]
        changed += [f"--input {input_shape}"] if input_shape is not None else []
    else:
        changed = [f"--set {name}={value}" for name, value in overrides.items()
                   if written.variables.get(name) != network.variables.get(name)]
        changed += [f"--input {input_shape}"] if tuple(written.input_shape) != tuple(network.input_shape) else []
    if changed:
        from .render import diagnostics

        diagnostics.show(console(stderr=True), Diagnostic(
            f"expect: not checked: {' '.join(changed)} change{'s' if len(changed) == 1 else ''} the network",
            severity="note"))
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
        from .expect import check
        from .fold import fold
        from .render import summary as render
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
            render.show(sys.stdout, output_format.value, result, rows, outcomes)
        return 1 if any(not outcome.ok for outcome in outcomes) else 0

    run(action)


@app.command()
def layers() -> None:
    """List the layer types a spec can use, with their arguments."""

    def action():
        from .layers import REGISTRY
        from .render import layers as render

        with _writing():
            render.show(console(), REGISTRY)

    run(action)


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
        from .check import check_files, verify_problems
        from .render import check as render

        verifier = verify_problems if verify else None
        if update_expect:
            from .update_expect import update_files

            report, updated = update_files(files, verify=verifier)
        else:
            report, updated = check_files(files, verify=verifier), None
        with _writing():
            render.show(console(), output_format.value, report, updated)
        return report.exit_code

    run(action)


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
        from .render import verify as render

        limit = None if max_memory is None else parse_size(max_memory)
        network = load_network(spec, variables, input_shape)
        progress = LazyProgress(console(stderr=True))
        try:
            result = run_verify(network, backend="cupy" if gpu else "numpy", batch=batch, seed=seed,
                                dtype=dtype.value, max_memory=limit, progress=progress)
        finally:
            progress.close()
        with _writing():
            render.show(console(), output_format.value, result)
        return 0 if result.ok else 1

    run(action)


def main() -> None:
    try:
        app(prog_name="cnncalc")
    except OSError as error:  # writing --help or --version failed (commands report their own, in run)
        _stdout_to_devnull()
        sys.stderr.write(f"error: cannot write the output: {error.strerror or error}\n")
        sys.exit(2)
