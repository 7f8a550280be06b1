"""stacktap's bootstrap: loaded at start-up by every Python that runs under ``stacktap run``.

This directory is put first on ``PYTHONPATH`` (see ``stacktap.launcher.env``). At start-up
``site`` imports this ``sitecustomize``, which:

1. makes the top-level package ``stacktap`` (and nothing else of stacktap's install)
   importable, from ``$STACKTAP_HOME``, whatever virtualenv this process runs in;
2. installs a meta-path hook that patches ``requests``/``urllib3`` only when the program
   imports them (a program that never does pays nothing);
3. when ``STACKTAP_OTLP_ENDPOINT`` or ``STACKTAP_OTLP`` is set, starts live OTLP export
   (``stacktap.agent.live``); without them nothing of the export package is imported;
4. chains to the ``sitecustomize`` this one shadows, if there is one on ``sys.path``.

Any failure here is reported once on stderr and never stops the program.

NOTE: standard library only, Python 3.8+; keep it tiny, it runs in every traced process.
"""

import os
import sys

#: Either of these turns live export on. NOTE: the names of ``stacktap.agent.endpoint``,
#: repeated so that a process without live export imports nothing to find out.
# NOTE: literals, not stacktap.settings: they are read before stacktap is importable (the test
# tests/test_settings.py checks they match settings).
_LIVE_EXPORT_VARS = ("STACKTAP_OTLP_ENDPOINT", "STACKTAP_OTLP")


class _StacktapFinder(object):
    """Finds the top-level ``stacktap`` package in ``$STACKTAP_HOME`` and nowhere else."""

    def __init__(self, home):
        self.home = home

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "stacktap":
            return None
        import importlib.util

        return importlib.util.spec_from_file_location(
            "stacktap", os.path.join(self.home, "__init__.py"), submodule_search_locations=[self.home]
        )


def _start_tracing():
    home = os.environ.get("STACKTAP_HOME")
    if not home or not os.environ.get("STACKTAP_DB") or sys.version_info < (3, 8):
        return
    if not any(isinstance(f, _StacktapFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _StacktapFinder(home))
    try:
        from stacktap.agent.import_hook import install

        install()
    except Exception as exc:  # NOTE: never break the traced program
        sys.stderr.write(
            "stacktap: warning: tracing disabled in this process: %s: %s\n" % (type(exc).__name__, exc)
        )
        return
    if any(os.environ.get(name, "").strip() for name in _LIVE_EXPORT_VARS):
        _start_live_export()


def _start_live_export():
    try:
        from stacktap.agent.live import maybe_install_from_env

        maybe_install_from_env()  # NOTE: reports its own problems, one line, and never raises
    except Exception as exc:
        sys.stderr.write(
            "stacktap: warning: live OTLP export disabled in this process: %s: %s\n"
            % (type(exc).__name__, exc)
        )


def _chain_to_shadowed_sitecustomize():
    """Run the next ``sitecustomize`` on ``sys.path`` (the one this file hides), as site would."""
    import importlib.machinery
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    # NOTE: the shadowed module takes the name, as if it had been imported directly; its
    # errors propagate to site.py, which reports them exactly as it would without us.
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


_start_tracing()
_chain_to_shadowed_sitecustomize()
