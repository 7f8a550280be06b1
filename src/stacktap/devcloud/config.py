"""The ini files of each service, written from the state so that every ``up`` writes the same bytes.

NOTE: the files are rewritten on each ``up``; a running service whose files changed (new ports,
tracing switched on) is restarted because its fingerprint (see ``processes``) changes.
"""

from __future__ import annotations

import configparser
import io
from collections.abc import Callable, Mapping
from pathlib import Path

from stacktap.devcloud import compute
from stacktap.devcloud.layout import Layout
from stacktap.devcloud.services import GLANCE, KEYSTONE, NEUTRON, NOVA, PLACEMENT, REGION
from stacktap.devcloud.state import State
from stacktap.errors import DevcloudError

Sections = Mapping[str, Mapping[str, str]]

#: The shipped paste files, relative to the venv prefix (installed there as data files).
SHIPPED_PASTE = {
    GLANCE.name: "etc/glance/glance-api-paste.ini",
    NOVA.name: "etc/nova/api-paste.ini",
    NEUTRON.name: "etc/neutron/api-paste.ini",
}
#: Their names in the dev cloud's config dirs (the names glance, nova and neutron look for).
PASTE_NAME = {GLANCE.name: "glance-api-paste.ini", NOVA.name: "api-paste.ini", NEUTRON.name: "api-paste.ini"}
#: neutron's plugin file, relative to its config dir (where neutron's WSGI app looks for it).
ML2_CONF = "plugins/ml2/ml2_conf.ini"
#: neutron's ``agent_down_time``: the largest it accepts (seconds; see ``neutron_conf``).
AGENT_DOWN_TIME = (2**31 - 1) // 1000


def render_ini(sections: Sections) -> str:
    parser = configparser.RawConfigParser()
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    for section, values in sections.items():
        if section != "DEFAULT":
            parser.add_section(section)
        for key, value in values.items():
            parser.set(section, key, value)
    out = io.StringIO()
    parser.write(out)
    return out.getvalue()


def _authtoken(state: State) -> dict[str, str]:
    # NOTE: the services authenticate as the admin user: a dev cloud, one password to keep.
    keystone = KEYSTONE.root_url(state.ports[KEYSTONE.name])
    return {
        # NOTE: with compute, a service token counts only from a user with the service role (as
        # in deployments; ``up`` grants it to admin). It also makes every service's file change
        # when compute moves keystone's database (``service_database_url``), so ``up`` restarts
        # them: their own cached tokens name an admin user the new database does not have.
        "service_token_roles_required": "true" if state.with_compute else "false",
        "www_authenticate_uri": keystone,
        "auth_url": keystone,
        "auth_type": "password",
        "username": "admin",
        "password": state.password,
        "project_name": "admin",
        "user_domain_name": "Default",
        "project_domain_name": "Default",
        "region_name": REGION,
    }


def keystone_conf(layout: Layout, state: State) -> Sections:
    etc = layout.etc(KEYSTONE.name)
    return {
        "DEFAULT": {"use_stderr": "true"},
        "database": {"connection": service_database_url(layout, state, "keystone")},
        "token": {"provider": "fernet"},
        "fernet_tokens": {"key_repository": str(etc / "fernet-keys")},
        "fernet_receipts": {"key_repository": str(etc / "fernet-keys")},
        "credential": {"key_repository": str(etc / "credential-keys")},
        # NOTE: bcrypt's default cost (12) makes every password check, so every token issued,
        # take about half a second; 4 is bcrypt's minimum and fine for a throwaway cloud.
        # NOTE: bcrypt reads 72 bytes at most; saying so keeps a warning per token out of the log.
        "identity": {"password_hash_rounds": "4", "max_password_length": "72"},
    }


def service_database_url(layout: Layout, state: State, name: str) -> str:
    """keystone's or placement's database: SQLite, or the dev cloud's MariaDB once compute is on.

    NOTE: with compute, writes come side by side (Tempest's two workers making and deleting
    users, the scheduler and nova-compute writing allocations): the service's threads then
    write SQLite at once and one of them gets "database is locked" (a 500 on
    ``DELETE /v3/users``, on ``PUT /allocations``), as nova's processes did.
    """
    return compute.database_url(layout, state, name) if state.with_compute else layout.sqlite_url(name)


