"""The service as gunicorn serves it, forced onto the HashiCorp Vault listing fallback.

OpenBao's LIST detailed-metadata is turned off as if the server lacked it: the service then
LISTs the keys and reads each key's metadata (what it does against HashiCorp Vault)."""

from app import create_app

app = create_app()
app.extensions["nexo_vault"]._detailed_listing = False
