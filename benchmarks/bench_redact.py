"""Redaction cost, side by side with what the writer thread does anyway (json.loads + dumps).

Prints, for a keystone token response with a 30-service catalog and a ~1 MiB glance image list:
the time to redact the body, the time of a plain ``json.loads`` + ``json.dumps`` round trip
on the same text, and their ratio; once with an empty Redactor and once with 32 remembered
secrets (the most it keeps), which each cost one substring scan per body.

Run: ``.venv/bin/python benchmarks/bench_redact.py``
"""

from __future__ import annotations

import json
import timeit
import uuid

from stacktap.redact import MAX_REMEMBERED, Redactor


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
        f"{name:<44} {len(text):8d} bytes  redact {redact / runs * 1000:7.2f} ms"
        f"  loads+dumps {baseline / runs * 1000:7.2f} ms  ratio {redact / baseline:.2f}"
    )


def main() -> None:
    remembering = Redactor()
    for _ in range(MAX_REMEMBERED):
        remembering.mark("gAAAAAB" + uuid.uuid4().hex * 3)
    for label, text in (("token response (30 services)", token_response()), ("image list", image_list())):
        measure(label, text, Redactor())
        measure(label + ", 32 remembered", text, remembering)


if __name__ == "__main__":
    main()
