"""Bodies as text renderers print them: pretty JSON, placeholders, truncation and unread marks."""

from __future__ import annotations

import pytest

from stacktap.model import (
    BODY_BINARY,
    BODY_JSON,
    BODY_NONE,
    BODY_REDACTED,
    BODY_STREAM,
    BODY_TEXT,
    BODY_UNREAD,
    Body,
)
from stacktap.render.body_text import body_text, has_body


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (Body(kind=BODY_JSON, text='{"a": [1]}'), '{\n  "a": [\n    1\n  ]\n}'),
        (Body(kind=BODY_JSON, text='{"a": "é"}'), '{\n  "a": "é"\n}'),
        (
            Body(kind=BODY_JSON, text='{"a": 1', truncated=True, size=100),
            '{"a": 1\n<truncated: first 7 of 100 bytes shown>',
        ),
        (Body(kind=BODY_TEXT, text="a=1&b=2"), "a=1&b=2"),
        (Body(kind=BODY_BINARY, size=10, sha256="ff"), "<binary 10 bytes sha256=ff>"),
        (Body(kind=BODY_STREAM, size=10), "<streamed 10 bytes, not kept>"),
        (
            Body(kind=BODY_UNREAD, size=3, sha256="aa"),
            "<unread: the program did not read the body (3 bytes seen) sha256=aa>",
        ),
        (Body(kind=BODY_REDACTED, text="<redacted: x>", truncated=True), "<redacted: x>"),
        (Body(kind=BODY_JSON, text="not json"), "not json"),
        (Body(), ""),
    ],
)
def test_body_text(body: Body, expected: str) -> None:
    assert body_text(body) == expected


def test_has_body() -> None:
    assert not has_body(Body(kind=BODY_NONE))
    assert has_body(Body(kind=BODY_NONE, size=3))
    assert has_body(Body(kind=BODY_TEXT, text=""))
