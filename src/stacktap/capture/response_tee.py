"""Watch a response body as the program reads it, never reading ahead.

urllib3's ``HTTPResponse.read`` and ``read_chunked`` are wrapped once, at class level; a
response being watched carries a ``ResponseTap`` in its ``_stacktap_tap`` attribute, any
other response pays one attribute lookup. Every way ``requests`` and urllib3 users read a
body goes through one of the two (``stream()``, ``data``, ``readinto``, iteration). Each
chunk is fed to a ``BodyCapture``; at the end of the body the exchange is finished and
handed to the recorder. A response dropped before its end finishes the exchange as
"unread" (weak reference callback), and so does the recorder's exit flush.

NOTE: the tap never holds the response strongly (no reference cycle: a dropped response
is freed at once). Standard library only, Python 3.8+ (runs inside traced programs).
"""

from __future__ import annotations

import functools
import weakref
from typing import Any, Callable, Iterator, Optional

from stacktap.capture.body_capture import BodyCapture

_ATTR = "_stacktap_tap"
_MARK = "_stacktap_original"


def _fp_exhausted(response: Any) -> bool:
    """The underlying socket file is done and urllib3 buffers nothing more for us."""
    fp = getattr(response, "_fp", None)
    if fp is None:
        closed = True
    else:
        isclosed = getattr(fp, "isclosed", None)
        closed = bool(isclosed()) if isclosed is not None else bool(getattr(fp, "closed", False))
    if not closed:
        return False
    buffered = getattr(response, "_decoded_buffer", None)
    return buffered is None or len(buffered) == 0


class ResponseTap(object):
    """Feeds what the program reads from one urllib3 response to a ``BodyCapture``."""

    __slots__ = ("__weakref__", "_on_end", "_ref", "busy", "capture")

    def __init__(self, response: Any, capture: BodyCapture, on_end: Callable[[bool], None]) -> None:
        self.capture = capture
        self._on_end: Optional[Callable[[bool], None]] = on_end
        self.busy = False
        self._ref = weakref.ref(response, self._died)
        setattr(response, _ATTR, self)

    def _died(self, _ref: Any) -> None:
        self.end(complete=False)

    @property
    def active(self) -> bool:
        return self._on_end is not None and not self.busy

    def end(self, complete: bool) -> None:
        """Finish once: ``complete`` when the body's end was read."""
        on_end, self._on_end = self._on_end, None
        if on_end is not None:
            self.capture.complete = complete
            on_end(complete)

    def after_read(self, response: Any, data: Any, amt: Any) -> None:
        if amt == 0:
            return
        if data:
            self.capture.feed(data)
        if not data or amt is None or amt < 0 or _fp_exhausted(response):
            self.end(complete=True)

    def tee_chunks(self, generator: Iterator[bytes]) -> Iterator[bytes]:
        self.busy = True
        try:
            for chunk in generator:
                self.capture.feed(chunk)
                yield chunk
        finally:
            self.busy = False
        self.end(complete=True)


def _wrap_read(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def read(self: Any, *args: Any, **kwargs: Any) -> Any:
        tap = self.__dict__.get(_ATTR)
        if tap is None or not tap.active:
            return original(self, *args, **kwargs)
        tap.busy = True
        try:
            data = original(self, *args, **kwargs)
        finally:
            tap.busy = False
        tap.after_read(self, data, args[0] if args else kwargs.get("amt"))
        return data

    setattr(read, _MARK, original)
    return read


def _wrap_read_chunked(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def read_chunked(self: Any, *args: Any, **kwargs: Any) -> Any:
        tap = self.__dict__.get(_ATTR)
        generator = original(self, *args, **kwargs)
        if tap is None or not tap.active:
            return generator
        return tap.tee_chunks(generator)

    setattr(read_chunked, _MARK, original)
    return read_chunked


def patch_response_class(klass: Any) -> None:
    """Wrap ``klass.read`` and ``klass.read_chunked`` (once)."""
    if getattr(klass.read, _MARK, None) is None:
        klass.read = _wrap_read(klass.read)
    chunked = getattr(klass, "read_chunked", None)
    if chunked is not None and getattr(chunked, _MARK, None) is None:
        klass.read_chunked = _wrap_read_chunked(chunked)
