"""A store's health for ``stacktap doctor``: what is wrong with it, and what can be repaired.

:func:`check_store` looks without changing anything (a read-only connection: no migration,
no spill written back): the file's permissions, size, ``PRAGMA integrity_check``, the
schema version, and the spill files waiting (``stacktap.store.spill``). :func:`repair_store`
recovers what SQLite can of a damaged file (the ``sqlite3`` shell's ``.recover`` when it is
installed, else a copy of what still reads), keeping the original next to it, writes
the pending spill files back and tightens permissions.

NOTE: a repair replaces the file: run it while nothing records into the store.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import stat
import subprocess
import time
from dataclasses import dataclass
from typing import List, Optional

from stacktap.store import spill
from stacktap.store.schema import SCHEMA_VERSION

#: Problems ``PRAGMA integrity_check`` may list; the first few are enough to say it.
_INTEGRITY_LINES = 3


@dataclass
class Finding:
    """One line of the report: ``ok``, ``warning`` (works, but look) or ``error``."""

    level: str
    message: str

    @property
    def wrong(self) -> bool:
        return self.level == "error"

    def line(self) -> str:
        return "%s: %s" % (self.level, self.message)


def _mode(path: str) -> Optional[int]:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None


def check_permissions(path: str) -> List[Finding]:
    """The store file 0600 (and its ``-wal``/``-shm``), its directory 0700: bodies and
    headers are in it, redacted but private."""
    findings = []
    for name, want in ((path, 0o600), (path + "-wal", 0o600), (path + "-shm", 0o600)):
        mode = _mode(name)
        if mode is not None and mode & 0o077:
            findings.append(
                Finding(
                    "error", "%s is mode %04o: others can read it (chmod %o %s)" % (name, mode, want, name)
                )
            )
    directory = os.path.dirname(os.path.abspath(path))
    mode = _mode(directory)
    if mode is not None and mode & 0o077:
        findings.append(
            Finding(
                "warning",
                "directory %s is mode %04o: others can list it (0700 expected: chmod 700 it if it is"
                " stacktap's own)" % (directory, mode),
            )
        )
    if not findings:
        findings.append(Finding("ok", "permissions: file 0600, directory 0700"))
    return findings


def check_store(path: str) -> List[Finding]:
    """Everything ``stacktap doctor`` says about the store at ``path``, reading only."""
    findings: List[Finding] = []
    waiting = spill.pending(path)
    if os.path.isdir(path):
        return [Finding("error", "%s is a directory, not a store (--db takes the store file)" % path)]
    if not os.path.exists(path):
        findings.append(Finding("ok", "no store at %s yet (the first run creates it)" % path))
    else:
        size = os.path.getsize(path)
        wal = os.path.getsize(path + "-wal") if os.path.exists(path + "-wal") else 0
        findings.append(Finding("ok", "store %s: %s (WAL %s)" % (path, _size(size), _size(wal))))
        findings.extend(check_permissions(path))
        findings.extend(_check_database(path))
    findings.extend(_check_spills(path, waiting))
    return findings


def _check_database(path: str) -> List[Finding]:
    try:
        db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=2)
    except sqlite3.Error as exc:
        return [Finding("error", "cannot open %s: %s" % (path, exc))]
    try:
        try:
            rows = [r[0] for r in db.execute("PRAGMA integrity_check(%d)" % _INTEGRITY_LINES)]
        except sqlite3.Error as exc:
            return [Finding("error", "integrity: %s (stacktap doctor --repair recovers what it can)" % exc)]
        if rows != ["ok"]:
            problems = "; ".join(" ".join(str(r).split()) for r in rows)
            return [
                Finding("error", "integrity: %s (stacktap doctor --repair recovers what it can)" % problems)
            ]
        findings = [Finding("ok", "integrity: ok")]
        findings.append(_check_schema(db))
        return findings
    finally:
        db.close()


def _check_schema(db: sqlite3.Connection) -> Finding:
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.Error:
        row = None
    version = int(row[0]) if row else 0
    if version > SCHEMA_VERSION:
        return Finding(
            "error",
            "schema version %d, newer than this stacktap's (%d): upgrade stacktap"
            % (version, SCHEMA_VERSION),
        )
    if version < SCHEMA_VERSION:
        return Finding(
            "ok", "schema version %d (the next open migrates it to %d)" % (version, SCHEMA_VERSION)
        )
    return Finding("ok", "schema version %d" % version)


def _check_spills(path: str, waiting: List[str]) -> List[Finding]:
    if not waiting:
        return [Finding("ok", "no spill files waiting")]
    calls = 0
    findings = []
    for name in waiting:
        try:
            calls += spill.count_calls(spill.read_spill(name))
        except (OSError, ValueError) as exc:
            findings.append(Finding("error", "unreadable spill file %s: %s" % (name, exc)))
        mode = _mode(name)
        if mode is not None and mode & 0o077:
            findings.append(
                Finding("error", "%s is mode %04o: others can read it (chmod 600 %s)" % (name, mode, name))
            )
    directories = sorted({os.path.dirname(name) for name in waiting})
    findings.insert(
        0,
        Finding(
            "error",
            "%d spill file%s with %d call%s wait in %s (stacktap doctor --repair writes them)"
            % (
                len(waiting),
                "" if len(waiting) == 1 else "s",
                calls,
                "" if calls == 1 else "s",
                ", ".join(directories),
            ),
        ),
    )
    return findings


def repair_store(path: str) -> List[Finding]:
    """Recover a damaged store, write back its spill files, tighten the store files' modes.

    NOTE: never a directory's mode (the store may sit in a shared one: the report says
    what to do), and no store is created unless spill files wait for one.
    """
    from stacktap.store.sqlite import Store, StoreError

    if os.path.isdir(path):
        return []  # NOTE: check_store says it is no store
    findings: List[Finding] = []
    if os.path.exists(path) and any(f.wrong for f in _check_database(path)):
        findings.append(_recover(path))
    pending = spill.pending(path)
    if pending:
        try:
            with Store(path, replay=False) as store:
                files, calls = spill.replay(store, pending)
            findings.append(
                Finding(
                    "ok",
                    "wrote %d spill file%s (%d calls) into %s"
                    % (files, "" if files == 1 else "s", calls, path),
                )
            )
        except (StoreError, OSError, ValueError, sqlite3.Error) as exc:
            findings.append(Finding("error", "cannot write the spill files into %s: %s" % (path, exc)))
    for name in (path, path + "-wal", path + "-shm"):
        mode = _mode(name)
        if mode is not None and mode & 0o077 and os.path.isfile(name):
            with contextlib.suppress(OSError):
                os.chmod(name, 0o600)
                findings.append(Finding("ok", "%s: mode %04o -> 0600" % (name, mode)))
    return findings


def _recover(path: str) -> Finding:
    """Rebuild ``path`` from what SQLite can still read; the original stays as
    ``<path>.damaged-<time>``."""
    recovered = "%s.recovered-%d" % (path, os.getpid())
    with contextlib.suppress(OSError):
        os.unlink(recovered)
    how = _recover_with_shell(path, recovered) or _recover_with_python(path, recovered)
    if how is None:
        with contextlib.suppress(OSError):
            os.unlink(recovered)
        return Finding("error", "cannot recover %s: SQLite reads nothing of it" % path)
    kept = "%s.damaged-%s" % (path, time.strftime("%Y%m%d%H%M%S"))
    os.rename(path, kept)
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(OSError):
            os.rename(path + suffix, kept + suffix)
    os.chmod(recovered, 0o600)
    os.rename(recovered, path)
    return Finding("ok", "recovered %s with %s (the damaged file is kept as %s)" % (path, how, kept))


def _recover_with_shell(path: str, target: str) -> Optional[str]:
    """The ``sqlite3`` shell's ``.recover`` (which reads past damaged pages), else its
    ``.dump`` (which skips them); the name of the one that worked."""
    shell = shutil.which("sqlite3")
    if shell is None:
        return None
    for command in (".recover", ".dump"):
        with contextlib.suppress(OSError):
            os.unlink(target)
        try:
            dump = subprocess.run([shell, path, command], capture_output=True, timeout=300)
            if (command == ".recover" and dump.returncode) or not dump.stdout:
                continue
            # NOTE: .dump ends a damaged file's dump with a ROLLBACK: keep what it read.
            text = dump.stdout.replace(b"ROLLBACK; -- due to errors", b"COMMIT;")
            subprocess.run([shell, target], input=text, capture_output=True, timeout=300)
        except (OSError, subprocess.SubprocessError):
            continue
        if _readable_store(target):
            return "sqlite3 " + command
    return None


def _readable_store(path: str) -> bool:
    try:
        db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
        try:
            ok = [r[0] for r in db.execute("PRAGMA integrity_check")] == ["ok"]
            return ok and db.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone() is not None
        finally:
            db.close()
    except sqlite3.Error:
        return False


def _recover_with_python(path: str, target: str) -> Optional[str]:
    """Copy what still reads, table by table and ``rowid`` window by window, skipping the
    windows on damaged pages (no ``sqlite3`` shell). Python's ``iterdump`` would stop at
    the first damaged page and lose every table after it."""
    with contextlib.suppress(OSError):
        os.unlink(target)
    try:
        source = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
        out = sqlite3.connect(target, isolation_level=None)
    except sqlite3.Error:
        return None
    try:
        try:
            schema = source.execute("SELECT type, name, sql FROM sqlite_master WHERE sql NOT NULL").fetchall()
        except sqlite3.Error:
            return None
        out.execute("BEGIN")
        for kind, name, sql in schema:
            if kind == "table" and not name.startswith("sqlite_"):
                with contextlib.suppress(sqlite3.Error):
                    out.execute(sql)
                    _copy_rows(source, out, name)
        for kind, _name, sql in schema:
            if kind == "index":
                with contextlib.suppress(sqlite3.Error):
                    out.execute(sql)
        out.execute("COMMIT")
    finally:
        out.close()
        source.close()
    return "a table-by-table copy" if _readable_store(target) else None


def _copy_rows(source: sqlite3.Connection, out: sqlite3.Connection, table: str) -> None:
    window = 100
    try:
        last = source.execute('SELECT max(rowid) FROM "%s"' % table).fetchone()[0] or 0
    except sqlite3.Error:
        last = 10**6  # NOTE: bounded guess when even the last rowid cannot be read
    quoted = '"%s"' % table.replace('"', '""')
    for low in range(0, int(last) + 1, window):
        try:
            rows = source.execute(
                "SELECT * FROM %s WHERE rowid >= ? AND rowid < ?" % quoted, (low, low + window)
            ).fetchall()
        except sqlite3.Error:
            continue
        if rows:
            marks = ", ".join("?" * len(rows[0]))
            with contextlib.suppress(sqlite3.Error):
                out.executemany("INSERT OR IGNORE INTO %s VALUES (%s)" % (quoted, marks), rows)


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return "%d %s" % (n, unit) if unit == "B" else "%.1f %s" % (n, unit)
        n /= 1024  # type: ignore[assignment]
    return "%d B" % n
