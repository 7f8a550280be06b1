"""Keep what a body looked like as it went by: the first ``cap`` bytes, its size and sha256.

Memory stays bounded whatever the size: beyond ``cap`` bytes only the hash grows. The
hash of a small body is left to the writer thread (the hot path only appends chunks).

NOTE: standard library only, Python 3.8+ (runs inside traced programs).
"""

from __future__ import annotations

import hashlib
from typing import Any, List, Optional


class BodyCapture(object):
    """Accumulates the bytes of one body; ``complete`` once its end was seen."""

    __slots__ = ("_cap", "_chunks", "_hasher", "_kept", "complete", "size", "streamed")

    def __init__(self, cap: int, streamed: bool = False) -> None:
        self._cap = cap
        self._chunks: List[bytes] = []
        self._kept = 0
        self._hasher: Optional[Any] = None
        self.size = 0
        self.complete = False
        self.streamed = streamed

    def feed(self, chunk: Any) -> None:
        """Account for one chunk (bytes, bytearray, memoryview or str) that went by."""
        if not chunk:
            return
        if isinstance(chunk, str):
            chunk = chunk.encode("utf-8", "surrogateescape")
        elif not isinstance(chunk, bytes):
            chunk = bytes(chunk)
        self.size += len(chunk)
        if self._hasher is not None:
            self._hasher.update(chunk)
            room = self._cap - self._kept
            if room > 0:
                self._chunks.append(chunk[:room])
                self._kept += min(room, len(chunk))
            return
        self._chunks.append(chunk)
        self._kept += len(chunk)
        if self._kept > self._cap:
            # NOTE: past the cap: hash what we have, keep only the first ``cap`` bytes.
            data = b"".join(self._chunks)
            self._hasher = hashlib.sha256(data)
            self._chunks = [data[: self._cap]]
            self._kept = self._cap

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
        """Hex sha256 of every byte seen (computed now when it was not needed before)."""
        if self._hasher is not None:
            return self._hasher.hexdigest()
        return hashlib.sha256(self.data).hexdigest()
