"""``stacktap.wsgi.wrap:application`` (the name WSGI servers are pointed at); see
:mod:`stacktap.agent.server.wrap`."""

from stacktap.agent.server.wrap import application

__all__ = ["application"]
