"""A keystone-aware recording reverse proxy: any client (curl, Go, Rust...) traced.

Public API: :class:`Proxy` (start, ``url_for``, close) and :func:`check_auth_url`.
Runs in stacktap's own process; records through the agent's ``Recorder`` (same redaction,
catalog naming and store as the hooks).
"""

from stacktap.proxy._server import Proxy, ProxyError, check_auth_url

__all__ = ["Proxy", "ProxyError", "check_auth_url"]
