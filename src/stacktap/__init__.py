"""stacktap: see what an OpenStack command really does on the wire.

NOTE: this package is loaded inside traced programs (any Python from 3.8 on, standard
library only), so this module stays tiny and imports nothing heavy eagerly.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "trace"]


def __getattr__(name: str) -> Any:
    # NOTE: lazy, so `import stacktap` in a traced program costs nothing.
    if name == "trace":
        from stacktap.agent.api import trace

        return trace
    raise AttributeError(name)
