"""The JSON API (v1): thin views that validate with schemas and call the services."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from flask import Flask, Response, after_this_request, current_app, jsonify, request
from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint
from werkzeug.exceptions import RequestEntityTooLarge

from app import access, auth, bulk, converters, errors, hub_auth, observe, references, resolve, schemas, secrets, usage
from app.vault import errors as vault_errors

log = logging.getLogger(__name__)


def register(app: Flask, spec: Any) -> None:
    """Attach the API: path converters (documented with their patterns), then the blueprints."""
    converters.init_app(app, spec)
    spec.register_blueprint(blp)
    spec.register_blueprint(ops)
    app.extensions["nexo_usage"] = usage.Recorder()  # per worker process: hourly last-used writes


blp = Blueprint("api", __name__, url_prefix="/api/v1", description="Tenant secrets")
ops = Blueprint("ops", __name__, description="Health")

_ERRORS = {
    400: "Invalid name in the path (tenant, key, user, referrer kind or id)",
    401: "Not signed in",
    403: "Permission denied, or missing CSRF header",
    429: "Too many requests: see Retry-After",
    503: "Vault unavailable",
}


def _document(*codes: int) -> Any:
    """Document the one error shape for the given statuses."""

    def wrap(view: Any) -> Any:
        for code in codes:
            view = blp.alt_response(code, schema=schemas.ApiError, description=_ERRORS.get(code, ""))(view)
        return view

    return wrap


@blp.before_request
def _guard() -> None:
    """CSRF for cookie sessions; JSON bodies only (also defeats cross-site form posts)."""
    has_body = bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "")
    if request.method == "PATCH" and not has_body:
        raise errors.Unprocessable("Send the changes as a JSON body", errors={"json": ["Missing request body."]})
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and has_body:
        if not request.is_json:
            raise errors.UnsupportedMediaType()
        _within_cap()
        # Parse once through the app's JSON provider: malformed or absurdly nested JSON is a
        # 400 here, before webargs parses the same bytes.
        request.get_json()
    # Signing in replaces whatever session there was; JSON-only bodies and SameSite=Strict
    # cookies already keep other sites from signing a browser in.
    if not (request.method == "POST" and request.endpoint == "api.Session"):
        auth.check_csrf()
    if request.endpoint not in ("api.Session", "api.SessionPassword") and current_user.is_authenticated:
        auth.require_own_password(current_user)


def _within_cap() -> None:
    """Read the body, or answer 413 if it is over MAX_CONTENT_LENGTH. With a Content-Length werkzeug
    does so itself; a chunked body it reads up to the cap and hands over as if that were all (then
    a JSON error, 400): one byte more from the server's stream tells it was cut."""
    request.get_data()  # kept: get_json and webargs read the same bytes
    cap = request.max_content_length
    if request.content_length is None and cap is not None and request.stream.tell() >= cap:
        if request.input_stream.read(1):
            raise RequestEntityTooLarge()


def _user() -> auth.User:
    return auth.require_user()


def _vault() -> Any:
    return current_app.extensions["nexo_vault"]


# -- session ------------------------------------------------------------------------------


# Operations that need no credentials say so: a generated client or fuzzer sends none.
_NO_AUTH: dict[str, Any] = {"security": []}
# Sign-out works signed in or not (it then only clears the cookie): authentication is optional.
_OPTIONAL_AUTH: dict[str, Any] = {"security": [{"bearer": []}, {"session": []}, {}]}


@blp.route("/session")
class Session(MethodView):
    @blp.doc(**_NO_AUTH)
    @blp.arguments(schemas.Login())
    @blp.response(200, schemas.SessionInfo)
    @_document(401, 429)
    def post(self, body: dict[str, str]) -> dict[str, Any]:
        """Sign in with a Vault userpass account; sets the session cookie."""
        user = auth.sign_in(body["username"], body["password"])
        return _session_info(user)

    @blp.response(200, schemas.SessionInfo)
    @_document(401)
    def get(self) -> dict[str, Any]:
        """Who am I: user, tenants with permission, and the CSRF token for unsafe requests."""
        return _session_info(_user())

    @blp.doc(**_OPTIONAL_AUTH)
    @blp.response(204)
    def delete(self) -> None:
        """Sign out and revoke the Vault token."""
        auth.sign_out()