def glance_conf(layout: Layout, state: State) -> Sections:
    data = layout.data / "glance"
    return {
        "DEFAULT": {
            "use_stderr": "true",
            "node_staging_uri": f"file://{data / 'staging'}",
            "image_cache_dir": str(data / "cache"),
            "worker_self_reference_url": GLANCE.root_url(state.ports[GLANCE.name]),
        },
        "database": {"connection": layout.sqlite_url("glance")},
        "glance_store": {
            "stores": "file,http",
            "default_store": "file",
            "filesystem_store_datadir": str(data / "images"),
        },
        "paste_deploy": {
            "flavor": "keystone",
            "config_file": str(layout.etc(GLANCE.name) / PASTE_NAME[GLANCE.name]),
        },
        "keystone_authtoken": _authtoken(state),
        "oslo_concurrency": {"lock_path": str(data / "lock")},
    }


def nova_conf(layout: Layout, state: State) -> Sections:
    data = layout.data / "nova"
    sections: dict[str, dict[str, str]] = {
        "DEFAULT": {
            "use_stderr": "true",
            # NOTE: without compute there is no message bus: nova-api only reads the databases (and
            # creates flavors and keypairs); anything that needs a conductor would hang, so RPC is
            # faked. With compute it is the dev cloud's own RabbitMQ, and no fake driver anywhere.
            "transport_url": compute.transport_url(layout) if state.with_compute else "fake://",
            "state_path": str(data),
            "host": compute.HOST_NAME,
        },
        "api": {"auth_strategy": "keystone"},
        "api_database": {"connection": nova_database_url(layout, state, "nova_api")},
        "database": {"connection": nova_database_url(layout, state, "nova")},
        "wsgi": {"api_paste_config": str(layout.etc(NOVA.name) / PASTE_NAME[NOVA.name])},
        "keystone_authtoken": _authtoken(state),
        "oslo_concurrency": {"lock_path": str(data / "lock")},
    }
    if state.with_compute:
        _add_compute(sections, layout, state)
    return sections


def nova_database_url(layout: Layout, state: State, name: str) -> str:
    """nova's database ``name`` (nova_api, nova, nova_cell0): SQLite for nova-api alone, MariaDB
    once conductor, scheduler and API write it from three processes (SQLite: "database is locked")."""
    return compute.database_url(layout, state, name) if state.with_compute else layout.sqlite_url(name)


def _add_compute(sections: dict[str, dict[str, str]], layout: Layout, state: State) -> None:
    """What conductor, scheduler and compute need on top of nova-api's file (one file for all)."""
    data = layout.data / "nova"
    sections["DEFAULT"].update(
        {
            # NOTE: nova's fake driver that keeps one node with a stable uuid (``state_path/compute_id``),
            # like a real single-host driver (plain FakeDriver draws a new node uuid at each start,
            # and nova-compute then refuses to restart: "No local node identity found"), and
            # downloads each server's image from glance as a real driver does (nova_driver.py).
            "compute_driver": compute.DRIVER,
            "instances_path": str(data / "instances"),
            # NOTE: native threads in every nova process (nova's eventlet mode is deprecated).
            "concurrency_backend": "threading",
            # NOTE: one compute host: a resize has nowhere else to go (Tempest's resize tests).
            "allow_resize_to_same_host": "true",
        }
    )
    # NOTE: one worker each: a dev cloud, and a debugger or a trace is easier to follow.
    sections["conductor"] = {"workers": "1"}
    # NOTE: up maps the host itself (discover_hosts), so the scheduler need not poll for new ones.
    sections["scheduler"] = {"workers": "1", "discover_hosts_in_cells_interval": "-1"}
    sections["placement"] = {**_service_auth(state), "valid_interfaces": "public"}
    sections["neutron"] = {**_service_auth(state), "valid_interfaces": "public"}
    # NOTE: nova sends a service token with the user's (as a real deployment does); the other
    # services' keystonemiddleware accepts it only from a user with the ``service`` role, which
    # ``up`` gives the admin user.
    sections["service_user"] = {**_service_auth(state), "send_service_user_token": "true"}
    sections["glance"] = {"valid_interfaces": "public", "region_name": REGION}
    # NOTE: notifications would pile up in queues no one reads.
    sections["oslo_messaging_notifications"] = {"driver": "noop"}


def _service_auth(state: State) -> dict[str, str]:
    """A keystoneauth password section (placement, neutron): the admin user, like the services."""
    auth = _authtoken(state)
    return {
        key: auth[key]
        for key in (
            "auth_url",
            "auth_type",
            "username",
            "password",
            "project_name",
            "user_domain_name",
            "project_domain_name",
            "region_name",
        )
    }


