"""Path templates: ``/v2/images/3f0c...`` becomes ``/v2/images/{image_id}``.

Ids are UUIDs (dashed or not), long hex strings, and numbers. The placeholder is named
after the collection before it (``servers`` -> ``server_id``), ``project_id`` when the
id follows an API version (``/v2.1/<project>/servers``), else ``id``.

NOTE: imported inside traced programs (Python 3.8+, standard library only).
"""

from __future__ import annotations

import re
from typing import Optional
from urllib.parse import urlsplit


def default_port(scheme: Optional[str]) -> int:
    """The port a URL of ``scheme`` means when it names none (443 for https, else 80)."""
    return 443 if (scheme or "").lower() == "https" else 80

_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_HEX = re.compile(r"^[0-9a-fA-F]{16,}$")
_NUMBER = re.compile(r"^\d+$")
_VERSION = re.compile(r"^v\d+(\.\d+)?$")

# Collections whose singular is not just the name without its trailing "s".
_SINGULAR = {
    "policies": "policy",
    "addresses": "address",
    "aliases": "alias",
    "statuses": "status",
    "os-keypairs": "keypair",
    "os-hypervisors": "hypervisor",
    "os-services": "service",
    "os-aggregates": "aggregate",
    "os-volume_attachments": "attachment",
    "os-server-groups": "server_group",
    "os-quota-sets": "project",
    "limits": "limit",
    "properties": "property",
    "entries": "entry",
}


def _is_id(segment: str) -> bool:
    return bool(_UUID.match(segment) or _HEX.match(segment) or _NUMBER.match(segment))


def _singular(collection: str) -> str:
    if collection in _SINGULAR:
        return _SINGULAR[collection]
    name = collection
    if name.startswith("os-"):
        name = name[3:]
    name = name.replace("-", "_")
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith("s"):
        return name[:-1]
    return name


def path_template(url_or_path: str) -> str:
    """The path of ``url_or_path`` with its ids replaced by named placeholders."""
    path = urlsplit(url_or_path).path if "://" in url_or_path else url_or_path.split("?", 1)[0]
    segments = path.split("/")
    out = []
    for index, segment in enumerate(segments):
        if segment and _is_id(segment):
            previous = segments[index - 1] if index > 0 else ""
            if not previous or _VERSION.match(previous):
                out.append("{project_id}" if previous else "{id}")
            elif _is_id(previous):
                out.append("{id}")
            else:
                out.append(f"{{{_singular(previous)}_id}}")
        else:
            out.append(segment)
    return "/".join(out)
