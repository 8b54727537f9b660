# nexo-tenant-{{tenant}}-write: everything a reader may, plus create/update values,
# update/delete metadata and delete/undelete/destroy versions. Values stay write-only: no
# "read" on {{mount}}/data/.

# Who else has access, and so whom to ask: this tenant's two groups, whose metadata names
# their members. Not the entities: an entity shows every group it is in, other tenants' too.
# `+` in place of `name`: Vault lets the rule whose first wildcard comes later win, so for an
# admin who is also a member, nexo-admin's identity/group/name/nexo-tenant-* (read and update)
# still applies; an exact path here would take the admin's update away on this tenant.
path "identity/group/+/nexo-tenant-{{tenant}}-readers" {
  capabilities = ["read"]
}
path "identity/group/+/nexo-tenant-{{tenant}}-writers" {
  capabilities = ["read"]
}
# The members' names as Vault ties them to their entities (each entity's userpass alias): a
# LIST of entities answers ids with their aliases, never their groups (no other tenant's
# membership shows) nor anything an admin can write. It names every account, not only members.
path "identity/entity/id" {
  capabilities = ["list"]
}

path "{{mount}}/metadata/{{prefix}}/{{tenant}}/" {
  capabilities = ["list"]
}
path "{{mount}}/metadata/{{prefix}}/{{tenant}}/*" {
  capabilities = ["create", "read", "update", "patch", "delete", "list"]
}
path "{{mount}}/detailed-metadata/{{prefix}}/{{tenant}}/" {
  capabilities = ["list"]
}
# Whether a key's data is the one shape {"value": "<string>"}: KV v2 subkeys answers the
# structure with every value replaced by null, so no value is read (a malformed key is marked).
path "{{mount}}/subkeys/{{prefix}}/{{tenant}}/*" {
  capabilities = ["read"]
}
path "{{mount}}/data/{{prefix}}/{{tenant}}/*" {
  capabilities = ["create", "update"]
}
# Recovery (issue 14): soft-delete the current version, undelete it (restore), destroy versions.
# Each is a POST of version numbers on a path of its own; none reads a value.
path "{{mount}}/delete/{{prefix}}/{{tenant}}/*" {
  capabilities = ["update"]
}
path "{{mount}}/undelete/{{prefix}}/{{tenant}}/*" {
  capabilities = ["update"]
}
path "{{mount}}/destroy/{{prefix}}/{{tenant}}/*" {
  capabilities = ["update"]
}

# References (issue 25): which of the tenant's Actions and Event Types name which keys. Read by
# the tenant's members; only the Hub's token declares them. Beside the tenant's secret folder,
# never in it, and no secret value is in them.
path "{{mount}}/metadata/{{references}}/{{tenant}}/" {
  capabilities = ["list"]
}
path "{{mount}}/metadata/{{references}}/{{tenant}}/*" {
  capabilities = ["read", "list"]
}
path "{{mount}}/detailed-metadata/{{references}}/{{tenant}}/" {
  capabilities = ["list"]
}
path "{{mount}}/data/{{references}}/{{tenant}}/*" {
  capabilities = ["read"]
}
# Last use (app/usage.py): a key deleted for good or made anew drops its last use, as the
# writer who may delete the key may forget when it was used; nothing else of the folder.
path "{{mount}}/metadata/{{references}}/{{tenant}}/~used/*" {
  capabilities = ["read", "list", "delete"]
}
