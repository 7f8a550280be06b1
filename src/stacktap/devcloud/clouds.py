"""How clients reach the dev cloud: ``clouds.yaml`` (cloud ``stacktap-devcloud``) and ``OS_*`` variables."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import yaml

from stacktap.devcloud.layout import Layout
from stacktap.devcloud.services import KEYSTONE, REGION
from stacktap.devcloud.state import State

CLOUD_NAME = "stacktap-devcloud"


def auth_url(state: State) -> str:
    return KEYSTONE.endpoint_url(state.ports[KEYSTONE.name])


def os_env(layout: Layout, state: State) -> dict[str, str]:
    """The ``OS_*`` variables of the admin user, plus ``OS_CLIENT_CONFIG_FILE`` for ``--os-cloud``."""
    return {
        "OS_AUTH_URL": auth_url(state),
        "OS_AUTH_TYPE": "password",
        "OS_USERNAME": "admin",
        "OS_PASSWORD": state.password,
        "OS_PROJECT_NAME": "admin",
        "OS_USER_DOMAIN_NAME": "Default",
        "OS_PROJECT_DOMAIN_NAME": "Default",
        "OS_IDENTITY_API_VERSION": "3",
        "OS_REGION_NAME": REGION,
        "OS_INTERFACE": "public",
        "OS_CLIENT_CONFIG_FILE": str(layout.clouds_yaml),
    }


def shell_exports(layout: Layout, state: State) -> list[str]:
    """``export`` lines for ``eval "$(stacktap devcloud env)"``; the venv's bin goes first on PATH."""
    lines = [f"export {key}={shlex.quote(value)}" for key, value in os_env(layout, state).items()]
    lines.append(f'export PATH={shlex.quote(str(layout.bin))}:"$PATH"')
    return lines


def client_env(layout: Layout, state: State, base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with the dev cloud's ``OS_*`` and PATH."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if not k.startswith("OS_")}
    env.update(os_env(layout, state))
    env["PATH"] = str(layout.bin) + os.pathsep + env.get("PATH", "")
    return env


def write_clouds_yaml(layout: Layout, state: State) -> Path:
    """``DIR/clouds.yaml`` with the one cloud ``stacktap-devcloud`` (user-only: it has the password)."""
    document = {
        "clouds": {
            CLOUD_NAME: {
                "auth": {
                    "auth_url": auth_url(state),
                    "username": "admin",
                    "password": state.password,
                    "project_name": "admin",
                    "user_domain_name": "Default",
                    "project_domain_name": "Default",
                },
                "auth_type": "password",
                "identity_api_version": 3,
                "region_name": REGION,
                "interface": "public",
            }
        }
    }
    path = layout.clouds_yaml
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(f"# Written by `stacktap devcloud up`. Use it: OS_CLIENT_CONFIG_FILE={path} \\\n")
        out.write(f"#     openstack --os-cloud {CLOUD_NAME} ...\n")
        yaml.safe_dump(document, out, sort_keys=False, default_flow_style=False)
    return path
