"""The model works off the event loop: other requests are answered while it denoises; an
edit computed on a version the user has typed past is refused; queued work that newer work
supersedes is dropped, and the queue is bounded."""

from __future__ import annotations

import asyncio
import threading

import pytest

from diffill.server.lsp.worker import ModelWorker, Superseded

from .conftest import GATE
from .lsp_harness import Editor, denoising, open_gate

pytestmark = pytest.mark.asyncio(loop_scope="module")
EDITORS = ["visual-studio-code"]  # conftest's `client`, started as VS Code only

SLOW = '# slow\n# out: "total = a * b"\ndef f(a, b):\n    total = a + b\n    return total\n'
FAST = '# out: "total = a * b"\ndef f(a, b):\n    total = a + b\n    return total\n'


def rewrite(editor: Editor, uri: str) -> asyncio.Future:
    argument = editor.edit_argument(uri, editor.range(uri, "total = a + b"))
    return asyncio.ensure_future(editor.command("diffill.server.rewrite", argument))


async def test_code_actions_are_answered_while_a_long_rewrite_runs(editor: Editor):
    slow = editor.open(SLOW)
    task = rewrite(editor, slow)
    await denoising(editor, task)
    other = editor.open(FAST)
    actions = await editor.code_actions(other, editor.range(other, "return total"))
    assert [a.title for a in actions] == ["Rewrite selection"]
    assert not task.done()
    open_gate(GATE)
    assert await task == {"applied": True}


async def test_an_edit_on_a_version_typed_past_is_refused(editor: Editor):
    uri = editor.open(SLOW)
    applied = len(editor.edits)
    task = rewrite(editor, uri)
    await denoising(editor, task)
    editor.type(uri, editor.range(uri, "return total"), "return total + 1")
    await editor.round_trip()
    open_gate(GATE)
    assert await task == {"applied": False, "reason": "document changed"}
    assert len(editor.edits) == applied
    assert "return total + 1" in editor.texts[uri]


async def test_newer_identical_work_supersedes_queued_work(editor: Editor):
    slow = editor.open(SLOW)
    first = rewrite(editor, slow)
    await denoising(editor, first)
    fast = editor.open(FAST)
    older, newer = rewrite(editor, fast), rewrite(editor, fast)
    done, _ = await asyncio.wait([older, newer], return_when=asyncio.FIRST_COMPLETED)
    assert [t.result() for t in done] == [
        {"applied": False, "reason": "superseded by a newer request"}
    ]
    open_gate(GATE)
    assert await first == {"applied": True}
    assert sorted(map(str, [older.result(), (await newer)])) == sorted(
        map(str, [{"applied": True}, {"applied": False, "reason": "superseded by a newer request"}])
    )


async def test_the_queue_is_bounded_and_drops_its_oldest_work():
    busy: list[bool] = []
    worker = ModelWorker(busy.append, max_queued=2)
    started, release = threading.Event(), threading.Event()

    def block() -> bool:
        started.set()
        return release.wait()

    running = worker.submit(block, cancel=threading.Event())
    assert started.wait(timeout=10)
    queued = [worker.submit(lambda i=i: i, cancel=threading.Event()) for i in range(4)]
    with pytest.raises(Superseded, match="too much model work"):
        queued[0].future.result(timeout=10)
    with pytest.raises(Superseded, match="too much model work"):
        queued[1].future.result(timeout=10)
    release.set()
    assert running.future.result(timeout=10) is True
    assert [job.future.result(timeout=10) for job in queued[2:]] == [2, 3]
    worker.cancel_all()
    assert busy[0] is True


async def test_an_older_request_submitted_late_never_supersedes_a_newer_one():
    # Requests reach the worker after awaits (a parse, a progress token) that can finish
    # out of order; their tickets, taken on arrival, decide which is newer.
    worker = ModelWorker(lambda busy: None)
    started, release = threading.Event(), threading.Event()

    def block() -> bool:
        started.set()
        return release.wait()

    worker.submit(block, cancel=threading.Event())
    assert started.wait(timeout=10)
    older, newer = worker.ticket(), worker.ticket()
    queued_newer = worker.submit(lambda: "newer", cancel=threading.Event(), key="k", order=newer)
    late_older = worker.submit(lambda: "older", cancel=threading.Event(), key="k", order=older)
    with pytest.raises(Superseded, match="superseded by a newer request"):
        late_older.future.result(timeout=10)
    assert late_older.cancel.is_set()
    # Without tickets, the later submit is the newer request, as before.
    plain = worker.submit(lambda: "plain", cancel=threading.Event(), key="p")
    later = worker.submit(lambda: "later", cancel=threading.Event(), key="p")
    with pytest.raises(Superseded, match="superseded by a newer request"):
        plain.future.result(timeout=10)
    release.set()
    assert queued_newer.future.result(timeout=10) == "newer"
    assert later.future.result(timeout=10) == "later"
    worker.cancel_all()


async def test_an_older_request_is_dropped_while_a_newer_one_runs():
    worker = ModelWorker(lambda busy: None)
    started, release = threading.Event(), threading.Event()

    def newer_work() -> str:
        started.set()
        release.wait()
        return "newer"

    older, newer = worker.ticket(), worker.ticket()
    cancel = threading.Event()
    running = worker.submit(newer_work, cancel=cancel, key="k", order=newer)
    assert started.wait(timeout=10)
    late = worker.submit(
        lambda: "older", cancel=threading.Event(), key="k", order=older, supersede_running=True
    )
    with pytest.raises(Superseded, match="superseded by a newer request"):
        late.future.result(timeout=10)
    assert not cancel.is_set()  # the newer, running work goes on
    release.set()
    assert running.future.result(timeout=10) == "newer"
    worker.cancel_all()
