// The Members screen: who may read and who may write a tenant. Admins grant, change and revoke
// access and create or disable accounts; a tenant's readers and writers see the list read-only,
// so they know whom to ask. Vault applies every change on the member's next request.
// A new account's first password is shown once in a dialog and wiped from the page when it closes.

import { api } from "./api.js";
import { openDialog, closeDialog, onConfirm } from "./dialogs.js";

const $ = (id) => document.getElementById(id);
const USER_RE = /^[a-z0-9][a-z0-9._@-]{0,63}$/;
const USER_RULE = "1-64 lowercase letters, digits, “.”, “_”, “@” or “-”, starting with a letter or digit.";
const PERMISSION_TEXT = { read: "Read", write: "Write" };

const segment = encodeURIComponent;
const paths = {
  tenants: "/api/v1/tenants",
  members: (tenant) => `/api/v1/tenants/${segment(tenant)}/members`,
  member: (tenant, user) => `/api/v1/tenants/${segment(tenant)}/members/${segment(user)}`,
  users: "/api/v1/users",
  accountsPage: (after) => `/api/v1/users?${new URLSearchParams(after ? { limit: "1000", after } : { limit: "1000" })}`,
  account: (user, action) => `/api/v1/users/${segment(user)}/${action}`,
};

let ui = null; // helpers from main.js: toast, setBusy, showAlert, onAccessChanged
const state = {
  session: null,
  tenants: [], // [{name, permission}] the caller may see
  tenant: "",
  members: [],
  request: null, // AbortController of the load in flight
  revoking: null, // the member awaiting confirmation
  accounts: [], // [{user, disabled, tenants}] for an admin
  switching: null, // {user, disabled} awaiting the Disable/Enable confirmation
};

export function initMembers(helpers) {
  ui = helpers;
}

function isAdmin() {
  return Boolean(state.session && state.session.admin);
}

/** Show the screen for a session; `wanted` is the tenant named in the URL, if any. */
export async function showMembers(session, wanted) {
  const fresh = state.session !== session;
  state.session = session;
  $("members-desc").textContent = isAdmin()
    ? "Who may read and who may write each tenant. Grant, change or revoke access here; a change takes effect on the member's next request."
    : "Who has access to your tenants, so you know whom to ask. Only an administrator can change it.";
  $("grant-card").hidden = !isAdmin();
  $("accounts-card").hidden = !isAdmin();
  $("members-table").classList.toggle("readonly", !isAdmin());
  if (fresh || !state.tenants.length) await loadTenants();
  pickTenant(wanted);
  if (isAdmin()) loadAccounts();
}

/** Forget everything shown (sign-out). */
export function resetMembers() {
  if (state.request) state.request.abort();
  for (const id of ["revoke-dialog", "password-dialog", "account-dialog"]) closeDialog($(id));
  Object.assign(state, { session: null, tenants: [], tenant: "", members: [], request: null, revoking: null, accounts: [], switching: null });
  $("member-rows").replaceChildren();
  $("account-rows").replaceChildren();
  $("members-tenant").replaceChildren();
  $("grant-user").value = "";
  $("account-user").value = "";
}

// -- tenants ----------------------------------------------------------------------------

async function loadTenants() {
  const found = [];
  let after = null;
  try {
    // Every page: an admin picks among all tenants (paged by the API like secrets).
    for (let pages = 0; pages < 100; pages += 1) {
      const query = new URLSearchParams({ limit: "1000" });
      if (after) query.set("after", after);
      const page = await api("GET", `${paths.tenants}?${query}`);
      found.push(...page.items);
      after = page.next;
      if (!after) break;
    }
    $("members-error").hidden = true;
  } catch (error) {
    if (error.status === 401) return;
    showError(`Could not load the tenants: ${error.message}`);
  }
  state.tenants = found;
  const select = $("members-tenant");
  select.replaceChildren(...found.map((t) => new Option(optionText(t), t.name)));
}

function optionText(tenant) {
  if (!tenant.permission) return tenant.name;
  return `${tenant.name} (you: ${tenant.permission})`;
}

function pickTenant(wanted) {
  const names = state.tenants.map((t) => t.name);
  state.tenant = names.includes(wanted) ? wanted : names.includes(state.tenant) ? state.tenant : names[0] || "";
  $("members-tenant").value = state.tenant;
  $("members-tenant").parentElement.hidden = names.length === 0;
  history.replaceState(null, "", `#/members/${state.tenant ? segment(state.tenant) : ""}`);
  document.title = state.tenant ? `Members · ${state.tenant} · Nexomatic` : "Members · Nexomatic";
  $("grant-form").hidden = !state.tenant;
  $("members-caption").textContent = `Members of tenant ${state.tenant}`;
  loadMembers();
}