@blp.route("/session/password")
class SessionPassword(MethodView):
    @blp.arguments(schemas.PasswordChange())
    @blp.response(204)
    @_document(401, 403, 422, 429)
    def put(self, body: dict[str, str]) -> None:
        """Change one's own password: the current one, then the new one. Vault's policy lets a
        token change its own account's password only. Clears the mark of a first password an
        admin chose (until then, nothing else is answered)."""
        auth.change_password(_user(), body["current"], body["new"])


def _session_info(user: auth.User) -> dict[str, Any]:
    info = _vault().auth.lookup_self(user.token)
    return {
        "user": user.name,
        "tenants": access.tenants_of(info.policies),
        "admin": access.is_admin(info.policies),
        "csrf_token": auth.csrf_token() if user.via_session else "",
        "recovery_days": _recovery_days(),
        "first_sign_in": user.first_password,
        "unused_days": int(current_app.config["UNUSED_DAYS"]),
    }


def _recovery_days() -> int:
    return int(current_app.config["RECOVERY_DAYS"])


# -- secrets ------------------------------------------------------------------------------


@blp.route("/tenants/<tenant:tenant>/secrets")
class SecretList(MethodView):
    @blp.arguments(schemas.SecretListArgs(), location="query")
    @blp.response(200, schemas.SecretPage)
    @_document(400, 401, 403, 429)
    def get(self, args: dict[str, Any], tenant: str) -> dict[str, Any]:
        """List a tenant's secrets (keys and descriptions, never values), in key order.

        Every listing is read from Vault with the caller's token. The server fills the page: up
        to `limit` items, and `next` (pass it as `after`) whenever more may exist. Deleted
        secrets are left out; `deleted=true` lists only them, with `deleted_time`, `deleted_by`
        and `purge_time`, and purges those past the recovery window when the caller may write.
        Scan budget: one request reads at most 10,000 keys (500 on HashiCorp Vault). A search
        (`q`), the Expiring or Unused filter or the deleted listing that reaches it answers the items
        found, maybe none, and a `next` that continues the scan; never an error. A caller has
        at most a few listings in flight (429 beyond)."""
        user = _user()
        with current_app.extensions["nexo_listings"].hold(user.identity(), request.remote_addr or "-"):
            items, next_key = secrets.list_secrets(
                _vault(),
                user.caller(),
                tenant,
                limit=args["limit"],
                after=args.get("after"),
                q=args.get("q"),
                deleted=args["deleted"],
                recovery_days=_recovery_days(),
                expiring_within_days=args.get("expiring_within_days"),
                unused_days=int(current_app.config["UNUSED_DAYS"]) if args["unused"] else None,
            )
        return {"items": _counted(user.token, tenant, items), "next": next_key}

    @blp.arguments(schemas.SecretCreate())
    @blp.response(201, schemas.SecretItem)
    @_document(400, 401, 403, 409)
    def post(self, body: dict[str, Any], tenant: str) -> secrets.Item:
        """Create a secret; the key must be new. An expires_at in the past is allowed (and marked)."""
        return secrets.create(
            _vault(),
            _user().caller(),
            tenant,
            body["key"],
            body["value"],
            body["description"],
            expires_at=body.get("expires_at"),
        )


