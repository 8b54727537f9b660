# nexo-hub-run: one Hub run's token (jwt role nexo-hub-run, `nexo-secrets hub-auth jwt`).
# nexo-hub's powers (read values, check subkeys, record last use), for one tenant only: the name
# of the token's entity alias on the Hub's jwt mount. The role makes that alias from the JWT's
# `tenant` claim (user_claim), one alias per tenant, and accepts only provisioned tenants
# (bound_claims), so the path below never names another tenant's folder. The alias name is
# used, not alias metadata: Vault reads metadata at request time, and an alias shared by two
# tenants would move a token made for one onto the other at the next login.
# A token from any other mount has no such alias: Vault then skips these paths altogether.
path "{{mount}}/data/{{prefix}}/{{identity.entity.aliases.{{jwt_accessor}}.name}}/*" {
  capabilities = ["read"]
}
path "{{mount}}/subkeys/{{prefix}}/{{identity.entity.aliases.{{jwt_accessor}}.name}}/*" {
  capabilities = ["read"]
}
# Last used, as for nexo-hub (app/usage.py): the entries `<key>,<hour>` of this tenant's
# `~used` folder beside its references: made, listed and the older hour's removed. Nothing of
# the secrets' own metadata.
path "{{mount}}/metadata/{{references}}/{{identity.entity.aliases.{{jwt_accessor}}.name}}/~used/*" {
  capabilities = ["create", "update", "list", "delete"]
}
# References (issue 25): a resolve that names its referrer reads what that referrer declared
# and records when it ran (custom_metadata only), for this tenant alone; declaring stays the
# Hub's own token's (nexo-hub).
path "{{mount}}/data/{{references}}/{{identity.entity.aliases.{{jwt_accessor}}.name}}/*" {
  capabilities = ["read"]
}
path "{{mount}}/metadata/{{references}}/{{identity.entity.aliases.{{jwt_accessor}}.name}}/*" {
  capabilities = ["patch"]
  allowed_parameters = {
    "custom_metadata" = []
  }
}
