"""The server side of the agent: the WSGI/paste filter recording inbound requests, layer
timing, the body taps, the on/off switch and the wrapper for apps without paste.

NOTE: runs inside service processes: Python 3.8+, standard library only.
"""
