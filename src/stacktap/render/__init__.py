"""Renderers: each takes a :class:`stacktap.store.Trace` and returns text or bytes.

One module per format (``log``, ``curl``, ``table``, ``mermaid``, ``html``, ``har``...); the
CLI commands stay thin wrappers around them. ``bodies`` pretty-prints stored bodies for every
text renderer.
"""
