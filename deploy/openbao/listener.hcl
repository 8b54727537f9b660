# The docker-compose listener. TLS is off inside the compose network only: put a TLS-terminating
# proxy in front, or set tls_cert_file/tls_key_file here, before any traffic leaves the host.
listener "tcp" {
  address         = "0.0.0.0:8200"
  cluster_address = "0.0.0.0:8201"
  tls_disable     = true
}
