"""Non-secret traffic stays as readable as before: the usual keystone, glance and nova bodies
come back untouched."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stacktap.redact import Redactor

CATALOG = {
    "token": {
        "methods": ["password"],
        "user": {"id": "u1", "name": "admin", "domain": {"id": "default", "name": "Default"},
                 "password_expires_at": None},
        "audit_ids": ["a1"],
        "expires_at": "2030-01-01T00:00:00.000000Z",
        "issued_at": "2030-01-01T00:00:00.000000Z",
        "project": {"id": "p1", "name": "admin", "domain": {"id": "default", "name": "Default"}},
        "is_domain": False,
        "roles": [{"id": "r1", "name": "admin"}],
        "catalog": [
            {"id": "s1", "type": "identity", "name": "keystone", "endpoints": [
                {"id": "e1", "interface": "public", "region_id": "RegionOne",
                 "url": "http://h/identity", "region": "RegionOne"}]},
            {"id": "s2", "type": "key-manager", "name": "barbican", "endpoints": [
                {"id": "e2", "interface": "public", "region_id": "RegionOne",
                 "url": "http://h/key-manager", "region": "RegionOne"}]},
        ],
    }
}  # fmt: skip
IMAGE = {
    "id": "i1", "name": "cirros", "status": "active", "visibility": "public", "protected": False,
    "checksum": "443b7623e27ecf03dc9e01ee93f67afe", "os_hash_algo": "sha512",
    "os_hash_value": "6513f21e44aa3da349f248188a44bc304a3653a04122d8fb4535423c8e1d14cd6a1",
    "size": 12716032, "disk_format": "qcow2", "container_format": "bare", "min_ram": 0,
    "min_disk": 0, "owner": "p1", "tags": [], "file": "/v2/images/i1/file",
    "schema": "/v2/schemas/image", "os_hidden": False, "hw_disk_bus": "virtio",
}  # fmt: skip
FLAVOR = {
    "flavor": {
        "id": "1", "name": "m1.tiny", "ram": 512, "disk": 1, "vcpus": 1, "swap": "",
        "OS-FLV-EXT-DATA:ephemeral": 0, "os-flavor-access:is_public": True, "rxtx_factor": 1.0,
        "description": None, "extra_specs": {"hw:cpu_policy": "shared"},
        "links": [{"rel": "self", "href": "http://h/compute/v2.1/flavors/1"}],
    }
}  # fmt: skip
SERVER = {
    "server": {
        "id": "s1", "name": "vm", "status": "ACTIVE", "key_name": "mykey",
        "accessIPv4": "", "security_groups": [{"name": "default"}],
        "metadata": {"role": "web"}, "OS-DCF:diskConfig": "MANUAL",
    }
}  # fmt: skip
KEYPAIR = {
    "keypair": {
        "name": "mykey", "type": "ssh", "fingerprint": "ab:cd:ef",
        "public_key": "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC0 user@host", "user_id": "u1",
    }
}  # fmt: skip


@pytest.mark.parametrize("body", [CATALOG, IMAGE, {"images": [IMAGE]}, FLAVOR, SERVER, KEYPAIR])
def test_ordinary_bodies_are_untouched(body: Any) -> None:
    text = json.dumps(body)
    assert Redactor().body_text(text, "application/json")[1] == text


def test_ordinary_query_strings_are_untouched() -> None:
    url = "http://h/image/v2/images?limit=20&sort_key=name&sort_dir=asc&visibility=public"
    assert Redactor().url(url) == url


@pytest.mark.parametrize("body", [CATALOG, IMAGE, {"images": [IMAGE]}, FLAVOR, SERVER, KEYPAIR])
def test_ordinary_bodies_stay_untouched_after_secrets_were_marked_and_past_the_cap(body: Any) -> None:
    """The echo memory (every secret of the run) and the prefix rules of bodies past the cap
    leave ordinary fields alone: the stored text is the body, or exactly its first bytes."""
    from stacktap.agent.bodies import make_body

    redactor = Redactor()
    for secret in ("S3cret-admin-pw", "0123456789abcdef0123456789abcdef", "hunter2x"):
        redactor.mark(secret)
    text = json.dumps(body)
    assert redactor.body_text(text, "application/json")[1] == text
    for cap in (40, len(text) // 2, len(text) - 1):
        cut = make_body(text.encode(), "application/json", cap, redactor)
        assert cut.truncated and cut.text == text[:cap], cap
