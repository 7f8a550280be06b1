"""Catalog parsing (keystone v3 and v2) and naming the service behind a URL."""

from __future__ import annotations

import json

import pytest

from stacktap.catalog import ServiceMap, name_calls, parse_catalog, unknown_peer_label
from stacktap.model import Call, CatalogEntry, Peer

V3 = {
    "token": {
        "catalog": [
            {
                "type": "compute",
                "name": "nova",
                "id": "s1",
                "endpoints": [
                    {"interface": "public", "region": "RegionOne", "url": "http://10.0.0.5/compute/v2.1"},
                    {
                        "interface": "internal",
                        "region_id": "RegionTwo",
                        "url": "http://10.0.0.5/compute/v2.1",
                    },
                ],
            },
            {
                "type": "identity",
                "name": "keystone",
                "endpoints": [{"interface": "public", "url": "http://10.0.0.5/identity"}],
            },
            {"type": "broken", "endpoints": [{"interface": "public"}, "junk"]},
            "junk",
        ]
    }
}
V2 = {
    "access": {
        "serviceCatalog": [
            {
                "type": "image",
                "name": "glance",
                "endpoints": [
                    {"region": "R", "publicURL": "http://g:9292", "internalURL": "http://g-int:9292"}
                ],
            },
        ]
    }
}


def test_parse_v3() -> None:
    entries = parse_catalog(json.dumps(V3))
    assert [
        (e.service_type, e.service_name, e.interface, e.region, e.url, e.service_id) for e in entries
    ] == [
        ("compute", "nova", "public", "RegionOne", "http://10.0.0.5/compute/v2.1", "s1"),
        ("compute", "nova", "internal", "RegionTwo", "http://10.0.0.5/compute/v2.1", "s1"),
        ("identity", "keystone", "public", None, "http://10.0.0.5/identity", None),
    ]


def test_parse_v2() -> None:
    entries = parse_catalog(V2)
    assert [(e.interface, e.url, e.region) for e in entries] == [
        ("public", "http://g:9292", "R"),
        ("internal", "http://g-int:9292", "R"),
    ]


@pytest.mark.parametrize(
    "document", ["", "{", "[]", b"null", {"token": {"catalog": "x"}}, 42, {"access": []}]
)
def test_parse_anything_else_gives_nothing(document: object) -> None:
    assert parse_catalog(document) == []


DEVSTACK = [
    CatalogEntry("compute", "http://10.0.0.5/compute/v2.1", "nova", "public"),
    CatalogEntry("compute_legacy", "http://10.0.0.5/compute/v2/abc123", "nova_legacy", "public"),
    CatalogEntry("placement", "http://10.0.0.5/placement", "placement", "public"),
    CatalogEntry("identity", "http://10.0.0.5/identity", "keystone", "public"),
    CatalogEntry("network", "http://10.0.0.5:9696/", "neutron", "public"),
    CatalogEntry("image", "https://images.example.com", "glance", "public"),
]


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("http://10.0.0.5/compute/v2.1/servers/detail", "nova"),
        ("http://10.0.0.5/compute/v2.1", "nova"),
        ("http://10.0.0.5/compute/v2/abc123/servers", "nova_legacy"),
        ("http://10.0.0.5:80/placement/resource_providers", "placement"),
        ("http://10.0.0.5/identity/v3/users", "keystone"),
        ("http://10.0.0.5:9696/v2.0/ports?device_id=x", "neutron"),
        ("https://IMAGES.example.com:443/v2/images", "glance"),
        ("http://images.example.com/v2/images", None),  # other scheme, other port
        ("http://10.0.0.5/compute2/x", None),
        ("http://10.0.0.5/volume/v3", None),
    ],
)
def test_longest_prefix_wins(url: str, name: str | None) -> None:
    peer = ServiceMap(DEVSTACK).lookup(url)
    assert (peer.service_name if peer else None) == name


def test_auth_url_before_catalog_is_keystone() -> None:
    services = ServiceMap()
    assert services.lookup("http://h:5000/") is None
    services.add_auth_url("http://h:5000/identity/v3/auth/tokens")
    peer = services.lookup("http://h:5000/identity")
    assert peer is not None and peer.service_type == "identity"
    assert services.lookup("http://h:5000/other") is None
    assert ServiceMap().lookup("http://x/v2.0/tokens") == Peer(
        service_type="identity", service_name="keystone"
    )


def test_name_calls_fills_client_calls_only() -> None:
    calls = [
        Call(run_id="r", method="GET", url="http://10.0.0.5/identity", start=0),
        Call(run_id="r", method="POST", url="http://10.0.0.5/identity/v3/auth/tokens", start=1),
        Call(run_id="r", method="GET", url="http://10.0.0.5/compute/v2.1/flavors", start=2),
        Call(run_id="r", method="GET", url="/compute/v2.1/flavors", start=3, side="server"),
        Call(
            run_id="r",
            method="GET",
            url="http://10.0.0.5/compute/v2.1/x",
            start=4,
            peer=Peer(service_type="custom", service_name="mine"),
        ),
    ]
    name_calls(calls, [DEVSTACK[0]])
    assert [c.peer.service_name for c in calls] == ["keystone", "keystone", "nova", None, "mine"]
    assert calls[2].peer.endpoint == "http://10.0.0.5/compute/v2.1" and calls[2].peer.interface == "public"


def test_unknown_peer_label() -> None:
    assert unknown_peer_label("http://10.9.9.9:1234/x") == "10.9.9.9:1234"
    assert unknown_peer_label("https://h/x") == "h:443"
    assert unknown_peer_label("http://h:bad/x") == "h:80"
