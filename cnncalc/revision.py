"""A spec as it was at a git revision (`cnncalc diff SPEC --rev REV`), read through git.

Nothing the repository names is run. git itself is found on PATH (absolute entries only),
with every GIT_* variable of the environment dropped (GIT_DIR, GIT_CONFIG_PARAMETERS ...),
and it runs only `rev-parse` and `cat-file` (plain blobs: no textconv, no filters, no
pager). What a repository's config could still start is switched off on git's command
line, which outranks it: the fsmonitor (`core.fsmonitor`), hooks (`core.hooksPath`), and
every transport, through GIT_ALLOW_PROTOCOL set empty, which outranks any
`protocol.<name>.allow` too (and GIT_NO_LAZY_FETCH, from git 2.45): in a partial clone a
missing object would otherwise be fetched, through `core.sshCommand`, an `ext::` remote
or a remote helper that the repository names.

The file at REV is the file of the same path in the repository (its folder as `git
rev-parse --show-prefix` gives it, and its name), symlinks inside the repository followed
as git stores them. The files it includes are read at REV too, by the same rules as on
disk: relative to the including file, never above the repository's top folder."""
from __future__ import annotations

import os
import posixpath
import re
import shutil
import subprocess

from .diagnostics import Location, UsageError
from .language.build import build
from .language.include import outside, relative
from .language.reader import Budget, load_yaml, room, text_of, too_large
from .network import Network

MAX_REV = 256  # characters of a revision: far beyond any branch name or hash
GIT_SECONDS = 30  # for one git command
_UNSAFE_REV = re.compile("[\x00-\x1f\x7f]")
# Settings on git's command line outrank the repository's config
_GIT_OPTIONS = ("--no-pager", "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null",
                "-c", "protocol.allow=never")
REV_HINT = "a commit, branch or tag, such as HEAD~1, main, v1.0 or a hash"
WORK_TREE = "--rev needs SPEC inside a git work tree"
_BLOB = re.compile(rb"([0-9a-f]{40,64}) blob ([0-9]+)")


def load_at(path: str, rev: str, *, variables: dict | None = None, input_shape=None) -> Network:
    """The network the spec at `path` described at revision `rev`, and the files it
    includes as they were then; messages name a file `<REV:its path in the repository>`."""
    files = FilesAt(path, rev)
    budget = Budget()
    name = shown_name(rev, files.top)
    doc = load_yaml(files.read(files.top, budget), name, budget)
    return build(doc, name, variables=variables, input_shape=input_shape, budget=budget, files=files)


def shown_name(rev: str, inside: str) -> str:
    """A file at a revision as messages name it: `<HEAD~1:specs/net.yaml>` (in angle
    brackets, as text that is no file on disk)."""
    return f"<{rev}:{inside}>"


class FilesAt:
    """The spec at `path` and the files it includes, as they were at revision `rev`: a
    file is named by its path in the repository (`real`, as the language's include
    reader calls it), as the including file names it, `..` resolved; git follows
    symlinks inside the repository."""

    def __init__(self, path: str, rev: str):
        _check(rev)
        self.rev = rev
        self.git = _Git(os.path.dirname(os.path.abspath(path)))
        where = self.git.run("rev-parse", "--is-inside-work-tree", "--show-prefix", fails=WORK_TREE).split(b"\n")
        if where[0] != b"true" or len(where) < 2:
            raise UsageError(WORK_TREE)
        self.top = where[1].decode("utf-8", "surrogateescape") + os.path.basename(path)
        self.commit = self.git.run("rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}",
                                   fails=f"{rev!r} is not a commit of this repository", hint=REV_HINT).strip()

    def resolve(self, path: str, loc: Location, including) -> tuple:
        relative(path, loc)
        real = posixpath.normpath(posixpath.join(posixpath.dirname(including.real), path))
        if real == ".." or real.startswith("../"):
            raise outside(path, loc, f": it is {real}, above the repository's top folder")
        return shown_name(self.rev, real), real

    def read(self, inside: str, budget: Budget) -> str:
        """The text of the file at `inside` at the revision, counted toward `budget`."""
        name = shown_name(self.rev, inside)
        if "\n" in inside:
            raise UsageError("--rev cannot name a file with a line break in its path to git")
        request = self.commit + b":" + inside.encode("utf-8", "surrogateescape") + b"\n"
        found = self.git.run("cat-file", "--batch-check", "--follow-symlinks", stdin=request,
                             fails="cannot read from git")
        blob = _BLOB.fullmatch(found.split(b"\n", 1)[0])
        if not blob:
            raise UsageError(f"{inside!r} {_absent(found)} at {self.rev}",
                             hint=f"`git log --oneline -- {inside}` lists the commits that change it")
        if int(blob.group(2)) > room(budget):
            raise too_large(name, budget)
        return text_of(self.git.run("cat-file", "blob", blob.group(1).decode(), fails="cannot read from git"),
                       name, budget)


