"""``stacktap.trace()``: record the HTTP calls of a block of Python code in this process.

Same hooks and recorder as ``stacktap run``, installed in the current process::

    with stacktap.trace(label="list images") as run:
        conn.image.images()
    print(run.id)

NOTE: standard library only, Python 3.8+.
"""

from __future__ import annotations

import getpass
import os
import socket
import sys
import time
from contextlib import contextmanager
from typing import Iterator, Optional

from stacktap.agent.argv_redact import redact_argv
from stacktap.agent.faults import warn_once
from stacktap.agent.import_hook import install
from stacktap.agent.recorder import get_recorder
from stacktap.model import Run, new_trace_id


def _user() -> Optional[str]:
    try:
        return getpass.getuser()
    except Exception:
        return None


@contextmanager
def trace(db: Optional[str] = None, label: Optional[str] = None) -> Iterator[Run]:
    """Record the calls made inside the block as one run (kind ``api``); yields the Run.

    The store is ``db``, else ``$STACKTAP_DB``, else the default store. A store that cannot
    be written costs one warning; the block runs all the same.
    """
    from stacktap.redact import mark
    from stacktap.store import Store, StoreError, default_db_path

    path = os.path.abspath(db or default_db_path())
    run = Run(
        kind="api",
        label=label,
        argv=redact_argv(list(sys.argv), mark),
        cwd=os.getcwd(),
        host=socket.gethostname(),
        user=_user(),
        started=time.time(),
    )
    recorder = get_recorder()
    saved = (recorder.db, recorder.run_id, recorder.trace_id, recorder.enabled)
    recorded = True
    try:
        with Store(path) as store:
            store.add_run(run)
    except StoreError as exc:
        warn_once("not recording: %s" % exc)
        recorded = False
    if recorded:
        recorder.flush()
        recorder.configure(db=path, run_id=run.id, trace_id=new_trace_id(), enabled=True)
        install()
    try:
        yield run
    finally:
        if recorded:
            recorder.finish_pending()
            recorder.flush()
            prev_db, prev_run, prev_trace, prev_enabled = saved
            recorder.configure(enabled=prev_enabled)
            recorder.run_id, recorder.trace_id = prev_run, prev_trace
            if prev_db:
                recorder.configure(db=prev_db)
            run.ended = time.time()
            try:
                with Store(path) as store:
                    store.finish_run(run.id, None, run.ended)
            except StoreError as exc:
                warn_once("cannot finish run %s: %s" % (run.id, exc))
