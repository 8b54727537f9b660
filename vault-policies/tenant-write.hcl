# nexo-tenant-{{tenant}}-write: everything a reader may, plus create/update values,
# update/delete metadata and delete/undelete/destroy versions. Values stay write-only: no
# "read" on {{mount}}/data/.
path "{{mount}}/metadata/{{prefix}}/{{tenant}}/" {
  capabilities = ["list"]
}
path "{{mount}}/metadata/{{prefix}}/{{tenant}}/*" {
  capabilities = ["create", "read", "update", "patch", "delete", "list"]
}
path "{{mount}}/detailed-metadata/{{prefix}}/{{tenant}}/" {
  capabilities = ["list"]
}
path "{{mount}}/data/{{prefix}}/{{tenant}}/*" {
  capabilities = ["create", "update"]
}
# Recovery (issue 14): soft-delete the current version, undelete it (restore), destroy versions.
# Each is a POST of version numbers on a path of its own; none reads a value.
path "{{mount}}/delete/{{prefix}}/{{tenant}}/*" {
  capabilities = ["update"]
}
path "{{mount}}/undelete/{{prefix}}/{{tenant}}/*" {
  capabilities = ["update"]
}
path "{{mount}}/destroy/{{prefix}}/{{tenant}}/*" {
  capabilities = ["update"]
}
