"""Files on disk: which to work on (git's .gitignore, generated files), reading them back
before a write, writing them atomically, and the unified diffs the CLI prints."""

from __future__ import annotations

import difflib
import hashlib
import os
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

_ALWAYS_SKIPPED_DIRS = {".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", ".tox"}


# -- walking ---------------------------------------------------------------------------


def _git_root(path: Path) -> Path | None:
    try:
        out = subprocess.run(
            [
                "git",
                "-C",
                str(path if path.is_dir() else path.parent),
                "rev-parse",
                "--show-toplevel",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return None
    return Path(out.stdout.strip()) if out.returncode == 0 else None


def _git_files(root: Path, under: Path) -> list[Path] | None:
    """Tracked and untracked-but-not-ignored files under `under` (git's own .gitignore)."""
    try:
        out = subprocess.run(
            [
                "git",
                "-C",
                str(root),
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
                "--",
                str(under.resolve()),
            ],
            capture_output=True,
            check=False,
        )
    except OSError:
        return None
    if out.returncode != 0:
        return None
    files = [root / p.decode("utf-8", "surrogateescape") for p in out.stdout.split(b"\0") if p]
    return [f for f in files if f.is_file()]


def iter_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """Files under `paths`, respecting .gitignore inside git work trees, sorted, unique."""
    seen: set[Path] = set()
    for raw in paths:
        p = Path(raw)
        if p.is_file():
            found = [p]
        elif p.is_dir():
            root = _git_root(p)
            listed = _git_files(root, p) if root else None
            if listed is None:
                listed = []
                for dirpath, dirnames, filenames in os.walk(p):
                    dirnames[:] = sorted(d for d in dirnames if d not in _ALWAYS_SKIPPED_DIRS)
                    listed += [Path(dirpath) / f for f in filenames]
            found = sorted(listed)
        else:
            found = [p]  # reported as missing by scan_file
        for f in found:
            key = f.resolve() if f.exists() else f
            if key not in seen:
                seen.add(key)
                yield f


# -- writing ---------------------------------------------------------------------------


def write_file(path: str, new_bytes: bytes, expected_digest: str) -> str | None:
    """Replace `path` atomically, only if it still hashes to `expected_digest`.

    Returns None on success, else the reason nothing was written.
    """
    try:
        current = Path(path).read_bytes()
    except OSError as err:
        return f"cannot re-read before writing: {err.strerror or err}"
    if hashlib.sha256(current).hexdigest() != expected_digest:
        return "changed on disk since it was read; not written"
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".diffill-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(new_bytes)
        os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        return f"cannot write: {err.strerror or err}"
    return None


def dirty_git_files(paths: list[Path]) -> list[str]:
    """Files with uncommitted changes in the git trees that hold `paths`."""
    roots = {r for r in (_git_root(p) for p in paths) if r is not None}
    dirty = []
    for root in sorted(roots):
        out = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=False,
        )
        dirty += [str(root / line[3:]) for line in out.stdout.splitlines() if line.strip()]
    return dirty


# -- diffs -----------------------------------------------------------------------------


def unified_diff(path: str, old: str, new: str) -> str:
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"a/{path}",
            tofile=f"b/{path}",
        )
    )
