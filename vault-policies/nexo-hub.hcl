# nexo-hub: the Hub's resolver (AppRole nexo-hub). The only policy that can read a secret value.
# It reads the data of tenant secrets and nothing else: no list, no metadata, no writes, no
# other path of {{mount}}/ and no other mount. A wrapped resolve has Vault wrap these reads.
path "{{mount}}/data/{{prefix}}/*" {
  capabilities = ["read"]
}
# Whether a key's current version holds a value, without reading it (KV v2 subkeys answers
# the data's structure, never a value): a wrapped resolve checks every key before making any
# token, since Vault wraps a read of a deleted version like any other answer.
path "{{mount}}/subkeys/{{prefix}}/*" {
  capabilities = ["read"]
}