def _check(rev: str) -> None:
    """A revision git will read as a commit, never as an option or a path."""
    if not rev or rev.startswith("-") or ":" in rev or _UNSAFE_REV.search(rev) or len(rev) > MAX_REV:
        raise UsageError(f"--rev expects a revision, got {rev!r}",
                         hint=f"{REV_HINT} (not starting with '-', without ':' or control characters, at most "
                              f"{MAX_REV} characters); the file is SPEC itself")


def _absent(found: bytes) -> str:
    """What git's --batch-check said instead of a blob: `<object> missing`, `<oid> tree <size>`,
    or `symlink|dangling|loop|notdir <size>` for a symlink it could not follow."""
    words = found.split(b"\n", 1)[0].split(b" ")
    kind = words[-1] if words[-1] == b"missing" else words[1] if len(words) == 3 else words[0]
    return {b"missing": "does not exist", b"notdir": "does not exist", b"tree": "is a folder",
            b"commit": "is a submodule", b"symlink": "is a symlink leading out of the repository",
            b"dangling": "is a symlink to nothing", b"loop": "is a symlink loop"}.get(
        kind, f"is not a file ({kind.decode('utf-8', 'replace')})")


class _Git:
    """git run in `folder`, as the module's doc says."""

    def __init__(self, folder: str):
        self.folder = folder
        path = os.pathsep.join(entry for entry in os.environ.get("PATH", os.defpath).split(os.pathsep)
                               if os.path.isabs(entry))
        self.program = shutil.which("git", path=path)
        if self.program is None:
            raise UsageError("--rev needs git, and there is no git on PATH",
                             hint="install git, or compare two files: cnncalc diff OLD NEW")
        self.env = {name: value for name, value in os.environ.items() if not name.startswith("GIT_")}
        self.env.update(PATH=path, GIT_ALLOW_PROTOCOL="", GIT_NO_LAZY_FETCH="1", GIT_TERMINAL_PROMPT="0",
                        GIT_OPTIONAL_LOCKS="0")

    def run(self, *args: str, fails: str, hint: str | None = None, stdin: bytes = b"") -> bytes:
        """git's output; when git fails, a UsageError saying `fails`, with git's own words."""
        try:
            done = subprocess.run([self.program, *_GIT_OPTIONS, *args], cwd=self.folder, env=self.env, input=stdin,
                                  capture_output=True, timeout=GIT_SECONDS)
        except subprocess.TimeoutExpired:
            raise UsageError(f"{fails}: git gave no answer within {GIT_SECONDS} s") from None
        except OSError as error:  # the folder is gone or unreadable, git cannot start
            raise UsageError(f"{fails}: {error.strerror or error}") from None
        if done.returncode:
            said = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise UsageError(fails + (f": git says: {said[0]}" if said else ""), hint=hint)
        return done.stdout
