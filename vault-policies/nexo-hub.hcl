# nexo-hub: the Hub's resolver (AppRole nexo-hub). The only policy that can read a secret value.
# It reads the data of tenant secrets and nothing else: no list, no metadata, no writes, no
# other path of {{mount}}/ and no other mount.
path "{{mount}}/data/{{prefix}}/*" {
  capabilities = ["read"]
}
# resolve with wrap_ttl wraps the resolved parameters with the Hub's own token. Vault's default
# policy grants this too; stated here so that trimming the default policy cannot break delivery.
path "sys/wrapping/wrap" {
  capabilities = ["update"]
}
