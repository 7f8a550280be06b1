#!/usr/bin/env bash
# Usage: tools/install-debian-packages.sh PACKAGE...
# Installs the Debian packages among PACKAGE that are not installed yet, non-interactively, as
# root or through passwordless sudo (`sudo -n`: never a prompt, so `make demo` and CI never hang).
# Exit 0 when all of them are installed afterwards (nothing to do included); otherwise exit 1 with
# ONE line on stderr saying why and what to run (tools/demo.sh shows it as its fallback's reason).
# Used by tools/install-test-tools.sh (test tools) and tools/demo.sh (the compute side's packages,
# as `stacktap devcloud missing` names them).
set -euo pipefail

missing=()
for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
[ "${#missing[@]}" -gt 0 ] || exit 0
wanted="apt-get install ${missing[*]}"

if [ "$(id -u)" = 0 ]; then
    sudo_=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
    sudo_=(sudo -n)
else
    echo "not root and no passwordless sudo, so no \`$wanted\` (run it as root)" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg >/dev/null 2>&1; then
    echo "no apt-get here (not Debian/Ubuntu?): install ${missing[*]} another way" >&2
    exit 1
fi

log="$(mktemp "${TMPDIR:-/tmp}/stacktap-apt.XXXXXX")"
if ! { "${sudo_[@]}" apt-get update -qq && "${sudo_[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq "${missing[@]}"; } >"$log" 2>&1; then
    echo "\`$wanted\` failed (its output: $log)" >&2
    exit 1
fi
rm -f "$log"
