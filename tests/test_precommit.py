"""The `cnncalc-check` hook works through the real `pre-commit` tool.

`pre-commit try-repo` installs the hook repository into its own virtual environment
(pip, from PyPI) and runs the hook in a throw-away git repository: once with good specs
(it passes) and once with a broken one (it fails and prints file:line).

try-repo installs the hook repository's committed HEAD, plus tracked files with
uncommitted changes, but not untracked files. So that this test checks the working tree
in a fresh clone and in a checkout with uncommitted or new files alike, it copies the
package (pyproject.toml, README.md, .pre-commit-hooks.yaml, cnncalc/) into a new git
repository and commits it, and try-repo runs against that copy.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from helpers import ROOT

PRE_COMMIT = shutil.which("pre-commit") or os.path.join(os.path.dirname(sys.executable), "pre-commit")

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="pre-commit needs git")

GOOD = """\
name: tiny
input: [1, 8, 8]
layers:
  - {name: conv, type: conv2d, out_channels: 4, kernel_size: 3}
  - {type: flatten}
  - {name: fc, type: linear, out_features: 2}
expect:
  params: 330
  output_shape: [2]
"""


def git(cwd, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    subprocess.run(["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
                   cwd=cwd, check=True, env=env, capture_output=True)


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory):
    """This working tree's package as a committed git repository."""
    repo = tmp_path_factory.mktemp("hook-repo")
    for name in ("pyproject.toml", ".pre-commit-hooks.yaml", "README.md"):
        if os.path.exists(os.path.join(ROOT, name)):
            shutil.copy(os.path.join(ROOT, name), repo / name)
    if not (repo / "README.md").exists():
        (repo / "README.md").write_text("cnncalc\n")
    shutil.copytree(os.path.join(ROOT, "cnncalc"), repo / "cnncalc",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "cnncalc")
    return repo


def try_repo(hook_repo, tmp_path, files: dict):
    """Run `pre-commit try-repo HOOK_REPO cnncalc-check` in a new repository holding `files`."""
    work = tmp_path / "work"
    work.mkdir()
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(textwrap.dedent(text))
    git(work, "init", "-q")
    git(work, "add", "-A")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "NO_COLOR": "1",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    return subprocess.run([PRE_COMMIT, "try-repo", str(hook_repo), "cnncalc-check", "--all-files",
                           "--color", "never", "--verbose"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=900)


def test_hook_passes_on_good_specs(hook_repo, tmp_path):
    result = try_repo(hook_repo, tmp_path, {
        "specs/tiny.yaml": GOOD,
        "specs/nested/copy.yml": GOOD,
        "ci.yaml": "not: [a, spec]\n",  # outside specs/: not checked by default
    })
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "cnncalc check" in output and "Passed" in output
    assert "ok: 2 files checked" in output


def test_hook_fails_on_a_broken_spec_and_prints_file_line(hook_repo, tmp_path):
    broken = GOOD.replace("kernel_size: 3}", "kernel_size: 30}")
    wrong = GOOD.replace("params: 330", "params: 329")
    result = try_repo(hook_repo, tmp_path, {"specs/tiny.yaml": GOOD, "specs/broken.yaml": broken,
                                            "specs/wrong.yaml": wrong})
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Failed" in output
    assert "specs/broken.yaml:4:5: error: layer 'conv'" in output
    assert "specs/wrong.yaml:8:11: error: params: expected 329, got 330" in output
