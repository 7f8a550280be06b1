"""A keystone-aware recording reverse proxy: any client (curl, Go, Rust...) traced.

Public API: :class:`Proxy` (start, ``url_for``, close) and :func:`check_auth_url`; for a cloud
of ``clouds.yaml``, :func:`cloud_name`, :func:`load_cloud` and :class:`PrivateCopy` (the copy
the command gets, pointing at the proxy).
Runs in stacktap's own process; records through the agent's ``Recorder`` (same redaction,
catalog naming and store as the hooks).
"""

from stacktap.proxy._clouds import Cloud, PrivateCopy, cloud_name, find_clouds_yaml, load_cloud
from stacktap.proxy._server import Proxy, ProxyError, check_auth_url

__all__ = [
    "Cloud",
    "PrivateCopy",
    "Proxy",
    "ProxyError",
    "check_auth_url",
    "cloud_name",
    "find_clouds_yaml",
    "load_cloud",
]