$("members-tenant").addEventListener("change", (event) => pickTenant(event.target.value));

// -- the list ---------------------------------------------------------------------------

async function loadMembers() {
  if (state.request) state.request.abort();
  state.members = [];
  $("member-rows").replaceChildren();
  if (!state.tenant) {
    renderMembers(0);
    return;
  }
  const controller = new AbortController();
  state.request = controller;
  const tenant = state.tenant;
  $("members-count").textContent = "Loading…";
  try {
    const answer = await api("GET", paths.members(tenant), { signal: controller.signal });
    if (tenant !== state.tenant) return;
    state.members = answer.items;
    $("members-error").hidden = true;
    renderMembers(answer.unnamed || 0);
  } catch (error) {
    if (error.name === "AbortError" || error.status === 401) return;
    showError(`Could not load the members of ${tenant}: ${error.message}`);
    $("members-count").textContent = "";
    if (error.status === 403) ui.onAccessChanged();
  } finally {
    if (state.request === controller) state.request = null;
  }
}

$("members-retry").addEventListener("click", async () => {
  $("members-error").hidden = true;
  await loadTenants();
  pickTenant(state.tenant);
});

function showError(message) {
  $("members-error-text").textContent = message;
  $("members-error").hidden = false;
}

function renderMembers(unnamed) {
  const rows = state.members.map(buildRow);
  $("member-rows").replaceChildren(...rows);
  const count = state.members.length;
  const more = unnamed ? ` and ${unnamed} ${unnamed === 1 ? "account" : "accounts"} an administrator can name` : "";
  $("members-count").textContent = count || unnamed ? `${count} ${count === 1 ? "member" : "members"}${more}` : "";
  $("members-table").classList.toggle("is-empty", count === 0);
  $("members-empty").hidden = count > 0;
  if (count > 0) return;
  if (!state.tenant) {
    $("members-empty-title").textContent = "No tenant";
    $("members-empty-text").textContent = isAdmin()
      ? "There are no tenants yet. The operator creates them (nexo-secrets tenant create); they appear here, ready for you to grant access."
      : "You have access to no tenant yet. Ask an administrator to add you.";
  } else {
    $("members-empty-title").textContent = "No members yet";
    $("members-empty-text").textContent = isAdmin()
      ? "Nobody may read or write this tenant. Grant access above: the person can use it on their next request."
      : "Nobody else has access to this tenant.";
  }
}

function buildRow(member) {
  const row = document.createElement("tr");
  row.setAttribute("role", "row");
  row.dataset.user = member.user;
  const you = state.session && member.user === state.session.user;
  const name = document.createElement("th");
  name.scope = "row";
  name.setAttribute("role", "rowheader");
  name.className = "cell-member";
  const text = document.createElement("span");
  text.className = "member-name";
  text.textContent = member.user;
  name.append(text);
  if (you) {
    const tag = document.createElement("span");
    tag.className = "you muted";
    tag.textContent = " (you)";
    name.append(tag);
  }
  const permission = document.createElement("td");
  permission.setAttribute("role", "cell");
  permission.className = "cell-permission";
  if (isAdmin()) {
    const select = document.createElement("select");
    select.setAttribute("aria-label", `Permission of ${member.user}`);
    for (const value of ["read", "write"]) select.append(new Option(PERMISSION_TEXT[value], value, false, value === member.permission));
    select.addEventListener("change", () => change(member, select));
    permission.append(select);
  } else {
    const badge = document.createElement("span");
    badge.className = `badge ${member.permission}`;
    badge.textContent = PERMISSION_TEXT[member.permission] || member.permission;
    permission.append(badge);
  }
  row.append(name, permission);
  if (isAdmin()) {
    const actions = document.createElement("td");
    actions.setAttribute("role", "cell");
    actions.className = "cell-actions";
    const revoke = document.createElement("button");
    revoke.type = "button";
    revoke.className = "btn small";
    revoke.textContent = "Revoke";
    revoke.setAttribute("aria-label", `Revoke ${member.user}`);
    revoke.addEventListener("click", () => openRevoke(member, revoke));
    actions.append(revoke);
    row.append(actions);
  }
  return row;
}

// -- grant and change -------------------------------------------------------------------

