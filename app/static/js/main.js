// The Secrets screen: sign-in, the tenant's secrets table, and the add/edit/delete dialogs;
// and the sidebar's routing between Secrets and Members (js/members.js) by the URL fragment.
// Recently deleted (deleted.js), each secret's history (history.js) and import/export
// (import.js) are modules of their own, and so are references (references.js: Used by, and
// the automations a delete or an expiry would break).
// Values only ever travel from the Value field into a request body; nothing keeps them.

import { api, ApiError, paths, setCsrf, whenUnauthorized } from "./api.js";
import { openDialog, closeDialog, onConfirm } from "./dialogs.js";
import { initBulkTools, showBulkTools } from "./import.js";
import { descriptionProblem, keyProblem, loadRules, printable } from "./rules.js";
import { cell, clampedText, iconButton, setBusy, showAlert, span, timeElement, toast } from "./parts.js";
import { initDeleted, leaveDeleted, showDeleted } from "./deleted.js";
import { openHistory } from "./history.js";
import { initAccount, openPasswordDialog } from "./account.js";
import {
  breaksLine, firstReferrers, forcedDelete, resetPanel, showTypedConfirm, typedConfirmShown, typedMatches, usedByCell,
} from "./references.js";
import { initMembers, resetMembers, showMembers } from "./members.js";
import { clearValue, initValueField, valueText } from "./value.js";
import {
  EXPIRING_DAYS, dateField, expiresAtOf, expiryBadge, expiryHint, expiryState, lastUsedCell, nextSort, showSort, sortRows, usageSentence,
} from "./usage.js";

const PAGE_SIZE = 50;
const SEARCH_DELAY_MS = 250;

const $ = (id) => document.getElementById(id);

const state = {
  session: null, // {user, tenants: {name: "read"|"write"}, admin}
  tenant: "",
  items: new Map(), // key -> item, in table order
  next: null, // cursor of the next page, or null
  q: "",
  listRequest: null, // AbortController of the list request in flight
  editing: null, // the item being edited, or null when adding
  deleting: null, // the item awaiting confirmation
  view: "live", // "live" or "deleted": the tab shown
  sort: "", // "" (key order), "desc" or "asc" by last use (usage.js)
  expiring: false, // the Expiring filter: only secrets expiring within EXPIRING_DAYS or expired
  unused: false, // the Unused filter: no referrer, and not resolved for the session's unused_days
};

// -- session ----------------------------------------------------------------------------

whenUnauthorized(() => signedOut("Your session has expired. Please sign in again."));

async function boot() {
  loadRules().catch(() => {}); // only for early hints: the server checks every field anyway
  try {
    startSession(await api("GET", paths.session, { auth: false }));
  } catch (error) {
    // 401 here is simply "not signed in yet", nothing expired.
    signedOut(error instanceof ApiError && error.status === 401 ? "" : error.message);
  }
}

function startSession(info) {
  state.session = info;
  setCsrf(info.csrf_token);
  $("boot").hidden = true;
  $("signin").hidden = true;
  $("shell").hidden = false;
  $("user-name").textContent = info.user;
  $("user-avatar").textContent = (info.user || "?").slice(0, 1).toUpperCase();
  $("unused").title = `Only secrets that no Action or Event Type references and the Hub has not resolved for ${info.unused_days || 90} days`;
  if (info.first_sign_in) {
    // Nothing else is answered until the user has chosen their own password.
    openPasswordDialog($("account-menu"), { mustChange: true, done: () => boot() });
    return;
  }
  route();
  // The sign-in form focus was on is gone; start at the page heading.
  (onMembers() ? $("members-title") : $("page-title")).focus();
}

// -- views: Secrets and Members ------------------------------------------------------------

const MEMBERS = "#/members/";

/** Members is for admins, and read-only for anyone with a tenant (to see whom to ask). */
function mayOpenMembers() {
  const session = state.session;
  return Boolean(session && (session.admin || Object.keys(session.tenants).length));
}

