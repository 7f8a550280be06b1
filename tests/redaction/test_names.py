"""The name-meaning matcher, and its use for JSON, form/query, headers and argv."""

from __future__ import annotations

import json

import pytest

from stacktap.agent.argv_redact import redact_argv
from stacktap.redact import Redactor, is_mark
from stacktap.redact_names import is_secret_name, is_secret_query_name, split_words

SECRET_NAMES = [
    "auth_key", "payload", "ipmi_password", "redfish_password", "agent_token", "access_key",
    "db_password", "AdminPassword", "DBPassword", "adminPassword", "adminPass", "db_pass",
    "os_password", "root_password", "passwd", "pwd", "secret_key", "key", "tls_key",
    "password", "api_key", "apikey", "client_secret", "refresh_token", "oauth_token_secret",
    "oauth_verifier", "oauth_token", "oauth_consumer_key", "oauth_signature", "user[password]",
    "X-API-Key", "X-Instance-ID-Signature", "X-Container-Sync-Key", "X-Amz-Security-Token",
    "X-Session-Key", "vmware-api-session-id", "URL-Signature", "x-auth-token",
    "x-subject-token", "x-storage-pass", "x-container-meta-temp-url-key", "temp_url_sig",
    "private_key", "passphrase", "credential", "tsigkey", "ADMINPASS", "code_verifier",
    "application_credential_secret", "Sec-WebSocket-Key", "session", "cookie",
]  # fmt: skip
NON_SECRET_NAMES = [
    "key_name", "public_key", "keypair", "keypairs", "fingerprint", "keystone", "sort_key",
    "sort_keys", "token_type", "password_expires_at", "secret_ref", "secret_type",
    "payload_content_type", "payload_content_encoding", "cookie_name", "name", "id", "url",
    "catalog", "endpoints", "interface", "region_id", "checksum", "os_hash_algo",
    "os_hash_value", "disk_format", "container_format", "visibility", "min_ram", "ram",
    "vcpus", "disk", "swap", "rxtx_factor", "OS-FLV-EXT-DATA:ephemeral", "security_groups",
    "accessIPv4", "methods", "audit_ids", "expires_at", "Content-Type", "X-OpenStack-Request-Id",
    "x-compute-request-id", "Keep-Alive", "WWW-Authenticate", "session_persistence", "status",
    "code", "oauth_signature_method", "auth_url", "auth",
]  # fmt: skip


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name) or is_secret_query_name(name), split_words(name)


@pytest.mark.parametrize("name", NON_SECRET_NAMES)
def test_non_secret_names(name: str) -> None:
    assert not is_secret_name(name), split_words(name)


@pytest.mark.parametrize("name", ["code", "sig", "key", "code_verifier", "passwd", "api_key"])
def test_query_only_names(name: str) -> None:
    assert is_secret_query_name(name)


def test_split_words() -> None:
    assert split_words("DBPassword") == ["db", "password"]
    assert split_words("user[password]") == ["user", "password"]
    assert split_words("X-Amz-Security-Token") == ["x", "amz", "security", "token"]
    assert split_words("environment.parameters.DBPassword")[-1] == "password"


@pytest.mark.parametrize(
    "document, path",
    [
        ({"transfer": {"auth_key": "S3cretXfer!", "name": "t"}}, ["transfer", "auth_key"]),
        ({"payload": "S3cretPayload", "name": "n"}, ["payload"]),
        ({"driver_info": {"ipmi_password": "S3cretIpmi"}}, ["driver_info", "ipmi_password"]),
        ({"agent_token": "S3cretAgentTok"}, ["agent_token"]),
        ({"access": {"access_key": "S3cretCephx"}}, ["access", "access_key"]),
        ({"parameters": {"AdminPassword": "S3cretHeat"}}, ["parameters", "AdminPassword"]),
        ({"metadata": {"db_password": "S3cretMeta"}}, ["metadata", "db_password"]),
        ({"certs": {"key": "S3cretPEM"}}, ["certs", "key"]),
    ],
)
def test_json_keys_by_meaning(document: dict, path: list) -> None:
    _kind, text = Redactor().body_text(json.dumps(document), "application/json")
    value = json.loads(text)
    for step in path:
        value = value[step]
    assert is_mark(value)


def test_json_patch_value_named_by_path() -> None:
    body = json.dumps(
        [
            {"op": "add", "path": "/driver_info/ipmi_password", "value": "S3cretPatch"},
            {"op": "add", "path": "/driver_info/ipmi_username", "value": "admin"},
        ]
    )
    _, text = Redactor().body_text(body, "application/json")
    assert "S3cretPatch" not in text and "admin" in text


def test_readable_nova_bodies_stay_untouched() -> None:
    body = json.dumps(
        {
            "server": {"name": "vm", "key_name": "mykey", "flavorRef": "1", "imageRef": "x"},
            "keypair": {"name": "mykey", "public_key": "ssh-rsa AAAA", "fingerprint": "a:b"},
        }
    )
    assert Redactor().body_text(body, "application/json")[1] == body


