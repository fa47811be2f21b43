"""Files on disk: which to work on (git's .gitignore, generated files), reading them without
blocking on what is not a regular file, writing them without ever losing another program's
save (the guarantee is described at `write_file`), and the unified diffs the CLI prints."""

from __future__ import annotations

import contextlib
import ctypes
import difflib
import errno
import hashlib
import os
import signal
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

if sys.platform != "win32":
    import fcntl

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
    """Tracked and untracked-but-not-ignored files under `under` (git's own .gitignore),
    symlinks included (the scan says what it does with each)."""
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
    return [f for f in files if os.path.lexists(f) and not f.is_dir()]


def iter_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """Files under `paths`, respecting .gitignore inside git work trees, sorted, unique by
    path. Symlinks and files that are not regular files (FIFOs, devices) are listed too:
    the scan skips them with the reason, never opening a FIFO."""
    seen: set[str] = set()
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            root = _git_root(p)
            listed = _git_files(root, p) if root else None
            if listed is None:
                listed = []
                for dirpath, dirnames, filenames in os.walk(p):
                    dirnames[:] = sorted(d for d in dirnames if d not in _ALWAYS_SKIPPED_DIRS)
                    listed += [Path(dirpath) / f for f in filenames]
            found = sorted(listed)
        else:
            found = [p]  # a file, a link, a FIFO, or missing: the scan says which
        for f in found:
            key = os.path.abspath(f)
            if key not in seen:
                seen.add(key)
                yield f


def symlink_skip(link: Path, walked: Iterable[Path]) -> str:
    """Why a symlink found inside a folder is not edited: its target is edited under its
    own name when the walk found it too, else it lies outside what was asked for."""
    target = Path(os.path.realpath(link))
    if not target.exists():
        return f"symbolic link to {os.readlink(link)}, which does not exist"
    shown = os.path.relpath(target, link.parent)
    if any(os.path.realpath(w) == str(target) and not w.is_symlink() for w in walked):
        return f"symbolic link to {shown}, which is edited itself"
    return f"symbolic link to a file outside the given paths ({target})"


# -- reading and writing -----------------------------------------------------------------
#
# The guarantee (`write_file`): a save made by another program is never lost.
#
# On Linux the new text is swapped in with renameat2(RENAME_EXCHANGE), atomically, and the
# swap hands back what was at the path at that instant. That file is checked after the
# swap: if it is not the file diffill read (an editor's save by rename put another file
# there), or its bytes are not the ones diffill read (a save in place), or the write lease
# diffill held on it was broken (another program opened it meanwhile), the swap is undone
# and the file reported as changed on disk, not written. A write lease (fcntl F_SETLEASE)
# can only be taken while no other program has the file open, and makes any program that
# opens it afterwards wait until diffill lets go: so no program can be half-way through
# writing the old file when it is replaced. A file open elsewhere is refused ("open in
# another program"). A save landing just after the swap lands on diffill's new file: the
# later save wins, as it would have a moment later.
#
# Where it is weaker: without a lease (filesystems without leases such as NFS, files of
# another owner without CAP_LEASE, a write from a thread that cannot ignore the lease
# signal) a program that already had the file open, without truncating it, and writes
# through that descriptor after the check, writes into the replaced file. Without
# renameat2 (macOS, Windows, Linux before 3.15 or filesystems without RENAME_EXCHANGE) the
# file is checked, then replaced with os.replace: a save between the two is lost. Both
# cases are rare (editors truncate on open or save by rename), and both are said here.

ATOMIC_EXCHANGE = sys.platform.startswith("linux")
_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100
_libc: Any = None
# The signal a broken lease sends: SIGURG, which is ignored by default, instead of SIGIO,
# which would end the process.
_LEASE_SIGNAL = getattr(signal, "SIGURG", None)


class NotRegularFile(OSError):
    """A path that is a FIFO, a device, a socket or a directory: never opened for reading
    (a FIFO would block the run) and never written."""


