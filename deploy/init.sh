#!/bin/sh
# The docker-compose one-shot init job: initialize OpenBao on first start, unseal every node
# (after each restart too), then `nexo-secrets bootstrap`. Safe to run any number of times.
#
# Environment:
#   VAULT_ADDR         the node to initialize and bootstrap through (e.g. http://openbao-1:8200)
#   NEXO_UNSEAL_NODES  space-separated addresses of every node to unseal (default: VAULT_ADDR)
#   NEXO_INIT_DIR      where init.json (unseal keys and root token, mode 0600) is kept
#   NEXO_KEY_SHARES / NEXO_KEY_THRESHOLD   Shamir split at init (default 1 / 1)
#   NEXO_INIT_TIMEOUT  seconds to wait for each step (default 120)
#   NEXO_SIGN_IN_QUOTA true: bootstrap writes the sign-in quota (`bootstrap --sign-in-quota`); only
#                      with a listener that trusts the service's X-Forwarded-For (listener.hcl)
#
# Keeping the unseal keys and the root token in a volume beside the servers is what lets a
# compose stack restart unattended; it is not a production key ceremony. In production, use an
# auto-unseal seal (transit or a cloud KMS) or hand the key shares to separate people, and
# revoke the root token once bootstrap is done (see README, "Deploy with docker-compose").
set -eu

: "${VAULT_ADDR:?set VAULT_ADDR to the OpenBao node to initialize}"
NODES="${NEXO_UNSEAL_NODES:-$VAULT_ADDR}"
DIR="${NEXO_INIT_DIR:-/nexo/init}"
SHARES="${NEXO_KEY_SHARES:-1}"
THRESHOLD="${NEXO_KEY_THRESHOLD:-1}"
TIMEOUT="${NEXO_INIT_TIMEOUT:-120}"
INIT="$DIR/init.json"
unset VAULT_TOKEN BAO_TOKEN
export BAO_ADDR="$VAULT_ADDR"

field() { # field NAME: print a top-level field of the JSON on stdin (no jq in the image)
  python3 -c 'import json, sys; v = json.load(sys.stdin)[sys.argv[1]]; print(" ".join(v) if isinstance(v, list) else json.dumps(v).strip("\""))' "$1"
}

status() { # status ADDR: print "initialized sealed" of a node, or nothing if it does not answer
  out=$(bao status -address="$1" -format=json 2>/dev/null) || [ $? -eq 2 ] || return 0
  [ -n "$out" ] && printf '%s %s\n' "$(printf '%s' "$out" | field initialized)" "$(printf '%s' "$out" | field sealed)"
}

wait_for() { # wait_for WHAT COMMAND...: retry COMMAND for up to TIMEOUT seconds
  what=$1; shift
  deadline=$(($(date +%s) + TIMEOUT))
  until "$@"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then echo "init: timed out waiting for $what" >&2; exit 1; fi
    sleep 1
  done
}

answers() { [ -n "$(status "$1")" ]; }
unsealed() { [ "$(status "$1")" = "true false" ]; }

wait_for "$VAULT_ADDR to answer" answers "$VAULT_ADDR"
umask 077
mkdir -p "$DIR"
if [ "$(status "$VAULT_ADDR")" = "false true" ]; then
  echo "init: initializing $VAULT_ADDR ($SHARES key shares, threshold $THRESHOLD)"
  bao operator init -key-shares="$SHARES" -key-threshold="$THRESHOLD" -format=json > "$INIT.tmp"
  mv "$INIT.tmp" "$INIT"
  echo "init: unseal keys and root token written to $INIT (mode 0600)"
fi
[ -s "$INIT" ] || { echo "init: $VAULT_ADDR is initialized but $INIT is missing" >&2; exit 1; }
KEYS=$(field unseal_keys_b64 < "$INIT")

unseal() { # unseal ADDR: feed THRESHOLD keys until the node is unsealed (a new Raft node joins first)
  unsealed "$1" && return 0
  n=0
  for key in $KEYS; do
    [ "$n" -ge "$THRESHOLD" ] && break
    bao operator unseal -address="$1" "$key" > /dev/null 2>&1 || return 1
    n=$((n + 1))
  done
  unsealed "$1"
}

for node in $NODES; do
  wait_for "$node to answer" answers "$node"
  wait_for "$node to unseal" unseal "$node"
  echo "init: $node is unsealed"
done

VAULT_TOKEN=$(field root_token < "$INIT")
export VAULT_TOKEN
# Right after unsealing a Raft cluster may answer 5xx for a moment: a few tries, not more.
# bootstrap reads NEXO_SIGN_IN_QUOTA itself (its --sign-in-quota flag's variable).
TIMEOUT=30 wait_for "bootstrap to succeed" nexo-secrets bootstrap
echo "init: done"
