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

NEUTRON = ServiceSpec(
    "neutron", "neutron-server", "neutron.wsgi.api:application", "OS_NEUTRON_CONFIG_DIR", "network", ""
)

ALL = (KEYSTONE, GLANCE, NOVA, PLACEMENT, NEUTRON)

#: The apps that are not built from a paste file: traced through ``stacktap.wsgi.wrap``.
NO_PASTE = (KEYSTONE, PLACEMENT)


@dataclass(frozen=True)
class DaemonSpec:
    """One service that is not served over HTTP: a nova console script talking over RPC."""

    #: short name, used for files: conductor, scheduler, compute
    name: str
    #: the process name (``STACKTAP_SERVICE`` when traced) and the console script in the venv
    process: str
    #: the ``binary`` nova records for it in its services table (``compute service list``)
    binary: str


CONDUCTOR = DaemonSpec("conductor", "nova-conductor", "nova-conductor")
SCHEDULER = DaemonSpec("scheduler", "nova-scheduler", "nova-scheduler")
COMPUTE = DaemonSpec("compute", "nova-compute", "nova-compute")

#: The compute side of ``up --with compute``, in start order (compute registers last).
DAEMONS = (CONDUCTOR, SCHEDULER, COMPUTE)


def selected(with_nova: bool, with_compute: bool = False) -> tuple[ServiceSpec, ...]:
    """The WSGI services a cloud runs, keystone first (the others need it to validate tokens)."""
    # NOTE: placement comes with nova (nova-compute and the scheduler need it); neutron with
    # compute (nova-api asks it for ports and security groups as soon as servers exist).
    if not with_nova:
        return (KEYSTONE, GLANCE)
    return ALL if with_compute else (KEYSTONE, GLANCE, NOVA, PLACEMENT)


def by_name(name: str) -> ServiceSpec:
    for spec in ALL:
        if spec.name == name:
            return spec
    raise KeyError(name)
