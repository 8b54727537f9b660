# nexo-auditor: answer an auditor's questions with the Vault CLI alone (README, "For auditors").
# Metadata, policies, groups and entities; never a secret value, nor a way to test one: no
# sys/audit-hash, which would let an auditor hash candidate values (a PIN) against the audit log.

# Every tenant's keys and their metadata: description, versions, times, created_by/updated_by.
path "{{mount}}/metadata/{{prefix}}/" {
  capabilities = ["list"]
}
path "{{mount}}/metadata/{{prefix}}/*" {
  capabilities = ["read", "list"]
}
path "{{mount}}/detailed-metadata/{{prefix}}/*" {
  capabilities = ["list"]
}
# References: which Actions and Event Types name which keys (names and parameter names; the
# referrers' full records are data, denied below with the values).
path "{{mount}}/metadata/{{references}}/" {
  capabilities = ["list"]
}
path "{{mount}}/metadata/{{references}}/*" {
  capabilities = ["read", "list"]
}
path "{{mount}}/detailed-metadata/{{references}}/*" {
  capabilities = ["list"]
}
# Values: denied outright. A deny wins over any other policy the same token may carry.
path "{{mount}}/data/*" {
  capabilities = ["deny"]
}

# Who holds which permission: the tenant groups, their member entities and the users' own policies.
path "identity/group/name" {
  capabilities = ["list"]
}
path "identity/group/name/*" {
  capabilities = ["read"]
}
path "identity/group/id/*" {
  capabilities = ["read"]
}
path "identity/entity/name" {
  capabilities = ["list"]
}
path "identity/entity/name/*" {
  capabilities = ["read"]
}
path "identity/entity/id" {
  capabilities = ["list"]
}
path "identity/entity/id/*" {
  capabilities = ["read"]
}
path "auth/{{userpass}}/users" {
  capabilities = ["list"]
}
path "auth/{{userpass}}/users/*" {
  capabilities = ["read"]
}
path "auth/{{approle}}/role" {
  capabilities = ["list"]
}
path "auth/{{approle}}/role/*" {
  capabilities = ["read"]
}

# The policies themselves.
path "sys/policies/acl" {
  capabilities = ["list"]
}
path "sys/policies/acl/*" {
  capabilities = ["read"]
}

# Where the audit log is: listing audit devices needs sudo (it grants no change: no create/update).
path "sys/audit" {
  capabilities = ["read", "sudo"]
}
path "sys/auth" {
  capabilities = ["read"]
}
