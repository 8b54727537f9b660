# One node of the three-node OpenBao cluster (docker-compose.ha.yml): node.hcl plus the peers
# to join. Each node finds its own data in its own volume; a new node joins the first one that
# answers, then is unsealed with the cluster's key (deploy/init.sh does that).

storage "raft" {
  path = "file"

  retry_join {
    leader_api_addr = "http://openbao-1:8200"
  }
  retry_join {
    leader_api_addr = "http://openbao-2:8200"
  }
  retry_join {
    leader_api_addr = "http://openbao-3:8200"
  }
}

# Declared on every node: the active node writes the audit log, and after a failover the new
# active node does (each into its own volume).
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
