"""The ini files of each service, written from the state so that every ``up`` writes the same bytes.

NOTE: the files are rewritten on each ``up``; a running service whose files changed (new ports,
tracing switched on) is restarted because its fingerprint (see ``processes``) changes.
"""

from __future__ import annotations

import configparser
import io
from collections.abc import Callable, Mapping
from pathlib import Path

from stacktap.devcloud.layout import Layout
from stacktap.devcloud.services import GLANCE, KEYSTONE, NOVA, PLACEMENT, REGION
from stacktap.devcloud.state import State
from stacktap.errors import DevcloudError

Sections = Mapping[str, Mapping[str, str]]

#: The shipped paste files, relative to the venv prefix (installed there as data files).
SHIPPED_PASTE = {GLANCE.name: "etc/glance/glance-api-paste.ini", NOVA.name: "etc/nova/api-paste.ini"}
#: Their names in the dev cloud's config dirs (the names glance and nova look for).
PASTE_NAME = {GLANCE.name: "glance-api-paste.ini", NOVA.name: "api-paste.ini"}


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
        "database": {"connection": layout.sqlite_url("keystone")},
        "token": {"provider": "fernet"},
        "fernet_tokens": {"key_repository": str(etc / "fernet-keys")},
        "fernet_receipts": {"key_repository": str(etc / "fernet-keys")},
        "credential": {"key_repository": str(etc / "credential-keys")},
        # NOTE: bcrypt's default cost (12) makes every password check, so every token issued,
        # take about half a second; 4 is bcrypt's minimum and fine for a throwaway cloud.
        # NOTE: bcrypt reads 72 bytes at most; saying so keeps a warning per token out of the log.
        "identity": {"password_hash_rounds": "4", "max_password_length": "72"},
    }


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
    return {
        "DEFAULT": {
            "use_stderr": "true",
            # NOTE: no message bus: nova-api only reads the databases (and creates flavors and
            # keypairs); anything that needs a conductor or compute would hang, so RPC is faked.
            "transport_url": "fake://",
            "state_path": str(data),
            "host": "stacktap-devcloud",
        },
        "api": {"auth_strategy": "keystone"},
        "api_database": {"connection": layout.sqlite_url("nova_api")},
        "database": {"connection": layout.sqlite_url("nova")},
        "wsgi": {"api_paste_config": str(layout.etc(NOVA.name) / PASTE_NAME[NOVA.name])},
        "keystone_authtoken": _authtoken(state),
        "oslo_concurrency": {"lock_path": str(data / "lock")},
    }


def placement_conf(layout: Layout, state: State) -> Sections:
    return {
        "DEFAULT": {"use_stderr": "true"},
        "api": {"auth_strategy": "keystone"},
        "placement_database": {"connection": layout.sqlite_url("placement")},
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
    }
    process = {GLANCE.name: GLANCE.process, NOVA.name: NOVA.process}
    for service in services:
        etc = layout.etc(service)
        etc.mkdir(parents=True, exist_ok=True)
        main, *rest = config_files(layout, service)
        _write_if_changed(main, render_ini(writers[service](layout, state)))
        if rest:
            text = shipped_paste_ini(layout, service).read_text()
            if instrument is not None:
                text = instrument(text, process[service])
            _write_if_changed(rest[0], text)
    for path in (layout.data / "glance", layout.data / "nova"):
        path.mkdir(parents=True, exist_ok=True)


def _write_if_changed(path: Path, text: str) -> None:
    try:
        if path.read_text() == text:
            return
    except OSError:
        pass
    path.write_text(text)
    path.chmod(0o600)  # NOTE: holds the admin password
