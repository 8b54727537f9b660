# nexo-admin: provision tenants and manage who may read or write them.
# It manages only nexo-* policies and groups, and it can read no secret value.
path "sys/policies/acl/nexo-*" {
  capabilities = ["create", "read", "update", "delete"]
}
path "sys/policies/acl" {
  capabilities = ["list"]
}
path "identity/group/name/nexo-*" {
  capabilities = ["create", "read", "update", "delete"]
}
path "identity/group/name" {
  capabilities = ["list"]
}
path "identity/entity/name/*" {
  capabilities = ["create", "read", "update"]
}
path "identity/entity/id/*" {
  capabilities = ["read"]
}
path "identity/entity-alias" {
  capabilities = ["create", "update"]
}
path "identity/lookup/entity" {
  capabilities = ["create", "update"]
}
# Entity aliases are keyed by the userpass mount's accessor, read from this listing.
path "sys/auth" {
  capabilities = ["read"]
}
# Accounts of the embedded userpass method.
path "auth/{{userpass}}/users/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
path "auth/{{userpass}}/users" {
  capabilities = ["list"]
}
