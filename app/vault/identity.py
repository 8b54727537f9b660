"""Who is who in Vault: identity groups and entities, entity aliases, and ACL policies."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from app.vault import errors
from app.vault.transport import Transport, path


class Identity:
    """Groups, entities, aliases and policies; the caller's (an operator's or admin's) token."""

    def __init__(self, transport: Transport) -> None:
        self.t = transport

    def _read(self, token: str, api_path: str) -> dict[str, Any] | None:
        try:
            reply = self.t.request("GET", api_path, token)
        except errors.NotFound:
            return None
        return dict(reply["data"]) if reply and reply.get("data") else None

    # -- policies ----------------------------------------------------------------------------

    def put_policy(self, token: str, name: str, hcl: str) -> None:
        self.t.request("PUT", path("sys", "policies", "acl", name), token, {"policy": hcl})

    def read_policy(self, token: str, name: str) -> str:
        """A policy's HCL text ("" if there is none)."""
        try:
            reply = self.t.request("GET", path("sys", "policies", "acl", name), token)
        except errors.NotFound:
            return ""
        return str((reply.get("data") or {}).get("policy") or "")

    def list_policies(self, token: str) -> list[str]:
        reply = self.t.request("LIST", path("sys", "policies", "acl"), token)
        return [str(k) for k in (reply.get("data") or {}).get("keys") or []]

    # -- groups ------------------------------------------------------------------------------

    def read_group(self, token: str, name: str) -> dict[str, Any] | None:
        return self._read(token, path("identity", "group", "name", name))

    def list_groups(self, token: str) -> list[str]:
        """Every identity group's name (none yet: an empty list)."""
        try:
            reply = self.t.request("LIST", path("identity", "group", "name"), token)
        except errors.NotFound:
            return []
        return [str(k) for k in (reply.get("data") or {}).get("keys") or []]

    def write_group(
        self,
        token: str,
        name: str,
        policies: Iterable[str],
        member_entity_ids: Iterable[str],
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        body: dict[str, Any] = {
            "type": "internal",
            "policies": list(policies),
            "member_entity_ids": sorted(set(member_entity_ids)),
        }
        if metadata is not None:
            body["metadata"] = dict(metadata)
        self.t.request("POST", path("identity", "group", "name", name), token, body)

    def set_group_members(
        self, token: str, name: str, member_entity_ids: Iterable[str], metadata: Mapping[str, str]
    ) -> None:
        """Replace a group's members and its metadata (the members' names), sending nothing else:
        Vault keeps its policies (and the admin policy allows no other field)."""
        body = {"member_entity_ids": sorted(set(member_entity_ids)), "metadata": dict(metadata)}
        self.t.request("POST", path("identity", "group", "name", name), token, body)

    # -- entities and aliases ----------------------------------------------------------------

    def read_entity_by_id(self, token: str, entity_id: str) -> dict[str, Any] | None:
        return self._read(token, path("identity", "entity", "id", entity_id))

    def alias_names(self, token: str, mount_path: str) -> dict[str, str]:
        """{entity id: its alias name on the auth mount at mount_path ("auth/userpass/")}, from
        one LIST of entities (ids with their aliases; no groups, no metadata)."""
        try:
            reply = self.t.request("LIST", path("identity", "entity", "id"), token)
        except errors.NotFound:
            return {}
        found: dict[str, str] = {}
        for entity_id, info in ((reply.get("data") or {}).get("key_info") or {}).items():
            for alias in (info or {}).get("aliases") or []:
                if alias.get("mount_path") == mount_path and alias.get("name"):
                    found[str(entity_id)] = str(alias["name"])
        return found

    def create_alias(self, token: str, name: str, mount_accessor: str) -> str | None:
        """A new alias on an auth mount with a new entity of its own (no canonical_id: nobody can
        tie a name to someone else's entity); the entity id, or None if the alias existed."""
        reply = self.t.request(
            "POST", path("identity", "entity-alias"), token, {"name": name, "mount_accessor": mount_accessor}
        )
        return str(reply["data"]["canonical_id"]) if reply and reply.get("data") else None

    def set_entity_disabled(self, token: str, entity_id: str, disabled: bool) -> None:
        """A disabled entity can neither sign in nor use its tokens."""
        self.t.request("POST", path("identity", "entity", "id", entity_id), token, {"disabled": disabled})

    def delete_entity(self, token: str, entity_id: str) -> None:
        self.t.request("DELETE", path("identity", "entity", "id", entity_id), token)

    def lookup_entity_by_alias(self, token: str, alias_name: str, mount_accessor: str) -> str | None:
        """The entity id behind an auth alias (a user who signed in or was granted before)."""
        body = {"alias_name": alias_name, "alias_mount_accessor": mount_accessor}
        reply = self.t.request("POST", path("identity", "lookup", "entity"), token, body)
        return str(reply["data"]["id"]) if reply and reply.get("data") else None