# Static segments win over <key> in Werkzeug's routing, per method: a GET of the key `export`
# answers the export; every other call on keys named `import` or `export` reaches the secret.
@blp.route("/tenants/<tenant:tenant>/secrets/import")
class SecretImport(MethodView):
    @blp.arguments(schemas.ImportRequest())
    @blp.response(200, schemas.ImportResponse)
    @blp.alt_response(
        409, schema=schemas.ApiError, description="on_conflict fail and keys exist: errors.existing; nothing written"
    )
    @blp.alt_response(
        422,
        schema=schemas.ApiError,
        description="Invalid body, or problems in the content: errors.content names each line (or item) "
        "and rule, never a value; nothing written",
    )
    @_document(400, 401, 403, 503)
    def post(self, body: dict[str, Any], tenant: str) -> dict[str, Any]:
        """Import a .env file or a JSON list of {key, value, description?} (writers).

        Everything is checked before the first write. Vault has no transactions: if it fails
        half way the error's errors.results says which keys were written; importing again with
        on_conflict skip finishes the job."""
        user = _user()  # signed in before the content is looked at
        with current_app.extensions["nexo_listings"].hold(user.identity(), request.remote_addr or "-"):
            entries = bulk.parse(body["format"], body["content"])
            results = bulk.import_entries(
                _vault(), user.caller(), tenant, entries, body["on_conflict"], dry_run=body["dry_run"]
            )
        return {"results": results, "dry_run": body["dry_run"]}


@blp.route("/tenants/<tenant:tenant>/secrets/export")
class SecretExport(MethodView):
    # Both answers are documented: the manual doc replaces the content that @blp.response makes.
    @blp.doc(
        responses={
            "200": {
                "description": "The inventory: a JSON list of items, or CSV",
                "content": {
                    "application/json": {
                        "schema": {"type": "array", "items": {"$ref": "#/components/schemas/SecretItem"}}
                    },
                    "text/csv": {"schema": {"type": "string", "description": "A header row, then one row per secret"}},
                },
            }
        }
    )
    @blp.arguments(schemas.ExportArgs(), location="query")
    @blp.response(200, schemas.SecretItem(many=True))
    @_document(400, 401, 403, 422, 429)
    def get(self, args: dict[str, Any], tenant: str) -> Any:
        """The inventory: every secret's key, description, version and who/when, never a value.

        format=json (default) answers the list of items; format=csv a text/csv attachment with
        a header row. Each item carries its `referrers` (kind, id, name); the CSV column lists them
        as `kind/id: name`, separated by `; `. At most 20,000 secrets (more is a 422)."""
        user = _user()
        with current_app.extensions["nexo_listings"].hold(user.identity(), request.remote_addr or "-"):
            items = bulk.inventory(_vault(), user.caller(), tenant)
        filename = f"{tenant}-secrets.{args['format']}"
        if args["format"] == "json":
            return items, 200, {"Content-Disposition": f'attachment; filename="{filename}"'}
        return Response(
            bulk.as_csv(items),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
        )


@blp.route("/tenants/<tenant:tenant>/secrets/<key:key>")
class SecretOne(MethodView):
    @blp.response(200, schemas.SecretItem)
    @_document(400, 401, 403, 404)
    def get(self, tenant: str, key: str) -> secrets.Item:
        """One secret, without its value."""
        user = _user()
        return _counted(user.token, tenant, [secrets.get(_vault(), user.caller(), tenant, key)])[0]

    @blp.arguments(schemas.SecretUpdate())
    @blp.response(200, schemas.SecretItem)
    @_document(400, 401, 403, 404, 409)
    def patch(self, body: dict[str, Any], tenant: str, key: str) -> secrets.Item:
        """Update the description, expiry and/or value; an empty or absent value keeps the current
        one, an absent expires_at keeps it and null clears it."""
        return secrets.update(
            _vault(),
            _user().caller(),
            tenant,
            key,
            description=body.get("description"),
            value=body.get("value") or None,
            version=body.get("version"),
            expires_at=body.get("expires_at", secrets.KEEP),
        )

    @blp.arguments(schemas.DeleteArgs(), location="query")
    @blp.response(204)
    @_document(400, 401, 403, 404)
    def delete(self, args: dict[str, Any], tenant: str, key: str) -> None:
        """Delete a secret: restorable from Recently deleted for NEXO_RECOVERY_DAYS (0: for good).

        `permanent=true` deletes a live or deleted secret for good: every version and its metadata."""
        vault, caller = _vault(), _user().caller()
        if not args["force"] and not args["permanent"]:
            _refuse_if_referenced(vault, caller.token, tenant, key)
        if args["permanent"]:
            secrets.delete_permanently(vault, caller, tenant, key)
        else:
            secrets.delete(vault, caller, tenant, key, recovery_days=_recovery_days())


