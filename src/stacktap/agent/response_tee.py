"""Watch a response body as the program reads it, never reading ahead.

urllib3's ``HTTPResponse.read`` and ``read_chunked`` are wrapped once, at class level; a
response being watched carries a ``ResponseTap`` in its ``_stacktap_tap`` attribute (None,
a class attribute, on any other response: one attribute lookup). Every way ``requests`` and
urllib3 users read a body goes through one of the two (``stream()``, ``data``, ``readinto``,
iteration). Each chunk is fed to a ``BodyCapture``; at the end of the body the exchange is
finished and handed to the recorder. A response dropped before its end finishes the exchange
as "unread" (weak reference callback), and so does the recorder's exit flush.

NOTE: the tap never holds the response strongly (no reference cycle: a dropped response
is freed at once). Standard library only, Python 3.8+ (runs inside traced programs).
"""

from __future__ import annotations

import functools
import weakref
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional, Tuple, Union

from stacktap.agent.body_capture import BodyCapture

_ATTR = "_stacktap_tap"
_MARK = "_stacktap_original"

if TYPE_CHECKING:
    _WeakRef = weakref.ref[Any]
else:
    _WeakRef = weakref.ref  # NOTE: not subscriptable at run time before Python 3.9


def _fp_exhausted(response: Any) -> bool:
    """The underlying socket file is done and urllib3 buffers nothing more for us."""
    fp = getattr(response, "_fp", None)
    if fp is not None:
        isclosed = getattr(fp, "isclosed", None)
        if not (isclosed() if isclosed is not None else getattr(fp, "closed", False)):
            return False
    buffered = getattr(response, "_decoded_buffer", None)
    return buffered is None or len(buffered) == 0


def _response_died(tap: ResponseTap) -> None:
    tap.end(complete=False)


class ResponseTap(_WeakRef):
    """Feeds what the program reads from one urllib3 response to a ``BodyCapture``
    (made by :func:`tap_response`).

    NOTE: the tap *is* the weak reference to its response (a ``weakref.ref`` subclass whose
    callback is a plain function): one object per response, and no cycle to leave to the
    garbage collector (a bound-method callback would make one: tap -> ref -> tap).
    """

    __slots__ = ("busy", "capture", "on_end")

    capture: BodyCapture
    #: Called once, at the end of the body (read or not); None once called.
    on_end: Optional[Callable[[bool], None]]
    #: True while a read runs: reads it makes itself are not fed twice.
    busy: bool

    def end(self, complete: bool) -> None:
        """Finish once: ``complete`` when the body's end was read."""
        on_end, self.on_end = self.on_end, None
        if on_end is not None:
            self.capture.complete = complete
            on_end(complete)

    def unread(self) -> None:
        """Finish as "not read to the end" (the recorder's exit flush)."""
        self.end(complete=False)

    def after_read(self, response: Any, data: Any, amt: Any) -> None:
        if amt == 0:
            return
        if data:
            self.capture.feed(data)
            if amt is not None and amt >= 0 and not _fp_exhausted(response):
                return
        # NOTE: the response lets go of its tap: the tap (a weak reference) then dies first,
        # and its callback never runs; later reads pay one attribute lookup.
        response._stacktap_tap = None
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


def tap_response(response: Any, capture: BodyCapture, on_end: Callable[[bool], None]) -> ResponseTap:
    """Feed what the program reads from ``response`` (a urllib3 response) to ``capture``;
    ``on_end(complete)`` once its body ends, is dropped unread or :meth:`ResponseTap.unread`.

    NOTE: made here rather than by ``__init__``: the type call then stays in C (a Python
    ``__new__`` and ``__init__`` would be two more frames per call).
    """
    tap = ResponseTap(response, _response_died)
    tap.capture = capture
    tap.on_end = on_end
    tap.busy = False
    setattr(response, _ATTR, tap)
    return tap


def has_signature(
    func: Any, names: Tuple[str, ...], defaults: Union[Tuple[Any, ...], int], var_keywords: bool = False
) -> bool:
    """``func`` is a plain function taking exactly ``names`` (positional or keyword) and, if
    ``var_keywords``, ``**kwargs``; ``defaults`` are the defaults of its last parameters (or
    how many have one, whatever their values). A wrapper may then repeat its signature.

    NOTE: a wrapper with the exact signature passes arguments on positionally; ``*args,
    **kwargs`` costs a dict and a re-parse on every call (~0.3 us for a read, ~0.4 us for
    ``HTTPAdapter.send``, ~0.7 us for ``urlopen``). Anything unexpected (another version)
    gets the generic wrapper.
    """
    code = getattr(func, "__code__", None)
    if code is None or code.co_kwonlyargcount or code.co_flags & _CO_VARARGS:
        return False
    if bool(code.co_flags & _CO_VARKEYWORDS) != var_keywords:
        return False
    if code.co_varnames[: code.co_argcount] != names:
        return False
    actual = func.__defaults__ or ()
    return len(actual) == defaults if isinstance(defaults, int) else actual == defaults


# NOTE: the values of inspect.CO_VARARGS and CO_VARKEYWORDS (importing inspect costs ~5 ms
# of start-up in every traced process).
_CO_VARARGS = 0x04
_CO_VARKEYWORDS = 0x08


_READ_NAMES = ("self", "amt", "decode_content", "cache_content")
_READ_DEFAULTS = (None, None, False)


def _wrap_read(original: Callable[..., Any]) -> Callable[..., Any]:
    if has_signature(original, _READ_NAMES, _READ_DEFAULTS):

        def read(self: Any, amt: Any = None, decode_content: Any = None, cache_content: bool = False) -> Any:
            tap = self._stacktap_tap
            if tap is None or tap.busy or tap.on_end is None:
                return original(self, amt, decode_content, cache_content)
            tap.busy = True
            try:
                data = original(self, amt, decode_content, cache_content)
            finally:
                tap.busy = False
            tap.after_read(self, data, amt)
            return data

    else:

        def read(self: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
            tap = self._stacktap_tap
            if tap is None or tap.busy or tap.on_end is None:
                return original(self, *args, **kwargs)
            tap.busy = True
            try:
                data = original(self, *args, **kwargs)
            finally:
                tap.busy = False
            tap.after_read(self, data, args[0] if args else kwargs.get("amt"))
            return data

    functools.update_wrapper(read, original)
    setattr(read, _MARK, original)
    return read


def _wrap_read_chunked(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def read_chunked(self: Any, *args: Any, **kwargs: Any) -> Any:
        tap = self._stacktap_tap
        generator = original(self, *args, **kwargs)
        if tap is None or tap.busy or tap.on_end is None:
            return generator
        return tap.tee_chunks(generator)

    setattr(read_chunked, _MARK, original)
    return read_chunked


def patch_response_class(klass: Any) -> None:
    """Wrap ``klass.read`` and ``klass.read_chunked`` (once)."""
    if not hasattr(klass, _ATTR):
        setattr(klass, _ATTR, None)  # NOTE: the wrappers read ``self._stacktap_tap``
    if getattr(klass.read, _MARK, None) is None:
        klass.read = _wrap_read(klass.read)
    chunked = getattr(klass, "read_chunked", None)
    if chunked is not None and getattr(chunked, _MARK, None) is None:
        klass.read_chunked = _wrap_read_chunked(chunked)
