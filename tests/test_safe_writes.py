"""`files.write_file` never loses a save: a writer injected at the exact point between the
last check and the replace (through the seam `files._swap`) has its save kept and the write
reported as not done. Also what a path is never changes: a symlink stays a link to the
edited file, hard links stay linked or are refused, owner and mode stay, and files that are
not regular files, or are open in another program, are refused with the reason."""

from __future__ import annotations

import hashlib
import os
import stat
import sys
import threading
from pathlib import Path

import pytest

from diffill.server import files

OLD = b"def f():\n    pass\n"
NEW = b"def f():\n    return 1\n"
SAVED = b"def f():\n    return 'the user saved this'\n"

linux_only = pytest.mark.skipif(
    not files.ATOMIC_EXCHANGE, reason="the exchange guarantee needs Linux renameat2"
)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".diffill-"))


def _lease_breaking() -> bool:
    locks = Path("/proc/locks")
    return locks.exists() and "BREAKING" in locks.read_text()


def race(monkeypatch: pytest.MonkeyPatch, writer) -> list[threading.Thread]:
    """Run `writer(target)` at the exact point between the check and the swap.

    The writer runs on a thread: diffill holds a write lease on the file there, so a
    writer that opens it waits (inside open) until diffill lets go. The swap goes ahead
    once the writer has either finished or is waiting on the lease: either way its save
    has begun before the swap, which is the race. Join the threads after the write.
    """
    threads: list[threading.Thread] = []
    real = files._swap

    def swap(tmp: str, target: str) -> bool:
        thread = threading.Thread(target=writer, args=(target,))
        thread.start()
        threads.append(thread)
        for _ in range(2000):  # 20 s at most; each wait ends as soon as either happens
            if not thread.is_alive() or _lease_breaking():
                break
            thread.join(0.01)
        return real(tmp, target)

    monkeypatch.setattr(files, "_swap", swap)
    return threads


def written(path: Path, threads: list[threading.Thread], new: bytes, expected: str):
    reason = files.write_file(str(path), new, expected)
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive()
    return reason


def save_in_place(target: str) -> None:
    with open(target, "wb") as f:  # O_TRUNC, as VS Code's and vim's saves do
        f.write(SAVED)


def save_by_rename(target: str) -> None:
    tmp = target + ".editor-tmp"
    Path(tmp).write_bytes(SAVED)
    os.replace(tmp, target)  # JetBrains', Emacs' and many other "safe writes"


def save_same_size_and_time(target: str) -> None:
    before = os.stat(target)
    same_size = SAVED[: len(OLD)].ljust(len(OLD), b"#")
    with open(target, "r+b") as f:
        f.write(same_size)
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))  # hides from mtime checks


def append(target: str) -> None:
    with open(target, "ab") as f:
        f.write(b"# appended\n")


def delete(target: str) -> None:
    os.unlink(target)


@linux_only
@pytest.mark.parametrize(
    "writer", [save_in_place, save_by_rename, save_same_size_and_time, append, delete]
)
def test_a_save_between_check_and_replace_is_never_lost(tmp_path, monkeypatch, writer):
    target = tmp_path / "x.py"
    target.write_bytes(OLD)
    threads = race(monkeypatch, writer)
    reason = written(target, threads, NEW, digest(OLD))
    assert threads, "the racing writer ran"
    assert reason is not None and "changed on disk" in reason
    if writer is delete:
        assert not target.exists(), "a file deleted meanwhile is not brought back"
    else:
        saved = target.read_bytes()
        assert saved != NEW and saved != OLD  # the user's save, whole
    assert leftovers(tmp_path) == []


@linux_only
def test_a_save_just_after_the_replace_wins(tmp_path, monkeypatch):
    target = tmp_path / "x.py"
    target.write_bytes(OLD)
    real = files._swap

    def swap_then_save(tmp: str, path: str) -> bool:
        done = real(tmp, path)
        save_in_place(path)  # lands on diffill's new file: the later save wins
        return done

    monkeypatch.setattr(files, "_swap", swap_then_save)
    assert files.write_file(str(target), NEW, digest(OLD)) is None
    assert target.read_bytes() == SAVED
    assert leftovers(tmp_path) == []


