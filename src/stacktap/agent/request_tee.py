"""Watch a streamed request body go out without reading ahead or consuming it.

A file object is wrapped so each ``read()`` the HTTP library makes is also fed to a
``BodyCapture``; a generator or other iterable is wrapped in a generator that does the
same. Bytes and strings are kept as they are (the program holds them anyway).

NOTE: standard library only, Python 3.8+ (runs inside traced programs).
"""

from __future__ import annotations

import io
from typing import Any, Iterator, Optional, Tuple

from stacktap.agent.body_capture import BodyCapture


class FileTee(object):
    """A file-like proxy: reads (and iteration) pass through, and are captured on the way."""

    def __init__(self, fileobj: Any, capture: BodyCapture) -> None:
        self._stacktap_file = fileobj
        self._stacktap_capture = capture

    def read(self, *args: Any, **kwargs: Any) -> Any:
        data = self._stacktap_file.read(*args, **kwargs)
        if data:
            self._stacktap_capture.feed(data)
        else:
            self._stacktap_capture.complete = True
        return data

    def __iter__(self) -> Iterator[Any]:
        for chunk in self._stacktap_file:
            self._stacktap_capture.feed(chunk)
            yield chunk
        self._stacktap_capture.complete = True

    def __getattr__(self, name: str) -> Any:
        # NOTE: mode, name, seek, tell, fileno, len... answer as the real file.
        return getattr(self._stacktap_file, name)


def _iterate(iterable: Any, capture: BodyCapture) -> Iterator[Any]:
    for chunk in iterable:
        capture.feed(chunk)
        yield chunk
    capture.complete = True


def tee_request_body(body: Any, cap: int) -> Tuple[Any, Optional[Any]]:
    """(body to send instead, what to record): the record is the body itself when it is
    bytes/str, a ``BodyCapture`` filled as a stream goes out, or None for no body."""
    if body is None or isinstance(body, (bytes, str)):
        return body, body
    if isinstance(body, (bytearray, memoryview)):
        return body, bytes(body)
    if isinstance(body, io.TextIOBase):
        # NOTE: libraries test isinstance(body, TextIOBase) to encode it: do not wrap.
        return body, BodyCapture(cap, streamed=True)
    if hasattr(body, "read"):
        capture = BodyCapture(cap, streamed=True)
        return FileTee(body, capture), capture
    if hasattr(body, "__iter__") and not isinstance(body, (dict, list, tuple)):
        capture = BodyCapture(cap, streamed=True)
        return _iterate(body, capture), capture
    return body, None
