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
from .export import TARGETS as EXPORT_TARGETS
from .render.check import FORMATS as check_formats
from .render.explain import FORMATS as explain_formats
from .render.console import console
from .render.diff import FORMATS as diff_formats
from .render.summary import FORMATS as summary_formats
from . import conventions
from .render.verify import FORMATS as verify_formats
from .training import OPTIMIZERS, PRECISIONS

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
ConventionTool = _choices("ConventionTool", conventions.TOOLS)
CheckFormat = _choices("CheckFormat", check_formats)
VerifyFormat = _choices("VerifyFormat", verify_formats)
VerifyDtype = _choices("VerifyDtype", ("float32", "float64"))
TrainingOptimizer = _choices("TrainingOptimizer", OPTIMIZERS)
TrainingPrecision = _choices("TrainingPrecision", PRECISIONS)
SizesFormat = _choices("SizesFormat", ("table", "json"))
RankFigure = _choices("RankFigure", ("params", "macs", "flops"))
DiagramFormat = _choices("DiagramFormat", ("mermaid", "dot", "svg"))
ExplainFormat = _choices("ExplainFormat", explain_formats)
DiffFormat = _choices("DiffFormat", diff_formats)
ExportTarget = _choices("ExportTarget", EXPORT_TARGETS)


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
    """--input: sizes (3,224,224), names for symbolic sizes (3,H,W), or ranges for a sweep
    (3,224..640..32: first..last..step, one shape per size)."""
    if text is None:
        return None
    from .sweep import parse_input

    return parse_input(text)


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
        _note(f"expect: not checked: {' '.join(changed)} change{'s' if len(changed) == 1 else ''} the network")
    return not changed


def _note(text: str) -> None:
    from .render import diagnostics

    diagnostics.show(console(stderr=True), Diagnostic(text, severity="note"))


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
    rf: bool = typer.Option(False, "--rf", help="Also each layer's receptive field: size, jump and offset per "
                                                "spatial axis of the input."),
    percent: bool = typer.Option(False, "--percent", help="Also each row's share of the params and MACs."),
    by_type: bool = typer.Option(False, "--by-type", help="One row per layer type: its layers' figures summed."),
    top: Optional[int] = typer.Option(None, "--top", min=1, metavar="N", help="Only the N heaviest rows (--rank)."),
    rank: RankFigure = typer.Option(RankFigure.macs, "--rank", help="The figure --top ranks by."),
    output_format: Format = typer.Option(Format.table, "--format", "-f", help="Output format."),
    convention: Optional[ConventionTool] = typer.Option(
        None, "--convention", help="The figures this peer tool prints for the network, in its own terms, and "
                                   "why each differs from cnncalc's (table, json or markdown)."),
    training: bool = typer.Option(False, "--training",
                                  help="Also the memory of a training step: weights, gradients, optimizer state, "
                                       "saved activations, and the peak at --batch."),
    optimizer: Optional[TrainingOptimizer] = typer.Option(None, "--optimizer",
                                                          help="For --training (implies it); default adam."),
    precision: Optional[TrainingPrecision] = typer.Option(None, "--precision",
                                                          help="For --training (implies it); default fp32."),
    max_batch: Optional[str] = typer.Option(None, "--max-batch", metavar="SIZE",
                                            help="For --training (implies it): the largest batch whose peak fits "
                                                 "in SIZE: 24GB (10^9 bytes each), 24GiB (2^30 bytes each), 512MB."),
) -> None:
    """Print every layer's output shape, parameters, MACs and FLOPs, and the totals."""

    def action():
        from .expect import check
        from .render import summary as render
        from .summary import summarize
        from .views import Views

        views = Views(depth, rf, percent, by_type, top, rank.value, training, optimizer and optimizer.value,
                      precision and precision.value, max_batch, convention and convention.value)
        shape = parse_shape(input_shape)
        sweep = shape is not None and any(isinstance(size, range) for size in shape)
        _offered(output_format.value, views)
        limit = views.check(sweep)
        if sweep:
            from .render import sweep as render_sweep
            from .sweep import sweep as swept

            rows = swept(spec, shape, parse_overrides(variables), batch)
            with _writing():
                render_sweep.show(sys.stdout, output_format.value, rows)
            return 0
        network = load_network(spec, variables, input_shape)
        result = summarize(network, batch=batch)
        if views.convention is not None:
            from .render import conventions as render_conventions

            with _writing():
                render_conventions.show(sys.stdout, output_format.value, views.peers(result))
            return 0
        # expect: describes the spec as written, per sample (as `check` sees it): checked
        # whatever --batch says, and not at all when --set or --input change the network
        outcomes = []
        if network.expect and _as_written(network, spec, variables, input_shape):
            if result.symbolic:
                _note("expect: not checked: the input is symbolic, the figures are formulas")
            else:
                outcomes = check(result if batch == 1 else summarize(network), network.expect)
        rows, fields, memory = views.rows(result), views.fields(result), views.memory(result)
        with _writing():
            if memory is None:
                render.show(sys.stdout, output_format.value, result, rows, outcomes, fields, percent)
            else:
                from .render import training as render_training

                render_training.show(sys.stdout, output_format.value, result, rows, outcomes, memory, limit)
        unfit = limit is not None and memory.max_batch(limit) == 0  # not even one sample fits: a budget not met
        return 1 if unfit or any(not outcome.ok for outcome in outcomes) else 0

    run(action)


