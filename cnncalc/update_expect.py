"""`cnncalc check --update-expect`: write a spec's current figures into its `expect:` block.

Snapshot-style: an exact figure that is not met (a total, output_shape, a per-layer value)
is rewritten in the style it was written in ('25,557,032', 25557032, 25_557_032, '4.09G'
with its unit and as many significant digits); budgets (max_*) are limits, never touched. A block without exact
figures gets params, macs and output_shape.

The file is edited as text, never re-emitted: the parser that reads specs (PyYAML, YAML 1.1)
tells where each figure stands, and only the characters of the figures that change are
replaced, so comments, quoting, flow or block style, line endings, a BOM and `...` stay as
they were, and reader and writer cannot disagree about a value. Before the file is
replaced, the new text is read back: it must hold the same data outside `expect:`, build,
and meet every exact figure. Otherwise the update is refused (exit 2), the file untouched.
"""
from __future__ import annotations

import codecs
import os
import re
import stat
import tempfile
from decimal import ROUND_HALF_UP, Decimal

import yaml

from .amounts import parse_amount
from .check import INTERNAL, INVALID, FileResult, Report, check_file, expand_paths
from .diagnostics import Diagnostic, Location, SpecError
from .expect import check
from .language.expectations import LAYER_KEYS, TOTALS
from .language.reader import Mapping, _Loader, load_yaml

DEFAULT_KEYS = ("params", "macs", "output_shape")
TEMP_SUFFIX = ".cnncalc-tmp"  # not .yaml/.yml: `check DIR` never picks a temporary file up
BY_HAND = "edit the expect: figures by hand; `cnncalc check` shows the current ones"
_BREAKS = "\r\n\x85\u2028\u2029"  # what YAML 1.1 counts as a line break
_DOCUMENT_END = re.compile(r"(?:^|(?<=[\r\n]))\.\.\.(?=[ \t\r\n]|$)")
_PROPERTY = re.compile(r"[&!][^ \t\r\n]*(?:[ \t\r\n]+|#[^\r\n]*)*")  # an anchor or tag before a value
_AMOUNT_TEXT = re.compile(r"(\s*)([0-9][0-9_,]*(?:\.[0-9]+)?)(\s*)([A-Za-z]*)(\s*)")


def update_files(paths, *, verify=None) -> tuple:
    """Update every valid spec; returns the report after updating and [(path, changes)]."""
    results, updated = [], []
    for path in expand_paths(paths):
        result, changes = update_file(path, verify=verify)
        results.append(result)
        if changes:
            updated.append((path, changes))
    return Report(results), updated


def update_file(path: str, *, verify=None) -> tuple[FileResult, int]:
    """Rewrite the figures of one spec's expect block. An invalid spec, or one that cannot
    be rewritten safely, is left alone and reported (exit 2); nothing here raises."""
    result = check_file(path, verify=verify)
    if result.status in (INVALID, INTERNAL) or result.library:  # a block library has no expect: to update
        return result, 0
    try:
        changes = _update(path, result.summary)
    except Diagnostic as error:
        problem = error.located(Location(path))
    except OSError as error:
        problem = Diagnostic(f"not updated: cannot write the file: {error.strerror or error}", Location(path),
                             hint="the file was left unchanged")
    except Exception as error:  # a bug in the updater: this file is reported, the others go on
        problem = Diagnostic(f"not updated: {type(error).__name__}: {error}", Location(path),
                             hint="the file was left unchanged; this is a bug in cnncalc, please report it; "
                                  + BY_HAND)
    else:
        return (check_file(path, verify=verify) if changes else result), changes
    result.status = INVALID
    result.problems = [problem]
    return result, 0


def _update(path: str, summary) -> int:
    with open(path, "rb") as handle:
        data = handle.read()
    bom = codecs.BOM_UTF8 if data.startswith(codecs.BOM_UTF8) else b""
    text = data[len(bom):].decode("utf-8")
    new_text, changes = updated_text(text, summary, path)
    if changes:
        confirm(text, new_text, summary, path)
        _write(path, bom + new_text.encode("utf-8"))
    return changes


