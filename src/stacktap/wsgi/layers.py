"""``stacktap.wsgi.layers:layer_filter_factory`` (the name install writes into api-paste.ini)."""

from stacktap.agent.server.layers import layer_filter_factory

__all__ = ["layer_filter_factory"]
