"""Property-based: nested bodies, secret names in any spelling, and encodings (JSON, JSON in
a string, form, query, headers) never let a secret through."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from stacktap.redact import Redactor

WORDS = ["password", "passwd", "pwd", "secret", "token", "key", "passphrase", "credential"]
PREFIXES = ["", "db", "admin", "os", "root", "ipmi", "auth", "access", "client", "api"]

secret_values = st.text(alphabet="abcdefghijkmnpqrstuvwxyzABCDEFGH23456789", min_size=10).map(
    lambda s: "Mk" + s
)


@st.composite
def secret_names(draw: st.DrawFn) -> str:
    words = [draw(st.sampled_from(PREFIXES)), draw(st.sampled_from(WORDS))]
    words = [w for w in words if w]
    style = draw(st.sampled_from(["snake", "kebab", "camel", "pascal", "upper"]))
    if style == "snake":
        return "_".join(words)
    if style == "kebab":
        return "-".join(words)
    if style == "upper":
        return "_".join(words).upper()
    head = words[0] if style == "camel" else words[0].capitalize()
    return head + "".join(w.capitalize() for w in words[1:])


plain_keys = st.sampled_from(["name", "id", "description", "status", "metadata", "items"])


def bodies(secrets: list[str]) -> Any:
    leaf = st.one_of(st.integers(), st.sampled_from(["a", "b c", "x/y"]), st.none())
    secret_pair = st.tuples(secret_names(), secret_values).map(
        lambda kv: (secrets.append(kv[1]), {kv[0]: kv[1]})[1]
    )
    return st.recursive(
        st.one_of(leaf, secret_pair),
        lambda children: st.one_of(
            st.lists(children, max_size=3),
            st.dictionaries(plain_keys, children, max_size=3),
        ),
        max_leaves=8,
    )


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_no_secret_survives_any_nesting_or_encoding(data: st.DataObject) -> None:
    secrets: list[str] = []
    body = data.draw(bodies(secrets))
    encoding = data.draw(st.sampled_from(["json", "json-in-string", "form", "query", "header"]))
    redactor = Redactor()
    if encoding == "json":
        out = redactor.body_text(json.dumps(body), "application/json")[1]
    elif encoding == "json-in-string":
        out = redactor.body_text(json.dumps({"config": json.dumps(body)}), "application/json")[1]
    else:
        pairs: list[tuple[str, str]] = []

        def collect(value: Any) -> None:
            if isinstance(value, dict):
                for k, v in value.items():
                    if isinstance(v, str):
                        pairs.append((k, v))
                    collect(v)
            elif isinstance(value, list):
                for item in value:
                    collect(item)

        collect(body)
        secrets = [v for _, v in pairs if v.startswith("Mk")]
        if encoding == "form":
            text = "&".join(f"{k}={v}" for k, v in pairs)
            out = redactor.body_text(text, "application/x-www-form-urlencoded")[1]
        elif encoding == "query":
            out = redactor.url("http://h/x?" + "&".join(f"{k}={v}" for k, v in pairs))
        else:
            out = json.dumps(redactor.headers(pairs))
    for secret in secrets:
        assert secret not in out, (encoding, body)
