# nexo-hub: the Hub's resolver (AppRole nexo-hub). The only policy that can read a secret value.
# It reads the data of tenant secrets, reads their metadata (a check's deleted or expiring state)
# and patches their custom_metadata (last used, below), and keeps the references (at the end);
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
# Last used: after a resolve the service records the hour in the key's custom_metadata
# (last_used_time) with this token. Vault cannot limit which custom_metadata entries a patch
# touches, so this token could also change or remove a description or an expiry; it cannot list,
# change max_versions/cas_required/delete_version_after (allowed_parameters), delete, or write
# data. The trade-off is in the README (Last used and expiry). `read`: a check (references) tells
# a deleted key from a missing one and sees its expiry; metadata holds no value.
path "{{mount}}/metadata/{{prefix}}/*" {
  capabilities = ["read", "patch"]
  allowed_parameters = {
    "custom_metadata" = []
  }
}

# References (issue 25): the Hub declares which Actions and Event Types name which keys, and
# records when it last resolved for each, beside the tenants' secret folders (never in them).
path "{{mount}}/data/{{references}}/*" {
  capabilities = ["create", "read", "update", "delete"]
}
path "{{mount}}/metadata/{{references}}/*" {
  capabilities = ["create", "read", "update", "patch", "delete", "list"]
}
path "{{mount}}/detailed-metadata/{{references}}/*" {
  capabilities = ["list"]
}
