"""Tee the request body as the app reads ``wsgi.input`` and the response body as the server
iterates it, never reading ahead and never holding more than the cap.

NOTE: standard library only, Python 3.8+ (runs inside service processes).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator, List, Optional

from stacktap.agent.body_capture import BodyCapture


class InputTap(object):
    """``wsgi.input`` stand-in: every read passes through and is fed to a BodyCapture."""

    __slots__ = ("_input", "capture")

    def __init__(self, wsgi_input: Any, capture: BodyCapture) -> None:
        self._input = wsgi_input
        self.capture = capture

    def read(self, *args: Any) -> Any:
        data = self._input.read(*args)
        if data:
            self.capture.feed(data)
        elif not args or args[0] is None or args[0] != 0:
            self.capture.complete = True
        return data

    def readline(self, *args: Any) -> Any:
        data = self._input.readline(*args)
        if data:
            self.capture.feed(data)
        return data

    def readlines(self, *args: Any) -> List[Any]:
        lines = self._input.readlines(*args)
        for line in lines:
            self.capture.feed(line)
        return lines

    def __iter__(self) -> Iterator[Any]:
        for line in self._input:
            self.capture.feed(line)
            yield line

    def __getattr__(self, name: str) -> Any:
        # NOTE: servers hang extras on their input (eventlet: chunked_input, 100-continue
        # helpers; gunicorn: buf): answer as the real input does.
        return getattr(self._input, name)


class ResponseTap(object):
    """Wraps the app's response iterable: chunks are teed as the server iterates, and
    ``close()`` (which PEP 3333 servers always call) ends the exchange."""

    __slots__ = ("_iterable", "_on_close", "_on_error", "capture")

    def __init__(
        self,
        iterable: Iterable[bytes],
        capture: Optional[BodyCapture],
        on_close: Callable[[], None],
        on_error: Callable[[BaseException], None],
    ) -> None:
        self._iterable = iterable
        self.capture = capture
        self._on_close: Optional[Callable[[], None]] = on_close
        self._on_error = on_error

    def __iter__(self) -> Iterator[bytes]:
        capture = self.capture
        try:
            for chunk in self._iterable:
                if capture is not None and chunk:
                    capture.feed(chunk)
                yield chunk
        except BaseException as exc:
            self._on_error(exc)
            raise
        if capture is not None:
            capture.complete = True

    def close(self) -> None:
        try:
            close = getattr(self._iterable, "close", None)
            if close is not None:
                close()
        finally:
            on_close, self._on_close = self._on_close, None
            if on_close is not None:
                on_close()


class SizedResponseTap(ResponseTap):
    """A ResponseTap around a list or tuple: ``len()`` still works, so servers that set
    Content-Length for one-chunk bodies (wsgiref, eventlet) keep doing it."""

    __slots__ = ()

    def __len__(self) -> int:
        return len(self._iterable)  # type: ignore[arg-type]


def tap_app_iter(
    iterable: Iterable[bytes],
    capture: Optional[BodyCapture],
    on_close: Callable[[], None],
    on_error: Callable[[BaseException], None],
) -> ResponseTap:
    """The right ResponseTap for ``iterable``."""
    cls = SizedResponseTap if isinstance(iterable, (list, tuple)) else ResponseTap
    return cls(iterable, capture, on_close, on_error)
