#!/usr/bin/env bash
# `make demo`: the local dev cloud, one traced command or two, their call tables and an HTML report.
#
# With the compute side (RabbitMQ and MariaDB from Debian, installed here when missing and this
# runs as root or with passwordless sudo): `up --with compute --trace-servers`, then traces
# `openstack image list` and `openstack server create --nic none --wait` (label
# demo-server-create), shows both, writes the server create's report, and deletes the server
# again, untraced (leftover servers would trouble the next demo and the e2e tests).
# Without it (the packages cannot be installed): ONE line saying why, then the image list alone.
#
# Settings (the Makefile passes them): STACKTAP (the CLI), DEVCLOUD_DIR, DEVCLOUD_DB, DEMO_REPORT.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
STACKTAP="${STACKTAP:-$here/../.venv/bin/stacktap}"
DEVCLOUD_DIR="${DEVCLOUD_DIR:-$PWD/.devcloud}"
DEVCLOUD_DB="${DEVCLOUD_DB:-$DEVCLOUD_DIR/stacktap.db}"
DEMO_REPORT="${DEMO_REPORT:-demo-report.html}"

say() { echo "demo: $*" >&2; }

# What the compute side lacks comes from stacktap itself (the binaries it would run).
compute=1
if ! missing="$("$STACKTAP" devcloud missing)"; then
    # shellcheck disable=SC2086 # one package a line: split on purpose
    if ! why="$(bash "$here/install-debian-packages.sh" $missing 2>&1 >/dev/null)"; then
        compute=0
    elif ! missing="$("$STACKTAP" devcloud missing)"; then
        compute=0
        missing="$(echo $missing)"
        why="$missing still missing after its install (try \`apt-get install --reinstall $missing\`)"
    fi
fi

with=()
if [ "$compute" = 1 ]; then
    with=(--with compute)
else
    say "no compute side (servers that boot) in this demo: ${why:-RabbitMQ/MariaDB missing}; tracing \`openstack image list\` only"
fi
"$STACKTAP" devcloud up --dir "$DEVCLOUD_DIR" "${with[@]}" --trace-servers --db "$DEVCLOUD_DB"
eval "$("$STACKTAP" devcloud env --dir "$DEVCLOUD_DIR")"

"$STACKTAP" run --db "$DEVCLOUD_DB" --label demo -- openstack image list
"$STACKTAP" show --db "$DEVCLOUD_DB" last

if [ "$compute" = 1 ]; then
    server="demo-server-$(date +%s)"
    # NOTE: whatever happens from here on (a failed boot, show or report), the server goes again.
    delete_server() {
        openstack server delete --wait "$server" >/dev/null 2>&1 ||
            say "could not delete server $server: openstack server delete --wait $server"
    }
    trap delete_server EXIT
    "$STACKTAP" run --db "$DEVCLOUD_DB" --label demo-server-create -- \
        openstack server create --nic none --flavor m1.tiny --image devcloud-image --wait "$server"
    "$STACKTAP" show --db "$DEVCLOUD_DB" last
fi
"$STACKTAP" report --db "$DEVCLOUD_DB" last -o "$DEMO_REPORT"
echo "open $DEMO_REPORT in a browser; the dev cloud keeps running: $STACKTAP devcloud down --dir $DEVCLOUD_DIR"
