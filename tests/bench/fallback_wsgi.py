"""The service forced onto its HashiCorp Vault listing fallback (LIST, then each shown key's
metadata), as if OpenBao's detailed-metadata LIST were missing: for the benchmark only."""

from app.wsgi import app

app.extensions["nexo_vault"].kv.detailed = False