def neutron_conf(layout: Layout, state: State) -> Sections:
    """neutron-server with ML2 and one stand-in Open vSwitch agent (see ``neutron``): the API and
    its database are real, ports bind to the compute host, nothing carries traffic."""
    data = layout.data / "neutron"
    return {
        "DEFAULT": {
            "use_stderr": "true",
            "core_plugin": "ml2",
            "service_plugins": "",
            "auth_strategy": "keystone",
            "transport_url": compute.transport_url(layout),
            "api_paste_config": str(layout.etc(NEUTRON.name) / PASTE_NAME[NEUTRON.name]),
            "state_path": str(data),
            # NOTE: no agent will ever change a port's status, so there is nothing to tell nova.
            "notify_nova_on_port_status_changes": "false",
            "notify_nova_on_port_data_changes": "false",
            "rpc_workers": "0",
            # NOTE: the stand-in agent (``neutron.register_agent``) sends no heartbeat: ``up``
            # refreshes it, and neutron counts it alive for this long after (ML2 binds no port to
            # a dead agent). Neutron's maximum: (2**31 - 1) // 1000 s, about 24.8 days (it hands the
            # value on in milliseconds as a C int); a cloud left alone longer needs another ``up``.
            "agent_down_time": str(AGENT_DOWN_TIME),
        },
        "database": {"connection": compute.neutron_database_url(layout, state)},
        "keystone_authtoken": _authtoken(state),
        "nova": _service_auth(state),
        "oslo_concurrency": {"lock_path": str(data / "lock")},
        "oslo_messaging_notifications": {"driver": "noop"},
    }


def ml2_conf(layout: Layout, state: State) -> Sections:
    return {
        "ml2": {
            "type_drivers": "flat,vxlan",
            "tenant_network_types": "vxlan",
            "mechanism_drivers": "openvswitch",
            "extension_drivers": "port_security",
        },
        "ml2_type_vxlan": {"vni_ranges": "1:1000"},
        "ml2_type_flat": {"flat_networks": "public"},
    }


def placement_conf(layout: Layout, state: State) -> Sections:
    return {
        "DEFAULT": {"use_stderr": "true"},
        "api": {"auth_strategy": "keystone"},
        "placement_database": {"connection": service_database_url(layout, state, "placement")},
        "keystone_authtoken": _authtoken(state),
    }


def config_files(layout: Layout, service: str) -> list[Path]:
    """The files a running ``service`` reads: a change in them means a restart."""
    etc = layout.etc(service)
    names = {
        KEYSTONE.name: ["keystone.conf"],
        GLANCE.name: ["glance-api.conf", PASTE_NAME[GLANCE.name]],
        NOVA.name: ["nova.conf", PASTE_NAME[NOVA.name]],
        PLACEMENT.name: ["placement.conf"],
        NEUTRON.name: ["neutron.conf", PASTE_NAME[NEUTRON.name], ML2_CONF],
    }[service]
    return [etc / name for name in names]


def shipped_paste_ini(layout: Layout, service: str) -> Path:
    """The api-paste.ini that the installed glance or nova ships (a data file in the venv)."""
    path = layout.venv / SHIPPED_PASTE[service]
    if path.exists():
        return path
    # NOTE: some installers put data files elsewhere under the prefix; look before giving up.
    found = sorted(layout.venv.glob("**/" + Path(SHIPPED_PASTE[service]).name))
    if not found:
        raise DevcloudError(f"cannot find the {path.name} shipped with {service} in {layout.venv}")
    return found[0]


def write_all(
    layout: Layout,
    state: State,
    services: list[str],
    instrument: Callable[[str, str], str] | None = None,
) -> None:
    """Write the ini files of ``services``; ``instrument(text, service)`` rewrites paste files."""
    writers = {
        KEYSTONE.name: keystone_conf,
        GLANCE.name: glance_conf,
        NOVA.name: nova_conf,
        PLACEMENT.name: placement_conf,
        NEUTRON.name: neutron_conf,
    }
    process = {GLANCE.name: GLANCE.process, NOVA.name: NOVA.process, NEUTRON.name: NEUTRON.process}
    for service in services:
        etc = layout.etc(service)
        etc.mkdir(parents=True, exist_ok=True)
        main, *rest = config_files(layout, service)
        _write_if_changed(main, render_ini(writers[service](layout, state)))
        if service in SHIPPED_PASTE:
            text = shipped_paste_ini(layout, service).read_text()
            if instrument is not None:
                text = instrument(text, process[service])
            _write_if_changed(rest[0], text)
        if service == NEUTRON.name:
            (etc / ML2_CONF).parent.mkdir(parents=True, exist_ok=True)
            _write_if_changed(etc / ML2_CONF, render_ini(ml2_conf(layout, state)))
    for path in (layout.data / "glance", layout.data / "nova", layout.data / "neutron"):
        path.mkdir(parents=True, exist_ok=True)


def _write_if_changed(path: Path, text: str) -> None:
    try:
        if path.read_text() == text:
            return
    except OSError:
        pass
    path.write_text(text)
    path.chmod(0o600)  # NOTE: holds the admin password
