"""The one error base class: something the user can fix, said in one line.

Every error stacktap raises for the user derives from :class:`StacktapError`; the CLI turns
any of them into ``stacktap: <message>`` and exit status 1 (``cli.options.one_line_errors``).
Errors that were raised as built-in kinds before keep them as a second base (``TraceFileError``
is still a ``ValueError``, ``OTLPExportError`` an ``OSError``), so older ``except`` clauses
still catch them.

NOTE: shared core (standard library only, Python 3.8+): the store raises these inside
traced programs and services.
"""


class StacktapError(Exception):
    """Something the user can fix; ``str(exc)`` is a single line."""


class DevcloudError(StacktapError):
    """The dev cloud could not do what was asked; the message names the log to read."""
