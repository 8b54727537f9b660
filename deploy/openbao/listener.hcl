# The docker-compose listener. TLS is off inside the compose network only: put a TLS-terminating
# proxy in front, or set tls_cert_file/tls_key_file here, before any traffic leaves the host.
listener "tcp" {
  address         = "0.0.0.0:8200"
  cluster_address = "0.0.0.0:8201"
  tls_disable     = true

  # The sign-in quota (README, "Signing in"): the service names each sign-in's failure budget in
  # X-Forwarded-For, and OpenBao counts the quota per that address. Only the service may do so:
  # its fixed addresses on the compose network "vault" (nexo-secrets, nexo-secrets-2 in
  # docker-compose.yml / .ha.yml), not the subnet, where the init job and the OpenBao nodes get
  # addresses too. Anyone else who sends the header is refused; callers without it (the init
  # job, operators' bao CLI, the service's other calls) are served as usual.
  x_forwarded_for_authorized_addrs      = "172.30.82.2/32,172.30.82.3/32"
  x_forwarded_for_reject_not_authorized = true
  x_forwarded_for_reject_not_present    = false
}