@blp.route("/tenants/<tenant:tenant>/secrets/<key:key>/restore")
class SecretRestore(MethodView):
    @blp.response(200, schemas.SecretItem)
    @_document(400, 401, 403, 404, 409)
    def post(self, tenant: str, key: str) -> secrets.Item:
        """Restore a deleted secret (KV undelete): the same value is live again, nobody reads it.

        409 when it is not deleted: restored by someone else, or re-created meanwhile."""
        return secrets.restore(_vault(), _user().caller(), tenant, key)


@blp.route("/tenants/<tenant:tenant>/secrets/<key:key>/versions")
class SecretVersions(MethodView):
    @blp.response(200, schemas.VersionList)
    @_document(400, 401, 403, 404)
    def get(self, tenant: str, key: str) -> dict[str, Any]:
        """A live or deleted secret's versions, newest first: when and by whom, deleted or not.

        Values are write-only: no version's value is ever answered, so there is no rollback."""
        found, keep = secrets.versions(_vault(), _user().caller(), tenant, key)
        return {"items": found, "max_versions": keep}


# -- tenants and members (admin) ----------------------------------------------------------


@blp.route("/tenants")
class TenantList(MethodView):
    @blp.arguments(schemas.TenantListArgs(), location="query")
    @blp.response(200, schemas.TenantPage)
    @_document(401)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The tenants the caller may see, in name order, with the caller's own permission: an admin
        sees every tenant (permission null where it is no member), anyone else their own."""
        user = _user()
        info = _vault().auth.lookup_self(user.token)
        found, next_name = access.tenants(
            _vault(), user.token, info.policies, limit=args["limit"], after=args.get("after")
        )
        return {"items": [{"name": t.name, "permission": t.permission} for t in found], "next": next_name}


@blp.route("/tenants/<tenant:tenant>")
class Tenant(MethodView):
    @blp.response(200, schemas.TenantInfo)
    @blp.alt_response(201, schema=schemas.TenantInfo, description="Tenant created")
    @_document(400, 401, 403)
    def put(self, tenant: str) -> tuple[dict[str, Any], int]:
        """Provision a tenant: its policies and groups (idempotent; the operator's token only, an admin gets 403)."""
        done = access.provision(_vault(), _user().token, tenant)
        hub_auth.allow_tenant(_vault(), _user().token, tenant)  # the Hub's runs may now get tokens for it
        info = {
            "tenant": tenant,
            "policies": [access.policy_name(tenant, p) for p in access.PERMISSIONS],
            "groups": [access.group_name(tenant, p) for p in access.PERMISSIONS],
            "removed_members": done.removed,
        }
        return info, (201 if done.new else 200)


@blp.route("/tenants/<tenant:tenant>/members")
class Members(MethodView):
    @blp.response(200, schemas.MemberList)
    @_document(400, 401, 403, 404)
    def get(self, tenant: str) -> dict[str, Any]:
        """Who may read or write a tenant: for an admin, and read-only for the tenant's own readers
        and writers (so they know whom to ask); anyone else gets 403."""
        found = access.roster(_vault(), _user().token, tenant)
        return {
            "items": [{"user": m.user, "permission": m.permission} for m in found.members],
            "unnamed": found.unnamed,
        }


@blp.route("/tenants/<tenant:tenant>/members/<user:user>")
class MemberOne(MethodView):
    @blp.arguments(schemas.Permission())
    @blp.response(200, schemas.Member)
    @_document(400, 401, 403, 404)
    def put(self, body: dict[str, str], tenant: str, user: str) -> dict[str, Any]:
        """Grant a user read or write permission (admin only); effective on their next request.
        The account must exist (404 otherwise), as for `nexo-secrets grant`: a typo grants nobody."""
        token = _user().token
        if not access.user_exists(_vault(), token, user):
            raise errors.NotFound(f"No account named {user!r}", errors={"user": ["No such account."]})
        member = access.grant(_vault(), token, tenant, user, body["permission"])
        return {"user": member.user, "permission": member.permission}

    @blp.response(204)
    @_document(400, 401, 403, 404)
    def delete(self, tenant: str, user: str) -> None:
        """Revoke a user's permission on a tenant (admin only)."""
        if not access.revoke(_vault(), _user().token, tenant, user):
            raise errors.NotFound(f"{user!r} has no permission on tenant {tenant!r}")


# -- accounts (admin) ---------------------------------------------------------------------


@blp.route("/users")
class Users(MethodView):
    @blp.arguments(schemas.UserListArgs(), location="query")
    @blp.response(200, schemas.AccountPage)
    @_document(400, 401, 403)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The accounts (admin), in name order: whether each is disabled, and its tenants."""
        found, next_user = access.accounts(_vault(), _user().token, limit=args["limit"], after=args.get("after"))
        items = [{"user": a.user, "disabled": a.disabled, "tenants": a.tenants} for a in found]
        return {"items": items, "next": next_user}

    @blp.arguments(schemas.UserCreate())
    @blp.response(201, schemas.UserCreated)
    @_document(401, 403, 409)
    def post(self, body: dict[str, str]) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Create a user account without policies (admin); the answer carries its generated first
        password, once: hand it over, it is kept nowhere."""
        user = body["username"]  # the schema checked the naming rule
        password = access.create_user(_vault(), _user().token, user)
        return {"user": user, "password": password}, 201, {"Cache-Control": "no-store"}


def _set_disabled(user: str, disabled: bool) -> dict[str, Any]:
    token = _user().token
    if not access.user_exists(_vault(), token, user):
        raise errors.NotFound(f"No account named {user!r}")
    access.set_disabled(_vault(), token, user, disabled)
    return {"user": user, "disabled": disabled}


@blp.route("/users/<user:user>/disable")
class UserDisable(MethodView):
    @blp.response(200, schemas.UserState)
    @_document(400, 401, 403, 404)
    def post(self, user: str) -> dict[str, Any]:
        """Disable an account (admin): it can no longer sign in, and its tokens stop working."""
        return _set_disabled(user, True)


@blp.route("/users/<user:user>/enable")
class UserEnable(MethodView):
    @blp.response(200, schemas.UserState)
    @_document(400, 401, 403, 404)
    def post(self, user: str) -> dict[str, Any]:
        """Enable a disabled account again (admin)."""
        return _set_disabled(user, False)


# -- resolve (the Hub) -------------------------------------------------------------------


@blp.route("/tenants/<tenant:tenant>/resolve")
class Resolve(MethodView):
    @blp.arguments(schemas.ResolveRequest())
    @blp.response(200, schemas.ResolveResponse)
    @blp.alt_response(
        422,
        schema=schemas.ApiError,
        description="Invalid body, or SECRET parameters without a value: errors.unresolved names each one",
    )
    @_document(400, 401, 403, 503)
    def post(self, body: dict[str, Any], tenant: str) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Hub: give SECRET parameters their values, all or nothing; with wrap_ttl, wrapped reads of them.

        `warnings` names each parameter whose key has expired: it still resolves."""
        extensions = current_app.extensions  # one context lookup for both: this is the hot path
        vault, recorder, token = extensions["nexo_vault"], extensions["nexo_usage"], _user().token
        try:
            answer = resolve.resolve(
                vault,
                token,
                tenant,
                body["parameters"],
                body.get("wrap_ttl"),
                used=lambda customs: _record_use(recorder, vault, token, tenant, customs),
            )
        except errors.Unprocessable as failed:
            observe.count_unresolved(tenant, len((failed.errors or {}).get("unresolved") or []))
            raise
        observe.count_resolve(tenant)
        referrer = body.get("referrer")
        if referrer:
            keys = [p["value"] for p in body["parameters"] if resolve.is_secret(p)]
            _referred(answer, recorder, vault, token, tenant, referrer, keys)
        return answer, 200, {"Cache-Control": "no-store"}


def _referred(
    answer: dict[str, Any],
    recorder: usage.Recorder,
    vault: Any,
    token: str,
    tenant: str,
    referrer: dict[str, str],
    keys: list[str],
) -> None:
    """A resolve that names its referrer: keys it did not declare are warned of (drift made
    visible), and its last_resolved_time is written after the answer, at most hourly."""
    kind, id_ = referrer["kind"], referrer["id"]
    try:
        found = references.resolved(vault, token, tenant, kind, id_, keys)
        due, when = recorder.due(tenant, [references.referrer_name(kind, id_)])
    except (errors.ServiceError, vault_errors.VaultError) as exc:  # the resolve has its values: never refused
        log.warning("could not check the referrer of a resolve in tenant %s (%s)", tenant, type(exc).__name__)
        return
    if found:
        answer.setdefault("warnings", []).extend(found)
    if not due:
        return

    @after_this_request
    def _after(response: Response) -> Response:
        response.call_on_close(lambda: _record_referrer(vault, token, tenant, kind, id_, when))
        return response


def _record_referrer(vault: Any, token: str, tenant: str, kind: str, id_: str, when: str) -> None:
    try:
        references.record_resolved(vault, token, tenant, kind, id_, when)
    except Exception as exc:  # runs after the answer; nothing may escape
        log.warning("could not record the resolve of a referrer in tenant %s (%s)", tenant, type(exc).__name__)


def _record_use(
    recorder: usage.Recorder, vault: Any, token: str, tenant: str, customs: dict[str, dict[str, Any]]
) -> None:
    """Have last_used_time written with the Hub's token once the answer has been sent."""
    try:
        due, when = recorder.due(tenant, customs.keys())
    except Exception as exc:  # recording a use must never fail the resolve
        log.warning("could not record a use in tenant %s (%s)", tenant, type(exc).__name__)
        return
    if not due:
        return

    @after_this_request
    def _after(response: Response) -> Response:
        response.call_on_close(lambda: recorder.write(vault, token, tenant, due, when))
        return response


# -- references ---------------------------------------------------------------------------


@blp.route("/tenants/<tenant:tenant>/references/<referrer_kind:kind>/<referrer_id:id>")
class ReferrerOne(MethodView):
    @blp.arguments(schemas.ReferrerDeclare())
    @blp.response(200, schemas.ReferrerDeclared)
    @_document(400, 401, 403)
    def put(self, body: dict[str, Any], tenant: str, kind: str, id: str) -> dict[str, Any]:
        """Hub: declare an Action's or Event Type's SECRET parameters (replaces what it declared);
        answers the check of each (ok, missing, deleted, expired, expiring, malformed)."""
        referrer, check = references.declare(
            _vault(),
            _user().token,
            tenant,
            kind,
            id,
            body["name"],
            body["parameters"],
        )
        return {**_referrer(referrer), "keys": referrer.keys, "check": check}

    @blp.response(204)
    @_document(400, 401, 403, 404)
    def delete(self, tenant: str, kind: str, id: str) -> None:
        """Hub: forget a referrer (and every key's entry of it)."""
        references.forget(_vault(), _user().token, tenant, kind, id)


@blp.route("/tenants/<tenant:tenant>/references")
class ReferrerList(MethodView):
    @blp.arguments(schemas.ReferrerListArgs(), location="query")
    @blp.response(200, schemas.ReferrerPage)
    @_document(400, 401, 403)
    def get(self, args: dict[str, Any], tenant: str) -> dict[str, Any]:
        """The referrers of `key` (without it: all), in (kind, id) order, with their SECRET
        parameter names and when the Hub last resolved for each."""
        items, next_ = references.listing(
            _vault(), _user().token, tenant, args.get("key"), args.get("after"), args["limit"]
        )
        key = args.get("key")
        return {
            "items": [{**_referrer(r), "parameters": r.parameter_names(key)} for r in items],
            "next": next_,
        }


@blp.route("/tenants/<tenant:tenant>/check")
class Check(MethodView):
    @blp.arguments(schemas.CheckRequest())
    @blp.response(200, schemas.CheckResponse)
    @_document(400, 401, 403)
    def post(self, body: dict[str, Any], tenant: str) -> dict[str, Any]:
        """The state of each SECRET parameter's key, stored nowhere: for the Hub's editor."""
        kept = references.secret_parameters(body["parameters"])
        return {"check": references.check(_vault(), _user().token, tenant, kept)}


def _counted(token: str, tenant: str, items: list[secrets.Item]) -> list[secrets.Item]:
    """Items with how many referrers name each key (one LIST of the tenant's references for a
    page). A token whose policies predate references (a tenant not provisioned again since) is
    answered without the counts rather than refused."""
    try:
        counts = references.counts(_vault(), token, tenant, [item.key for item in items])
    except vault_errors.Denied:
        log.warning("no references for tenant %s: its policies predate them (run tenant create again)", tenant)
        return items
    return [dataclasses.replace(item, references=counts.get(item.key, 0)) for item in items]


def _refuse_if_referenced(vault: Any, token: str, tenant: str, key: str) -> None:
    """409 errors.referenced when Actions or Event Types name the key (?force=true deletes anyway)."""
    count, first = references.of_key(vault, token, tenant, key)
    if count:
        raise errors.Conflict(
            f"{count} automation{'s reference' if count > 1 else ' references'} {key}: update "
            f"{'them' if count > 1 else 'it'}, or delete with force=true",
            errors={"referenced": {"count": count, "referrers": first}},
        )


def _referrer(referrer: references.Referrer) -> dict[str, Any]:
    return {
        "kind": referrer.kind,
        "id": referrer.id,
        "name": referrer.name,
        "updated_time": referrer.updated_time,
        "last_resolved_time": referrer.last_resolved_time,
    }


# -- health -------------------------------------------------------------------------------


@ops.route("/healthz")
class Liveness(MethodView):
    @ops.doc(**_NO_AUTH)
    @ops.response(200, schemas.Health)
    def get(self) -> dict[str, Any]:
        """The process is alive."""
        return {"status": "ok"}


@ops.route("/readyz")
class Readiness(MethodView):
    @ops.doc(**_NO_AUTH)
    @ops.response(200, schemas.Health)
    @ops.alt_response(503, schema=schemas.Health, description="Vault unreachable, sealed or uninitialized")
    def get(self) -> Any:
        """Vault is reachable, initialized and unsealed."""
        health = _vault().sys.health()
        ready = health.get("reachable") and health.get("initialized") and not health.get("sealed", True)
        body = {
            "status": "ready" if ready else "not ready",
            "vault": {k: health.get(k) for k in ("reachable", "initialized", "sealed", "standby") if k in health},
        }
        if ready:
            return body
        response: Response = jsonify(body)
        response.status_code = 503
        response.headers["Retry-After"] = "5"
        return response
