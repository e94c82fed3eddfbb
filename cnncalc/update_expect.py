"""`cnncalc check --update-expect`: write a spec's current figures into its `expect:` block.

Snapshot-style: exact figures already in the block (totals, output_shape, per-layer
values) are rewritten in the style they were written in ('25,557,032', 25557032,
'25_557_032'); budgets (max_*) are limits, never touched. A block without exact figures
gets params, macs and output_shape.

Only the `expect:` section of the file changes. ruamel.yaml (a round-trip YAML library,
imported only here) re-emits that section with its comments and flow/block style, and
the rest of the file is kept byte for byte.
"""
from __future__ import annotations

import io
import os
import tempfile

from .check import INTERNAL, INVALID, FileResult, Report, check_file, expand_paths, problem_from_error
from .errors import Location, SpecError
from .expect import LAYER_KEYS, TOTALS, amount
from .spec.source import read_text

DEFAULT_KEYS = ("params", "macs", "output_shape")


def update_files(paths, *, verify=None) -> tuple[Report, list]:
    """Update every valid spec; returns the report after updating and [(path, changes)]."""
    results, updated = [], []
    for path in expand_paths(paths):
        result, changes = update_file(path, verify=verify)
        results.append(result)
        if changes:
            updated.append((path, changes))
    return Report(results), updated


def update_file(path: str, *, verify=None) -> tuple[FileResult, int]:
    """Rewrite the figures of one spec's expect block; an invalid spec is left alone."""
    result = check_file(path, verify=verify)
    if result.status in (INVALID, INTERNAL):
        return result, 0
    try:
        text = read_text(path)
        new_text, changes = updated_text(text, result.summary, path)
        if changes:
            _write(path, new_text)
    except SpecError as error:
        result.status = INVALID
        result.problems = [problem_from_error(error, path)]
        return result, 0
    return (check_file(path, verify=verify) if changes else result), changes


def updated_text(text: str, summary, path: str = "<spec>") -> tuple[str, int]:
    """The spec's text with its expect block holding `summary`'s figures, and how many changed."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.error import YAMLError

    original = text
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap a line
    newline = "\r\n" if "\r\n" in text else "\n"
    text = text.replace("\r\n", "\n")
    try:
        doc = yaml.load(text)
    except YAMLError as exc:
        raise SpecError(f"cannot round-trip this file to update it: {exc}".splitlines()[0], Location(path)) from None
    lines = _lines(text)
    expect = doc.get("expect")
    if "expect" not in doc or expect is None:
        block = ["expect:\n", *(f"  {key}: {_plain(_figure(None, _actual(summary, key)))}\n" for key in DEFAULT_KEYS)]
        if "expect" in doc:  # an empty `expect:`: replace its line
            start = doc.lc.key("expect")[0]
            lines[start:start + 1] = block
        else:
            if lines and lines[-1].strip():
                block.insert(0, "\n")
            lines += block
        return "".join(lines).replace("\n", newline), len(DEFAULT_KEYS)

    indent = _key_column(expect)  # before new keys arrive: they have no position
    changes = _update(expect, summary)
    if not any(key in expect for key in (*TOTALS, "output_shape", "layers")):
        for key in DEFAULT_KEYS:
            expect[key] = _figure(None, _actual(summary, key))
            changes += 1
    if not changes:
        return original, 0
    keys = list(doc)
    start = doc.lc.key("expect")[0]
    following = keys[keys.index("expect") + 1:]
    end = doc.lc.key(following[0])[0] if following else len(lines)
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1  # blank and comment lines closing the block stay exactly as they are
    if not expect.fa.flow_style():
        yaml.indent(mapping=indent, sequence=indent + 2, offset=indent)
    out = io.StringIO()
    wrapper = CommentedMap()
    wrapper["expect"] = expect
    yaml.dump(wrapper, out)
    dumped = _lines(out.getvalue())
    while len(dumped) > 1 and (not dumped[-1].strip() or dumped[-1].lstrip().startswith("#")):
        dumped.pop()
    if len(dumped) == end - start:
        dumped = [_comment_like(new, old) for new, old in zip(dumped, lines[start:end])]
    lines[start:end] = dumped
    return "".join(lines).replace("\n", newline), changes


def _key_column(mapping) -> int:
    """The column of a block mapping's first key, i.e. its indentation (2 when unknown)."""
    try:
        column = mapping.lc.key(next(iter(mapping)))[1]
    except (StopIteration, TypeError, KeyError, AttributeError):
        return 2
    return column if isinstance(column, int) and column > 0 else 2


def _lines(text: str) -> list:
    """Lines ending in '\\n' (only: str.splitlines would also split at \\x0c, \\u2028 ...)."""
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1] + "\n"] if parts[-1] else [])


def _comment_like(new: str, old: str) -> str:
    """Keep an end-of-line comment in the column it had (ruamel re-spaces it)."""
    at_new, at_old = new.find(" #"), old.find(" #")
    if at_new < 0 or at_old < 0 or new[at_new:].strip() != old[at_old:].strip():
        return new
    code, old_code = new[:at_new].rstrip(), old[:at_old].rstrip()
    old_hash = old.index("#", at_old)
    column = max(old_hash, len(code) + old_hash - len(old_code))
    return code + " " * (column - len(code)) + new[new.index("#", at_new):]


def _update(expect, summary) -> int:
    changes = 0
    for key in list(expect):
        if key in TOTALS or key == "output_shape":
            changes += _set(expect, key, _actual(summary, key))
        elif key == "layers" and expect[key]:
            for name, figures in expect[key].items():
                record = summary.layer(str(name)).to_dict()
                for field in list(figures):
                    if field in LAYER_KEYS:
                        changes += _set(figures, field, record[field])
        # budgets (max_*) are limits a human chose: left as written
    return changes


def _actual(summary, key: str):
    if key == "output_shape":
        return list(summary.output_shape)
    return summary.totals.to_dict()[key]


def _set(mapping, key, new) -> int:
    old = mapping[key]
    if isinstance(new, (list, tuple)):
        if isinstance(old, list) and list(old) == list(new):
            return 0
        seq = _figure(old, list(new))
        mapping[key] = seq
        return 1
    if amount(old, Location(), key) == new:
        return 0
    mapping[key] = _figure(old, new)
    return 1


def _figure(old, new):
    """`new` written like `old`: '1,234' stays with commas, '1_234' with underscores, 1234 plain."""
    from ruamel.yaml.comments import CommentedSeq

    if isinstance(new, (list, tuple)):
        seq = CommentedSeq(new)
        if old is None or not hasattr(old, "fa") or old.fa.flow_style() is not False:
            seq.fa.set_flow_style()
        return seq
    if isinstance(old, int) and not isinstance(old, bool):
        return new
    if isinstance(old, str):
        if "_" in old and "," not in old:
            text = f"{new:_}"
        else:
            text = f"{new:,}"
        return type(old)(text) if type(old) is not str else text
    return f"{new:,}"


def _plain(value) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _write(path: str, text: str) -> None:
    """Replace the file atomically, keeping its permissions."""
    path = os.path.realpath(path)  # through a symlink, not over it
    directory = os.path.dirname(path)
    mode = os.stat(path).st_mode & 0o7777
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".cnncalc-", suffix=".yaml")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
