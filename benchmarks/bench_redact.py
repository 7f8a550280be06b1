"""Redaction cost, side by side with what the writer thread does anyway (json.loads + dumps).

Prints, for a keystone token response with a 30-service catalog and a ~1 MiB glance image list:
the time to redact the body, the time of a plain ``json.loads`` + ``json.dumps`` round trip
on the same text, and their ratio; with an empty Redactor, then with 32 remembered tokens
(the most the old memory kept), then 32 and 10,000 remembered tokens and short passwords
(see :mod:`stacktap.redact_echo`: a text's runs are hashed and compared with the anchors).

Run: ``.venv/bin/python benchmarks/bench_redact.py``
"""

from __future__ import annotations

import json
import timeit
import uuid

from stacktap.redact import Redactor


def token_response() -> str:
    catalog = [
        {
            "type": f"service{i}",
            "name": f"svc{i}",
            "id": uuid.uuid4().hex,
            "endpoints": [
                {
                    "interface": itf,
                    "region": "RegionOne",
                    "url": f"http://10.0.0.5/svc{i}/v1",
                    "id": uuid.uuid4().hex,
                }
                for itf in ("public", "internal", "admin")
            ],
        }
        for i in range(30)
    ]
    return json.dumps(
        {
            "token": {
                "methods": ["password"],
                "user": {"id": uuid.uuid4().hex, "name": "admin"},
                "catalog": catalog,
                "expires_at": "2030-01-01T00:00:00Z",
            }
        }
    )


def image_list() -> str:
    images = [
        {
            "id": str(uuid.uuid4()),
            "name": f"image-{i}",
            "status": "active",
            "checksum": uuid.uuid4().hex,
            "os_hash_value": uuid.uuid4().hex * 4,
            "tags": ["a", "b"],
            "file": "/v2/images/x/file",
            "self": "/v2/images/x",
            "schema": "/v2/schemas/image",
        }
        for i in range(2500)
    ]
    return json.dumps({"images": images, "first": "/v2/images?limit=2500", "next": "/v2/images?marker=x"})


def measure(name: str, text: str, redactor: Redactor) -> None:
    runs = 20
    redact = min(timeit.repeat(lambda: redactor.body_text(text, "application/json"), number=runs, repeat=3))
    baseline = min(timeit.repeat(lambda: json.dumps(json.loads(text)), number=runs, repeat=3))
    print(
        f"{name:<52} {len(text):8d} bytes  redact {redact / runs * 1000:7.2f} ms"
        f"  loads+dumps {baseline / runs * 1000:7.2f} ms  ratio {redact / baseline:.2f}"
    )


def remembering(count: int, tokens_only: bool = False) -> Redactor:
    """A Redactor that marked ``count`` secrets: fernet tokens, and (unless ``tokens_only``)
    short passwords, half of them, whose hex part often is a whole word of a UUID in the body."""
    redactor = Redactor()
    for i in range(count):
        if tokens_only or i % 2:
            redactor.mark("gAAAAAB" + uuid.uuid4().hex * 3)
        else:
            redactor.mark("pw-" + uuid.uuid4().hex[: 4 + i % 12])
    return redactor


def main() -> None:
    redactors = [("", Redactor()), (", 32 tokens remembered", remembering(32, tokens_only=True))]
    redactors.append((", 32 tokens+passwords", remembering(32)))
    redactors.append((", 10000 tokens+passwords", remembering(10000)))
    for label, text in (("token response (30 services)", token_response()), ("image list", image_list())):
        for suffix, redactor in redactors:
            measure(label + suffix, text, redactor)


if __name__ == "__main__":
    main()
