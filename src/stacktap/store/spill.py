"""Spill files: the rows a store could not take now, kept on disk until it can.

When a write fails (the store locked past its busy timeout, a full disk, a read-only
directory), the writer hands the rows it was about to insert to :func:`write_spill`. They are
already redacted (the rows are built from enriched, redacted calls), so they may go to disk.
A spill file is ``<uuid>.jsonl`` (mode 0600) in ``<store>.spill/`` (mode 0700) next to the
store or, when that directory cannot be written, in ``<user cache dir>/stacktap/spill/<key>/``
(``key`` derived from the store's absolute path). Every store open (:class:`Store`) and
``stacktap doctor --repair`` write the pending files of that store back (:func:`replay`) and
delete them.

The format: a header line ``{"stacktap_spill": 1, "db": PATH}``, then one JSON list of entries
per batch. An entry is ``{"table": T, "columns": [...], "rows": [[...], ...]}`` (inserted with
``INSERT OR IGNORE``: replaying twice stores nothing twice) or ``{"finish": [RUN_ID,
EXIT_CODE, ENDED]}`` (a run's end). Columns are named, so a later schema with more columns
still takes the file; tables and columns are checked against the store before any insert.

NOTE: standard library only, Python 3.8+ (the recorder spills inside traced programs).
A file appears under its final name only once complete (written as ``.<uuid>.tmp``, then
renamed), and a reader holds ``flock`` on it while replaying, so two processes opening the
store at once never write one file twice.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

#: What a spill directory next to the store is called: ``<store>`` plus this.
SUFFIX = ".spill"
#: The tables a spill file may insert into.
TABLES = ("runs", "calls", "layers", "policy_checks", "catalog")

Entry = Dict[str, Any]


def _cache_base() -> str:
    return os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")


def spill_dirs(db: str) -> List[str]:
    """Where the spills of store ``db`` may be: next to it, then in the user cache dir."""
    import hashlib

    path = os.path.abspath(db)
    key = hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return [path + SUFFIX, os.path.join(_cache_base(), "stacktap", "spill", key)]


def count_calls(entries: Sequence[Entry]) -> int:
    """How many calls these entries hold."""
    return sum(len(e.get("rows") or ()) for e in entries if e.get("table") == "calls")


def write_spill(db: str, batches: Sequence[Sequence[Entry]]) -> str:
    """Write ``batches`` to a new spill file of store ``db``; the directory it went to.

    Raises ``OSError`` when neither directory takes it (a full disk everywhere).
    """
    header = json.dumps({"stacktap_spill": 1, "db": os.path.abspath(db)})
    data = (
        header + "\n" + "".join(json.dumps(list(b), separators=(",", ":")) + "\n" for b in batches)
    ).encode("utf-8", "surrogateescape")
    error: Optional[OSError] = None
    for directory in spill_dirs(db):
        try:
            _write_file(directory, data)
            return directory
        except OSError as exc:
            error = error or exc
    assert error is not None
    raise error


def _write_file(directory: str, data: bytes) -> None:
    os.makedirs(directory, mode=0o700, exist_ok=True)
    name = os.urandom(16).hex()
    tmp = os.path.join(directory, ".%s.tmp" % name)
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.rename(tmp, os.path.join(directory, name + ".jsonl"))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def pending(db: str) -> List[str]:
    """The spill files of store ``db`` waiting to be written, oldest first."""
    found: List[Tuple[float, str]] = []
    for directory in spill_dirs(db):
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            if name.endswith(".jsonl"):
                path = os.path.join(directory, name)
                with contextlib.suppress(OSError):
                    found.append((os.stat(path).st_mtime, path))
    return [path for _, path in sorted(found)]


def read_spill(path: str) -> List[Entry]:
    """Every entry of one spill file (``ValueError`` for a file that is no spill)."""
    with open(path, "rb") as stream:
        lines = stream.read().decode("utf-8", "surrogateescape").splitlines()
    if (
        not lines
        or not isinstance(json.loads(lines[0]), dict)
        or "stacktap_spill" not in json.loads(lines[0])
    ):
        raise ValueError("%s is no stacktap spill file" % path)
    entries: List[Entry] = []
    for line in lines[1:]:
        if line.strip():
            batch = json.loads(line)
            if not isinstance(batch, list):
                raise ValueError("%s: a batch is not a list" % path)
            entries.extend(batch)
    return entries


def replay(store: Any, paths: Optional[Sequence[str]] = None) -> Tuple[int, int]:
    """Write the pending spill files of ``store`` (a ``Store``) and delete them:
    (files written, calls in them). A file another process is replaying is skipped; a
    failure (the store still locked or full) raises, and leaves that file for later."""
    import fcntl

    files = calls = 0
    for path in pending(store.path) if paths is None else paths:
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            continue  # NOTE: replayed by another process meanwhile
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue
            if not os.path.exists(path):
                continue
            entries = read_spill(path)
            store.write_entries(entries)
            os.unlink(path)
            files += 1
            calls += count_calls(entries)
        finally:
            os.close(fd)
    return files, calls