def updated_text(text: str, summary, path: str = "<spec>") -> tuple[str, int]:
    """The spec's text with its expect block holding `summary`'s figures, and how many changed."""
    doc = load_yaml(text, path)  # the values, as `check` reads them
    root = yaml.compose(text, Loader=_Loader)  # where the same nodes stand in the text
    edits = _Edits(text, path)
    pairs = dict(zip(doc, root.value))
    if "expect" not in doc:
        _add_expect(edits, root, summary)
        return edits.applied(), len(DEFAULT_KEYS)
    key_node, node = pairs["expect"]
    _refuse_shared_anchors(root, key_node, path)
    expect = doc["expect"]
    if expect is None:
        _fill_null(edits, key_node, node, root.flow_style, summary)
        return edits.applied(), len(DEFAULT_KEYS)
    changes = _rewrite(edits, node, expect, summary)
    if not any(key in expect for key in (*TOTALS, "output_shape", "layers")):
        _append(edits, node, [(key, _new_figure(summary, key, node.flow_style)) for key in DEFAULT_KEYS])
        changes += len(DEFAULT_KEYS)
    return edits.applied(), changes


class _Edits:
    """Replacements of spans of the text, applied at once; two different ones of the same
    span (an alias inside expect: asked to hold two figures) are refused."""

    def __init__(self, text: str, path: str):
        self.text, self.path, self.spans = text, path, {}

    def replace(self, start: int, end: int, new: str) -> None:
        if self.spans.setdefault((start, end), new) != new:
            raise _refusal(self.path, "one aliased value in expect: would need two different figures")

    def insert(self, at: int, new: str) -> None:
        self.replace(at, at, new)

    def applied(self) -> str:
        parts, done = [], len(self.text)
        for (start, end), new in sorted(self.spans.items(), reverse=True):
            if end > done:
                raise _refusal(self.path, "two figures to rewrite overlap in the text")
            parts += [self.text[end:done], new]
            done = start
        parts.append(self.text[:done])
        return "".join(reversed(parts))


def _refusal(path: str, why: str) -> SpecError:
    return SpecError(f"not updated: {why} (the file was left unchanged)", Location(path), hint=BY_HAND)


def _refuse_shared_anchors(root, expect_key, path: str) -> None:
    """An anchor defined inside expect: and used outside it, or the reverse: rewriting the
    figure would change the rest of the spec too."""
    inside = [value for key, value in root.value if key is expect_key]
    outside = [key for key, _ in root.value] + [value for key, value in root.value if key is not expect_key]
    if _reachable(outside) & _reachable(inside):
        raise _refusal(path, "expect: shares an anchor (&name / *name) with the rest of the file")