@pytest.mark.parametrize(
    "query, secret",
    [
        ("os_password=S3cretQ1&x=1", "S3cretQ1"),
        ("user%5Bpassword%5D=S3cretQ2", "S3cretQ2"),
        ("api_key=S3cretQ3", "S3cretQ3"),
        ("code=S3cretQ4&state=abc", "S3cretQ4"),
        ("oauth_verifier=S3cretQ5", "S3cretQ5"),
        ("agent_token=S3cretQ6", "S3cretQ6"),
        ("sig=S3cretQ7&key=S3cretQ8", "S3cretQ7"),
        ("passwd=S3cretQ9", "S3cretQ9"),
    ],
)
def test_query_and_form_keys(query: str, secret: str) -> None:
    redactor = Redactor()
    assert secret not in redactor.url("http://h/x?" + query)
    assert secret not in redactor.body_text(query, "application/x-www-form-urlencoded")[1]


def test_fragment_tokens() -> None:
    assert "S3cretFrag" not in Redactor().url("http://h/cb#access_token=S3cretFrag&x=1")


@pytest.mark.parametrize(
    "name", ["X-API-Key", "X-Instance-ID-Signature", "X-Container-Sync-Key", "URL-Signature"]
)
def test_headers_by_meaning(name: str) -> None:
    redactor = Redactor()
    assert is_mark(redactor.headers([(name, "S3cretHeader")])[0][1])
    assert is_mark(redactor.headers_indexed([(name, "S3cretHeader")])[0][0][1])


def test_link_header_and_folded_set_cookie() -> None:
    redactor = Redactor()
    link = redactor.headers([("Link", "<http://h/x?token=S3cretLink>; rel=next")])[0][1]
    assert "S3cretLink" not in link and "rel=next" in link
    cookie = redactor.headers(
        [("Set-Cookie", "a=S3cretC1; Expires=Wed, 21 Oct 2015 07:28:00 GMT, b=S3cretC2; Path=/")]
    )[0][1]
    assert "S3cretC1" not in cookie and "S3cretC2" not in cookie and "Path=/" in cookie


def test_argv_options_and_key_value_pairs() -> None:
    argv = [
        "openstack", "--os-password", "S3cretA1", "--key-name", "mykey", "--passwd=S3cretA2",
        "--property", "db_password=S3cretA3", "name=vm",
    ]  # fmt: skip
    out = redact_argv(argv, lambda v: "M")
    joined = " ".join(out)
    assert "S3cret" not in joined and "mykey" in joined and "name=vm" in joined


def test_argv_urls_lose_userinfo_and_secret_query_values() -> None:
    argv = [
        "openstack", "--os-auth-url", "http://admin:S3cretU1@h:5000/v3", "--endpoint=http://S3cretU2@h/",
        "--url", "http://h/x?limit=2&token=S3cretU3",
    ]  # fmt: skip
    joined = " ".join(redact_argv(argv, lambda v: "M"))
    assert "S3cret" not in joined
    assert "http://admin:M@h:5000/v3" in joined and "--endpoint=http://M@h/" in joined and "limit=2" in joined


PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpQIBAAKCAQEAs3cr3tPem\n-----END RSA PRIVATE KEY-----\n"
CERT = "-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n"


@pytest.mark.parametrize(
    "document, secret",
    [
        ({"tls": {"pem": PEM}}, "s3cr3tPem"),
        ({"config": json.dumps({"password": "S3cretInString"})}, "S3cretInString"),
        ({"kubeconfig_text": "users:\n- name: a\n  user:\n    token: S3cretKube\n"}, "S3cretKube"),
        ({"user_data": "#cloud-config\ndb_password=S3cretIni\n"}, "S3cretIni"),
        (
            {"user": {"password": "S3cretEcho!", "description": "pw is S3cretEcho!"}},
            "S3cretEcho!",
        ),
    ],
)
def test_values_by_form_and_echoes(document: dict, secret: str) -> None:
    _, text = Redactor().body_text(json.dumps(document), "application/json")
    assert secret not in text


def test_certificates_are_kept() -> None:
    body = json.dumps({"certificate": CERT, "name": "c"})
    assert Redactor().body_text(body, "application/json")[1] == body


def test_plain_text_single_word_payload_is_marked() -> None:
    _kind, text = Redactor().body_text("Zm9vYmFyU3VwZXJTZWNyZXQ", "text/plain")
    assert is_mark(text)
    assert Redactor().body_text("Not Found", "text/plain")[1] == "Not Found"


@pytest.mark.parametrize(
    "document",
    [
        {"outputs": [{"output_key": "db_password", "output_value": "S3cretOut1"}]},
        {"metadata": [{"key": "admin_password", "value": "S3cretOut2"}]},
        {"properties": [{"name": "root_password", "value": "S3cretOut3"}]},
    ],
)
def test_values_named_by_a_sibling(document: dict) -> None:
    _, text = Redactor().body_text(json.dumps(document), "application/json")
    assert "S3cretOut" not in text


def test_nova_user_data_is_marked_whole() -> None:
    body = json.dumps({"server": {"name": "vm", "user_data": "I2Nsb3VkLWNvbmZpZwpwYXNzd29yZDogeA=="}})
    _, text = Redactor().body_text(body, "application/json")
    assert is_mark(json.loads(text)["server"]["user_data"])
