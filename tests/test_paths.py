"""Path templates: ids become named placeholders, everything else stays."""

from __future__ import annotations

import pytest

from stacktap.paths import path_template

UUID = "9e8d7c6b-5a49-4838-a271-605f4e3d2c1b"
HEX = "2a5b7e1f9c0d4e8fa1b2c3d4e5f60718"


@pytest.mark.parametrize(
    ("url", "template"),
    [
        ("http://h:9292/v2/images/" + UUID, "/v2/images/{image_id}"),
        (f"http://h:9292/v2/images/{UUID}/file?x=1", "/v2/images/{image_id}/file"),
        (f"http://h/compute/v2.1/{HEX}/servers/{UUID}", "/compute/v2.1/{project_id}/servers/{server_id}"),
        ("http://h:8774/v2.1/flavors/1", "/v2.1/flavors/{flavor_id}"),
        (f"/v3/users/{HEX}/projects", "/v3/users/{user_id}/projects"),
        ("/v3/policies/" + HEX, "/v3/policies/{policy_id}"),
        ("/v2.1/os-keypairs/mykey", "/v2.1/os-keypairs/mykey"),
        (
            f"/v2.1/servers/{UUID}/os-volume_attachments/{UUID}",
            "/v2.1/servers/{server_id}/os-volume_attachments/{attachment_id}",
        ),
        ("/v2.1/os-instance-actions/" + UUID, "/v2.1/os-instance-actions/{instance_action_id}"),
        (f"/v3/OS-INHERIT/domains/{HEX}/{HEX}", "/v3/OS-INHERIT/domains/{domain_id}/{id}"),
        ("/v2.0/security-group-rules/" + UUID, "/v2.0/security-group-rules/{security_group_rule_id}"),
        ("/v3/capabilities/" + HEX, "/v3/capabilities/{capability_id}"),
        ("/" + UUID, "/{id}"),
        ("/v2/images?limit=2", "/v2/images"),
        ("/v2/images/", "/v2/images/"),
        ("http://h:5000", ""),
        ("/v2/images/cirros-0.6", "/v2/images/cirros-0.6"),
    ],
)
def test_path_template(url: str, template: str) -> None:
    assert path_template(url) == template
