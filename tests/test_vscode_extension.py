"""The VS Code extension (editor_clients/vscode): its settings mirror the server's, and its own
checks pass: `npm ci`, the strict type check, the unit tests of its logic (`npm test`, node's
test runner) and packaging into a .vsix. The end-to-end test in a real VS Code is
tests/test_vscode_e2e.py, run only when asked for.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from diffill.server.lsp.settings import SETTING_NAMES, Settings, parse_settings

from .lsp_harness import ROOT

EXTENSION = ROOT / "editor_clients" / "vscode"
MANIFEST = json.loads((EXTENSION / "package.json").read_text(encoding="utf-8"))
NPM = shutil.which("npm")
needs_npm = pytest.mark.skipif(
    NPM is None, reason="npm is not installed (Node.js 20 or newer builds the VS Code extension)"
)

# Settings where the extension declares null: "as `diffill serve` was started" (--model,
# --device, --dtype), which the server takes null to mean.
NULL_MEANS_STARTED = {"model", "device", "dtype"}


def declared() -> dict[str, dict[str, Any]]:
    properties: dict[str, dict[str, Any]] = {}
    for section in MANIFEST["contributes"]["configuration"]:
        properties.update(section["properties"])
    return properties


def json_types(annotation: str) -> set[str]:
    """The JSON schema types of a `Settings` field annotation such as "int | None"."""
    names = {"bool": "boolean", "int": "integer", "float": "number", "str": "string"}
    return {"null" if part == "None" else names[part] for part in annotation.split(" | ")}


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(Settings)])
def test_each_server_setting_is_declared_with_its_type_and_default(field: str) -> None:
    camel = next(key for key, name in SETTING_NAMES.items() if name == field)
    schema = declared().get(f"diffill.{camel}")
    assert schema is not None, f"package.json does not declare diffill.{camel}"
    annotation = next(f.type for f in dataclasses.fields(Settings) if f.name == field)
    types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    expected = json_types(str(annotation))
    if field in NULL_MEANS_STARTED:
        expected.add("null")
    assert set(types) == expected
    assert schema.get("markdownDescription") or schema.get("description")
    if field in NULL_MEANS_STARTED:
        assert schema["default"] is None
        started = Settings(model="/m", device="cuda")
        got, problems = parse_settings({camel: None}, started, started)
        assert (getattr(got, field), problems) == (getattr(started, field), [])
    else:
        assert schema["default"] == getattr(Settings(), field)
        # The declared default is valid as the server sees it.
        got, problems = parse_settings({camel: schema["default"]}, Settings())
        assert problems == []


def test_sending_every_declared_server_setting_raises_no_warning() -> None:
    """What the extension sends: each server setting at its declared default."""
    section = {
        key.removeprefix("diffill."): schema["default"]
        for key, schema in declared().items()
        if key.removeprefix("diffill.") in SETTING_NAMES
    }
    assert set(section) == set(SETTING_NAMES)
    got, problems = parse_settings(section, Settings())
    assert problems == []
    assert got == Settings()


def test_the_extension_contributes_the_commands_of_the_issue() -> None:
    commands = {c["command"] for c in MANIFEST["contributes"]["commands"]}
    required = {"diffill.rewriteSelection", "diffill.fill", "diffill.fix"}
    assert required | {"diffill.accept", "diffill.reject"} <= commands
    keyed = {k["command"] for k in MANIFEST["contributes"]["keybindings"]}
    assert commands - keyed <= {"diffill.restartServer", "diffill.showLog"}
    assert "diffill.trace.server" in declared()


def _npm(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    assert NPM is not None
    proc = subprocess.run(
        [NPM, *args],
        cwd=EXTENSION,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-4000:]
        pytest.fail(f"npm {' '.join(args)} exited {proc.returncode}:\n{tail}")
    return proc


@pytest.fixture(scope="module")
def installed() -> None:
    """`npm ci` from the committed lockfile."""
    _npm("ci", "--no-audit", "--no-fund", timeout=600)


@needs_npm
def test_typecheck(installed: None) -> None:
    _npm("run", "typecheck", timeout=300)


@needs_npm
def test_unit_tests(installed: None) -> None:
    proc = _npm("test", timeout=300)
    summary = dict(
        line.removeprefix("ℹ ").split(" ", 1)
        for line in proc.stdout.splitlines()
        if line.startswith("ℹ ") and " " in line.removeprefix("ℹ ")
    )
    assert summary.get("fail") == "0", proc.stdout[-3000:]
    assert int(summary.get("pass", "0")) > 0, proc.stdout[-3000:]


@needs_npm
def test_packages_into_a_vsix(installed: None, tmp_path: Path) -> None:
    vsix = tmp_path / "diffill.vsix"
    _npm("exec", "--no", "--", "vsce", "package", "--out", str(vsix), timeout=300)
    with zipfile.ZipFile(vsix) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("extension/package.json"))
    assert {"extension/dist/extension.js", "extension/package.json"} <= names
    assert not any(name.startswith("extension/node_modules/") for name in names)
    assert not any(name.startswith("extension/src/") for name in names)
    assert manifest["main"] == "./dist/extension.js"
