"""The policy hook's cost per oslo.policy check, side by side with the enforcer's own time.

One real ``oslo_policy.policy.Enforcer`` with nova-like rules, checked with a
``oslo_context.RequestContext`` as nova and glance pass it (``authorize`` -> ``enforce``).
Blocks of 200 checks alternate between: the enforcer unpatched; patched, outside a traced
request (one ContextVar read); patched, inside a traced request, each check new (noted: rule,
check object, creds summary) or a repeat of the same one (only counted). Also timed: turning
the noted checks into ``PolicyCheck`` records (``ServerExchange.to_call``, once per request,
after the response). Prints the best and median block per check and the ratios.

    .venv/bin/python benchmarks/bench_policy.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from oslo_config import cfg
from oslo_context import context as oslo_context
from oslo_policy import policy

from stacktap.agent.server import policy as hook
from stacktap.agent.server.server_exchange import ServerExchange, reset_current_exchange, set_current_exchange

BLOCK = 200  # checks per block (under the hook's per-request cap)
ROUNDS = 100
RULE = "os_compute_api:servers:detail"
RULES = [
    policy.RuleDefault("context_is_admin", "role:admin"),
    policy.RuleDefault("project_reader", "role:reader and project_id:%(project_id)s"),
    policy.RuleDefault("project_reader_or_admin", "rule:project_reader or rule:context_is_admin"),
    policy.RuleDefault(RULE, "rule:project_reader_or_admin", scope_types=["project"]),
]


def _enforcer(directory: Path) -> policy.Enforcer:
    conf = cfg.ConfigOpts()
    conf([], project="bench", default_config_files=[], default_config_dirs=[])
    enforcer = policy.Enforcer(conf, policy_file=str(directory / "policy.yaml"))
    enforcer.register_defaults(RULES)
    return enforcer


def _block(enforcer: policy.Enforcer, contexts: list[oslo_context.RequestContext]) -> float:
    target = {"project_id": contexts[0].project_id}
    start = time.perf_counter()
    for ctx in contexts:
        enforcer.authorize(RULE, target, ctx, do_raise=True)
    return (time.perf_counter() - start) / len(contexts)


def _traced(run: Callable[[], float], exchange: ServerExchange) -> float:
    exchange.policy_checks.clear()
    exchange.policy_index.clear()
    token = set_current_exchange(exchange)
    try:
        return run()
    finally:
        reset_current_exchange(token)


def main() -> None:
    # NOTE: a context per check, so each traced check is a new record; the same context again
    # and again is the repeat (a listing checking a rule per item), which is only counted.
    contexts = [
        oslo_context.RequestContext(
            user_id="u1", project_id="p1", project_name="demo", roles=["reader"], auth_token="gAAAAA-x"
        )
        for _ in range(BLOCK)
    ]
    repeats = [contexts[0]] * BLOCK
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/v2.1/servers/detail", "HTTP_HOST": "127.0.0.1:8774"}
    exchange = ServerExchange(environ, "nova-api", "0" * 31 + "1", "0" * 15 + "1", None, True)
    names = ("unpatched", "untraced", "traced", "repeat", "to_call")
    samples: dict[str, list[float]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as tmp:
        enforcer = _enforcer(Path(tmp))
        _block(enforcer, contexts)  # NOTE: the first check loads and parses the rules
        for _ in range(ROUNDS):
            hook.unpatch(policy)
            samples["unpatched"].append(_block(enforcer, contexts))
            hook.patch(policy)
            samples["untraced"].append(_block(enforcer, contexts))
            samples["repeat"].append(_traced(lambda: _block(enforcer, repeats), exchange))
            assert [check[7] for check in exchange.policy_checks] == [BLOCK]
            samples["traced"].append(_traced(lambda: _block(enforcer, contexts), exchange))
            assert len(exchange.policy_checks) == BLOCK
            start = time.perf_counter()
            call = exchange.to_call()
            samples["to_call"].append((time.perf_counter() - start) / BLOCK)
            assert len(call.policy_checks) == BLOCK and call.policy_checks[0].check
        hook.unpatch(policy)
    best = {name: min(values) for name, values in samples.items()}
    median = {name: statistics.median(values) for name, values in samples.items()}
    print(f"oslo.policy authorize({RULE!r}) with a RequestContext, {ROUNDS} x {BLOCK} checks per variant")
    # NOTE: "added" is the median of the paired differences (each round's block minus the
    # unpatched block of the same round): steadier than a difference of medians on a busy machine.
    print(f"{'variant':<34} {'best us':>9} {'median us':>10} {'added, paired median':>21}")
    base = median["unpatched"]
    for name, label in (
        ("unpatched", "enforcer alone"),
        ("untraced", "hooked, outside a traced request"),
        ("traced", "hooked, traced request, new check"),
        ("repeat", "hooked, traced request, repeat"),
    ):
        paired = statistics.median(a - b for a, b in zip(samples[name], samples["unpatched"], strict=True))
        added = "" if name == "unpatched" else f"{paired * 1e6:+.2f} us"
        print(f"{label:<34} {best[name] * 1e6:9.2f} {median[name] * 1e6:10.2f} {added:>21}")
    label = "records built at request end"
    print(f"{label:<34} {best['to_call'] * 1e6:9.2f} {median['to_call'] * 1e6:10.2f}")
    traced_total = median["traced"] + median["to_call"]
    print(
        f"ratio to the enforcer's own time (medians): untraced {median['untraced'] / base:.2f}x,"
        f" new check {median['traced'] / base:.2f}x (with its record {traced_total / base:.2f}x),"
        f" repeat {median['repeat'] / base:.2f}x"
    )


if __name__ == "__main__":
    main()
