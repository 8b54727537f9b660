"""The Nexomatic Hub's and sink modules' client for Nexomatic Secrets (urllib3 only).

hub = SecretsClient("https://secrets.example", vault_addr="https://vault.example",
                    role_id=..., secret_id=...)
hub.log_filter.attach()             # mask resolved values in every handler of the root logger
params = hub.resolve("acme", [{"name": "db", "type": "SECRET", "value": "DB_PASSWORD"}])
delivery = hub.resolve("acme", params_spec, wrap_ttl="2m")   # hand delivery.as_dict() to a sink
# in the sink: its own configuration says which parameters are SECRET and of which key
sink = SecretsClient(vault_addr="https://vault.example")
params = sink.unwrap(delivered, tenant="acme", expect={"db": "DB_PASSWORD"})
# references: the Hub declares each Action or Event Type it saves, and names it when it runs one
declared = hub.declare("acme", "action", "send-invoice", "Send invoice", params_spec)  # .check, .problems
params = hub.resolve("acme", params_spec, referrer=("action", "send-invoice"))
hub.check("acme", params_spec)                      # [ParameterCheck(name, key, status)], stores nothing
hub.forget("acme", "action", "send-invoice")        # when the Hub deletes it
"""

from __future__ import annotations

from nexo_secrets_client.client import (
    SECRET,
    Delivery,
    NotAuthorized,
    ParameterCheck,
    Referrer,
    SecretsClient,
    SecretsClientError,
    Unresolved,
    UnresolvedParameter,
    UnwrapError,
)
from nexo_secrets_client.masking import MASK, MaskingFilter, masked_forms

__version__ = "0.1.0"

__all__ = [
    "MASK",
    "SECRET",
    "Delivery",
    "MaskingFilter",
    "NotAuthorized",
    "ParameterCheck",
    "Referrer",
    "SecretsClient",
    "SecretsClientError",
    "Unresolved",
    "UnresolvedParameter",
    "UnwrapError",
    "__version__",
    "masked_forms",
]
