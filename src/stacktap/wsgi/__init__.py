"""Names written in api-paste.ini files and WSGI server configs, kept valid.

- ``stacktap.wsgi:filter_factory`` / ``stacktap.wsgi.TraceMiddleware``
- ``stacktap.wsgi.layers:layer_filter_factory``
- ``stacktap.wsgi.wrap:application``

The code lives in :mod:`stacktap.agent.server` (it runs inside service processes); the paste
inspector and installer, which run in the CLI, live in :mod:`stacktap.paste`.
Standard library only, Python 3.8+.
"""

from stacktap.agent.server.filter import TraceMiddleware, filter_factory

__all__ = ["TraceMiddleware", "filter_factory"]