function onMembers() {
  return !$("members-view").hidden;
}

/** Show the view the URL fragment names: #/members/<tenant>, else the Secrets of #/<tenant>. */
function route() {
  const members = location.hash.startsWith(MEMBERS) && mayOpenMembers();
  $("nav-members").hidden = !mayOpenMembers();
  $("nav").classList.toggle("single", !mayOpenMembers());
  $("secrets-view").hidden = members;
  $("members-view").hidden = !members;
  // The Members screen has its own tenant picker; an account with no tenant has nothing to pick.
  $("tenant-box").hidden = members || !Object.keys(state.session.tenants).length;
  if (members) {
    $("nav-secrets").removeAttribute("aria-current");
    $("nav-members").setAttribute("aria-current", "page");
    showMembers(state.session, decodeURIComponent(location.hash.slice(MEMBERS.length)));
  } else {
    $("nav-secrets").setAttribute("aria-current", "page");
    $("nav-members").removeAttribute("aria-current");
    renderTenants();
  }
}

window.addEventListener("hashchange", () => {
  if (!state.session) return;
  route();
  (onMembers() ? $("members-title") : $("page-title")).focus();
});

/** Back to the sign-in form, forgetting everything the signed-in page showed. */
function signedOut(notice = "") {
  if (state.listRequest) state.listRequest.abort();
  for (const dialog of document.querySelectorAll("dialog[open]")) closeDialog(dialog);
  resetMembers();
  state.session = null;
  state.items.clear();
  state.next = null;
  selectView("live", { load: false });
  leaveDeleted();
  setCsrf("");
  $("rows").replaceChildren();
  $("search").value = "";
  state.expiring = false;
  $("expiring").setAttribute("aria-pressed", "false");
  state.unused = false;
  $("unused").setAttribute("aria-pressed", "false");
  resetPanel();
  $("boot").hidden = true;
  $("shell").hidden = true;
  $("signin").hidden = false;
  $("signin-notice").textContent = notice;
  $("signin-error").hidden = true;
  $("signin-password").value = "";
  document.title = "Sign in · Nexomatic Secrets";
  $("signin-user").focus();
}

$("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const username = $("signin-user").value.trim();
  const password = $("signin-password").value;
  const problem = $("signin-error");
  $("signin-notice").textContent = "";
  if (!username || !password) {
    showAlert(problem, "Enter your username and password.");
    (username ? $("signin-password") : $("signin-user")).focus();
    return;
  }
  setBusy($("signin-submit"), true, "Signing in…");
  try {
    const info = await api("POST", paths.session, { body: { username, password }, auth: false });
    problem.hidden = true;
    $("signin-notice").textContent = "";
    startSession(info);
  } catch (error) {
    showAlert(problem, error.message);
    $("signin-password").select();
  } finally {
    $("signin-password").value = "";
    setBusy($("signin-submit"), false);
  }
});

$("signout").addEventListener("click", async () => {
  try {
    await api("DELETE", paths.session);
  } catch {
    // Signed out either way: the cookie session is gone or was never valid.
  }
  signedOut("You have signed out.");
});

// A tab left open for hours: re-check the session when the user comes back to it.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && state.session) api("GET", paths.session).catch(() => {});
});

/**
 * Permissions can change while the page is open (Vault applies a grant or revoke at once).
 * After a 403, ask again and redraw if they did change.
 */
async function refreshPermissions() {
  const before = state.session;
  const info = await api("GET", paths.session);
  if (state.session !== before) return; // signed out or in again meanwhile
  state.session = info;
  setCsrf(info.csrf_token);
  if (JSON.stringify(before.tenants) === JSON.stringify(info.tenants)) return;
  const lost = state.tenant && !(state.tenant in info.tenants) ? state.tenant : "";
  route();
  if (lost) toast(`You no longer have access to tenant ${lost}.`);
  else toast(`Your permissions on ${state.tenant} have changed.`);
}

function refreshPermissionsQuietly() {
  refreshPermissions().catch(() => {});
}

