"""Tempest's compute API tests (servers, flavors, keypairs) against a running ``up --with compute``.

A peer's test suite as the proof that the dev cloud is a real compute cloud: the script

1. creates once a venv of its own for Tempest (``DIR/tempest/venv``, pinned by
   ``benchmarks/tempest-constraints.txt``, reinstalled when that file changes);
2. writes ``DIR/tempest/workspace/etc/tempest.conf`` from the dev cloud's state (keystone port,
   admin password, the ids of ``devcloud-image`` and of ``devcloud-image-alt``, which it uploads
   if missing, flavors m1.tiny and m1.small, the shared network ``tempest-shared`` it makes if
   missing, so every test server gets a port bound to the stand-in OVS agent) with the features
   that the fake virt driver and a neutron without real agents cannot offer switched off;
3. runs ``tempest run`` on ``^tempest\\.api\\.compute\\.(servers|flavors|keypairs)`` minus the
   tests listed in ``benchmarks/tempest_compute_skips.txt`` (each with its reason), bounded by
   ``--timeout``;
4. reads the run's subunit stream and prints passed/failed/skipped, the tests the skip list left
   out, the failures with their reason (``--show-skips``: the skips too) and the wall time.

    .venv/bin/stacktap devcloud up --dir $PWD/.devcloud --with compute
    .venv/bin/python benchmarks/tempest_compute.py --dir $PWD/.devcloud

Exit status: 0 when nothing failed, 1 when a test failed or the timeout cut the run, 2 when the
run could not be made.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from stacktap.devcloud import compute, nova
from stacktap.devcloud.http import request_json
from stacktap.devcloud.keystone_api import KeystoneAdmin
from stacktap.devcloud.layout import Layout
from stacktap.devcloud.services import GLANCE, KEYSTONE, NEUTRON, NOVA, REGION
from stacktap.devcloud.state import State, load
from stacktap.errors import DevcloudError

HERE = Path(__file__).resolve().parent
CONSTRAINTS = HERE / "tempest-constraints.txt"
SKIPS = HERE / "tempest_compute_skips.txt"
#: The second image Tempest wants (``image_ref_alt``), made by this script like devcloud-image.
ALT_IMAGE = compute.IMAGE_NAME + "-alt"
REGEX = r"^tempest\.api\.compute\.(servers|flavors|keypairs)"
#: The network every Tempest server boots on (``[compute] fixed_network_name``): shared, since
#: Tempest's dynamic credentials make a project per test class.
NETWORK = "tempest-shared"
SUBNET_CIDR = "10.99.0.0/22"
#: Tempest runs the microversioned tests from 2.1 up to the newest that nova-api offers.
MAX_MICROVERSION = "latest"

#: Reads the run's subunit v2 stream on stdin inside Tempest's venv (python-subunit is there, not
#: here): one CSV row per test: id, status, skip or failure reason (first line).
_SUBUNIT_READER = r"""
import csv, sys
import subunit, testtools
rows = {}
def on_test(test):
    details = test["details"]
    reason = ""
    for name in ("reason", "traceback"):
        if name in details:
            text = details[name].as_text().strip().splitlines()
            reason = text[-1] if text else ""
            break
    rows[test["id"]] = (test["status"], reason)
result = testtools.StreamToDict(on_test)
result.startTestRun()
subunit.ByteStreamToStreamResult(sys.stdin.buffer, non_subunit_name="stdout").run(result)
result.stopTestRun()
out = csv.writer(sys.stdout)
for test_id, (status, reason) in sorted(rows.items()):
    out.writerow([test_id, status, reason])
"""


def ensure_network(neutron_url: str, token: str) -> str:
    """The name of the shared vxlan network (and subnet) Tempest's servers boot on, made if missing."""
    headers = {"X-Auth-Token": token}
    listed = request_json("GET", f"{neutron_url}/v2.0/networks?name={NETWORK}", headers=headers)
    if listed.status != 200:
        raise DevcloudError(f"neutron refused to list networks: HTTP {listed.status}")
    found = listed.body.get("networks", [])
    if found and found[0].get("subnets"):
        return NETWORK
    if found:
        network_id = found[0]["id"]
    else:
        made = request_json("POST", f"{neutron_url}/v2.0/networks",
                            {"network": {"name": NETWORK, "shared": True}}, headers)  # fmt: skip
        if made.status != 201:
            raise DevcloudError(f"neutron refused to create {NETWORK}: HTTP {made.status}")
        network_id = made.body["network"]["id"]
    subnet = {"network_id": network_id, "name": NETWORK, "ip_version": 4, "cidr": SUBNET_CIDR}
    made = request_json("POST", f"{neutron_url}/v2.0/subnets", {"subnet": subnet}, headers)
    if made.status != 201:
        raise DevcloudError(f"neutron refused the subnet of {NETWORK}: HTTP {made.status}")
    return NETWORK


