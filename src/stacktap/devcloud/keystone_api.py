"""Catalog entries through keystone's v3 API: idempotent "make sure this exists" calls."""

from __future__ import annotations

from typing import Any

from stacktap.devcloud.http import HTTPResult, request_json
from stacktap.devcloud.services import REGION
from stacktap.errors import DevcloudError


def _check(result: HTTPResult, what: str) -> Any:
    if result.status >= 300:
        raise DevcloudError(f"keystone refused to {what}: HTTP {result.status} {str(result.body)[:200]}")
    return result.body


class KeystoneAdmin:
    """An admin session on the dev cloud's keystone (password auth, project ``admin``)."""

    def __init__(self, auth_url: str, password: str) -> None:
        self.auth_url = auth_url.rstrip("/")
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": "admin", "domain": {"id": "default"}, "password": password}
                    },
                },
                "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
            }
        }
        result = request_json("POST", self.auth_url + "/auth/tokens", body)
        _check(result, "issue an admin token")
        self.token = result.headers["X-Subject-Token"]

    def call(self, method: str, path: str, body: Any = None, what: str = "") -> Any:
        result = request_json(method, self.auth_url + path, body, {"X-Auth-Token": self.token})
        return _check(result, what or f"{method} {path}")

    def ensure_service(self, service_type: str, name: str) -> str:
        """The id of the service ``name`` of ``service_type``, created if missing."""
        for service in self.call("GET", f"/services?type={service_type}")["services"]:
            if service["name"] == name:
                return str(service["id"])
        created = self.call("POST", "/services", {"service": {"type": service_type, "name": name}})
        return str(created["service"]["id"])

    def ensure_endpoints(self, service_id: str, url: str, interfaces: tuple[str, ...]) -> None:
        """One endpoint per interface with exactly ``url`` (a moved port updates it in place)."""
        existing = self.call("GET", f"/endpoints?service_id={service_id}")["endpoints"]
        for interface in interfaces:
            mine = [e for e in existing if e["interface"] == interface and e.get("region_id") == REGION]
            if not mine:
                endpoint = {"service_id": service_id, "interface": interface, "url": url, "region_id": REGION}
                self.call("POST", "/endpoints", {"endpoint": endpoint})
            elif mine[0]["url"] != url:
                self.call("PATCH", f"/endpoints/{mine[0]['id']}", {"endpoint": {"url": url}})

    def remove_service(self, service_type: str, name: str) -> None:
        """Drop service ``name`` (and so its endpoints) from the catalog, if there."""
        for service in self.call("GET", f"/services?type={service_type}")["services"]:
            if service["name"] == name:
                self.call("DELETE", f"/services/{service['id']}")

    def grant_project_role(self, role: str, user: str = "admin", project: str = "admin") -> None:
        """Give ``user`` the role ``role`` (created if missing) on ``project``; all names, idempotent."""
        roles = self.call("GET", f"/roles?name={role}")["roles"]
        role_id = (
            roles[0]["id"] if roles else self.call("POST", "/roles", {"role": {"name": role}})["role"]["id"]
        )
        user_id = self.call("GET", f"/users?name={user}")["users"][0]["id"]
        project_id = self.call("GET", f"/projects?name={project}")["projects"][0]["id"]
        self.call("PUT", f"/projects/{project_id}/users/{user_id}/roles/{role_id}")