function effectText(user, permission, tenant) {
  const what = permission === "write" ? "read and write" : "read";
  return `${user} may now ${what} ${tenant}. This takes effect on their next request.`;
}

function setUserError(id, message) {
  const slot = $(`${id}-error`);
  slot.textContent = message;
  slot.hidden = !message;
  if (message) $(id).setAttribute("aria-invalid", "true");
  else $(id).removeAttribute("aria-invalid");
}

function userProblem(user) {
  if (!user) return "Enter a user name.";
  return USER_RE.test(user) ? "" : `Invalid user name: ${USER_RULE}`;
}

$("grant-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const user = $("grant-user").value.trim();
  const permission = $("grant-permission").value;
  const tenant = state.tenant;
  const problem = userProblem(user);
  setUserError("grant-user", problem);
  if (problem) {
    $("grant-user").focus();
    return;
  }
  ui.setBusy($("grant-submit"), true, "Granting…");
  try {
    await api("PUT", paths.member(tenant, user), { body: { permission } });
    $("grant-user").value = "";
    ui.toast(effectText(user, permission, tenant));
    if (user === state.session.user) ui.onAccessChanged();
    if (tenant === state.tenant) await loadMembers();
    loadAccounts();
  } catch (error) {
    if (error.status === 401) return;
    setUserError("grant-user", error.status === 404 && !/tenant/i.test(error.message) ? `${error.message}. Create the account first (below).` : error.message);
    $("grant-user").focus();
  } finally {
    ui.setBusy($("grant-submit"), false);
  }
});

$("grant-user").addEventListener("input", () => setUserError("grant-user", ""));

async function change(member, select) {
  const permission = select.value;
  const tenant = state.tenant;
  select.disabled = true;
  try {
    await api("PUT", paths.member(tenant, member.user), { body: { permission } });
    member.permission = permission;
    ui.toast(effectText(member.user, permission, tenant));
    loadAccounts();
    if (member.user === state.session.user) ui.onAccessChanged();
  } catch (error) {
    if (error.status === 401) return;
    select.value = member.permission; // the change did not happen
    showError(`Could not change ${member.user}'s permission: ${error.message}`);
  } finally {
    select.disabled = false;
  }
}

// -- revoke (with confirmation) -------------------------------------------------------------

function openRevoke(member, opener) {
  state.revoking = { ...member, tenant: state.tenant };
  $("revoke-title").textContent = "Revoke access?"; // the sentence below names the member, once
  const what = member.permission === "write" ? "read or write" : "read";
  $("revoke-text").textContent = `${member.user} will no longer ${what} the secrets of ${state.tenant}, from their next request on. You can grant access again later.`;
  $("revoke-error").hidden = true;
  openDialog($("revoke-dialog"), opener, $("revoke-cancel"));
}

$("revoke-dialog").addEventListener("closing", () => {
  state.revoking = null;
});

onConfirm($("revoke-form"), {
  dialog: $("revoke-dialog"),
  button: $("revoke-confirm"),
  alert: $("revoke-error"),
  busy: "Revoking…",
  subject: () => state.revoking,
  remove: (member) => api("DELETE", paths.member(member.tenant, member.user)),
  done: (member) => `${member.user} no longer has access to ${member.tenant}. This takes effect on their next request.`,
  gone: (member) => `${member.user} had no access to ${member.tenant} any more.`,
  after: async (member) => {
    if (member.user === state.session.user) ui.onAccessChanged();
    if (member.tenant === state.tenant) await loadMembers();
    loadAccounts();
    $("grant-user").focus();
  },
});

// -- accounts ---------------------------------------------------------------------------

function accountName() {
  const user = $("account-user").value.trim();
  const problem = userProblem(user);
  setUserError("account-user", problem);
  if (problem) $("account-user").focus();
  return problem ? "" : user;
}

$("account-user").addEventListener("input", () => setUserError("account-user", ""));

$("account-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const user = accountName();
  if (!user) return;
  ui.setBusy($("account-create"), true, "Creating…");
  try {
    const made = await api("POST", paths.users, { body: { username: user } });
    $("account-user").value = "";
    $("password-text").textContent = `Give ${made.user} this password for their first sign-in.`;
    $("password-value").textContent = made.password;
    openDialog($("password-dialog"), $("account-create"), $("password-copy"));
    loadAccounts();
  } catch (error) {
    if (error.status === 401) return;
    setUserError("account-user", error.fields.username || error.message);
    $("account-user").focus();
  } finally {
    ui.setBusy($("account-create"), false);
  }
});

