"""A check.Report as text (one line per problem, its hint, then a verdict) or as JSON."""
from __future__ import annotations

from ..diagnostics import shown
from . import json_text
from .console import escape

FORMATS = ("text", "json")


def show(console, output_format: str, report, updated: list) -> None:
    """`updated` lists (path, figures changed) for --update-expect."""
    if output_format == "json":
        data = {**report.to_dict(), "verdict": verdict(report)}
        if updated is not None:
            data["updated"] = updated
        console.file.write(json_text(data) + "\n")
        return
    for path, changes in updated or []:
        console.print(f"{escape(shown(path))}: updated {changes} expect figure{'s' if changes != 1 else ''}",
                      soft_wrap=True)
    for result in report.results:
        for problem in result.problems:  # the Diagnostic made its message and hint safe
            console.print(f"{escape(problem.place)}[bold red]{problem.severity}:[/bold red] {escape(problem.text)}",
                          soft_wrap=True)
            if problem.hint:
                console.print(f"  [cyan]hint:[/cyan] {escape(problem.hint)}", soft_wrap=True)
    style = "green" if report.exit_code == 0 else "bold red"
    console.print(f"[{style}]{escape(shown(verdict(report)))}[/{style}]", soft_wrap=True)


def verdict(report) -> str:
    """One line: 'ok: 3 files checked, 12 expectations met', or what failed and how."""
    from ..check import FAILED, INTERNAL, INVALID, OK  # here: the CLI imports this module for FORMATS
    counts = report.counts()
    files = len(report.results)
    noun = "file" if files == 1 else "files"
    failed_checks = sum(1 for r in report.results for o in r.outcomes if not o.ok)
    mismatches = sum(1 for r in report.results for p in r.problems if p.kind == "verify")
    if report.exit_code == 0:
        checks = sum(len(r.outcomes) for r in report.results)
        return f"ok: {files} {noun} checked, {checks} expectation{'s' if checks != 1 else ''} met"
    parts = []
    if counts[INVALID]:
        parts.append(f"{counts[INVALID]} invalid")
    if counts[FAILED]:
        why = [f"{failed_checks} expectation{'s' if failed_checks != 1 else ''} not met"] if failed_checks else []
        why += [f"{mismatches} layer{'s disagree' if mismatches != 1 else ' disagrees'} when run"] if mismatches else []
        parts.append(f"{counts[FAILED]} failed ({', '.join(why)})")
    if counts[INTERNAL]:
        parts.append(f"{counts[INTERNAL]} internal error{'s' if counts[INTERNAL] != 1 else ''}")
    parts.append(f"{counts[OK]} ok")
    return f"FAILED: {files} {noun} checked: " + ", ".join(parts)
