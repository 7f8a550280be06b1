#!/usr/bin/env bash
# Installs what the browser-facing tests need and pip cannot give:
#   - Debian's Chromium (the real browser the HTML report and Mermaid diagrams are checked in),
#   - Node tools from npm into tools/node_modules: mermaid-cli (renders Mermaid with that
#     Chromium), har-validator + har-schema (HAR 1.2 JSON schemas), playwright-core.
# Idempotent: does nothing that is already done.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        sudo apt-get update -qq
        sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    fi
fi

if [ ! -x "$here/node_modules/.bin/mmdc" ] || [ ! -d "$here/node_modules/har-validator" ]; then
    # NOTE: puppeteer (under mermaid-cli) would download its own Chrome: we use Debian's.
    (cd "$here" && PUPPETEER_SKIP_DOWNLOAD=1 PUPPETEER_SKIP_CHROMIUM_DOWNLOAD=1 \
        npm install --no-audit --no-fund --loglevel=error >/dev/null)
fi