@linux_only
def test_a_file_another_program_holds_open_is_not_written(tmp_path):
    target = tmp_path / "x.py"
    target.write_bytes(OLD)
    if not files.leases_work(str(target)):
        pytest.skip("file leases are not available here")
    with open(target, "r+b") as holder:  # a writer that has not written yet
        reason = files.write_file(str(target), NEW, digest(OLD))
        assert reason is not None and "open in another program" in reason
        holder.write(SAVED)
    assert target.read_bytes().startswith(SAVED)


@linux_only
def test_the_lease_makes_a_writer_that_opens_in_the_window_wait(tmp_path, monkeypatch):
    """With leases, the in-place writer above really waited inside open() until diffill
    had swapped back: its save went to the file that is in place at the end."""
    target = tmp_path / "x.py"
    target.write_bytes(OLD)
    if not files.leases_work(str(target)):
        pytest.skip("file leases are not available here")
    waited: list[bool] = []

    def save_and_note(path: str) -> None:
        save_in_place(path)
        waited.append(True)

    threads = race(monkeypatch, save_and_note)
    reason = written(target, threads, NEW, digest(OLD))
    assert reason is not None and "changed on disk" in reason
    assert waited == [True]
    assert target.read_bytes() == SAVED
    assert leftovers(tmp_path) == []


def test_a_file_changed_before_the_check_is_not_written(tmp_path):
    target = tmp_path / "x.py"
    target.write_bytes(SAVED)
    reason = files.write_file(str(target), NEW, digest(OLD))
    assert reason is not None and "changed on disk" in reason
    assert target.read_bytes() == SAVED


def test_mode_is_kept(tmp_path):
    target = tmp_path / "x.py"
    target.write_bytes(OLD)
    target.chmod(0o751)
    assert files.write_file(str(target), NEW, digest(OLD)) is None
    assert stat.S_IMODE(target.stat().st_mode) == 0o751
    assert target.read_bytes() == NEW


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX owners")
def test_the_owner_is_kept_or_the_file_refused(tmp_path):
    target = tmp_path / "x.py"
    target.write_bytes(OLD)
    if os.geteuid() != 0:
        pytest.skip("only root can give a file to another user for this test")
    os.chown(target, 4321, 4321)
    assert files.write_file(str(target), NEW, digest(OLD)) is None
    st = target.stat()
    assert (st.st_uid, st.st_gid) == (4321, 4321)
    assert target.read_bytes() == NEW


def test_a_symlink_stays_a_link_and_its_target_is_edited(tmp_path):
    real = tmp_path / "real.py"
    real.write_bytes(OLD)
    link = tmp_path / "link.py"
    link.symlink_to("real.py")
    assert files.write_file(str(link), NEW, digest(OLD)) is None
    assert link.is_symlink() and os.readlink(link) == "real.py"
    assert real.read_bytes() == NEW


def test_hard_links_are_not_split(tmp_path):
    first = tmp_path / "a.py"
    first.write_bytes(OLD)
    second = tmp_path / "b.py"
    os.link(first, second)
    reason = files.write_file(str(first), NEW, digest(OLD))
    assert reason is not None and "hard links" in reason
    assert first.read_bytes() == second.read_bytes() == OLD
    assert first.stat().st_ino == second.stat().st_ino


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_without_opening_it_for_long(tmp_path):
    fifo = tmp_path / "x.py"
    os.mkfifo(fifo)
    reason = files.write_file(str(fifo), NEW, digest(OLD))
    assert reason is not None and "not a regular file" in reason
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_reading_a_fifo_does_not_hang(tmp_path):
    fifo = tmp_path / "x.py"
    os.mkfifo(fifo)
    with pytest.raises(files.NotRegularFile, match="FIFO"):
        files.read_regular(str(fifo))
