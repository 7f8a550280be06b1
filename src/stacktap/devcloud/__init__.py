"""``stacktap devcloud``: a local keystone, glance and nova-api on 127.0.0.1, for learning and e2e tests.

Everything lives under one directory (default: ``<user data dir>/stacktap/devcloud``): its own
virtualenv, SQLite databases, config files, logs, pid files and a JSON state file. Nothing
outside that directory is touched. The modules split the job:

- ``layout``: where each file lives; ``state``: the JSON state file; ``ports``: free loopback ports
- ``venv``: the virtualenv and the pip install; ``config``: the ini files
- ``keystone``, ``glance``, ``nova``: bootstrapping each service; ``keystone_api``: catalog entries
- ``processes``: gunicorn start/stop, pid files, health; ``tracing``: ``--trace-servers``
- ``clouds``: ``clouds.yaml`` and the ``OS_*`` environment; ``lifecycle``: ``up``/``down``/``status``
- ``debug``: ``up --debug`` (a service under debugpy); ``ide`` and ``launch_json``: ``devcloud ide``
"""