// -- tenants ----------------------------------------------------------------------------

function renderTenants() {
  const names = Object.keys(state.session.tenants).sort();
  const select = $("tenant-select");
  const single = $("tenant-name");
  if (names.length === 0) {
    state.tenant = "";
    select.hidden = true;
    single.hidden = true;
    single.textContent = "";
    showTenant();
    return;
  }
  const wanted = decodeURIComponent(location.hash.replace(/^#\/?/, ""));
  state.tenant = names.includes(wanted) ? wanted : names.includes(state.tenant) ? state.tenant : names[0];
  select.replaceChildren(...names.map((name) => new Option(name, name, false, name === state.tenant)));
  select.hidden = names.length < 2;
  single.hidden = names.length >= 2;
  single.textContent = state.tenant;
  showTenant();
}

$("tenant-select").addEventListener("change", (event) => {
  state.tenant = event.target.value;
  $("search").value = "";
  showTenant();
});

function canWrite() {
  return Boolean(state.tenant) && state.session.tenants[state.tenant] === "write";
}

function showTenant() {
  if (onMembers()) return; // the fragment and the title are the Members screen's
  if (state.tenant) {
    const here = `#/${encodeURIComponent(state.tenant)}`;
    history.replaceState(null, "", here);
    $("nav-secrets").href = here;
  }
  $("head-tenant").textContent = state.tenant;
  document.title = state.tenant ? `Secrets · ${state.tenant} · Nexomatic` : "Secrets · Nexomatic";
  $("head-desc").hidden = !state.tenant;
  $("table-caption").textContent = `Secrets of tenant ${state.tenant}`;
  const badge = $("perm-badge");
  badge.hidden = !state.tenant;
  badge.textContent = canWrite() ? "Can edit" : "Read only";
  badge.className = canWrite() ? "badge write" : "badge read";
  $("add").hidden = !canWrite();
  showBulkTools(state.tenant, canWrite());
  $("table").classList.toggle("readonly", !canWrite());
  $("toolbar").hidden = !state.tenant;
  $("view-tabs").hidden = !state.tenant;
  state.q = $("search").value.trim();
  if (state.view === "deleted") showDeleted();
  else loadList(true);
}

// -- the Active / Recently deleted tabs ----------------------------------------------------

function selectView(view, { load = true } = {}) {
  state.view = view;
  for (const [name, tab, panel] of [
    ["live", $("tab-live"), $("live-view")],
    ["deleted", $("tab-deleted"), $("deleted-view")],
  ]) {
    const selected = name === view;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    panel.hidden = !selected;
  }
  if (!load) return;
  // Each tab reads Vault again when shown: a restore or a delete in the other shows at once.
  if (view === "deleted") showDeleted();
  else loadList(true);
}

$("tab-live").addEventListener("click", () => selectView("live"));
$("tab-deleted").addEventListener("click", () => selectView("deleted"));
$("view-tabs").addEventListener("keydown", (event) => {
  if (!["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) return;
  event.preventDefault();
  const next = state.view === "live" ? "deleted" : "live";
  const wanted = event.key === "Home" ? "live" : event.key === "End" ? "deleted" : next;
  selectView(wanted);
  (wanted === "live" ? $("tab-live") : $("tab-deleted")).focus();
});

initDeleted({
  tenant: () => state.tenant,
  canWrite,
  recoveryDays: () => (state.session ? state.session.recovery_days : 0),
  permissionsChanged: refreshPermissionsQuietly,
});

// -- the table --------------------------------------------------------------------------

async function loadList(reset) {
  if (state.listRequest) state.listRequest.abort();
  if (!state.tenant) {
    state.items.clear();
    $("rows").replaceChildren();
    $("list-error").hidden = true;
    renderEmpty();
    return;
  }
  const controller = new AbortController();
  state.listRequest = controller;
  const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (state.q) params.set("q", state.q);
  if (state.expiring) params.set("expiring_within_days", String(EXPIRING_DAYS));
  if (state.unused) params.set("unused", "true");
  if (!reset && state.next) params.set("after", state.next);
  $("table").setAttribute("aria-busy", "true");
  $("more").disabled = true;
  $("count").textContent = "Loading…";
  try {
    // One request per page: the server fills it (a search stopped by its scan budget answers
    // what it found, maybe nothing, and a `next` that Load more follows).
    const page = await api("GET", `${paths.secrets(state.tenant)}?${params}`, { signal: controller.signal });
    if (reset) {
      state.items.clear();
      $("rows").replaceChildren();
    }
    for (const item of page.items) upsertRow(item);
    if (state.sort) sortRows($("rows"), state.items, state.sort);
    state.next = page.next;
    $("list-error").hidden = true;
  } catch (error) {
    if (error.name === "AbortError" || error.status === 401) return;
    if (reset) {
      // Never leave another tenant's or another search's rows under this heading.
      state.items.clear();
      state.next = null;
      $("rows").replaceChildren();
    }
    $("list-error-text").textContent = `Could not load the secrets: ${error.message}`;
    $("list-error").hidden = false;
    if (error.status === 403) refreshPermissionsQuietly();
  } finally {
    if (state.listRequest === controller) {
      state.listRequest = null;
      $("table").removeAttribute("aria-busy");
      $("more").disabled = false;
      renderEmpty();
    }
  }
}

$("more").addEventListener("click", () => loadList(false));

$("expiring").addEventListener("click", (event) => {
  state.expiring = !state.expiring;
  event.currentTarget.setAttribute("aria-pressed", String(state.expiring));
  loadList(true);
});

$("unused").addEventListener("click", (event) => {
  state.unused = !state.unused;
  event.currentTarget.setAttribute("aria-pressed", String(state.unused));
  loadList(true);
});

// Sorts the rows loaded so far; "Load more" adds rows in their sorted place.
$("sort-used").querySelector("button").addEventListener("click", () => {
  state.sort = nextSort(state.sort);
  showSort($("sort-used"), state.sort);
  sortRows($("rows"), state.items, state.sort);
});
$("list-retry").addEventListener("click", () => loadList(true));

let searchTimer = 0;
$("search").addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    // The API refuses unprintable characters in q; a pasted tab is meant as a space.
    const q = printable($("search").value).trim();
    if (q === state.q) return;
    state.q = q;
    loadList(true);
  }, SEARCH_DELAY_MS);
});

