# nexo-self: what every signed-in person may do to their own account, and nothing else.
#
# Bootstrap adds this to Vault's `default` policy, which every token carries, so no account needs
# a policy of its own. Templated on the caller's own userpass name: a token whose entity has no
# alias on this mount (the Hub's AppRole, a token of another method) matches no path here.

# Change one's own password (204); another account's is refused (403).
path "auth/{{userpass}}/users/{{identity.entity.aliases.{{userpass_accessor}}.name}}/password" {
  capabilities = ["update"]
}

# The mark of a first password an admin chose (app/vault/kv.py): read it, and clear it once the
# password is one's own. The admin may create the mark but neither change nor delete it.
path "{{mount}}/data/nexo-accounts/{{identity.entity.aliases.{{userpass_accessor}}.name}}" {
  capabilities = ["read"]
}
path "{{mount}}/metadata/nexo-accounts/{{identity.entity.aliases.{{userpass_accessor}}.name}}" {
  capabilities = ["delete"]
}
