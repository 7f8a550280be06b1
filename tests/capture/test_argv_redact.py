from __future__ import annotations

from stacktap.agent.argv_redact import redact_argv


def test_secret_options_are_marked_in_both_forms() -> None:
    argv = ["openstack", "--os-password", "pw1", "--os-token=tok", "--os-username", "admin", "image", "list"]
    out = redact_argv(argv, lambda v: f"<{len(v)}>")
    assert out == [
        "openstack",
        "--os-password",
        "<3>",
        "--os-token=<3>",
        "--os-username",
        "admin",
        "image",
        "list",
    ]