/** Counts, the Load more button and the empty state, from what is loaded now. */
function renderEmpty() {
  const count = state.items.size;
  $("more").hidden = !state.next;
  $("count").textContent = count
    ? `${count} ${count === 1 ? "secret" : "secrets"}${state.next ? " shown, more available" : ""}`
    : "";
  const empty = $("empty");
  empty.hidden = count > 0;
  $("table").classList.toggle("is-empty", count === 0);
  $("table").classList.toggle("has-more", Boolean(state.next));
  // Nothing loaded because loading failed: the error above says so; "no secrets" would be wrong.
  $("list-card").hidden = count === 0 && !$("list-error").hidden;
  $("empty-members").hidden = true;
  if (count > 0) return;
  $("empty-add").hidden = true;
  if (state.tenant && state.next) {
    // A large tenant's scan stopped at its budget before finding anything: more may follow.
    $("empty-title").textContent = state.q || state.expiring || state.unused ? "No matches yet" : "No secrets found yet";
    $("empty-text").textContent = "Only part of this tenant's secrets was read so far. Load more reads further.";
  } else if (!state.tenant) {
    $("empty-title").textContent = "No tenant";
    $("empty-text").textContent = noTenantText(state.session);
    $("empty-members").hidden = !(state.session && state.session.admin);
  } else if (state.expiring) {
    $("empty-title").textContent = "Nothing expiring";
    $("empty-text").textContent = `No secret${state.q ? " matching your search" : ""} expires within ${EXPIRING_DAYS} days or has expired.`;
  } else if (state.unused) {
    $("empty-title").textContent = "Nothing unused";
    $("empty-text").textContent = `Every secret${state.q ? " matching your search" : ""} is referenced by an Action or Event Type, or the Hub resolved it within ${state.session.unused_days || 90} days.`;
  } else if (state.q) {
    $("empty-title").textContent = "No matching secrets";
    $("empty-text").textContent = `No key or description contains “${state.q}”.`;
  } else if (canWrite()) {
    $("empty-title").textContent = "No secrets yet";
    $("empty-text").textContent = "Store API keys, passwords and connection strings here instead of in payloads or module code.";
    $("empty-add").hidden = false;
  } else {
    $("empty-title").textContent = "No secrets yet";
    $("empty-text").textContent = "Nothing has been stored for this tenant. A user with write permission can add secrets.";
  }
}

