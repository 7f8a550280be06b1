"""Bodies that are not whole JSON: multipart forms by field name, heat files and templates
by the text rules."""

from __future__ import annotations

import json

from stacktap.model import BODY_TEXT
from stacktap.redact import Redactor

MULTIPART = (
    '--XyZ\r\nContent-Disposition: form-data; name="user[password]"\r\n\r\nS3cretM1\r\n'
    '--XyZ\r\nContent-Disposition: form-data; name="api-key"\r\n\r\nS3cretM2\r\n'
    '--XyZ\r\nContent-Disposition: form-data; name="name"\r\n\r\nbob\r\n'
    '--XyZ\r\nContent-Disposition: form-data; name="f"; filename="id_rsa"\r\n'
    "Content-Type: application/octet-stream\r\n\r\nS3cretFile\r\n"
    '--XyZ\r\nContent-Disposition: form-data; name="note"\r\n\r\nmy password is S3cretM3\r\n'
    '--XyZ\r\nContent-Disposition: form-data; name="conf"\r\n\r\nuser=a\ntoken=S3cretM4\r\n'
    "--XyZ--\r\n"
)


def test_multipart_fields_are_judged_by_their_names() -> None:
    kind, text = Redactor().body_text(MULTIPART, "multipart/form-data; boundary=XyZ")
    assert kind == BODY_TEXT and "S3cret" not in text
    assert "\r\n\r\nbob\r\n" in text and "<redacted: file of 10 characters>" in text
    assert "user=a" in text and text.count("--XyZ") == 7


def test_multipart_cut_at_the_cap_is_redacted_on_what_was_read() -> None:
    cut = MULTIPART[: MULTIPART.index("S3cretM2") + 4]
    kind, text = Redactor().body_text(cut, 'multipart/form-data; boundary="XyZ"')
    assert kind == BODY_TEXT and "S3cr" not in text and "S3cretM1" not in text


def test_heat_files_and_templates_get_the_text_rules() -> None:
    stack = {
        "stack_name": "s",
        "template": {"parameters": {"db_password": {"type": "string", "default": "S3cretH1"}}},
        "files": {
            "file:///a.yaml": "parameters:\n  admin_pass:\n    type: string\n    default: S3cretH2\n",
            "b.ini": "[db]\nconnection = mysql://nova:S3cretH3@db/nova\napi-key=S3cretH4",
            "c.yaml": "ssh_private_key: |\n  S3cretH5\n  S3cretH6\nflavor: m1.tiny\n",
        },
        "environment": {"parameter_defaults": {"flavor": "m1.tiny"}},
    }
    _kind, text = Redactor().body_text(json.dumps(stack), "application/json")
    assert "S3cret" not in text
    assert "m1.tiny" in text and "type: string" in text and "mysql://nova:" in text
