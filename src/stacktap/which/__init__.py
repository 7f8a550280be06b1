"""``stacktap which``: the OpenStackClient class behind a command, resolved in the
``openstack`` program's own environment (its venv, its plugins)."""

from stacktap.which.interpreter import WhichError, find_openstack, script_python
from stacktap.which.resolve import describe, resolve_command

__all__ = ["WhichError", "describe", "find_openstack", "resolve_command", "script_python"]
