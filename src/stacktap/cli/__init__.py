"""The ``stacktap`` command line: thin commands over capture, store and render."""
