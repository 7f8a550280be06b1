"""The subcommands: name -> (module, attribute), imported only when the command runs.

NOTE: no click here: ``stacktap run`` starts without it (``stacktap.cli.main``).
"""

from __future__ import annotations

COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("stacktap.cli.run", "run"),
    "proxy": ("stacktap.cli.proxy", "proxy"),
    "list": ("stacktap.cli.inspect", "list_runs"),
    "show": ("stacktap.cli.inspect", "show"),
    "log": ("stacktap.cli.inspect", "log"),
    "curl": ("stacktap.cli.inspect", "curl"),
    "catalog": ("stacktap.cli.inspect", "catalog"),
    "open": ("stacktap.cli.source", "open_source"),
    "diagram": ("stacktap.cli.pictures", "diagram"),
    "report": ("stacktap.cli.pictures", "report"),
    "export": ("stacktap.cli.transfer", "export"),
    "import": ("stacktap.cli.transfer", "import_"),
    "api": ("stacktap.cli.understand", "api"),
    "diff": ("stacktap.cli.understand", "diff"),
    "which": ("stacktap.cli.understand", "which"),
    "policy": ("stacktap.cli.policy", "policy"),
    "paste": ("stacktap.cli.paste", "paste"),
    "merge": ("stacktap.cli.merge", "merge"),
    "doctor": ("stacktap.cli.doctor", "doctor"),
    "devcloud": ("stacktap.cli.devcloud", "devcloud"),
}