// Whatever closes the dialog, the password leaves the page at once.
$("password-dialog").addEventListener("closing", () => {
  $("password-value").textContent = "";
});

$("password-copy").addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText($("password-value").textContent);
    ui.toast("Password copied.");
  } catch {
    // No clipboard (an insecure origin, or refused): select it for a manual copy instead.
    getSelection().selectAllChildren($("password-value"));
  }
});

// -- the accounts list, with Disable and Enable (each confirmed) ---------------------------------

async function loadAccounts() {
  const found = [];
  let after = null;
  try {
    for (let pages = 0; pages < 100; pages += 1) {
      const page = await api("GET", paths.accountsPage(after));
      found.push(...page.items);
      after = page.next;
      if (!after) break;
    }
  } catch (error) {
    if (error.status === 401) return;
    $("accounts-count").textContent = `Could not load the accounts: ${error.message}`;
    return;
  }
  state.accounts = found;
  $("account-rows").replaceChildren(...found.map(accountRow));
  const disabled = found.filter((a) => a.disabled).length;
  $("accounts-count").textContent = `${found.length} ${found.length === 1 ? "account" : "accounts"}${disabled ? `, ${disabled} disabled` : ""}`;
  $("accounts-table").classList.toggle("is-empty", found.length === 0);
}

function tenantsText(tenants) {
  const names = Object.keys(tenants);
  if (!names.length) return "No tenant";
  return names.map((t) => `${t} (${tenants[t]})`).join(", ");
}

function accountRow(account) {
  const row = document.createElement("tr");
  row.setAttribute("role", "row");
  row.dataset.user = account.user;
  const name = document.createElement("th");
  name.setAttribute("role", "rowheader");
  name.scope = "row";
  name.className = "cell-member";
  name.textContent = account.user;
  const status = document.createElement("td");
  status.setAttribute("role", "cell");
  status.className = "cell-status";
  const badge = document.createElement("span");
  badge.className = `status ${account.disabled ? "status-disabled" : "status-active"}`;
  badge.textContent = account.disabled ? "Disabled" : "Active";
  status.append(badge);
  const tenants = document.createElement("td");
  tenants.setAttribute("role", "cell");
  tenants.className = "cell-tenants";
  tenants.textContent = tenantsText(account.tenants);
  const actions = document.createElement("td");
  actions.setAttribute("role", "cell");
  actions.className = "cell-actions";
  const you = state.session && account.user === state.session.user;
  if (!you) {
    // Not for one's own account: disabling it would end this very session.
    const button = document.createElement("button");
    button.type = "button";
    button.className = "btn small";
    button.textContent = account.disabled ? "Enable" : "Disable";
    button.setAttribute("aria-label", `${account.disabled ? "Enable" : "Disable"} ${account.user}`);
    button.addEventListener("click", () => openSwitch(account, button));
    actions.append(button);
  }
  row.append(name, status, tenants, actions);
  return row;
}

function openSwitch(account, opener) {
  state.switching = { user: account.user, disabled: account.disabled };
  const enabling = account.disabled;
  $("account-title").textContent = enabling ? "Enable account?" : "Disable account?";
  $("account-text").textContent = enabling
    ? `${account.user} can sign in again, with the tenants they still belong to.`
    : `${account.user} can no longer sign in, and their open sessions and tokens stop working at once. Their tenant access is kept for when you enable them again.`;
  $("account-confirm").textContent = enabling ? "Enable" : "Disable";
  $("account-confirm").className = enabling ? "btn primary" : "btn danger";
  $("account-error").hidden = true;
  openDialog($("account-dialog"), opener, $("account-cancel"));
}

$("account-dialog").addEventListener("closing", () => {
  state.switching = null;
});

onConfirm($("account-confirm-form"), {
  dialog: $("account-dialog"),
  button: $("account-confirm"),
  alert: $("account-error"),
  busy: "Saving…",
  subject: () => state.switching,
  remove: (account) => api("POST", paths.account(account.user, account.disabled ? "enable" : "disable")),
  done: (account) =>
    account.disabled
      ? `Account ${account.user} enabled again: it can sign in.`
      : `Account ${account.user} disabled: it can no longer sign in, and its sessions have stopped.`,
  gone: (account) => `There is no account ${account.user} any more.`,
  after: async (account) => {
    await loadAccounts();
    const again = $("account-rows").querySelector(`tr[data-user="${CSS.escape(account.user)}"] button`);
    (again || $("account-user")).focus();
  },
});
