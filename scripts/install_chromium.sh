#!/usr/bin/env bash
# Install Debian's chromium for the dashboard screenshot test
# (tests/integration/test_monitoring_workspace.py skips without /usr/bin/chromium).
# Idempotent; needs root and apt; never fails the build: it only warns.
set -u

if [ -x /usr/bin/chromium ]; then
    echo "chromium: already installed ($(/usr/bin/chromium --version 2>/dev/null || echo '?'))"
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "chromium: not installed and not root: skipping (the screenshot test will skip)" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium: no apt-get on this machine: skipping (the screenshot test will skip)" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
# --no-install-recommends: the browser and its libraries only (no extra fonts/desktop bits).
if apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; then
    echo "chromium: installed ($(/usr/bin/chromium --version 2>/dev/null || echo '?'))"
else
    echo "chromium: apt-get install failed: skipping (the screenshot test will skip)" >&2
fi
exit 0
