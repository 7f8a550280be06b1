"""The dev cloud's state file (``DIR/state.json``): choices made once and kept.

It remembers the admin password, the ports picked at the first ``up``, whether nova and server
tracing are on, the store the traced services write to, which bootstrap steps are done (so a
second ``up`` reuses everything) and which services the last ``up`` put under the debugger.
Running processes are not in it: their pid files are (see ``processes``), because a crash
leaves those stale and they are checked on every use.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path

from stacktap.errors import DevcloudError

STATE_VERSION = 1


@dataclass
class State:
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    python: str = ""
    with_nova: bool = True
    #: nova's conductor, scheduler and compute (fake driver) over a RabbitMQ of the cloud's own
    with_compute: bool = False
    trace_servers: bool = False
    db: str | None = None
    ports: dict[str, int] = field(default_factory=dict)
    #: services in debug mode -> their debugpy port (``up --debug``; a plain ``up`` empties it)
    debug: dict[str, int] = field(default_factory=dict)
    #: bootstrap steps done, e.g. "keystone", "glance", "nova"
    done: list[str] = field(default_factory=list)
    version: int = STATE_VERSION

    def mark_done(self, step: str) -> None:
        if step not in self.done:
            self.done.append(step)


def load(path: Path) -> State | None:
    """The state in ``path``, or None when there is no dev cloud there yet."""
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise DevcloudError(f"cannot read {path}: {exc}") from exc
    if not isinstance(raw, dict) or raw.get("version") != STATE_VERSION:
        raise DevcloudError(f"{path} is not a stacktap dev cloud state file (version {raw!r})")
    known = set(State.__dataclass_fields__)
    return State(**{k: v for k, v in raw.items() if k in known})


def save(path: Path, state: State) -> None:
    """Write atomically, readable by the user only (the admin password is in it)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(asdict(state), out, indent=2, sort_keys=True)
        out.write("\n")
    os.replace(tmp, path)
