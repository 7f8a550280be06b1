"""``stacktap proxy --auth-url URL [--listen 127.0.0.1:PORT]``: the recording proxy, long-running.

For clients that cannot be wrapped by ``stacktap run --proxy`` (a terraform in another
terminal, Horizon): prints the auth URL to use, records every call into one run, and ends
cleanly on Ctrl-C (the run finished, everything stored).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from types import FrameType

import click

from stacktap.cli.options import db_option
from stacktap.model import Run
from stacktap.store import Store, default_db_path


def _listen(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if host not in ("127.0.0.1", "localhost") or not port.isdigit():
        raise click.BadParameter("expected 127.0.0.1:PORT (the proxy serves this machine only)")
    return "127.0.0.1", int(port)


@click.command("proxy")
@db_option
@click.option(
    "--auth-url", required=True, metavar="URL", help="The real keystone (e.g. https://cloud:5000/v3)."
)
@click.option("--listen", default="127.0.0.1:0", show_default=True, help="Address to listen on.")
@click.option("--cacert", default=None, metavar="PATH", help="CA bundle for an HTTPS upstream.")
@click.option("--insecure", is_flag=True, help="Do not verify the upstream's certificate.")
@click.option("--label", default=None, metavar="TEXT", help="A label for the run.")
def proxy(
    db: str | None, auth_url: str, listen: str, cacert: str | None, insecure: bool, label: str | None
) -> None:
    """Serve a recording, keystone-aware reverse proxy until Ctrl-C."""
    from stacktap.proxy import Proxy, ProxyError, check_auth_url

    address = _listen(listen)
    path = os.path.abspath(db or default_db_path())
    try:
        check_auth_url(auth_url, cacert, insecure)
        run = Run(
            kind="command",
            label=label,
            argv=["stacktap", "proxy", "--auth-url", auth_url],
            cwd=os.getcwd(),
            host=os.uname().nodename,
            started=time.time(),
        )
        with Store(path) as store:
            store.add_run(run)
        server = Proxy(auth_url, path, run.id, listen=address, cacert=cacert, insecure=insecure)
    except ProxyError as exc:
        raise click.ClickException(str(exc)) from None
    stop = threading.Event()
    _on_stop_signals(stop)
    server.start()
    click.echo(f"stacktap proxy: OS_AUTH_URL={server.auth_url} (run {run.id}; Ctrl-C ends)")
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.close()
        with Store(path) as store:
            store.finish_run(run.id, 0)
    click.echo(f"stacktap proxy: stopped; stacktap show {run.id}", err=True)


def _on_stop_signals(stop: threading.Event) -> None:
    """SIGINT, SIGTERM and SIGHUP end the proxy cleanly (``stop`` set; the main thread stores
    everything and finishes the run).

    NOTE: set explicitly, SIGINT too: a shell starts a background job (``stacktap proxy &``)
    with SIGINT ignored, and Python then installs no KeyboardInterrupt handler, so Ctrl-C or
    ``kill -INT`` did nothing and a later SIGKILL lost the calls not yet written. The proxy
    serves in its own thread; the handler only sets the event (nothing runs inside a request).
    """

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, handler)
