"""Benchmarks of the service against direct Vault calls (python -m tests.bench)."""