/**
 * What an account that belongs to no tenant can do. The session says `admin`; an auditor is
 * known only by a Vault policy the session does not report, so "everyone else" names them too.
 */
function noTenantText(session) {
  if (session && session.admin) {
    return (
      "You are an administrator: you grant people read or write on tenants, and create or " +
      "disable accounts, on the Members page. You are a member of no tenant, so there are no " +
      "secrets to show here; grant yourself a tenant to work with its secrets."
    );
  }
  return (
    "Your account has no access to any tenant yet. Ask an administrator to add you. " +
    "Auditors: you review keys, metadata and the audit log with the bao CLI, not on this page."
  );
}

function buildRow(item) {
  const row = document.createElement("tr");
  row.setAttribute("role", "row");
  row.dataset.key = item.key;

  const keyText = span("key-text mono", item.key);
  keyText.title = item.key; // the pill stays on one line and ends in "…" when the key is long
  const key = cell("th", "Key", keyText);
  key.scope = "row";
  if (expiryState(item)) row.dataset.expiry = expiryState(item);
  key.className = "cell-key";

  const description = item.description
    ? cell("td", "Description", clampedText(item.description))
    : cell("td", "Description", span("muted", "—"));
  description.className = "cell-desc";
  // Beside the description, not in the key's cell: the row header's name stays the key.
  const badge = expiryBadge(item);
  if (badge) description.prepend(badge);
  // The Expiring view names what each expiring key would break.
  if (state.expiring && item.references > 0) description.append(breaksLine(state.tenant, item));

  const updated = cell("td", "Updated", timeElement(item.updated_time || item.created_time));
  updated.className = "cell-time";
  const by = cell("td", "By", span("who", item.updated_by || item.created_by || "—"));
  by.className = "cell-by";
  row.append(key, description, updated, by, lastUsedCell(item), usedByCell(state.tenant, item));

  // History is for readers too; edit and delete only for writers.
  const buttons = [iconButton("history", `History of ${item.key}`, (event) => openHistory(state.tenant, item.key, event.currentTarget))];
  if (canWrite()) {
    buttons.push(
      iconButton("edit", `Edit ${item.key}`, () => openEdit(item.key)),
      iconButton("trash", `Delete ${item.key}`, () => openDelete(item.key), "danger-hover"),
    );
  }
  const actions = cell("td", "Actions", ...buttons);
  actions.className = "cell-actions";
  row.append(actions);
  return row;
}

/** Insert or replace a row, keeping key order (Vault lists keys sorted). */
function upsertRow(item, { highlight = false } = {}) {
  const rows = $("rows");
  const row = buildRow(item);
  const existing = rows.querySelector(`tr[data-key="${CSS.escape(item.key)}"]`);
  if (existing) {
    existing.replaceWith(row);
  } else {
    const after = [...rows.children].find((other) => other.dataset.key > item.key);
    rows.insertBefore(row, after || null);
  }
  const ordered = new Map();
  for (const tr of rows.children) ordered.set(tr.dataset.key, tr.dataset.key === item.key ? item : state.items.get(tr.dataset.key));
  state.items = ordered;
  if (state.sort) sortRows(rows, state.items, state.sort);
  if (highlight) {
    row.classList.add("flash");
    row.scrollIntoView({ block: "nearest" });
  }
}

