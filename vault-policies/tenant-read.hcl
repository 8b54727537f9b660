# nexo-tenant-{{tenant}}-read: list the tenant's keys and read their metadata (descriptions).
# No path here reaches {{mount}}/data/: readers never see a value.
path "{{mount}}/metadata/{{prefix}}/{{tenant}}/" {
  capabilities = ["list"]
}
path "{{mount}}/metadata/{{prefix}}/{{tenant}}/*" {
  capabilities = ["read", "list"]
}
# OpenBao: keys with their metadata in one LIST.
path "{{mount}}/detailed-metadata/{{prefix}}/{{tenant}}/" {
  capabilities = ["list"]
}
