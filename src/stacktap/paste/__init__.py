"""Paste deployment files, read and edited from the CLI (stacktap's own process): the
pipeline inspector behind ``stacktap paste show`` and the installer of the filter."""