def tempest_conf(layout: Layout, state: State, images: tuple[str, str], network: str) -> str:
    """tempest.conf for the dev cloud: what it has, and what the fake driver cannot do switched off."""
    keystone = KEYSTONE.endpoint_url(state.ports[KEYSTONE.name])
    tiny, small = (nova.FLAVORS[name][0] for name in ("m1.tiny", "m1.small"))
    sections: dict[str, dict[str, str]] = {
        "DEFAULT": {
            "log_dir": str(layout.root / "tempest" / "workspace" / "logs"),
            "log_file": "tempest.log",
        },
        "auth": {
            # NOTE: Tempest makes a project and users per test class with the admin account (the
            # dev cloud's only one) and deletes them after.
            "use_dynamic_credentials": "true",
            "admin_username": "admin",
            "admin_password": state.password,
            "admin_project_name": "admin",
            "admin_domain_name": "Default",
            # NOTE: no network per test project: neutron has no L3 service plugin for the router
            # Tempest would add. (Ports do bind now, to the dev cloud's stand-in OVS agent.)
            "create_isolated_networks": "false",
        },
        "identity": {
            "uri_v3": keystone,
            "auth_version": "v3",
            "region": REGION,
            "v3_endpoint_type": "public",
        },
        "identity-feature-enabled": {"api_v2": "false"},
        "service_available": {
            "nova": "true",
            "glance": "true",
            "neutron": "true",
            "cinder": "false",
            "swift": "false",
            "horizon": "false",
        },
        "compute": {
            # NOTE: two images, so that the filter-by-image and rebuild tests see distinct ones.
            "image_ref": images[0],
            "image_ref_alt": images[1],
            "flavor_ref": tiny,
            "flavor_ref_alt": small,
            "region": REGION,
            "endpoint_type": "publicURL",
            "min_microversion": "2.1",
            "max_microversion": MAX_MICROVERSION,
            # NOTE: one host: builds land on it, migrations have nowhere to go.
            "min_compute_nodes": "1",
            "build_timeout": "120",
            # NOTE: every server boots on this shared network, its port bound to the stand-in
            # OVS agent (no traffic flows: the tests that ssh in are off with run_validation).
            "fixed_network_name": network,
        },
        "compute-feature-enabled": {
            # NOTE: what nova's fake driver does for real: power, pause, suspend, rescue, resize
            # (to the same host, see nova.conf), console output (a fixed text), admin password.
            "resize": "true",
            "pause": "true",
            "suspend": "true",
            "rescue": "true",
            "console_output": "true",
            "change_password": "true",
            "enable_instance_password": "true",
            "disk_config": "true",
            # NOTE: the dev cloud's driver uploads the server's disk as the snapshot's data (nova's
            # fake driver uploads nothing), so image-from-server, backup and stable rescue work.
            "snapshot": "true",
            "stable_rescue": "true",
            "shelve": "true",
            "shelve_migrate": "false",
            "hostname_fqdn_sanitization": "true",
            # NOTE: one compute host: nowhere to migrate to.
            "cold_migration": "false",
            "live_migration": "false",
            # NOTE: no console proxies run (novncproxy, spice, serial).
            "vnc_console": "false",
            "spice_console": "false",
            "serial_console": "false",
            # NOTE: ports bind to the stand-in OVS agent; the fake driver attaches what nova asks.
            "interface_attach": "true",
            # NOTE: no guest ever boots to read a metadata service or a config drive.
            "metadata_service": "false",
            "config_drive": "false",
            # NOTE: no cinder.
            "attach_encrypted_volume": "false",
            # NOTE: nova still takes personality files below 2.57; the fake driver ignores them.
            "personality": "true",
        },
        "image": {"region": REGION, "endpoint_type": "publicURL"},
        "image-feature-enabled": {"api_v1": "false", "api_v2": "true"},
        "network": {"region": REGION, "endpoint_type": "publicURL", "project_networks_reachable": "false"},
        "network-feature-enabled": {"ipv6": "false", "floating_ips": "false", "port_security": "true"},
        "placement": {"region": REGION, "endpoint_type": "public"},
        "validation": {
            # NOTE: nothing to ssh into: the fake driver runs no guest.
            "run_validation": "false",
            "connect_method": "fixed",
        },
        "volume-feature-enabled": {"api_v3": "false"},
        "oslo_concurrency": {"lock_path": str(layout.root / "tempest" / "lock")},
    }
    out = io.StringIO()
    for section, values in sections.items():
        out.write(f"[{section}]\n")
        for key, value in values.items():
            out.write(f"{key} = {value}\n")
        out.write("\n")
    return out.getvalue()