function removeRow(key) {
  const row = $("rows").querySelector(`tr[data-key="${CSS.escape(key)}"]`);
  if (row) row.remove();
  state.items.delete(key);
  renderEmpty();
}

// -- add and edit -----------------------------------------------------------------------

const form = $("secret-form");
const KEY_HINT = $("f-key-hint").textContent;
const fields = { key: $("f-key"), description: $("f-description"), value: $("f-value"), expires_at: $("f-expires_at") };

function clearFormErrors() {
  $("form-error").hidden = true;
  for (const name of Object.keys(fields)) setFieldError(name, "");
}

function setFieldError(name, message) {
  const input = fields[name];
  const slot = $(`f-${name}-error`);
  slot.textContent = message;
  slot.hidden = !message;
  if (message) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
}

function openAdd(event) {
  state.editing = null;
  form.reset();
  clearFormErrors();
  $("secret-title").textContent = "Add Secret";
  fields.key.readOnly = false;
  $("f-key-req").hidden = false;
  $("f-key-hint").textContent = KEY_HINT;
  fields.value.required = true;
  fields.value.placeholder = "";
  $("f-value-req").textContent = "required";
  $("f-value-req").className = "req";
  $("f-value-hint").textContent = "Stored encrypted in Vault. It cannot be viewed again after saving.";
  $("secret-save").textContent = "Save";
  $("f-expires_at-hint").textContent = expiryHint("");
  clearValue();
  openDialog($("secret-dialog"), event && event.currentTarget, fields.key);
}

function openEdit(key) {
  const item = state.items.get(key);
  if (!item) return;
  state.editing = item;
  form.reset();
  clearFormErrors();
  $("secret-title").textContent = "Edit Secret";
  fields.key.value = item.key;
  fields.key.readOnly = true;
  $("f-key-req").hidden = true;
  $("f-key-hint").textContent = "A key cannot be renamed: add a new secret and delete this one instead.";
  fields.description.value = item.description || "";
  fields.value.required = false;
  clearValue();
  fields.value.placeholder = "Unchanged";
  $("f-value-req").textContent = "optional";
  $("f-value-req").className = "opt";
  $("f-value-hint").textContent = "Leave empty to keep the current value. A new value replaces it for every Action that references this key.";
  $("secret-save").textContent = "Save changes";
  fields.expires_at.value = dateField(item.expires_at);
  $("f-expires_at-hint").textContent = expiryHint(fields.expires_at.value);
  const row = $("rows").querySelector(`tr[data-key="${CSS.escape(key)}"]`);
  openDialog($("secret-dialog"), rowButton(key, "Edit"), fields.description);
}

initBulkTools({ tenant: () => state.tenant, imported: () => loadList(true), forbidden: refreshPermissionsQuietly });
$("add").addEventListener("click", openAdd);
$("empty-add").addEventListener("click", openAdd);

// Whatever closes the dialog (Save, Cancel, Escape, sign-out), the typed value goes at once.
// ("closing" fires synchronously, see dialogs.js.)
$("secret-dialog").addEventListener("closing", () => {
  clearValue();
  state.editing = null;
});
initValueField({ error: (message) => setFieldError("value", message) });

fields.key.addEventListener("input", () => {
  if (!fields.key.readOnly) setFieldError("key", keyProblem(fields.key.value));
});
fields.description.addEventListener("input", () => {
  setFieldError("description", descriptionProblem(fields.description.value));
});
fields.value.addEventListener("input", () => {
  if (fields.value.value) setFieldError("value", "");
});
fields.expires_at.addEventListener("input", () => {
  setFieldError("expires_at", "");
  $("f-expires_at-hint").textContent = expiryHint(fields.expires_at.value);
});