def _offered(output_format: str, views) -> None:
    """Refuse a --format that has no room for what `views` shows."""
    if views.training_on:
        from .render.training import FORMATS

        if output_format not in FORMATS:
            raise UsageError(f"--training is not offered with --format {output_format}: CSV has one row per layer",
                             hint=f"use --format {' or '.join(FORMATS)}")
    if views.convention is not None:
        from .render.conventions import FORMATS

        if output_format not in FORMATS:
            raise UsageError(f"--convention prints {', '.join(FORMATS)}, not {output_format}")


@app.command()
def sizes(
    spec: str = typer.Argument(..., metavar="SPEC", help="A YAML network spec."),
    size_range: str = typer.Option("1..1024", "--range", metavar="FIRST..LAST",
                                   help="The sizes to try, on every spatial axis at once."),
    at: Optional[str] = typer.Option(None, "--at", metavar="S,S,...",
                                     help="Also print MACs and memory at these sizes."),
    variables: Optional[List[str]] = SetOption,
    batch: int = typer.Option(1, "--batch", min=1, help="Batch size for --at's figures."),
    output_format: SizesFormat = typer.Option(SizesFormat.table, "--format", "-f", help="Output format."),
) -> None:
    """Which input sizes the network takes: the valid ones, the smallest, the pattern."""

    def action():
        from .render import sweep as render
        from .sweep import parse_input, summaries_at, valid_sizes

        first_last = parse_input(size_range)
        if len(first_last) != 1 or not isinstance(first_last[0], range) or first_last[0].step != 1:
            raise UsageError(f"--range expects FIRST..LAST, got {size_range!r}", hint="e.g. --range 32..1024")
        report = valid_sizes(spec, parse_overrides(variables), first_last[0].start, first_last[0].stop - 1)
        rows = []
        if at is not None:
            picked = parse_input(at)
            if not all(isinstance(size, int) for size in picked):
                raise UsageError(f"--at expects sizes such as 224,320,512, got {at!r}")
            rows = summaries_at(spec, [report.shape_at(size) for size in picked], parse_overrides(variables), batch)
        with _writing():
            render.show_sizes(sys.stdout, output_format.value, report, rows)

    run(action)


@app.command()
def explain(
    spec: str = typer.Argument(..., metavar="SPEC", help="A YAML network spec."),
    names: Optional[List[str]] = typer.Argument(None, metavar="[LAYER]...", help="Layers to explain (default: all)."),
    input_shape: Optional[str] = InputOption,
    variables: Optional[List[str]] = SetOption,
    batch: int = typer.Option(1, "--batch", min=1, help="Batch size: scales MACs, FLOPs and activation memory."),
    output_format: ExplainFormat = typer.Option(ExplainFormat.text, "--format", "-f", help="Output format."),
) -> None:
    """How each figure is derived: the rule in symbols, with the layer's numbers, the result."""

    def action():
        from .explain import explain as explained
        from .render import explain as render

        result = explained(load_network(spec, variables, input_shape), names or None, batch=batch)
        with _writing():
            render.show(sys.stdout, output_format.value, result)

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


@app.command()
def diff(
    old: str = typer.Argument(..., metavar="OLD", help="The spec before; with --rev, the spec in the working tree."),
    new: Optional[str] = typer.Argument(None, metavar="[NEW]", help="The spec after (not with --rev)."),
    rev: Optional[str] = typer.Option(None, "--rev", metavar="REV",
                                      help="Compare OLD with the same file at this git revision (the before)."),
    input_shape: Optional[str] = InputOption,
    variables: Optional[List[str]] = SetOption,
    batch: int = typer.Option(1, "--batch", min=1, help="Batch size of both: scales MACs, FLOPs and activation memory."),
    depth: Optional[int] = typer.Option(None, "--depth", min=1,
                                        help="Compare N levels of blocks: deeper instances fold into one row each."),
    max_increase: Optional[str] = typer.Option(None, "--max-increase", metavar="PERCENT",
                                               help="Exit 1 when params, MACs, FLOPs, parameter or activation memory "
                                                    "grow by more than this, e.g. 5%."),
    output_format: DiffFormat = typer.Option(DiffFormat.table, "--format", "-f", help="Output format."),
) -> None:
    """Show what changed between two specs, or a spec and its git revision: layers added,
    removed and changed (matched by name), and the totals' deltas.

    --set, --input and --batch apply to both. Exit 0 fine, 1 a total grew beyond
    --max-increase, 2 an invalid spec or usage."""

    def action():
        from .diff import diff as compare, parse_percent
        from .language.build import load
        from .render import diff as render
        from .summary import summarize

        limit = None if max_increase is None else parse_percent(max_increase)
        if (new is None) == (rev is None):
            raise UsageError("diff compares two specs (OLD NEW) or one spec with a git revision (SPEC --rev REV)",
                             hint="e.g. cnncalc diff specs/resnet18.yaml specs/resnet50.yaml, or "
                                  "cnncalc diff specs/net.yaml --rev HEAD~1")
        overrides, shape = parse_overrides(variables), parse_shape(input_shape)
        if shape is not None and not all(type(size) is int for size in shape):  # a sweep's range, a symbolic size
            raise UsageError(f"diff compares the networks at one input shape, got --input {input_shape!r}",
                             hint="give sizes, such as --input 3,224,224")
        if rev is None:
            before = load(old, variables=overrides, input_shape=shape)
            after = load(new, variables=overrides, input_shape=shape)
        else:
            from .revision import load_at

            after = load(old, variables=overrides, input_shape=shape)
            before = load_at(old, rev, variables=overrides, input_shape=shape)
        result = compare(summarize(before, batch=batch), summarize(after, batch=batch), depth=depth)
        with _writing():
            render.show(sys.stdout, output_format.value, result, limit)
        return 1 if limit is not None and result.exceeded(limit) else 0

    run(action)