def ensure_venv(venv: Path) -> Path:
    """Tempest's venv, (re)installed when the constraints file changed since the last install."""
    stamp = venv / ".constraints-sha256"
    digest = hashlib.sha256(CONSTRAINTS.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest and (venv / "bin" / "tempest").exists():
        return venv
    print(f"installing Tempest into {venv} (pinned by {CONSTRAINTS.name})", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pin = next(line for line in CONSTRAINTS.read_text().splitlines() if line.startswith("tempest=="))
    with open(venv.parent / "pip.log", "w") as log:
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-c", str(CONSTRAINTS), pin],
            check=True,
            timeout=900,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    stamp.write_text(digest)
    return venv


def write_workspace(workspace: Path, venv: Path, conf: str) -> Path:
    """The stestr workspace Tempest runs in (what ``tempest init`` makes, without its registry
    in ``~/.tempest``); its tempest.conf."""
    (workspace / "etc").mkdir(parents=True, exist_ok=True)
    (workspace / "logs").mkdir(exist_ok=True)
    found = sorted(venv.glob("lib/python*/site-packages/tempest/test_discover"))
    if not found:
        raise DevcloudError(f"no tempest/test_discover in {venv}")
    # NOTE: as tempest init writes it: discovery from the package's test_discover, top_dir
    # the package itself (one class per worker, group_regex).
    stestr_conf = f"[DEFAULT]\ntest_path={found[0]}\ntop_dir={found[0].parent}\ngroup_regex=([^\\.]*\\.)*\n"
    (workspace / ".stestr.conf").write_text(stestr_conf)
    conf_file = workspace / "etc" / "tempest.conf"
    fd = os.open(str(conf_file), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # the admin password
    with os.fdopen(fd, "w") as out:
        out.write(conf)
    return conf_file


def run_tempest(venv: Path, workspace: Path, conf_file: Path, args: argparse.Namespace) -> int | None:
    """``tempest run`` in its own process group, killed whole after ``args.timeout``; its exit
    code, None on timeout."""
    cmd = [
        str(venv / "bin" / "tempest"),
        "run",
        "--config-file",
        str(conf_file),
        "--regex",
        args.regex,
        "--exclude-list",
        str(SKIPS),
        "--concurrency",
        str(args.concurrency),
        # NOTE: the stream itself, written as tests end: what a timed-out run finished is in it
        # (``stestr last`` would give the previous complete run).
        "--subunit",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "STACKTAP_"))}
    env["PATH"] = str(venv / "bin") + os.pathsep + env.get("PATH", "")
    with open(workspace / "logs" / "tempest-run.txt", "w") as log, open(_stream(workspace), "wb") as out:
        proc = subprocess.Popen(cmd, cwd=workspace, env=env, stdout=out, stderr=log, start_new_session=True)
        try:
            return proc.wait(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            return None


def skip_list() -> list[tuple[re.Pattern[str], str]]:
    """The skip list's regexes and reasons, read as stestr reads them (regex, then ``# reason``)."""
    entries = []
    for line in SKIPS.read_text().splitlines():
        regex, _, reason = line.partition("#")
        if regex.strip():
            entries.append((re.compile(regex.strip()), reason.strip()))
    return entries


def excluded_tests(venv: Path, workspace: Path, conf_file: Path, regex: str) -> list[str]:
    """``test id: reason`` of each test that ``regex`` selects and the skip list leaves out
    (stestr drops them without a record, so they are counted from Tempest's own listing)."""
    listing = subprocess.run(
        [
            str(venv / "bin" / "tempest"),
            "run",
            "--config-file",
            str(conf_file),
            "--list-tests",
            "--regex",
            regex,
        ],
        cwd=workspace,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    ).stdout.split()
    entries = skip_list()
    found = []
    for test_id in listing:
        reasons = [reason for pattern, reason in entries if pattern.search(test_id)]
        if reasons and test_id.startswith("tempest."):
            found.append(f"{test_id}: {reasons[0]}")
    return found


def _stream(workspace: Path) -> Path:
    """The run's subunit v2 stream (``subunit2pyunit < FILE`` or ``subunit-trace`` reads it)."""
    return workspace / "logs" / "tempest-run.subunit"


def results(venv: Path, workspace: Path) -> list[tuple[str, str, str]]:
    """(test id, status, reason) of each test in this run's stream."""
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", _SUBUNIT_READER],
        input=_stream(workspace).read_bytes(),
        capture_output=True,
        check=True,
    )
    return [(row[0], row[1], row[2]) for row in csv.reader(io.StringIO(done.stdout.decode()))]


#: subunit status -> how it is counted (an expected failure passes, an unexpected success fails).
_COUNTED_AS = {
    "success": "passed",
    "xfail": "passed",
    "skip": "skipped",
    "fail": "failed",
    "uxsuccess": "failed",
}


@dataclass
class Summary:
    """One run's counts, its wall time and the failures' and skips' ``test id: reason`` lines."""

    seconds: int
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    not_run: int = 0
    failures: list[str] = field(default_factory=list)
    skips: list[str] = field(default_factory=list)
    #: left out by the skip list (never run, so not in ``skipped``)
    excluded: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"passed {self.passed}  failed {self.failed}  skipped {self.skipped} (Tempest's own skips)  "
            f"excluded {len(self.excluded)} (the skip list)  in {self.seconds}s"
            + (f"  not run {self.not_run} (in skipped classes, or cut off)" if self.not_run else "")
        )


