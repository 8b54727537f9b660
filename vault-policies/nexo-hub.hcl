# nexo-hub: the Hub's resolver (AppRole nexo-hub). The only policy that can read a secret value.
# It reads the data of tenant secrets and their metadata (a check's deleted or expiring state),
# and keeps the references and the last use of each key (at the end);
# nothing else: no list of a tenant's keys, no data write, no delete, no other path of {{mount}}/
# and no other mount. A wrapped resolve has Vault wrap these reads.
path "{{mount}}/data/{{prefix}}/*" {
  capabilities = ["read"]
}
# Whether a key's current version holds a value, without reading it (KV v2 subkeys answers
# the data's structure, never a value): a wrapped resolve checks every key before making any
# token, since Vault wraps a read of a deleted version like any other answer.
path "{{mount}}/subkeys/{{prefix}}/*" {
  capabilities = ["read"]
}
# `read` only: a check (references) tells a deleted key from a missing one and sees its expiry;
# metadata holds no value. No patch: last use is kept beside the references (below), so this
# token cannot change a description, an expiry or who wrote a version.
path "{{mount}}/metadata/{{prefix}}/*" {
  capabilities = ["read"]
}

# References (issue 25): the Hub declares which Actions and Event Types name which keys, and
# records when it last resolved for each and when it last resolved each key (the folder
# <tenant>/~used, app/usage.py), beside the tenants' secret folders (never in them).
path "{{mount}}/data/{{references}}/*" {
  capabilities = ["create", "read", "update", "delete"]
}
path "{{mount}}/metadata/{{references}}/*" {
  capabilities = ["create", "read", "update", "patch", "delete", "list"]
}
path "{{mount}}/detailed-metadata/{{references}}/*" {
  capabilities = ["list"]
}
