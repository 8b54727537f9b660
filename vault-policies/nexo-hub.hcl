# nexo-hub: the Hub's resolver (AppRole nexo-hub). The only policy that can read a secret value.
# It reads the data of tenant secrets and patches their custom_metadata (last used, below);
# nothing else: no list, no metadata read, no data write, no delete, no other path of {{mount}}/
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
# touches, so this token could also change or remove a description or an expiry; it cannot read
# metadata, list, change max_versions/cas_required/delete_version_after (allowed_parameters),
# delete, or write data. The trade-off is in the README (Last used and expiry).
path "{{mount}}/metadata/{{prefix}}/*" {
  capabilities = ["patch"]
  allowed_parameters = {
    "custom_metadata" = []
  }
}