function validate() {
  const problems = {
    key: state.editing ? "" : keyProblem(fields.key.value),
    description: descriptionProblem(fields.description.value),
    value: !state.editing && fields.value.value === "" ? "Enter the value to store." : "",
    // A date input holds "" for a partly typed date too: only the browser knows it is incomplete.
    expires_at: fields.expires_at.validity.badInput ? "Enter a complete date, or clear the field." : "",
  };
  for (const [name, message] of Object.entries(problems)) setFieldError(name, message);
  const first = Object.keys(problems).find((name) => problems[name]);
  if (first) fields[first].focus();
  return !first;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearFormErrors();
  if (!validate()) return;
  const editing = state.editing;
  const tenant = state.tenant;
  const value = valueText();
  const description = fields.description.value;
  const expiresAt = expiresAtOf(fields.expires_at.value);
  setBusy($("secret-save"), true, "Saving…");
  try {
    let item;
    if (editing) {
      const body = { description, version: editing.version };
      if (value) body.value = value;
      // Sent only when changed: the date field cannot show a time of day set through the API.
      if (fields.expires_at.value !== dateField(editing.expires_at)) body.expires_at = expiresAt;
      item = await api("PATCH", paths.secret(tenant, editing.key), { body });
    } else {
      const body = { key: fields.key.value, description, value };
      if (expiresAt) body.expires_at = expiresAt;
      item = await api("POST", paths.secrets(tenant), { body });
    }
    clearValue();
    closeDialog($("secret-dialog"));
    if (tenant !== state.tenant) return;
    upsertRow(item, { highlight: true });
    renderEmpty();
    const what = editing ? (value ? "updated with a new value" : "updated") : "created";
    toast(`Secret ${item.key} ${what}.`);
    focusRowAction(item.key, editing ? 0 : -1);
  } catch (error) {
    if (error.status === 401) return;
    await showSaveError(error, editing);
    if (error.status === 403) refreshPermissionsQuietly();
  } finally {
    setBusy($("secret-save"), false);
  }
});

async function showSaveError(error, editing) {
  const named = Object.entries(error.fields).filter(([name]) => name in fields);
  for (const [name, message] of named) setFieldError(name, message);
  const other = Object.entries(error.fields).filter(([name]) => !(name in fields));
  if (editing && error.status === 409) {
    // Someone changed it meanwhile: take their version, so a second Save is a deliberate choice.
    try {
      const fresh = await api("GET", paths.secret(state.tenant, editing.key));
      upsertRow(fresh);
      state.editing = fresh;
    } catch {
      // The message below still says what happened.
    }
    showAlert($("form-error"), "This secret was changed by someone else while you were editing. Check the description and save again.");
  } else if (editing && error.status === 404) {
    removeRow(editing.key);
    showAlert($("form-error"), "This secret no longer exists; someone deleted it.");
  } else if (named.length === 0 || other.length) {
    const detail = other.map(([name, message]) => `${name}: ${message}`).join(" ");
    showAlert($("form-error"), detail ? `${error.message}. ${detail}` : error.message);
  }
  if (named.length) fields[named[0][0]].focus();
}

/** After a save, put focus somewhere sensible: the row's edit button, or the Add button. */
function focusRowAction(key, index) {
  const button = index >= 0 ? rowButton(key, "Edit") : null;
  const target = button || $("add");
  if (!target.hidden) target.focus();
}

/** A row's action button by what it does ("Edit", "Delete"), or null. */
function rowButton(key, action) {
  const row = $("rows").querySelector(`tr[data-key="${CSS.escape(key)}"]`);
  const label = `${action} ${key}`;
  return row ? [...row.querySelectorAll(".cell-actions .icon-btn")].find((b) => b.getAttribute("aria-label") === label) || null : null;
}

// -- delete -----------------------------------------------------------------------------

