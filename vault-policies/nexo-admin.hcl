# nexo-admin: who may read or write the existing tenants, and the userpass accounts.
#
# No role below the operator may grant a policy (Vault cannot constrain what a policy says, so
# whoever may write one, or attach one to anything, is root in all but name). So this policy
# writes no policy (neither sys/policies/acl nor the old sys/policy), creates no token, AppRole
# role or auth method, and every body that could carry `policies`/`token_policies` is fenced with
# allowed_parameters: any field not listed is refused by Vault (403). Vault evaluates these
# constraints on the request body. Tenants (their policies and groups) are created by the
# operator with the root token. It reads no secret value: its one rule on the KV mount creates
# the mark of a first password (nexo-accounts/, outside the tenants).

# Tenant groups: membership only. An update without `policies` keeps the group's policies
# (OpenBao's handleGroupUpdateCommon only sets the fields present). Without `create`/`delete`,
# and with only member_entity_ids and metadata allowed, it cannot add member groups, change the
# type, rename or delete a group. (A POST to a missing name would make a group with no policy:
# harmless.) `metadata` carries the members' user names, which the tenant's own readers and
# writers read (app/access.py, "members' names"); no policy is templated on group metadata, and
# none may be (an admin could then steer it).
path "identity/group/name/nexo-tenant-*" {
  capabilities = ["read", "update"]
  allowed_parameters = {
    "member_entity_ids" = []
    "metadata" = []
  }
}
# The tenants: the names of the groups, to list every tenant (names only).
path "identity/group/name" {
  capabilities = ["list"]
}

# Entities: read, and disable or re-enable an account (a disabled entity cannot sign in nor use
# its tokens). Never `policies`, `name` or `metadata` (policy templates may read metadata).
# The members' names (see tenant-read.hcl): entity ids with their aliases.
path "identity/entity/id" {
  capabilities = ["list"]
}
path "identity/entity/id/+" {
  capabilities = ["read", "update"]
  allowed_parameters = {
    "disabled" = []
  }
}
path "identity/entity/name/+" {
  capabilities = ["read"]
}

# An alias ties a userpass name to an entity, so a user can be granted before first sign-in.
# Only the userpass mount, and never `canonical_id`/`entity_id`/`id`: Vault then makes a new,
# empty entity for it, so the admin cannot tie a name it controls to someone else's entity
# (and with it their entity policies and groups). An existing alias is left as it is.
path "identity/entity-alias" {
  capabilities = ["create", "update"]
  allowed_parameters = {
    "name" = []
    "mount_accessor" = ["{{userpass_accessor}}"]
  }
  required_parameters = ["name", "mount_accessor"]
}
path "identity/lookup/entity" {
  capabilities = ["update"]
  allowed_parameters = {
    "alias_name" = []
    "alias_mount_accessor" = []
  }
}
# Entity aliases are keyed by the userpass mount's accessor, read from this listing.
path "sys/auth" {
  capabilities = ["read"]
}

# Userpass accounts: create with a password only (never token_policies/policies or other token
# settings). `create` without `update` (userpass has an existence check): it cannot reset an
# existing account's password, so it cannot take over another admin's or the operator's account.
# No delete: a deleted name re-created by the admin would sign in to the old entity. The
# /policies and /password sub-paths match no rule here, so they are refused.
path "auth/{{userpass}}/users/+" {
  capabilities = ["create", "read"]
  allowed_parameters = {
    "password" = []
  }
}
path "auth/{{userpass}}/users" {
  capabilities = ["list"]
}

# A new account's first password is the admin's choice: mark it, so that the user must choose
# their own before anything else (app/auth.py). `create` only: an existing mark can be neither
# overwritten nor deleted by an admin; only the user clears it, by changing the password.
path "{{mount}}/data/nexo-accounts/+" {
  capabilities = ["create"]
}
