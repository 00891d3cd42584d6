#!/usr/bin/env bash
# Installs what the browser tests need, only when it is missing:
#   - Debian's chromium at /usr/bin/chromium (never `playwright install`: it downloads and fails)
#   - axe-core from the npm registry into .cache/npm (project-local, git-ignored)
# Idempotent and quiet; exits non-zero with a message when something cannot be installed.
set -euo pipefail

cd "$(dirname "$0")/.."

fail() {
    echo "install_browser.sh: $*" >&2
    exit 1
}

if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" -eq 0 ]; then
        SUDO=""
    elif command -v sudo >/dev/null 2>&1; then
        SUDO="sudo -n"
    else
        fail "/usr/bin/chromium is missing and this user cannot run apt-get (not root, no sudo)"
    fi
    echo "install_browser.sh: installing chromium with apt-get (about a minute)" >&2
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq >/dev/null || fail "apt-get update failed"
    $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null \
        || fail "apt-get install chromium failed"
    [ -x /usr/bin/chromium ] || fail "chromium was installed but /usr/bin/chromium is missing"
fi

AXE=.cache/npm/node_modules/axe-core/axe.min.js
if [ ! -f "$AXE" ]; then
    command -v npm >/dev/null 2>&1 || fail "npm is missing: cannot install axe-core"
    mkdir -p .cache/npm
    npm install --silent --no-audit --no-fund --no-save --prefix .cache/npm axe-core@4 >/dev/null \
        || fail "npm install axe-core@4 failed"
    [ -f "$AXE" ] || fail "npm installed axe-core but $AXE is missing"
fi