def summarize(rows: list[tuple[str, str, str]], seconds: float) -> Summary:
    summary = Summary(seconds=round(seconds))
    for test_id, status, reason in rows:
        # NOTE: "exists": listed, never started (its class was skipped in setUpClass, which
        # counts once as a skip, or the timeout came first); "inprogress": cut off by the timeout.
        kind = _COUNTED_AS.get(status, "not_run")
        setattr(summary, kind, getattr(summary, kind) + 1)
        if kind == "failed":
            summary.failures.append(f"{test_id}: {reason}")
        elif kind == "skipped":
            summary.skips.append(f"{test_id}: {reason}")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--dir", required=True, help="the dev cloud's directory (up --with compute)")
    parser.add_argument("--regex", default=REGEX, help=f"tests to run (default: {REGEX})")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=2400.0, help="seconds for the whole run")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--show-skips", action="store_true", help="list every skipped test and its reason")
    args = parser.parse_args(argv)
    layout = Layout.at(args.dir)
    try:
        state = load(layout.state_file)
        if state is None or not state.with_compute:
            raise DevcloudError(
                f"no dev cloud with compute in {layout.root}: run `stacktap devcloud up --with compute`"
            )
        admin = KeystoneAdmin(KEYSTONE.endpoint_url(state.ports[KEYSTONE.name]), state.password)
        glance = state.ports[GLANCE.name]
        images = (
            compute.ensure_image(glance, admin.token),
            compute.ensure_image(glance, admin.token, ALT_IMAGE),
        )
        network = ensure_network(NEUTRON.root_url(state.ports[NEUTRON.name]), admin.token)
        venv = ensure_venv(layout.root / "tempest" / "venv")
        workspace = layout.root / "tempest" / "workspace"
        conf_file = write_workspace(workspace, venv, tempest_conf(layout, state, images, network))
    except (DevcloudError, OSError, subprocess.SubprocessError) as exc:
        print(f"tempest_compute: {exc}", file=sys.stderr)
        return 2
    (layout.root / "tempest" / "lock").mkdir(exist_ok=True)
    nova_url = NOVA.endpoint_url(state.ports[NOVA.name])
    print(f"running tempest ({args.regex}, concurrency {args.concurrency}, nova {nova_url})", flush=True)
    start = time.monotonic()
    code = run_tempest(venv, workspace, conf_file, args)
    seconds = time.monotonic() - start
    if code is None:
        print(
            f"tempest_compute: the run did not end within {args.timeout:.0f}s; counted what finished",
            file=sys.stderr,
        )
    rows = results(venv, workspace)
    if not rows:
        print(
            f"tempest_compute: tempest ran no test; read {workspace / 'logs' / 'tempest-run.txt'}",
            file=sys.stderr,
        )
        return 2
    summary = summarize(rows, seconds)
    summary.excluded = excluded_tests(venv, workspace, conf_file, args.regex)
    if args.json:
        print(json.dumps(asdict(summary), indent=2))
    else:
        print(summary.line())
        for line in summary.failures:
            print(f"FAILED {line}")
        if args.show_skips:
            for line in summary.skips:
                print(f"SKIPPED {line}")
            for line in summary.excluded:
                print(f"EXCLUDED {line}")
        print(f"logs: {workspace / 'logs' / 'tempest.log'} (requests), {_stream(workspace)} (results)")
    return 1 if summary.failed or code is None else 0


if __name__ == "__main__":
    sys.exit(main())
