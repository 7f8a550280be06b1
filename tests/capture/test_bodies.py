from __future__ import annotations

from stacktap.agent.bodies import make_body
from stacktap.agent.body_capture import BodyCapture
from stacktap.model import BODY_BINARY, BODY_JSON, BODY_NONE, BODY_STREAM, BODY_UNREAD
from stacktap.redact import Redactor
from stacktap.redact_marks import keyed_digest


def test_capture_keeps_the_first_cap_bytes_and_hashes_all() -> None:
    capture = BodyCapture(cap=10)
    for chunk in (b"0123", b"456789ab", bytearray(b"cdef")):
        capture.feed(chunk)
    assert (capture.size, capture.data, capture.truncated) == (16, b"0123456789", True)
    assert capture.sha256() == keyed_digest(b"0123456789abcdef")


def test_json_is_redacted_and_capped() -> None:
    body = make_body(b'{"password": "hunter2hunter2", "name": "x"}', "application/json", 1024, Redactor())
    assert body.kind == BODY_JSON and "hunter2" not in (body.text or "") and not body.truncated
    capped = make_body(b'{"name": "' + b"x" * 100 + b'"}', "application/json", 20, Redactor())
    assert capped.truncated and capped.size == 112 and len(capped.text or "") <= 40


def test_binary_streamed_unread_and_empty() -> None:
    data = bytes(range(256)) * 10
    binary = make_body(data, "application/octet-stream", 1024, Redactor())
    assert (binary.kind, binary.size, binary.text) == (BODY_BINARY, 2560, None)
    assert binary.sha256 == keyed_digest(data)
    streamed = BodyCapture(cap=100, streamed=True)
    streamed.feed(data)
    streamed.complete = True
    assert make_body(streamed, None, 100, Redactor()).kind == BODY_STREAM
    unread = BodyCapture(cap=100)
    unread.feed(b'{"a": ')
    assert make_body(unread, "application/json", 100, Redactor()).kind == BODY_UNREAD
    assert make_body(b"", "application/json", 100, Redactor()).kind == BODY_NONE


def test_capture_at_and_around_the_cap() -> None:
    for cap in (0, 1, 7, 8, 9, 100):
        for chunks in ([], [b""], [b"01234567"], [b"0123", b"", b"4567"], [b"01", memoryview(b"234"), "567"]):
            capture = BodyCapture(cap)
            for chunk in chunks:
                capture.feed(chunk)
            whole = b"".join(c.encode() if isinstance(c, str) else bytes(c) for c in chunks)
            assert (capture.data, capture.size) == (whole[:cap], len(whole)), (cap, chunks)
            assert capture.truncated == (len(whole) > cap)
            assert capture.sha256() == keyed_digest(whole)


def test_body_hashes_are_keyed_so_a_small_secret_body_cannot_be_confirmed() -> None:
    import hashlib

    secret = b"S3cretPayload"
    body = make_body(secret, "application/octet-stream", 1024, Redactor())
    assert body.sha256 == keyed_digest(secret) != hashlib.sha256(secret).hexdigest()
    capture = BodyCapture(cap=4)
    capture.feed(secret)
    assert capture.sha256() == keyed_digest(secret)


def test_text_of_an_unknown_kind_keeps_size_and_hash_only() -> None:
    pem = b"-----BEGIN PRIVATE KEY-----\nMIIE S3cretPemFile\n"
    for ctype in ("application/x-pem-file", "application/pkcs8", "application/x-custom"):
        body = make_body(pem, ctype, 1024, Redactor())
        assert (body.kind, body.text, body.size) == (BODY_BINARY, None, len(pem)), ctype
    kept = make_body(b"hello", "text/plain; charset=utf-8", 1024, Redactor())
    assert kept.text == "hello"


def test_latin1_text_is_decoded_whole_for_the_rules_and_the_echo_memory() -> None:
    redactor = Redactor()
    redactor.mark("pässwörd-Geheim")
    latin1 = "text/plain; charset=iso-8859-1"
    declared = make_body("note: pässwörd-Geheim".encode("latin-1"), latin1, 1024, redactor)
    undeclared = make_body("x=1\napi_key=Schlüssel9\n".encode("latin-1"), "text/plain", 1024, redactor)
    assert "Geheim" not in (declared.text or "") and "{SHA256}" in (declared.text or "")
    assert "Schl" not in (undeclared.text or "") and "x=1" in (undeclared.text or "")
