"""Settings under `diffill`, from initializationOptions, workspace/configuration and
workspace/didChangeConfiguration: an invalid value is reported with window/showMessage and
the default kept; valid values reach the engine."""

from __future__ import annotations

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from diffill.model.sampler import PRESETS
from diffill.server.lsp.settings import Settings, parse_settings

from .lsp_harness import Editor, server_command, server_env

pytestmark = pytest.mark.asyncio(loop_scope="module")

DOC = '# out: "total = a * b"\ndef f(a, b):\n    total = a + b\n'


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=server_command(), server_env=server_env()),
    scope="module",
)
async def client(lsp_client: LanguageClient):
    """Unlike conftest's: started with invalid initialization options and a
    workspace/configuration answer, whose problems the tests read."""
    editor = Editor(lsp_client)
    lsp_client.set_configuration({"temperature": -1, "steps": 5}, section="diffill")
    await editor.start(
        "visual-studio-code",
        {"steps": -1, "threshold": 2, "preset": "turbo", "preview": "yes", "colour": "red"},
    )
    yield
    await lsp_client.shutdown_session()


def warnings(editor: Editor) -> list[str]:
    return [m.message for m in editor.client.messages if m.type == types.MessageType.Warning]


async def test_invalid_values_from_every_source_are_reported(editor: Editor):
    assert warnings(editor) == [
        # initializationOptions
        "diffill: diffill.steps: must be at least 1 (got -1); using the default null",
        "diffill: diffill.threshold: must be a number in (0, 1], or null for the preset's "
        "(got 2); using the default null",
        'diffill: diffill.preset: must be one of quality, balanced, fast (got "turbo"); '
        'using the default "balanced"',
        'diffill: diffill.preview: must be true or false (got "yes"); using the default false',
        "diffill: diffill.colour: unknown setting, ignored",
        # workspace/configuration, pulled once initialized
        "diffill: diffill.temperature: must be a number >= 0 (got -1); using the default 0.0",
    ]


async def test_a_pushed_change_is_checked_and_applied(editor: Editor):
    editor.client.messages.clear()
    editor.configure(maxSpanTokens=0)
    uri = editor.open(DOC)
    argument = editor.edit_argument(uri, editor.range(uri, "total = a + b"))
    assert await editor.command("diffill.server.rewrite", argument) == {"applied": True}
    assert warnings(editor) == [
        "diffill: diffill.maxSpanTokens: must be at least 1 (got 0); using the default 192"
    ]
    editor.configure(maxSpanTokens=2)  # valid: the engine now refuses this span
    result = await editor.command("diffill.server.rewrite", argument)
    assert result["applied"] is False and "at most 2" in result["reason"]
    editor.configure(maxSpanTokens=192)


async def test_a_change_notification_without_settings_pulls_them(editor: Editor):
    editor.client.messages.clear()
    editor.client.set_configuration({"diagnosticsDelayMs": "soon"}, section="diffill")
    shown = editor.client.protocol.wait_for_notification_async(types.WINDOW_SHOW_MESSAGE)
    editor.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(None))
    message = await shown
    assert message.message == (
        'diffill: diffill.diagnosticsDelayMs: must be an integer (got "soon"); '
        "using the default 300"
    )


async def test_parse_settings_keeps_the_current_values_of_absent_keys():
    current = Settings(steps=8, preview=True)
    new, problems = parse_settings({"threshold": 0.5, "maxContextTokens": 512.0}, current)
    assert problems == []
    assert new == Settings(steps=8, preview=True, threshold=0.5, max_context_tokens=512)
    assert new.edit_options().sampler == {
        **PRESETS["balanced"],
        "threshold": 0.5,
        "temperature": 0.0,
        "steps": 8,
    }
    fast, _ = parse_settings({"preset": "fast", "threshold": None}, new)
    assert fast.edit_options().sampler == {**PRESETS["fast"], "temperature": 0.0, "steps": 8}
    assert parse_settings(["not", "an", "object"], current) == (
        current,
        ["the diffill settings must be an object, not list"],
    )


async def test_warm_context_is_a_switch_and_inline_completion_off_turns_it_off_too():
    assert Settings().warms_context
    off, problems = parse_settings({"warmContext": False}, Settings())
    assert (off.warm_context, off.warms_context, problems) == (False, False, [])
    no_completion, _ = parse_settings({"inlineCompletion": False}, Settings())
    assert no_completion.warm_context and not no_completion.warms_context
    bad, problems = parse_settings({"warmContext": "no"}, off, Settings())
    assert bad.warm_context is True
    assert problems == [
        'diffill.warmContext: must be true or false (got "no"); using the default true'
    ]
