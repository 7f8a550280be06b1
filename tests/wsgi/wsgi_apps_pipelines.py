"""A composite factory that builds its pipeline from a string, like nova's
``pipeline_factory_v21`` (key ``keystone``)."""

from __future__ import annotations

from typing import Any


def choose_pipeline(loader: Any, global_conf: dict, **local_conf: Any) -> Any:
    names = local_conf["keystone"].split()
    app = loader.get_app(names[-1])
    for name in reversed(names[:-1]):
        app = loader.get_filter(name)(app)
    return app
