# nexo-tenant-{{tenant}}-write: everything a reader may, plus create/update values and
# update/delete metadata. Values stay write-only: no "read" on {{mount}}/data/.
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
