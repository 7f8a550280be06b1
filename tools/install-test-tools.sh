#!/usr/bin/env bash
# Installs what the browser-facing tests need and pip cannot give:
#   - Debian's RabbitMQ and MariaDB servers (run by the dev cloud and tests as nodes of their own),
#   - Debian's Chromium (the real browser the HTML report and Mermaid diagrams are checked in),
#   - Debian's Go and gophercloud (0.12 in bookworm): the Go client the recording proxy's e2e
#     test builds offline (GOPATH mode on /usr/share/gocode) and traces,
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

# Debian packages the dev cloud runs as nodes of its own (never as system services):
# rabbitmq-server (nova's message bus, stacktap.devcloud.rabbitmq) and mariadb-server; and the
# Go toolchain with gophercloud for tests/e2e/go (a client in another language, for the proxy).
missing=()
for pkg in rabbitmq-server mariadb-server golang-go golang-github-gophercloud-gophercloud-dev; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    sudo_=""; [ "$(id -u)" = 0 ] || sudo_="sudo"
    $sudo_ apt-get update -qq
    $sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x "$here/node_modules/.bin/mmdc" ] || [ ! -d "$here/node_modules/har-validator" ]; then
    # NOTE: puppeteer (under mermaid-cli) would download its own Chrome: we use Debian's.
    (cd "$here" && PUPPETEER_SKIP_DOWNLOAD=1 PUPPETEER_SKIP_CHROMIUM_DOWNLOAD=1 \
        npm install --no-audit --no-fund --loglevel=error >/dev/null)
fi
