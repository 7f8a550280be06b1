"""The server side: a WSGI/paste filter recording inbound requests, layer timing for paste
pipelines, and the pipeline inspector behind ``stacktap paste show``.

- ``filter_factory`` / ``TraceMiddleware``  (stacktap.wsgi.filter)
- ``stacktap.wsgi.install.instrument_paste_ini``  puts the filter into an api-paste.ini
- ``stacktap.wsgi.layers:layer_filter_factory``  times each filter of a pipeline
- ``stacktap.wsgi.wrap:application``  wraps ``$STACKTAP_WRAP_APP`` (apps without paste)
- ``stacktap.wsgi.rules.IgnoreRules``  the ignore rules (also for the client hook)

NOTE: everything here but the inspector (``pipeline``) runs inside service processes:
Python 3.8+, standard library only.
"""

from stacktap.wsgi.filter import TraceMiddleware, filter_factory

__all__ = ["TraceMiddleware", "filter_factory"]
