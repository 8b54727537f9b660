# One OpenBao node: integrated (Raft) storage and a file audit device.
#
# The same file is used by docker-compose (working directory /openbao), by `nexo-secrets dev`
# (working directory .nexo-dev/) and by the tests (a temporary directory): the paths below are
# relative to the server's working directory, so no copy with edited paths is ever needed.
# The listener lives in listener.hcl (docker-compose) or in a file the dev command / the test
# writes, because only the port differs. api_addr and cluster_addr come from BAO_API_ADDR and
# BAO_CLUSTER_ADDR in the environment, which differ per node.

storage "raft" {
  path = "file"
}

# OpenBao refuses audit devices enabled through the API: the device is declared here.
# Every request and response is logged as one JSON line; values, tokens and passwords are
# HMAC-SHA256 hashed with the device's salt.
audit "file" "file" {
  description = "Nexomatic Secrets audit log"
  options {
    file_path = "logs/audit.log"
    mode      = "0600"
    # Token accessors in clear (an accessor cannot act as its token): an auditor follows one
    # caller's token through the log by the accessor its owner got at login.
    hmac_accessor = "false"
  }
}

# Standbys forward every request to the active node instead of answering reads from their own
# (possibly lagging) copy: a secrets store must read its own writes. Resolve right after an
# update must see the new value, and a check-and-set must compare against the current version.
disable_standby_reads = true

ui = true
