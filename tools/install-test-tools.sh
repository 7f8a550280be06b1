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

# Debian packages: Chromium; what the dev cloud runs as nodes of its own (never as system
# services): rabbitmq-server (nova's message bus, stacktap.devcloud.rabbitmq) and mariadb-server;
# and the Go toolchain with gophercloud for tests/e2e/go (a client in another language, for the
# proxy). install-debian-packages.sh installs the missing ones (root or passwordless sudo).
bash "$here/install-debian-packages.sh" chromium rabbitmq-server mariadb-server golang-go \
    golang-github-gophercloud-gophercloud-dev

if [ ! -x "$here/node_modules/.bin/mmdc" ] || [ ! -d "$here/node_modules/har-validator" ]; then
    # NOTE: puppeteer (under mermaid-cli) would download its own Chrome: we use Debian's.
    (cd "$here" && PUPPETEER_SKIP_DOWNLOAD=1 PUPPETEER_SKIP_CHROMIUM_DOWNLOAD=1 \
        npm install --no-audit --no-fund --loglevel=error >/dev/null)
fi
