"""The VS Code extension end to end in a real VS Code (code-server, driven through headless
Chromium by playwright-core): run "diffill: Fill placeholder" on a TODO body, accept the
proposal, save, and check the file on disk; then the live preview and cancelling, and an
inline completion accepted with Tab. Those run against the scripted stand-in, whose results
are exact; a second scenario runs against the real server (`diffill serve`) with the
shipped model: the proposal appears, accepting writes a file that parses, and cancelling
and rejecting leave the file as it was. Run it before each release of the extension.

Runs only when asked for: `pytest -m vscode_e2e`, or DIFFILL_VSCODE_E2E=1. The first run
installs Node 24, code-server, playwright-core (under editor_clients/vscode/.e2e-cache) and,
as root on Debian, Chromium: minutes; later runs reuse the cache and take about half a minute.
editor_clients/vscode/e2e/run.sh does the work and can be run by hand.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from .lsp_harness import ROOT

SCRIPT = ROOT / "editor_clients" / "vscode" / "e2e" / "run.sh"
ENV = "DIFFILL_VSCODE_E2E"

pytestmark = pytest.mark.vscode_e2e


@pytest.fixture(autouse=True)
def only_when_asked(request: pytest.FixtureRequest) -> None:
    asked = "vscode_e2e" in (request.config.option.markexpr or "")
    if not asked and os.environ.get(ENV) != "1":
        pytest.skip(
            f"the VS Code end-to-end test runs only when asked: pytest -m vscode_e2e, or {ENV}=1"
        )
    if shutil.which("npm") is None or shutil.which("bash") is None:
        pytest.skip("npm and bash are needed for the VS Code end-to-end test")


def run_e2e(scenario: str) -> None:
    proc = subprocess.run(
        ["bash", str(SCRIPT)],
        cwd=ROOT,
        env={**os.environ, "DIFFILL_E2E_PYTHON": sys.executable, "DIFFILL_E2E_SCENARIO": scenario},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=1800,  # a cold cache builds code-server's native modules
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    assert "[e2e] ok" in proc.stdout, output[-6000:]


def test_fill_preview_cancel_and_inline_completion_in_code_server() -> None:
    run_e2e("stand-in")


def test_fill_accept_reject_and_cancel_with_the_real_server_and_the_shipped_model() -> None:
    run_e2e("real")
