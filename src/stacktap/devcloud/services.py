"""The services of the dev cloud: how each is served and named in the catalog."""

from __future__ import annotations

from dataclasses import dataclass

HOST = "127.0.0.1"
REGION = "RegionOne"


@dataclass(frozen=True)
class ServiceSpec:
    """One WSGI service: its app, its config dir variable and its catalog entry."""

    #: short name, used for files and ``--with-nova``: keystone, glance, nova
    name: str
    #: the process name (``STACKTAP_SERVICE`` when traced): keystone, glance-api, nova-api
    process: str
    #: ``module:attr`` of the WSGI app inside the dev cloud's venv
    wsgi_app: str
    #: environment variable through which the app finds its config directory
    config_dir_env: str
    #: catalog type and name
    catalog_type: str
    #: path appended to the root URL for the catalog endpoint
    endpoint_path: str

    def root_url(self, port: int) -> str:
        return f"http://{HOST}:{port}"

    def endpoint_url(self, port: int) -> str:
        return self.root_url(port) + self.endpoint_path


KEYSTONE = ServiceSpec(
    "keystone", "keystone", "keystone.wsgi.api:application", "OS_KEYSTONE_CONFIG_DIR", "identity", "/v3"
)
GLANCE = ServiceSpec(
    "glance", "glance-api", "glance.wsgi.api:application", "OS_GLANCE_CONFIG_DIR", "image", ""
)
NOVA = ServiceSpec(
    "nova", "nova-api", "nova.wsgi.osapi_compute:application", "OS_NOVA_CONFIG_DIR", "compute", "/v2.1"
)

PLACEMENT = ServiceSpec(
    "placement",
    "placement-api",
    "placement.wsgi.api:application",
    "OS_PLACEMENT_CONFIG_DIR",
    "placement",
    "",
)

ALL = (KEYSTONE, GLANCE, NOVA, PLACEMENT)

#: The apps that are not built from a paste file: traced through ``stacktap.wsgi.wrap``.
NO_PASTE = (KEYSTONE, PLACEMENT)


def selected(with_nova: bool) -> tuple[ServiceSpec, ...]:
    """The services a cloud runs, keystone first (the others need it to validate tokens)."""
    # NOTE: placement comes with nova (nova-compute and the scheduler need it).
    return ALL if with_nova else (KEYSTONE, GLANCE)


def by_name(name: str) -> ServiceSpec:
    for spec in ALL:
        if spec.name == name:
            return spec
    raise KeyError(name)
