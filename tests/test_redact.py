"""Redaction rules: headers, JSON bodies (keystone, nova, EC2), forms, URLs, unparseable bodies."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stacktap.agent.bodies import make_body
from stacktap.model import BODY_JSON, BODY_REDACTED, BODY_TEXT
from stacktap.redact import REDACT_KEYS_ENV, Redactor, default_redactor, is_mark, mark
from stacktap.redact_echo import EchoMemory

FERNET = "gAAAAABm" + "Zx9Kd1_-fernetTokenBody0123456789abcdefABCDEF" * 3
PASSWORD = "S3cret-Pa55word"


def m(value: str) -> str:
    return mark(value)


def redact_json(document: Any, redactor: Redactor | None = None) -> Any:
    kind, text = (redactor or Redactor()).body_text(json.dumps(document), "application/json")
    assert kind == BODY_JSON
    return json.loads(text)


# -- marks ----------------------------------------------------------------------------------


def test_mark_is_sha256_prefix_and_idempotent() -> None:
    import hmac
    import os

    key = os.environ["STACKTAP_MARK_KEY"].encode()
    assert mark("abc") == "{SHA256}" + hmac.new(key, b"abc", hashlib.sha256).hexdigest()[:16]
    assert mark(mark("abc")) == mark("abc")
    assert is_mark(mark("x")) and not is_mark("x") and not is_mark(None)


# -- headers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("X-Auth-Token", FERNET, m(FERNET)),
        ("x-subject-token", FERNET, m(FERNET)),
        ("X-SERVICE-TOKEN", "svc", m("svc")),
        ("X-Auth-Key", "k", m("k")),
        ("X-Account-Meta-Temp-URL-Key", "k1", m("k1")),
        ("X-Account-Meta-Temp-URL-Key-2", "k2", m("k2")),
        ("X-Container-Meta-Temp-URL-Key", "k3", m("k3")),
        ("X-Container-Meta-Temp-URL-Key-2", "k4", m("k4")),
        ("Authorization", "Bearer tok", "Bearer " + m("tok")),
        ("Authorization", "Basic YWRtaW46cHc=", "Basic " + m("YWRtaW46cHc=")),
        ("Proxy-Authorization", "Basic eHl6", "Basic " + m("eHl6")),
        ("Authorization", "opaque", m("opaque")),
        ("Cookie", "sid=abc; theme=dark", "sid={}; theme={}".format(m("abc"), m("dark"))),
        ("Set-Cookie", "sid=abc; Path=/; HttpOnly", "sid={}; Path=/; HttpOnly".format(m("abc"))),
        ("Content-Type", "application/json", "application/json"),
        ("Location", "http://u:pw@h/x?token=t", "http://u:{}@h/x?token={}".format(m("pw"), m("t"))),
        ("X-Openstack-Request-Id", "req-1", "req-1"),
    ],
)
def test_headers(name: str, value: str, expected: str) -> None:
    assert Redactor().headers([(name, value)]) == [(name, expected)]


def test_same_token_in_two_headers_gets_the_same_mark() -> None:
    redactor = Redactor()
    sent = redactor.headers([("X-Auth-Token", FERNET)])
    validated = redactor.headers([("X-Subject-Token", FERNET), ("X-Auth-Token", "other-token")])
    assert sent[0][1] == validated[0][1] != validated[1][1]


def test_extra_keys_apply_to_headers_json_and_query() -> None:
    redactor = Redactor(["X-My-Key", "pin"])
    assert redactor.headers([("x-my-key", "v")]) == [("x-my-key", m("v"))]
    assert redact_json({"PIN": "1234"}, redactor) == {"PIN": m("1234")}
    assert redactor.url("http://h/?pin=9") == "http://h/?pin=" + m("9")


def test_default_redactor_reads_env_and_is_shared(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REDACT_KEYS_ENV, "ssn, pin")
    first = default_redactor()
    assert first is default_redactor()
    assert redact_json({"ssn": "123-45", "pin": "1"}, first) == {"ssn": m("123-45"), "pin": m("1")}
    monkeypatch.setenv(REDACT_KEYS_ENV, "")
    assert default_redactor() is not first


# -- JSON bodies ----------------------------------------------------------------------------

JSON_CASES = [
    (
        "keystone v3 password auth",
        {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": "admin", "domain": {"name": "Default"}, "password": PASSWORD}
                    },
                },
                "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
            }
        },
        {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": "admin", "domain": {"name": "Default"}, "password": m(PASSWORD)}
                    },
                },
                "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
            }
        },
    ),
    (
        "keystone v3 token auth",
        {"auth": {"identity": {"methods": ["token"], "token": {"id": FERNET}}}},
        {"auth": {"identity": {"methods": ["token"], "token": {"id": m(FERNET)}}}},
    ),
    (
        "keystone v3 application credential auth",
        {
            "auth": {
                "identity": {
                    "methods": ["application_credential"],
                    "application_credential": {"id": "ac1", "secret": "acs"},
                }
            }
        },
        {
            "auth": {
                "identity": {
                    "methods": ["application_credential"],
                    "application_credential": {"id": "ac1", "secret": m("acs")},
                }
            }
        },
    ),
    (
        "keystone v3 totp",
        {"auth": {"identity": {"methods": ["totp"], "totp": {"user": {"id": "u", "passcode": "123456"}}}}},
        {"auth": {"identity": {"methods": ["totp"], "totp": {"user": {"id": "u", "passcode": m("123456")}}}}},
    ),
    (
        "keystone v2 password auth",
        {"auth": {"tenantName": "demo", "passwordCredentials": {"username": "demo", "password": PASSWORD}}},
        {
            "auth": {
                "tenantName": "demo",
                "passwordCredentials": {"username": "demo", "password": m(PASSWORD)},
            }
        },
    ),
    (
        "keystone v2 token auth",
        {"auth": {"tenantName": "demo", "token": {"id": "tok"}}},
        {"auth": {"tenantName": "demo", "token": {"id": m("tok")}}},
    ),
    (
        "keystone v2 token response",
        {
            "access": {
                "token": {"id": "tok", "expires": "2030-01-01T00:00:00Z", "tenant": {"id": "p1"}},
                "user": {"id": "u1", "name": "demo"},
                "serviceCatalog": [],
            }
        },
        {
            "access": {
                "token": {"id": m("tok"), "expires": "2030-01-01T00:00:00Z", "tenant": {"id": "p1"}},
                "user": {"id": "u1", "name": "demo"},
                "serviceCatalog": [],
            }
        },
    ),
    (
        "application credential create response",
        {
            "application_credential": {
                "id": "ac1",
                "name": "ci",
                "secret": "generated-secret",
                "roles": [{"id": "r1", "name": "member"}],
            }
        },
        {
            "application_credential": {
                "id": "ac1",
                "name": "ci",
                "secret": m("generated-secret"),
                "roles": [{"id": "r1", "name": "member"}],
            }
        },
    ),
    (
        "EC2 credential create (blob is a JSON string)",
        {
            "credential": {
                "type": "ec2",
                "project_id": "p1",
                "user_id": "u1",
                "blob": json.dumps({"access": "AKIA", "secret": "shh"}),
            }
        },
        {
            "credential": {
                "type": "ec2",
                "project_id": "p1",
                "user_id": "u1",
                "blob": m(json.dumps({"access": "AKIA", "secret": "shh"})),
            }
        },
    ),
    (
        "credential blob given as an object is marked whole",
        {"credential": {"type": "ec2", "blob": {"secret": "shh", "access": "AKIA"}}},
        {"credential": {"type": "ec2", "blob": m('{"access": "AKIA", "secret": "shh"}')}},
    ),
    (
        "v2 EC2 credential (access/secret pair)",
        {"credential": {"access": "AKIA", "secret": "shh", "tenant_id": "p1"}},
        {"credential": {"access": m("AKIA"), "secret": m("shh"), "tenant_id": "p1"}},
    ),
    (
        "EC2 token request (access/signature pair)",
        {"credentials": {"access": "AKIA", "signature": "sig", "host": "h", "verb": "GET"}},
        {"credentials": {"access": m("AKIA"), "signature": m("sig"), "host": "h", "verb": "GET"}},
    ),
    (
        "user create",
        {"user": {"name": "alice", "password": PASSWORD, "enabled": True, "default_project_id": "p1"}},
        {"user": {"name": "alice", "password": m(PASSWORD), "enabled": True, "default_project_id": "p1"}},
    ),
    (
        "user password change",
        {"user": {"password": "new-one-1", "original_password": "old-one-1"}},
        {"user": {"password": m("new-one-1"), "original_password": m("old-one-1")}},
    ),
    (
        "nova server create response (adminPass) and keypair create (private_key)",
        {"server": {"id": "s1", "adminPass": "x1"}, "keypair": {"name": "k", "private_key": "-----BEGIN"}},
        {
            "server": {"id": "s1", "adminPass": m("x1")},
            "keypair": {"name": "k", "private_key": m("-----BEGIN")},
        },
    ),
    (
        "nested lists, numbers, nulls, key case",
        {"items": [{"PASSWORD": 1234}, {"Token": None}, [{"secret": ["a", "b"]}], {"token": True}]},
        {
            "items": [
                {"PASSWORD": m("1234")},
                {"Token": None},
                [{"secret": [m("a"), m("b")]}],
                {"token": True},
            ]
        },
    ),
    (
        "look-alike keys stay",
        {
            "user": {
                "password_expires_at": None,
                "options": {"ignore_password_expiry": False},
                "access": {"x": 1},
                "id": "u1",
            }
        },
        {
            "user": {
                "password_expires_at": None,
                "options": {"ignore_password_expiry": False},
                "access": {"x": 1},
                "id": "u1",
            }
        },
    ),
    (
        "console URL with a token query parameter",
        {"remote_console": {"url": "http://h:6080/vnc_lite.html?path=%3Ftoken%3Dcafe1234"}},
        {"remote_console": {"url": "http://h:6080/vnc_lite.html?path=%3Ftoken%3D" + m("cafe1234")}},
    ),
]


@pytest.mark.parametrize(
    ("document", "expected"), [c[1:] for c in JSON_CASES], ids=[c[0] for c in JSON_CASES]
)
def test_json_bodies(document: Any, expected: Any) -> None:
    assert redact_json(document) == expected
    assert Redactor().json(document) == expected


def test_json_body_with_nothing_to_redact_is_kept_byte_for_byte() -> None:
    text = '{"images":  [ {"id": "1", "name": "cirros"} ]}'
    assert Redactor().body_text(text, "application/json; charset=UTF-8") == (BODY_JSON, text)


def test_json_is_detected_without_content_type() -> None:
    kind, text = Redactor().body_text('{"password": "x"}', None)
    assert (kind, json.loads(text)) == (BODY_JSON, {"password": m("x")})


def test_remembered_token_is_replaced_in_later_bodies_and_urls() -> None:
    redactor = Redactor()
    token = "0123456789abcdef0123456789abcdef"  # a UUID-style token: no pattern would catch it
    redactor.headers([("X-Auth-Token", token)])
    assert redactor.url("http://h:5000/v2.0/tokens/" + token) == "http://h:5000/v2.0/tokens/" + m(token)
    _kind, text = redactor.body_text(json.dumps({"message": f"bad token {token}"}), "application/json")
    assert json.loads(text) == {"message": f"bad token {m(token)}"}
    expired = redactor.body_text(f"token {token} expired", "text/plain")
    assert expired == (BODY_TEXT, f"token {m(token)} expired")
    assert redactor.body_text("your token expired", "text/plain")[0] == BODY_REDACTED
    assert redactor.body_text("expired: " + token, "text/plain") == (BODY_TEXT, "expired: " + m(token))


def test_remembered_passwords_are_replaced_even_short_plain_words() -> None:
    redactor = Redactor()
    redact_json({"password": PASSWORD, "other": {"password": "hunter"}, "pin": {"password": "abc"}}, redactor)
    error = f"Invalid input: '{PASSWORD}', hunter, abc"
    later = redact_json({"methods": ["password"], "error": error}, redactor)
    assert later == {"methods": ["password"], "error": f"Invalid input: '{m(PASSWORD)}', {m('hunter')}, abc"}


def test_echo_memory_skips_what_would_only_be_false_positives() -> None:
    redactor = Redactor()
    for value in ("abc", "true", "8080", "null", "1.5"):
        redactor.mark(value)
    text = '{"port": 8080, "ok": true, "x": null, "v": "1.5", "a": "abc"}'
    assert redactor.body_text(text, "application/json") == (BODY_JSON, text)


def test_fernet_looking_tokens_are_marked_anywhere() -> None:
    redactor = Redactor()
    assert redactor.url("http://h/v2.0/tokens/" + FERNET + "%3D%3D") == "http://h/v2.0/tokens/" + m(FERNET)
    assert redact_json({"note": "see " + FERNET}, redactor) == {"note": "see " + m(FERNET)}


def test_remembered_secrets_are_not_capped_at_a_few() -> None:
    redactor = Redactor()
    for i in range(1000):
        redactor.mark(f"secret-value-{i:03d}")
    assert redactor.url("http://h/secret-value-999") == "http://h/" + m("secret-value-999")
    assert redactor.url("http://h/secret-value-000") == "http://h/" + m("secret-value-000")


def test_echo_memory_is_bounded_oldest_forgotten_first() -> None:
    memory = EchoMemory(max_values=3)
    for value in ("first-secret", "second-secret", "third-secret", "fourth-secret"):
        memory.add(value)
    assert len(memory) == 3
    assert memory.replace("a first-secret b fourth-secret", lambda v: "M") == "a first-secret b M"


def test_echo_memory_finds_values_with_separators_and_not_glued_ones() -> None:
    memory = EchoMemory()
    memory.add("p@ss w0rd!")
    memory.add("Mk123")
    assert memory.replace("said 'p@ss w0rd!' twice: p@ss w0rd!", lambda v: "M") == "said 'M' twice: M"
    assert memory.replace("xMk123 Mk123 /Mk123/", lambda v: "M") == "xMk123 M /M/"
    assert not memory.may_hold("nothing here")


# -- unparseable, text and form bodies --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "content_type", "kind"),
    [
        ('{"images": [{"id": "1", "name": "cir', "application/json", BODY_TEXT),
        ("<html>Enter your Password</html>", "text/html", BODY_REDACTED),
        ("<html>hello</html>", "text/html", BODY_TEXT),
        ("the api-key is in the vault", "text/plain", BODY_REDACTED),
        ("plain words", None, BODY_TEXT),
        ("[1, 2", None, BODY_TEXT),
    ],
)
def test_unparseable_bodies_are_kept_unless_a_secret_name_is_left_unmarked(
    text: str, content_type: str | None, kind: str
) -> None:
    got_kind, got_text = Redactor().body_text(text, content_type)
    assert got_kind == kind
    if kind == BODY_REDACTED:
        size = len(text.encode())
        assert got_text == f"<redacted: unparseable body that may hold secrets, {size} bytes>"
    else:
        assert got_text == text


PREFIXES = [
    ('{"auth": {"passwordCredentials": {"password": "S3cretCut', "application/json"),
    ('{"user": {"name": "u", "password": "S3cretP1", "description": "was S3cretP1"}, "x": [1, 2', None),
    ('[{"op": "add", "path": "/driver_info/ipmi_password", "value": "S3cretPatch"}, {"op": "rem', None),
    ('{"token": {"id": "S3cretTokId", "x": "', "application/json"),
    ('{"private-key": "S3cretKebab", "api_key": "S3cretSnake", "x-api-key": 12345678, "l": ["', None),
    ('{"secrets": ["S3cretList1", "S3cretList2"], "more": {"blob": {"a": "S3cretBlob"}}, "n', None),
    ('{"config": "{\\"password\\": \\"S3cretNested\\"}", "url": "http://u:S3cretUrl@h/", "y', None),
    ('{"outputs": [{"output_key": "db_password", "output_value": "S3cretOut"}, {"ou', None),
    ("secret: S3cretYaml\nname: x\nprivate-key: S3cretYaml2\napi_key=S3cretIni\n", "application/yaml"),
    ("<creds><password>S3cretXml</password><user>bob</user></creds>", "application/xml"),
    ("X-API-Key: S3cretHdr\nAccept: */*\n", "text/plain"),
    ("GET /x?api-key=S3cretQ&limit=1 HTTP/1.1", "text/plain"),
    ("-----BEGIN PRIVATE KEY-----\nMIIE S3cretPem", "text/plain"),
]


@pytest.mark.parametrize(("text", "content_type"), PREFIXES)
def test_cut_and_unparseable_bodies_are_redacted_on_what_was_read(
    text: str, content_type: str | None
) -> None:
    kind, out = Redactor().body_text(text, content_type)
    assert kind == BODY_TEXT, out
    assert ("S3cret" not in out and "{SHA256}" in out) or "<redacted" in out, out


def test_a_body_past_the_cap_keeps_its_readable_prefix() -> None:
    document = {"server": {"name": "vm", "adminPass": "S3cretCap1", "metadata": {"api-key": "S3cretCap2"}}}
    text = json.dumps(document)[:-2] + ', "pad": "' + "x" * 5000 + '"}}'
    body = make_body(text.encode(), "application/json", 200, Redactor())
    assert body.truncated and body.kind == BODY_TEXT
    assert "S3cret" not in (body.text or "") and '"name": "vm"' in (body.text or "")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("username=admin&password=pa%24%24", "username=admin&password=" + m("pa$$")),
        (
            "grant_type=password&client_secret=cs&Token=t",
            "grant_type=password&client_secret={}&Token={}".format(m("cs"), m("t")),
        ),
        ("a=1&b", "a=1&b"),
        ("", ""),
    ],
)
def test_form_bodies(text: str, expected: str) -> None:
    assert Redactor().body_text(text, "application/x-www-form-urlencoded") == (BODY_TEXT, expected)


# -- URLs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://admin:pw@h:5000/v3", "http://admin:{}@h:5000/v3".format(m("pw"))),
        ("https://tok@h/v3", "https://{}@h/v3".format(m("tok"))),
        (
            "http://h/v1/AUTH_a/c/o?temp_url_sig=abc&temp_url_expires=1",
            "http://h/v1/AUTH_a/c/o?temp_url_sig={}&temp_url_expires=1".format(m("abc")),
        ),
        (
            "http://h/x?Password=p%20w&signature=s&X-Amz-Signature=z&keep=1",
            "http://h/x?Password={}&signature={}&X-Amz-Signature={}&keep=1".format(m("p w"), m("s"), m("z")),
        ),
        ("http://h/x?token=", "http://h/x?token=" + m("")),
        (
            "http://h:8774/v2.1/servers/detail?limit=5&a=%20",
            "http://h:8774/v2.1/servers/detail?limit=5&a=%20",
        ),
        ("/v2/images?name=x", "/v2/images?name=x"),
    ],
)
def test_urls(url: str, expected: str) -> None:
    assert Redactor().url(url) == expected


def test_url_that_does_not_parse_is_replaced_whole() -> None:
    assert Redactor().url("http://[::1/x?password=p") == "<redacted: URL {}>".format(
        m("http://[::1/x?password=p")
    )


def test_messages_get_url_rules() -> None:
    text = "Max retries exceeded with url: /v3/x?password=abc&y=1 (http://u:pw@h/)"
    assert Redactor().message(
        text
    ) == "Max retries exceeded with url: /v3/x?password={}&y=1 (http://u:{}@h/)".format(
        m("abc"),
        m("pw"),
    )


# -- never raises -------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["password", "token", "id", "access", "secret", "blob", "x"])
            | st.text(max_size=8),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(document=json_values)
def test_fuzz_json_never_raises_and_stays_json(document: Any) -> None:
    redactor = Redactor()
    kind, text = redactor.body_text(json.dumps(document), "application/json")
    assert kind == BODY_JSON
    json.loads(text)
    redactor.json(document)


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(),
    content_type=st.none()
    | st.sampled_from(
        [
            "application/json",
            "application/x-www-form-urlencoded",
            "text/plain",
            "",
            "application/octet-stream",
        ]
    ),
)
def test_fuzz_body_text_never_raises(text: str, content_type: str | None) -> None:
    kind, out = Redactor().body_text(text, content_type)
    assert kind in (BODY_JSON, BODY_TEXT, BODY_REDACTED)
    assert isinstance(out, str)


@settings(max_examples=300, deadline=None)
@given(text=st.text(), headers=st.lists(st.tuples(st.text(max_size=20), st.text(max_size=40)), max_size=5))
def test_fuzz_urls_headers_messages_never_raise(text: str, headers: list) -> None:
    redactor = Redactor()
    assert isinstance(redactor.url(text), str)
    assert isinstance(redactor.url("http://" + text), str)
    assert isinstance(redactor.message(text), str)
    assert len(redactor.headers(headers)) == len(headers)


def test_odd_inputs_do_not_raise() -> None:
    redactor = Redactor()
    assert redactor.headers([("X-Auth-Token", b"bytes-token")]) == [("X-Auth-Token", m("bytes-token"))]
    assert redactor.json({1: {"password": 5.5}, "t": ("a",)}) == {1: {"password": m("5.5")}, "t": ["a"]}
    deep: Any = "x"
    for _ in range(5000):
        deep = [deep]
    assert redactor.json(deep) == "<redacted: JSON that failed redaction>"
    kind, _ = redactor.body_text("[" * 100000, "application/json")
    assert kind == BODY_TEXT
    assert redactor.body_text('{"a": "\ud800"}', "application/json")[0] == BODY_JSON


# -- fast paths: skipping work must never skip a secret ----------------------------------------


class _SlowRedactor(Redactor):
    """The reference: always walks JSON, never takes the header or URL shortcuts."""

    def _json_may_hold_secret(self, text: str) -> bool:
        return True

    def headers(self, headers: Any) -> list[tuple[str, str]]:
        return [(str(name), self._header(str(name), value)) for name, value in headers]

    def _plain_url(self, url: str) -> bool:
        return False


def _nested(depth: int, leaf: Any) -> Any:
    document = leaf
    for level in range(depth):
        document = {f"level{level}": [document, {"name": f"n{level}"}]}
    return document


@pytest.mark.parametrize(
    "key", ["password", "PASSWORD", "PassWord", "admin_pass", "ADMIN-PASS", "adminPass", "Original_Password"]
)
def test_password_nested_deep_in_any_spelling_is_redacted(key: str) -> None:
    """The shortcut looks for key names in the raw text, lowered and without ``_``/``-``:
    every spelling the walk matches must still send the body through the walk."""
    body = json.dumps(_nested(40, {key: PASSWORD, "user": "admin"}))
    kind, text = Redactor().body_text(body, "application/json")
    assert kind == BODY_JSON and PASSWORD not in text and m(PASSWORD) in text
    assert "admin" in text


@pytest.mark.parametrize(
    "body",
    [
        # a key spelled with JSON escapes does not show in the raw text
        f'{{"auth": {{"pass\\u0077ord": "{PASSWORD}"}}}}',
        f'{{"a": {{"\\u0070assword": "{PASSWORD}"}}}}',
        # userinfo behind escaped slashes: no "/" in the raw text
        f'{{"link": "http:\\/\\/admin:{PASSWORD}@host\\/x"}}',
        # userinfo and query secrets in URL strings
        f'{{"link": "http://admin:{PASSWORD}@host/x"}}',
        f'{{"next": "/v2/things?marker=1&temp_url_sig={PASSWORD}"}}',
        f'{{"next": "/v2/things?pass%77ord={PASSWORD}"}}',
        # secrets the rules name by position, not by key
        f'{{"token": {{"id": "{PASSWORD}"}}}}',
        f'{{"credential": {{"Access": "{PASSWORD}", "SIGNATURE": "x"}}}}',
        f'{{"BLOB": {{"access": "{PASSWORD}"}}}}',
        f'{{"Private-Key": ["{PASSWORD}"]}}',
        '{"api_KEY": 12345678}',
    ],
)
def test_secrets_the_key_scan_cannot_see_directly_are_still_redacted(body: str) -> None:
    kind, text = Redactor().body_text(body, "application/json")
    assert kind == BODY_JSON
    assert PASSWORD not in text and "12345678" not in text
    assert "{SHA256}" in text


def test_remembered_secret_and_token_look_alike_in_an_innocent_body_are_scrubbed() -> None:
    redactor = Redactor()
    redactor.headers([("X-Auth-Token", "opaque-token-value-1234")])
    kind, text = redactor.body_text(f'{{"note": "saw opaque-token-value-1234", "f": "{FERNET}"}}', None)
    assert kind == BODY_JSON
    assert "opaque-token-value-1234" not in text and FERNET not in text


def test_innocent_json_body_is_not_walked(monkeypatch: pytest.MonkeyPatch) -> None:
    """A body without any name a rule could act on is kept as is, without the walk."""
    import stacktap.redact as redact

    class _NoWalk:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise AssertionError("walked")

    monkeypatch.setattr(redact, "_Walk", _NoWalk)
    body = '{"images": [{"id": "3f0c", "name": "cirros", "status": "active", "size": 12}]}'
    assert Redactor().body_text(body, "application/json") == (BODY_JSON, body)
    # NOTE: with a candidate name the walk runs (here it fails, so the body is replaced).
    assert Redactor().body_text('{"Pass_Word": "x"}', "application/json")[0] == BODY_REDACTED


def test_extra_keys_are_looked_for_by_the_shortcut_too() -> None:
    redactor = Redactor(extra_keys=["Vault-Pin"])
    kind, text = redactor.body_text(json.dumps(_nested(10, {"vault_pin": "4242-4242"})), None)
    assert kind == BODY_JSON and "4242-4242" not in text


def test_header_shortcut_still_scrubs_remembered_secrets_and_tokens() -> None:
    redactor = Redactor()
    redactor.mark("remembered-secret-1234")
    out = redactor.headers(
        [
            ("X-Custom", "prefix remembered-secret-1234 suffix"),
            ("X-Other", "Bearer " + FERNET),
            ("Content-Type", "application/json"),
            ("x-AUTH-token", "t0k3n"),
        ]
    )
    assert out == [
        ("X-Custom", "prefix {} suffix".format(m("remembered-secret-1234"))),
        ("X-Other", "Bearer " + m(FERNET)),
        ("Content-Type", "application/json"),
        ("x-AUTH-token", m("t0k3n")),
    ]


json_with_secrets = st.recursive(
    st.none()
    | st.integers()
    | st.sampled_from(
        [
            PASSWORD,
            "plain",
            f"http://u:{PASSWORD}@h/x",
            f"/v2/x?token={PASSWORD}&a=b",
            "/v2/x?marker=abc",
            "http://h/x?path=%3Ftoken%3Dabc",
            "mail@example.org",
            FERNET,
            "http://[bad/x?y",
            "http://[bad/x",
            "http://h\uff0fx/y",
        ]
    )
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "password",
                    "Pass-Word",
                    "ADMINPASS",
                    "id",
                    "token",
                    "access",
                    "secret",
                    "blob",
                    "name",
                    "links",
                ]
            )
            | st.text(max_size=6),
            children,
            max_size=4,
        )
    ),
    max_leaves=15,
)


@settings(max_examples=400, deadline=None)
@given(document=json_with_secrets, ensure_ascii=st.booleans(), escape_slashes=st.booleans())
def test_fuzz_shortcuts_give_exactly_what_the_full_walk_gives(
    document: Any, ensure_ascii: bool, escape_slashes: bool
) -> None:
    """Redactor (with its shortcuts) and a Redactor that always walks agree on every body,
    header list and URL: the shortcuts only skip work whose result is known."""
    text = json.dumps(document, ensure_ascii=ensure_ascii)
    if escape_slashes:
        text = text.replace("/", "\\/")
    assert Redactor().body_text(text, "application/json") == _SlowRedactor().body_text(
        text, "application/json"
    )
    if isinstance(document, dict):
        pairs = [(str(k), str(v)) for k, v in document.items()]
        assert Redactor().headers(pairs) == _SlowRedactor().headers(pairs)
        redacted, index = Redactor().headers_indexed(pairs)
        assert redacted == _SlowRedactor().headers(pairs)
        assert index == {k.lower(): v for k, v in reversed(pairs)}  # NOTE: reversed: first wins
        for value in document.values():
            if isinstance(value, str):
                assert Redactor().url(value) == _SlowRedactor().url(value)


@settings(max_examples=400, deadline=None)
@given(
    parts=st.lists(
        st.sampled_from([*list("ab/:@?#&=%[]. \uff0f"), "token", FERNET, "eyJhbGciOiJIUzI1NiJ9"]), max_size=20
    )
)
def test_fuzz_url_shortcut_agrees_with_the_full_rules(parts: list[str]) -> None:
    text = "".join(parts)
    for url in (text, "http://" + text, "/" + text):
        assert Redactor().url(url) == _SlowRedactor().url(url)


def test_headers_indexed_marks_secrets_and_indexes_raw_first_values() -> None:
    """One pass gives what the writer needs: headers to store (redacted) and an index of raw
    first values (Content-Type, request ids) that is read, never stored."""
    pairs = [("X-Auth-Token", FERNET), ("Content-Type", "application/json"), ("content-type", "text/plain")]
    redacted, index = Redactor().headers_indexed(pairs)
    assert redacted == [("X-Auth-Token", m(FERNET)), pairs[1], pairs[2]]
    assert index == {"x-auth-token": FERNET, "content-type": "application/json"}


def test_bytes_header_names_and_values_are_redacted_as_text() -> None:
    """requests accepts ``{b"X-Auth-Token": b"..."}``: the name must still be recognized."""
    expected = [("X-Auth-Token", m("t0k3n")), ("Accept", "*/*")]
    pairs = [(b"X-Auth-Token", b"t0k3n"), (b"Accept", b"*/*")]
    assert Redactor().headers(pairs) == expected
    assert Redactor().headers_indexed(pairs) == (expected, {"x-auth-token": "t0k3n", "accept": "*/*"})


@pytest.mark.parametrize("count", [1, 20])
def test_echoes_after_escapes_are_found_with_few_or_many_remembered(count: int) -> None:
    memory = EchoMemory()
    for i in range(count):
        memory.add(f"Mk{i:02d}secret")
    text = 'a\\nMk00secret %2FMk00secret \\u00e9Mk00secret "Mk00secret" xMk00secret'
    out = memory.replace(text, lambda v: "M")
    assert out == 'a\\nM %2FM \\u00e9M "M" xMk00secret'
