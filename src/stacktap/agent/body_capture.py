"""Keep what a body looked like as it went by: the first ``cap`` bytes, its size and sha256.

Memory stays bounded whatever the size: beyond ``cap`` bytes only the hash grows. The
hash of a small body is left to the writer thread (the hot path only appends chunks).

NOTE: standard library only, Python 3.8+ (runs inside traced programs).
"""

from __future__ import annotations

from typing import Any, List, Optional


def _keyed_hasher(data: bytes) -> Any:
    """HMAC-SHA256 under the mark key (see :mod:`stacktap.redact_marks`), loaded lazily."""
    from stacktap.redact_marks import keyed_hasher

    return keyed_hasher(data)


class BodyCapture(object):
    """Accumulates the bytes of one body; ``complete`` once its end was seen."""

    __slots__ = ("_cap", "_chunks", "_hasher", "complete", "size", "streamed")

    def __init__(self, cap: int, streamed: bool = False) -> None:
        self._cap = cap
        #: Every chunk while ``size <= cap``; then one: the first ``cap`` bytes.
        self._chunks: List[bytes] = []
        #: Set once past the cap: hashes everything seen.
        self._hasher: Optional[Any] = None
        self.size = 0
        self.complete = False
        self.streamed = streamed

    def feed(self, chunk: Any) -> None:
        """Account for one chunk (bytes, bytearray, memoryview or str) that went by."""
        if not chunk:
            return
        if type(chunk) is not bytes:
            chunk = chunk.encode("utf-8", "surrogateescape") if isinstance(chunk, str) else bytes(chunk)
        size = self.size = self.size + len(chunk)
        if self._hasher is not None:
            self._hasher.update(chunk)
        else:
            self._chunks.append(chunk)
            if size > self._cap:
                # NOTE: past the cap: hash what we have, keep only the first ``cap`` bytes.
                data = b"".join(self._chunks)
                self._hasher = _keyed_hasher(data)
                self._chunks = [data[: self._cap]]

    @property
    def data(self) -> bytes:
        """The bytes kept: all of them, or the first ``cap``."""
        if len(self._chunks) != 1:
            self._chunks = [b"".join(self._chunks)]
        return self._chunks[0]

    @property
    def truncated(self) -> bool:
        return self.size > len(self.data)

    def sha256(self) -> str:
        """Hex keyed sha256 (HMAC under the mark key) of every byte seen (computed now when
        it was not needed before)."""
        if self._hasher is not None:
            return self._hasher.hexdigest()
        return _keyed_hasher(self.data).hexdigest()
