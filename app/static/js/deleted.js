// Recently deleted: the tenant's deleted secrets, with Restore and Delete permanently for
// writers. A restore is Vault's undelete: the same value comes back and nobody reads it.

import { api, paths } from "./api.js";
import { closeDialog, onConfirm, openDialog } from "./dialogs.js";
import { openHistory } from "./history.js";
import { cell, icon, iconButton, span, timeElement, toast } from "./parts.js";

const PAGE_SIZE = 50;
const $ = (id) => document.getElementById(id);

let screen = null; // {tenant(), canWrite(), recoveryDays(), permissionsChanged()} from main.js
const state = {
  items: new Map(), // key -> deleted item, in key order
  next: null,
  request: null, // AbortController of the list request in flight
  purging: null, // the item awaiting "Delete permanently" confirmation
};

export function initDeleted(context) {
  screen = context;
}

/** Show the view for the current tenant, read afresh from Vault. */
export function showDeleted() {
  const days = screen.recoveryDays();
  $("deleted-note").textContent =
    days > 0
      ? `Deleted secrets can be restored for ${days} ${days === 1 ? "day" : "days"}, then they are purged for good. A restore brings back the same value; nobody sees it.`
      : "Deleting is permanent in this installation: nothing is kept to restore.";
  $("deleted-caption").textContent = `Recently deleted secrets of tenant ${screen.tenant()}`;
  $("deleted-table").classList.toggle("readonly", !screen.canWrite());
  load(true);
}

/** Forget what was shown (sign-out). */
export function leaveDeleted() {
  if (state.request) state.request.abort();
  state.items.clear();
  state.next = null;
  $("deleted-rows").replaceChildren();
  if ($("purge-dialog").open) closeDialog($("purge-dialog"));
}

async function load(reset) {
  if (state.request) state.request.abort();
  const tenant = screen.tenant();
  if (!tenant) return;
  const controller = new AbortController();
  state.request = controller;
  const params = new URLSearchParams({ deleted: "true", limit: String(PAGE_SIZE) });
  if (!reset && state.next) params.set("after", state.next);
  $("deleted-table").setAttribute("aria-busy", "true");
  $("deleted-count").textContent = "Loading…";
  try {
    // One request per page: the server fills it (a scan stopped by its budget answers what it
    // found, maybe nothing, and a `next` that Load more follows).
    const page = await api("GET", `${paths.secrets(tenant)}?${params}`, { signal: controller.signal });
    if (reset) {
      state.items.clear();
      $("deleted-rows").replaceChildren();
    }
    for (const item of page.items) {
      state.items.set(item.key, item);
      $("deleted-rows").append(buildRow(item));
    }
    state.next = page.next;
    $("deleted-error").hidden = true;
  } catch (error) {
    if (error.name === "AbortError" || error.status === 401) return;
    if (reset) {
      state.items.clear();
      state.next = null;
      $("deleted-rows").replaceChildren();
    }
    $("deleted-error-text").textContent = `Could not load the deleted secrets: ${error.message}`;
    $("deleted-error").hidden = false;
    if (error.status === 403) screen.permissionsChanged();
  } finally {
    if (state.request === controller) {
      state.request = null;
      $("deleted-table").removeAttribute("aria-busy");
      render();
    }
  }
}

$("deleted-more").addEventListener("click", () => load(false));
$("deleted-retry").addEventListener("click", () => load(true));

function render() {
  const count = state.items.size;
  $("deleted-more").hidden = !state.next;
  $("deleted-count").textContent = count
    ? `${count} deleted ${count === 1 ? "secret" : "secrets"}${state.next ? " shown, more available" : ""}`
    : "";
  $("deleted-empty").hidden = count > 0;
  // Nothing found yet in the part of a large tenant read so far: not "nothing deleted".
  $("deleted-empty-title").textContent = state.next ? "No deleted secrets found yet" : "Nothing recently deleted";
  $("deleted-empty-text").textContent = state.next
    ? "Only part of this tenant's secrets was read so far. Load more reads further."
    : "Deleted secrets show here until they are purged, and a user with write permission can restore them.";
  $("deleted-table").classList.toggle("is-empty", count === 0);
  $("deleted-table").classList.toggle("has-more", Boolean(state.next));
  $("deleted-card").hidden = count === 0 && !$("deleted-error").hidden;
}