function openDelete(key) {
  const item = state.items.get(key);
  if (!item) return;
  state.deleting = item;
  $("confirm-title").textContent = "Delete secret?";
  $("confirm-error").hidden = true;
  const days = state.session.recovery_days;
  const what = $("confirm-what");
  const code = document.createElement("code");
  code.className = "mono";
  code.id = "confirm-key";
  code.textContent = item.key;
  if (days > 0) {
    what.replaceChildren(code, ` moves to Recently deleted, where a user with write permission can restore it within ${days} ${days === 1 ? "day" : "days"}; then it is purged.`);
  } else {
    what.replaceChildren(code, " and all its versions are deleted. This cannot be undone.");
  }
  $("confirm-usage").replaceWith(usageSentence(item));
  $("confirm-referrers").hidden = true;
  $("confirm-delete").textContent = "Delete secret";
  showTypedConfirm(item.key, 0, null);
  openDialog($("confirm-dialog"), rowButton(item.key, "Delete"), $("confirm-cancel"));
  if (item.references > 0) showReferrersOf(item);
}

/** A referenced key's confirm names its referrers and asks for the key to be typed. */
async function showReferrersOf(item) {
  let found = [];
  try {
    found = await firstReferrers(state.tenant, item.key);
  } catch (error) {
    if (error.status === 401) return;
    // The count alone still says it is in use; the typed key is asked for all the same.
  }
  if (state.deleting === item) showReferenced(item, item.references, found);
}

function showReferenced(item, count, referrers) {
  $("confirm-usage").hidden = true;
  $("confirm-referrers").hidden = false;
  showTypedConfirm(item.key, count, referrers);
  const button = $("confirm-delete");
  // While busy (a 409 just answered) setBusy puts back the label it kept: change that one.
  if (button.dataset.label !== undefined) button.dataset.label = "Delete anyway";
  else button.textContent = "Delete anyway";
  $("confirm-typed").focus();
}

/** The delete: with ?force=true once the key was typed; a 409 (referrers declared since the list
 * was loaded) turns the confirm into the typed one. */
async function deleteSecret(item) {
  const forced = typedConfirmShown();
  try {
    await api("DELETE", forced ? forcedDelete(state.tenant, item.key) : paths.secret(state.tenant, item.key));
  } catch (error) {
    const referenced = error.status === 409 && error.errors.referenced;
    if (referenced) {
      showReferenced(item, referenced.count, referenced.referrers || []);
      error.message = "Actions or Event Types reference this key now: the Hub declared them after the list was loaded.";
    }
    throw error;
  }
}

$("confirm-dialog").addEventListener("closing", () => {
  state.deleting = null;
});

onConfirm($("confirm-form"), {
  dialog: $("confirm-dialog"),
  button: $("confirm-delete"),
  alert: $("confirm-error"),
  busy: "Deleting…",
  subject: () => state.deleting,
  ready: (item) => typedMatches(item.key),
  remove: deleteSecret,
  done: (item) => `Secret ${item.key} deleted.`,
  // While the recovery window allows it, the toast offers the restore (Vault's undelete).
  action: (item) => (state.session.recovery_days > 0 ? undoDelete(state.tenant, item) : null),
  gone: (item) => `Secret ${item.key} was already deleted.`,
  refused: refreshPermissionsQuietly,
  after: (item) => {
    removeRow(item.key);
    (canWrite() ? $("add") : $("search")).focus();
  },
});

/** The delete toast's Undo: restore the secret, and show it again if its tenant is on screen. */
function undoDelete(tenant, item) {
  return {
    label: "Undo",
    name: `Undo the delete of ${item.key}`,
    run: async () => {
      try {
        await api("POST", `${paths.secret(tenant, item.key)}/restore`);
        toast(`Secret ${item.key} restored.`);
        if (tenant !== state.tenant) return;
        if (state.view === "deleted") showDeleted();
        else upsertRow(await api("GET", paths.secret(tenant, item.key)), { highlight: true });
        renderEmpty();
      } catch (error) {
        if (error.status !== 401) toast(`Could not restore ${item.key}: ${error.message}`);
      }
    },
  };
}

initMembers({ toast, setBusy, showAlert, onAccessChanged: refreshPermissionsQuietly });
initAccount();
boot();
