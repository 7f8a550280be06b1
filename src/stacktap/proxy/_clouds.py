"""The user's cloud from ``clouds.yaml``, for ``run --proxy``: its keystone, and a private copy
of the file whose ``auth.auth_url`` points at the proxy.

A cloud is named by ``--os-cloud NAME`` (or ``--os-cloud=NAME``) in the command's argv, else by
``$OS_CLOUD`` (the command-line option wins, as in OSC). ``clouds.yaml`` is looked for where
openstacksdk looks: ``$OS_CLIENT_CONFIG_FILE``, then ``clouds.yaml`` (or ``.yml``/``.json``) in
the current directory, the user's config directory and the system's; the first file that
exists is the one. The command gets the copy as ``OS_CLIENT_CONFIG_FILE``, which the SDK reads
first; ``secure.yaml`` is found and merged by the SDK as before (only ``auth_url`` changes).

NOTE: secrets. ``clouds.yaml`` holds passwords and application credential secrets: its
content goes nowhere but the private copy (mode 0600 in a 0700 directory, removed by
:meth:`PrivateCopy.close`); errors name the file and the cloud, never a line of it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stacktap.proxy._server import ProxyError

CLOUD_OPTION = "--os-cloud"
_NAMES = ("clouds.yaml", "clouds.yml", "clouds.json")


def cloud_name(argv: Sequence[str], environ: Mapping[str, str]) -> str | None:
    """The cloud the command uses: its last ``--os-cloud`` option, else ``$OS_CLOUD``, else None."""
    name = None
    args = list(argv[1:])
    for index, arg in enumerate(args):
        if arg == CLOUD_OPTION and index + 1 < len(args):
            name = args[index + 1]
        elif arg.startswith(CLOUD_OPTION + "="):
            name = arg[len(CLOUD_OPTION) + 1 :]
    return name or environ.get("OS_CLOUD") or None


def _search_dirs(environ: Mapping[str, str]) -> list[str]:
    home = os.path.expanduser("~")
    dirs = [os.getcwd()]
    xdg = environ.get("XDG_CONFIG_HOME")
    if xdg:  # NOTE: openstacksdk's user config dir (appdirs) honours it, then ~/.config too
        dirs.append(os.path.join(xdg, "openstack"))
    dirs += [os.path.join(home, ".config", "openstack"), "/etc/openstack"]
    return dirs


def find_clouds_yaml(environ: Mapping[str, str]) -> str | None:
    """The ``clouds.yaml`` openstacksdk would read, or None when there is none."""
    candidates = [environ["OS_CLIENT_CONFIG_FILE"]] if environ.get("OS_CLIENT_CONFIG_FILE") else []
    candidates += [os.path.join(d, n) for d in _search_dirs(environ) for n in _NAMES]
    for path in candidates:
        if os.path.isfile(path):
            return os.path.abspath(path)
    return None


@dataclass(frozen=True)
class Cloud:
    """One cloud of a ``clouds.yaml``: where its keystone is and how to verify it."""

    name: str
    path: str
    auth_url: str
    cacert: str | None
    insecure: bool
    #: The whole file as loaded (secrets included: never in a repr, a log or a message).
    document: dict[str, Any] = field(repr=False)


def _yaml_problem(exc: Exception) -> str:
    """What is wrong with a YAML file, without the excerpt of it PyYAML adds (it may be a secret)."""
    problem = getattr(exc, "problem", None) or "not valid YAML"
    mark = getattr(exc, "problem_mark", None)
    return f"{problem} (line {mark.line + 1})" if mark is not None else str(problem)


def load_cloud(name: str, environ: Mapping[str, str]) -> Cloud:
    """Cloud ``name`` of the ``clouds.yaml`` found; ProxyError (one line) when there is no such
    file, it cannot be read, or the cloud is not there or has no ``auth.auth_url``."""
    import yaml  # NOTE: only for a run that needs it (start-up cost of `stacktap run`)

    path = find_clouds_yaml(environ)
    if path is None:
        raise ProxyError(f"--proxy: cloud {name!r}: no clouds.yaml found (and OS_AUTH_URL is not set)")
    try:
        with open(path, encoding="utf-8") as stream:
            document = yaml.safe_load(stream)
    except OSError as exc:
        raise ProxyError(f"--proxy: cannot read {path}: {exc.strerror or exc}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ProxyError(f"--proxy: cannot read {path}: {_yaml_problem(exc)}") from None
    clouds = document.get("clouds") if isinstance(document, dict) else None
    cloud = clouds.get(name) if isinstance(clouds, dict) else None
    if not isinstance(cloud, dict):
        raise ProxyError(f"--proxy: no cloud {name!r} in {path}")
    auth = cloud.get("auth")
    auth_url = auth.get("auth_url") if isinstance(auth, dict) else None
    if not isinstance(auth_url, str) or not auth_url:
        raise ProxyError(f"--proxy: cloud {name!r} in {path} has no auth.auth_url")
    insecure = environ.get("OS_INSECURE", "").lower() in ("1", "true", "yes") or cloud.get("verify") is False
    cacert = environ.get("OS_CACERT") or cloud.get("cacert") or None
    return Cloud(
        name=name,
        path=path,
        auth_url=auth_url,
        cacert=str(cacert) if cacert else None,
        insecure=insecure,
        document=document,
    )


class PrivateCopy:
    """A copy of the cloud's ``clouds.yaml`` with its ``auth.auth_url`` replaced, readable by
    the user only, in a directory of its own; :meth:`close` removes both."""

    def __init__(self, cloud: Cloud, auth_url: str) -> None:
        import copy

        import yaml

        document = copy.deepcopy(cloud.document)
        document["clouds"][cloud.name]["auth"]["auth_url"] = auth_url
        text = yaml.safe_dump(document, sort_keys=False, default_flow_style=False)
        self.directory = tempfile.mkdtemp(prefix="stacktap-proxy-")  # NOTE: mode 0700
        self.path = os.path.join(self.directory, "clouds.yaml")
        try:
            # NOTE: created 0600 (O_EXCL, never an existing file), not chmod-ed after the write.
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as stream:
                stream.write(text)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Remove the copy and its directory (again: nothing)."""
        shutil.rmtree(self.directory, ignore_errors=True)