function buildRow(item) {
  const row = document.createElement("tr");
  row.setAttribute("role", "row");
  row.dataset.key = item.key;
  const key = cell("th", "Key", span("key-text mono", item.key));
  key.scope = "row";
  key.className = "cell-key";
  const description = cell("td", "Description", item.description ? span("desc", item.description) : span("muted", "—"));
  description.className = "cell-desc";
  const deleted = cell("td", "Deleted", timeElement(item.deleted_time));
  deleted.className = "cell-time cell-deleted";
  // A delete made with the Vault CLI records no name: Vault's audit log has it.
  const by = cell("td", "By", span("who", item.deleted_by || "—"));
  by.className = "cell-by";
  const purge = cell("td", "Purge after", purgeDate(item.purge_time));
  purge.className = "cell-time cell-purge";
  row.append(key, description, deleted, by, purge);

  const buttons = [iconButton("history", `History of ${item.key}`, (event) => openHistory(screen.tenant(), item.key, event.currentTarget))];
  if (screen.canWrite()) {
    buttons.push(
      restoreButton(item),
      iconButton("trash", `Delete ${item.key} permanently`, (event) => openPurge(item, event.currentTarget), "danger-hover"),
    );
  }
  const actions = cell("td", "Actions", ...buttons);
  actions.className = "cell-actions";
  row.append(actions);
  return row;
}

/** Restore, labelled in words: an arrow icon alone next to the trash reads as Undo. */
function restoreButton(item) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "btn small";
  button.setAttribute("aria-label", `Restore ${item.key}`);
  button.append(icon("restore"), "Restore");
  button.addEventListener("click", (event) => restore(item, event.currentTarget));
  return button;
}

const day = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });

/** The purge date as a day ("Dec 31, 2026"): "next month" says too little for a deadline. */
function purgeDate(text) {
  const element = timeElement(text);
  if (element.dateTime) element.textContent = day.format(new Date(element.dateTime));
  return element;
}

function removeRow(key) {
  const row = $("deleted-rows").querySelector(`tr[data-key="${CSS.escape(key)}"]`);
  if (row) row.remove();
  state.items.delete(key);
  render();
}

async function restore(item, button) {
  const tenant = screen.tenant();
  button.disabled = true;
  try {
    await api("POST", `${paths.secret(tenant, item.key)}/restore`);
    removeRow(item.key);
    toast(`Secret ${item.key} restored. It is back under Active and resolves again.`);
    $("tab-deleted").focus();
  } catch (error) {
    button.disabled = false;
    if (error.status === 401) return;
    // 409: restored by someone else or re-created meanwhile; the message says which. Show the
    // current state under it.
    $("deleted-error-text").textContent = error.message;
    $("deleted-error").hidden = false;
    if (error.status === 403) screen.permissionsChanged();
    if (error.status === 409 || error.status === 404) {
      const message = error.message;
      await load(true);
      $("deleted-error-text").textContent = message;
      $("deleted-error").hidden = false;
      render();
    }
  }
}

// -- delete permanently --------------------------------------------------------------------

function openPurge(item, opener) {
  state.purging = item;
  $("purge-key").textContent = item.key;
  $("purge-title").textContent = "Delete permanently?";
  $("purge-error").hidden = true;
  openDialog($("purge-dialog"), opener, $("purge-cancel"));
}

$("purge-dialog").addEventListener("closing", () => {
  state.purging = null;
});

onConfirm($("purge-form"), {
  dialog: $("purge-dialog"),
  button: $("purge-confirm"),
  alert: $("purge-error"),
  busy: "Deleting…",
  subject: () => state.purging,
  remove: (item) => api("DELETE", `${paths.secret(screen.tenant(), item.key)}?permanent=true`),
  done: (item) => `Secret ${item.key} deleted permanently.`,
  gone: (item) => `Secret ${item.key} was already gone.`,
  refused: () => screen.permissionsChanged(),
  after: (item) => {
    removeRow(item.key);
    $("tab-deleted").focus();
  },
});