@app.command()
def diagram(
    spec: str = typer.Argument(..., metavar="SPEC", help="A YAML network spec."),
    input_shape: Optional[str] = InputOption,
    variables: Optional[List[str]] = SetOption,
    depth: Optional[int] = typer.Option(None, "--depth", min=1,
                                        help="Draw N levels of blocks: deeper instances are one node each."),
    output_format: DiagramFormat = typer.Option(DiagramFormat.mermaid, "--format", "-f", help="Output format."),
) -> None:
    """Draw the network: each layer's name, type, output shape and MACs; blocks as clusters."""

    def action():
        from .diagram import diagram as drawn
        from .render import diagram as render
        from .summary import summarize

        result = summarize(load_network(spec, variables, input_shape))
        if result.symbolic:
            raise UsageError("diagram draws one network: give the symbolic sizes numbers",
                             hint="e.g. --input 3,224,224 or --set H=224")
        with _writing():
            render.show(sys.stdout, output_format.value, drawn(result, depth))

    run(action)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the spec language, for editors (yaml-language-server).

    The package ships it as cnncalc/spec.schema.json; both come from the layer registry."""

    def action():
        from .schema import text

        with _writing():
            sys.stdout.write(text())

    run(action)


def _emit(result: str | bytes, output: str | None, spec: str, what: str, hint: str) -> None:
    """A command's whole result to stdout, or with -o to a file, written safely (output.py)."""
    if output is None:
        with _writing():
            sys.stdout.write(result)
        return
    from .output import write_file

    try:
        write_file(result, output, spec, what, hint)
    except OSError as error:
        raise OutputError(f"cannot write {output!r}: {error.strerror or error}") from None


@app.command()
def export(
    spec: str = typer.Argument(..., help="Path to the spec YAML."),
    to: ExportTarget = typer.Option(..., "--to", help="The framework to write: pytorch (source) or onnx (a model)."),
    output: Optional[str] = typer.Option(None, "--output", "-o",
                                         help="Write to this file (default: stdout; onnx needs a file)."),
    variables: Optional[List[str]] = SetOption,
    input_shape: Optional[str] = InputOption,
    seed: Optional[int] = typer.Option(None, "--seed", help="onnx: seed of the weights it carries, as verify's "
                                                            "(default 0)."),
) -> None:
    """Write the network as source code to train (a plain PyTorch nn.Module file), or as an
    ONNX model carrying verify's weights.

    One module attribute (ONNX: node) per spec layer, named as in the spec; one class per block."""

    def action():
        from .export import check_options, export as exported

        check_options(to.value, output, seed)
        _emit(exported(load_network(spec, variables, input_shape), to.value, seed), output, spec,
              "the export", "write the export to a file of its own")

    run(action)


@app.command()
def report(
    spec: str = typer.Argument(..., metavar="SPEC", help="A YAML network spec."),
    output: Optional[str] = typer.Option(None, "--output", "-o", help="Write to this file (default: stdout)."),
    input_shape: Optional[str] = InputOption,
    variables: Optional[List[str]] = SetOption,
    depth: Optional[int] = typer.Option(None, "--depth", min=1,
                                        help="Show N levels of blocks: deeper instances are one row and node each."),
    rf: bool = typer.Option(False, "--rf", help="Also each row's receptive field: size, jump and offset."),
) -> None:
    """Write one self-contained HTML page: the totals, the diagram, and a table of the
    layers that sorts by any column. It fetches nothing when opened."""

    def action():
        from .render.report import report as page
        from .summary import summarize

        _emit(page(summarize(load_network(spec, variables, input_shape)), depth, rf), output, spec,
              "the report", "write the report to an .html file of its own")

    run(action)


def main() -> None:
    try:
        app(prog_name="cnncalc")
    except OSError as error:  # writing --help or --version failed (commands report their own, in run)
        _stdout_to_devnull()
        sys.stderr.write(f"error: cannot write the output: {error.strerror or error}\n")
        sys.exit(2)