def _reachable(nodes) -> set:
    seen, todo = set(), list(nodes)
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            todo += [part for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            todo += node.value
    return seen


# --- exact figures already in the block -----------------------------------------------

def _rewrite(edits: _Edits, node, expect: Mapping, summary) -> int:
    totals = summary.totals.to_dict()
    records = {record.name: record for record in summary.layers}
    changes = 0
    for (key, value), (_, value_node) in zip(expect.items(), node.value):
        if key in TOTALS:
            changes += _rewrite_amount(edits, value_node, value, totals[key], node.flow_style)
        elif key == "output_shape":
            changes += _rewrite_shape(edits, value_node, value, list(summary.output_shape))
        elif key == "layers" and value:
            for (name, figures), (_, figures_node) in zip(value.items(), value_node.value):
                record = records[str(name)].to_dict()
                for (field, figure), (_, figure_node) in zip(figures.items(), figures_node.value):
                    if field == "output_shape":
                        changes += _rewrite_shape(edits, figure_node, figure, record[field])
                    elif field in LAYER_KEYS:
                        changes += _rewrite_amount(edits, figure_node, figure, record[field],
                                                   figures_node.flow_style)
        # budgets (max_*) are limits a human chose: left as written
    return changes


def _rewrite_amount(edits: _Edits, node, old, new: int, flow: bool) -> int:
    if parse_amount(old, Location(), "").matches(new):
        return 0
    edits.replace(*_span(edits, node), _written_like(edits, node, new, flow))
    return 1


def _written_like(edits: _Edits, node, new: int, flow: bool) -> str:
    """`new` as the scalar `node` was written: quoted or plain, '1,234' with commas, 1_234
    with underscores, '4.09G' with its unit and as many significant digits where that
    matches (else with commas)."""
    if node.style not in (None, "", "'", '"'):
        raise SpecError("not updated: a figure written as a block scalar (| or >) is not rewritten "
                        "(the file was left unchanged)",
                        _where(edits, node), hint=BY_HAND)
    quote = node.style or ""
    match = _AMOUNT_TEXT.fullmatch(node.value)
    if match and match.group(4):  # '4.09G': the unit kept, and as many significant digits
        lead, number, gap, unit, trail = match.groups()
        digits = len(re.sub(r"[^0-9]", "", number).lstrip("0")) or 1
        scaled = Decimal(new) / parse_amount("1" + unit, Location(), "").value
        places = max(0, digits - 1 - scaled.adjusted()) if scaled else 0
        rounded = f"{lead}{scaled.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP):f}{gap}{unit}{trail}"
        if parse_amount(rounded, Location(), "").matches(new):
            return quote + rounded + quote
    if "," in node.value and (quote or not flow):  # a comma ends a plain value in a flow collection
        return f"{quote}{new:,}{quote}"
    if "_" in node.value:
        return f"{quote}{new:_}{quote}"
    return f"{quote}{new}{quote}"


def _rewrite_shape(edits: _Edits, node, old: list, new: list) -> int:
    """Items rewritten in place; items added after the last one in its style; items
    dropped with their lines (block) or their commas (flow)."""
    if list(old) == list(new):
        return 0
    items, text = node.value, edits.text
    if not items or not new:
        edits.replace(*_span(edits, node), "[" + ", ".join(map(str, new)) + "]")
        return 1
    for item, before, after in zip(items, old, new):
        if before != after:
            edits.replace(*_span(edits, item), _written_like(edits, item, after, node.flow_style))
    last = _end(items[-1])
    if len(new) > len(items):
        extra = [str(value) for value in new[len(items):]]
        if node.flow_style:
            edits.insert(last, "".join(", " + value for value in extra))
        else:
            start = _line_start(text, items[-1].start_mark.index)
            dash = text[start:_span(edits, items[-1])[0]]
            if not re.fullmatch(r"[ \t]*-[ \t]+", dash):
                raise _refusal(edits.path, "a list in expect: is laid out in a way that cannot be extended")
            newline = _newline(text, last)
            edits.insert(_line_end(text, last), "".join(newline + dash + value for value in extra))
    elif len(new) < len(items):
        kept = _end(items[len(new) - 1])
        if node.flow_style:
            edits.replace(kept, last, "")
        else:
            edits.replace(_line_end(text, kept), _line_end(text, last), "")
    return 1


# --- figures the block does not have yet ----------------------------------------------

def _new_figure(summary, key: str, flow: bool) -> str:
    """A figure as a new line shows it: 20,714 in a block (as the README writes amounts),
    20714 in a flow collection, where a comma separates entries; [10] for a shape."""
    if key == "output_shape":
        return "[" + ", ".join(map(str, summary.output_shape)) + "]"
    figure = summary.totals.to_dict()[key]
    return str(figure) if flow else f"{figure:,}"


def _add_expect(edits: _Edits, root, summary) -> None:
    """A spec without expect: gets one: at the end of a block mapping (before a `...`), or
    as the last entry of a flow mapping."""
    if root.flow_style:
        figures = ", ".join(f"{key}: {_new_figure(summary, key, True)}" for key in DEFAULT_KEYS)
        _append(edits, root, [("expect", "{" + figures + "}")])
        return
    text = edits.text
    end = _DOCUMENT_END.search(text, root.start_mark.index)
    at = end.start() if end else len(text)
    while at and text[at - 1] in " \t":
        at -= 1
    newline = _newline(text, 0)
    indent = " " * root.value[0][0].start_mark.column
    lines = [f"{indent}expect:"] + [f"{indent}  {key}: {_new_figure(summary, key, False)}" for key in DEFAULT_KEYS]
    before = re.sub(r"\r\n?", "\n", text[:at])
    blank_lines = 0 if re.search(r"\n[ \t]*\n\Z", before) else 1 if before.endswith("\n") else 2
    edits.insert(at, newline * blank_lines + newline.join(lines) + newline)


def _fill_null(edits: _Edits, key_node, node, flow: bool, summary) -> None:
    """`expect:` with nothing after it gets its figures on the lines below; `expect: ~`
    or one inside a flow mapping gets a flow mapping. A tag or anchor on the null goes
    with it (`!!null` would tag the new mapping)."""
    text = edits.text
    start, end = node.start_mark.index, _end(node)
    if flow or start != end:
        figures = ", ".join(f"{key}: {_new_figure(summary, key, True)}" for key in DEFAULT_KEYS)
        edits.replace(start, end, ("" if start != end or text[start - 1] in " \t" else " ") + "{" + figures + "}")
        return
    newline = _newline(text, start)
    indent = " " * (key_node.start_mark.column + 2)
    edits.insert(_line_end(text, start),
                 "".join(f"{newline}{indent}{key}: {_new_figure(summary, key, False)}" for key in DEFAULT_KEYS))


def _append(edits: _Edits, node, entries: list) -> None:
    """New `key: value` entries at the end of a mapping, in its style."""
    text = edits.text
    if node.flow_style:
        last_key, last = node.value[-1] if node.value else (None, None)
        if last is not None and last.start_mark.index >= last_key.end_mark.index:  # not an alias
            at, lead = last.end_mark.index, ", "
        else:  # `{}`, or a last value that is an alias: just inside the closing brace
            at = node.end_mark.index - 1
            while text[at - 1] in " \t" + _BREAKS:
                at -= 1
            lead = "" if text[at - 1] == "{" else " " if text[at - 1] == "," else ", "
        edits.insert(at, lead + ", ".join(f"{key}: {value}" for key, value in entries))
        return
    at = _line_end(text, _end(node))
    newline = _newline(text, at)
    indent = " " * node.value[0][0].start_mark.column
    edits.insert(at, "".join(f"{newline}{indent}{key}: {value}" for key, value in entries))


# --- positions in the text ---------------------------------------------------------------

def _span(edits: _Edits, node) -> tuple[int, int]:
    """Where the node's value stands: after its anchor or tag, which stay."""
    start, end = node.start_mark.index, _end(node)
    while match := _PROPERTY.match(edits.text, start):
        start = match.end()
    return min(start, end), end


def _end(node) -> int:
    """Where the node's text ends. A block collection's own end mark lies past the comments
    and blank lines after it: its last item's end is taken."""
    while isinstance(node, yaml.CollectionNode) and not node.flow_style and node.value:
        node = node.value[-1][1] if isinstance(node, yaml.MappingNode) else node.value[-1]
    return node.end_mark.index


def _where(edits: _Edits, node) -> Location:
    return Location(edits.path, node.start_mark.line + 1, node.start_mark.column + 1)


def _line_start(text: str, index: int) -> int:
    return max(text.rfind(mark, 0, index) for mark in _BREAKS) + 1


def _line_end(text: str, index: int) -> int:
    ends = [at for at in (text.find(mark, index) for mark in _BREAKS) if at >= 0]
    return min(ends, default=len(text))


def _newline(text: str, index: int) -> str:
    """The line break of the line at `index` (else the file's first one, else \\n)."""
    for at in (_line_end(text, index), _line_end(text, 0)):
        if at < len(text):
            return "\r\n" if text.startswith("\r\n", at) else text[at]
    return "\n"


# --- the safety net ---------------------------------------------------------------------

def confirm(old_text: str, new_text: str, summary, path: str = "<spec>") -> None:
    """Refuse (a SpecError) unless the new text reads as the same spec outside expect:,
    builds to the same figures, and meets every exact figure in its expect:."""
    from .language.build import build
    from .summary import summarize

    try:
        old, new = load_yaml(old_text, path), load_yaml(new_text, path)
    except SpecError as error:
        raise _refusal(path, f"the rewritten file would not read back ({error.text})") from None
    if _canonical(_without_expect(old)) != _canonical(_without_expect(new)):
        raise _refusal(path, "the rewrite would change the file outside expect:")
    try:
        network = build(new, path)
        after = summarize(network)
        unmet = [outcome.what for outcome in check(after, network.expect) if not outcome.ok and not outcome.budget]
    except SpecError as error:
        raise _refusal(path, f"the rewritten spec would not check ({error.text})") from None
    if (after.totals, after.output_shape) != (summary.totals, summary.output_shape):
        raise _refusal(path, "the rewritten spec would give other figures")
    if network.expect is None or unmet:
        raise _refusal(path, "the rewritten expect: would still not be met" +
                       (f" ({', '.join(map(str, unmet))})" if unmet else ""))


def _without_expect(doc) -> dict:
    return {key: value for key, value in doc.items() if key != "expect"} if isinstance(doc, dict) else doc


def _canonical(value):
    """Plain data to compare, types included: `true` is not 1, and NaN equals NaN."""
    if isinstance(value, dict):
        return ("map", [(_canonical(key), _canonical(item)) for key, item in value.items()])
    if isinstance(value, list):
        return ("seq", [_canonical(item) for item in value])
    return (type(value).__name__, repr(value))


# --- writing --------------------------------------------------------------------------

def _write(path: str, data: bytes) -> None:
    """Replace the file's bytes. A temporary file in the same folder, with the file's owner
    and mode, is renamed over it, so that a reader never sees half a file. Where a rename
    would lose something (a hard link, an owner we cannot give, a read-only folder), the
    file is written in place instead."""
    target = os.path.realpath(path)  # through a symlink, not over it
    info = os.stat(target)
    mode = stat.S_IMODE(info.st_mode)
    if not mode & 0o222 or not os.access(target, os.W_OK):  # by its mode bits: root could write it anyway
        raise SpecError(f"not updated: the file is read-only (mode {mode:o})",
                        Location(path), hint="make it writable (chmod u+w) to update it, or " + BY_HAND)
    folder = os.path.dirname(target)
    writable_folder = stat.S_IMODE(os.stat(folder).st_mode) & 0o222 and os.access(folder, os.W_OK | os.X_OK)
    if info.st_nlink == 1 and writable_folder and _replaced(target, data, info):
        return
    with open(target, "r+b") as out:
        out.write(data)
        out.truncate()


def _replaced(target: str, data: bytes, info: os.stat_result) -> bool:
    """Rename a temporary file with `data` over `target`; False, and nothing done, where the
    temporary file cannot be given the target's owner."""
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(target), prefix=f".{os.path.basename(target)}.",
                                         suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(handle, "wb") as out:
            made = os.fstat(out.fileno())
            if (made.st_uid, made.st_gid) != (info.st_uid, info.st_gid):
                try:
                    os.fchown(out.fileno(), info.st_uid, info.st_gid)
                except PermissionError:
                    return False
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, stat.S_IMODE(info.st_mode))  # after chown, which clears set-id bits
        os.replace(temporary, target)
        return True
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