def _kind(mode: int) -> str:
    kinds = (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a directory"),
    )
    return next((name for test, name in kinds if test(mode)), "not a file")


def _open_regular(path: str) -> tuple[int, os.stat_result]:
    """An O_RDONLY descriptor on a regular file (never blocking on a FIFO) and its stat."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(f"not a regular file ({_kind(st.st_mode)})")
        return fd, st
    except BaseException:
        os.close(fd)
        raise


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    offset = 0
    while True:
        chunk = os.pread(fd, 1 << 20, offset)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        offset += len(chunk)


def read_regular(path: str) -> bytes:
    """The bytes of a regular file; NotRegularFile for anything else (without blocking)."""
    fd, _ = _open_regular(path)
    try:
        return _read_all(fd)
    finally:
        os.close(fd)


def _exchange(a: str, b: str) -> bool:
    """Swap two paths atomically (renameat2 RENAME_EXCHANGE); False where the platform or
    the filesystem cannot. Raises FileNotFoundError when one of them is gone."""
    global _libc
    if not ATOMIC_EXCHANGE:
        return False
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(_libc, "renameat2", None)
    if renameat2 is None:  # glibc before 2.28
        return False
    done = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if done == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), b)


def _swap(tmp: str, target: str) -> bool:
    """The write itself: the new file at `tmp` swapped with `target` (the seam where the
    racing-writer tests put their writer)."""
    return _exchange(tmp, target)


class _Lease:
    """A write lease on an open file (Linux): held only while no other program has the
    file open; any program opening it later breaks it, and waits until it is released."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.held = False
        self.busy = False
        if not ATOMIC_EXCHANGE or _LEASE_SIGNAL is None:
            return
        try:
            fcntl.fcntl(fd, fcntl.F_SETSIG, _LEASE_SIGNAL)
            fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)
            self.held = True
        except OSError as err:
            # EAGAIN: open elsewhere. EACCES: another owner's file. EINVAL: no leases here.
            self.busy = err.errno in (errno.EAGAIN, errno.EBUSY)

    @property
    def broken(self) -> bool:
        """Another program opened the file since the lease was taken."""
        if not self.held:
            return False
        try:
            return fcntl.fcntl(self.fd, fcntl.F_GETLEASE) != fcntl.F_WRLCK
        except OSError:
            return True

    def release(self) -> None:
        if self.held:
            with contextlib.suppress(OSError):
                fcntl.fcntl(self.fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
            self.held = False


def leases_work(path: str) -> bool:
    """Whether a write lease can be taken on `path` here (for the tests)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        lease = _Lease(fd)
        works = lease.held
        lease.release()
        return works
    finally:
        os.close(fd)


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _new_file_like(target: str, data: bytes, st: os.stat_result) -> str:
    """A temporary file beside `target` holding `data`, with its owner, group and mode.
    Raises PermissionError (with the reason) when the owner cannot be kept."""
    fd, tmp = tempfile.mkstemp(prefix=".diffill-", dir=os.path.dirname(target))
    try:
        mine = os.fstat(fd)
        if (mine.st_uid, mine.st_gid) != (st.st_uid, st.st_gid):
            try:
                os.fchown(fd, st.st_uid, st.st_gid)
            except PermissionError:
                raise PermissionError(
                    f"owned by another user or group ({st.st_uid}:{st.st_gid}), which a write "
                    "would change; not written"
                ) from None
        os.fchmod(fd, stat.S_IMODE(st.st_mode))  # after fchown, which clears set-id bits
        with os.fdopen(fd, "wb", closefd=False) as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    return tmp


def _unchanged(fd: int, st: os.stat_result, expected_digest: str) -> bool:
    return hashlib.sha256(_read_all(fd)).hexdigest() == expected_digest


def write_file(path: str, new_bytes: bytes, expected_digest: str) -> str | None:
    """Replace `path` with `new_bytes`, only if it still hashes to `expected_digest`, never
    losing another program's save (the guarantee above). A symlink stays a link (the file
    it points to is written); a file with several hard links is refused (a write would
    split them); owner, group and mode are kept, or the file refused.

    Returns None on success, else the reason nothing was written.
    """
    target = os.path.realpath(path)
    try:
        fd, st = _open_regular(target)
    except NotRegularFile as err:
        return f"{err}; not written"
    except OSError as err:
        return f"cannot re-read before writing: {err.strerror or err}"
    lease = _Lease(fd)
    try:
        if lease.busy:
            return "open in another program; not written (close it there and run again)"
        if st.st_nlink > 1:
            return f"has {st.st_nlink} hard links, which a write would split; not written"
        if not _unchanged(fd, st, expected_digest):
            return "changed on disk since it was read; not written"
        try:
            tmp = _new_file_like(target, new_bytes, st)
        except PermissionError as err:
            return str(err) if "not written" in str(err) else f"cannot write: {err.strerror}"
        except OSError as err:
            return f"cannot write: {err.strerror or err}"
        try:
            return _put_in_place(tmp, target, fd, st, lease, new_bytes, expected_digest)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    finally:
        lease.release()
        os.close(fd)


def _put_in_place(
    tmp: str,
    target: str,
    fd: int,
    st: os.stat_result,
    lease: _Lease,
    new_bytes: bytes,
    expected_digest: str,
) -> str | None:
    changed = "changed on disk while it was being written; not written (the newer file is kept)"
    try:
        swapped = _swap(tmp, target)
    except FileNotFoundError:
        return "changed on disk (deleted) while it was being written; not written"
    except OSError as err:
        return f"cannot write: {err.strerror or err}"
    if not swapped:  # no atomic exchange here: check once more, then replace (see above)
        try:
            now = os.stat(target)
        except FileNotFoundError:
            return "changed on disk (deleted) while it was being written; not written"
        if not _same_file(now, st) or lease.broken or not _unchanged(fd, st, expected_digest):
            return changed
        try:
            os.replace(tmp, target)
        except OSError as err:
            return f"cannot write: {err.strerror or err}"
        return None
    # `tmp` now names what was at `target` at the instant of the swap.
    try:
        out = os.lstat(tmp)
        intact = _same_file(out, st) and not lease.broken and _unchanged(fd, st, expected_digest)
    except OSError:
        intact = False
    if intact:
        return None
    _exchange(tmp, target)  # undo: the other program's file goes back where it was
    try:
        ours = read_regular(tmp)
    except OSError:
        ours = new_bytes
    if ours != new_bytes:
        # A save landed on diffill's file in the instant it was in place: keep it too.
        kept = f"{target}.diffill-conflict"
        os.replace(tmp, kept)
        return f"{changed}; a save made meanwhile is in {kept}"
    return changed


def dirty_git_files(paths: list[Path]) -> list[str]:
    """Files with uncommitted changes in the git trees that hold `paths`, and those of
    `paths` git does not track (an untracked file has no committed version to go back
    to, so it is treated as an uncommitted change)."""
    roots = {r for r in (_git_root(p) for p in paths) if r is not None}
    ours = {os.path.abspath(p) for p in paths}
    dirty = []
    for root in sorted(roots):
        out = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain=v1", "-z", "--untracked-files=all"],
            capture_output=True,
            check=False,
        )
        entries = iter(out.stdout.split(b"\0"))
        for entry in entries:
            if len(entry) < 4:
                continue
            status, name = entry[:2], entry[3:].decode("utf-8", "surrogateescape")
            if status[:1] in (b"R", b"C"):
                next(entries, None)  # the rename's old name
            path = str(root / name)
            if status == b"??":
                if os.path.abspath(path) in ours:
                    dirty.append(f"{path} (untracked)")
            else:
                dirty.append(path)
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
