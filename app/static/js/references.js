// References on the Secrets screen: which Actions and Event Types name each key (the Hub declares
// them). The Used by cell and its panel, the sentence that names them in the delete confirm and
// under an expiring key, and the typed-key check a delete of a referenced key asks for.

import { api, paths } from "./api.js";
import { openDialog } from "./dialogs.js";
import { cell, iconButton, showAlert, span, timeElement } from "./parts.js";

const $ = (id) => document.getElementById(id);
// The confirm names the first few; the rest are "and N more" (the API's 409 names five too).
export const FIRST = 5;
const PANEL_PAGE = 50;
const KINDS = { action: "Action", "event-type": "Event Type" };
let shown = ""; // "tenant/key" whose referrers the panel is loading or showing

export function referencesPath(tenant, key, { limit, after } = {}) {
  const params = new URLSearchParams({ key });
  if (limit) params.set("limit", String(limit));
  if (after) params.set("after", after);
  return `/api/v1/tenants/${encodeURIComponent(tenant)}/references?${params}`;
}

/** The first referrers of a key ({kind, id, name, parameters}), for a sentence. */
export async function firstReferrers(tenant, key, signal) {
  const page = await api("GET", referencesPath(tenant, key, { limit: FIRST }), { signal });
  return page.items;
}

function kindName(kind) {
  return KINDS[kind] || kind;
}

/** "Send invoice (Action, parameter db_password)"; without parameter names "Nightly sync (Action)". */
function described(referrer) {
  const names = referrer.parameters || [];
  const what = names.length ? `, ${names.length === 1 ? "parameter" : "parameters"} ${names.join(", ")}` : "";
  return `${referrer.name || referrer.id} (${kindName(referrer.kind)}${what})`;
}

/** "N automations reference KEY: A (Action, parameter p), B (Event Type) and N more." */
export function referrersSentence(key, count, referrers) {
  const total = Math.max(count, referrers.length);
  const listed = referrers.slice(0, FIRST).map(described).join(", ");
  const more = total - Math.min(referrers.length, FIRST);
  const noun = total === 1 ? "automation references" : "automations reference";
  if (!listed) return `${total} ${noun} ${key}.`;
  return `${total} ${noun} ${key}: ${listed}${more > 0 ? ` and ${more} more` : ""}.`;
}

/** The Used by cell: the count as a button that opens the panel (readers too); "none" at 0. */
export function usedByCell(tenant, item) {
  const count = item.references;
  let content;
  if (typeof count !== "number") {
    content = span("muted", "—"); // not counted (a tenant whose policies predate references)
  } else if (count === 0) {
    content = span("muted never", "none");
  } else {
    const label = `${count} ${count === 1 ? "automation uses" : "automations use"} ${item.key}: show which`;
    content = iconButton("link", label, (event) => openReferrers(tenant, item.key, event.currentTarget), "used-by");
    content.append(span("used-count", String(count)));
  }
  const element = cell("td", "Used by", content);
  element.className = count > 0 ? "cell-refs" : "cell-refs unused";
  return element;
}

/** Under an expiring key's description: the automations its expiry would break (filled async). */
export function breaksLine(tenant, item) {
  const line = document.createElement("p");
  line.className = "breaks";
  line.textContent = "Checking what uses it…";
  firstReferrers(tenant, item.key)
    .then((found) => {
      if (!found.length) {
        line.remove();
        return;
      }
      const more = Math.max(item.references, found.length) - found.length;
      line.textContent = `Would break: ${found.map((r) => `${r.name || r.id} (${kindName(r.kind)})`).join(", ")}${more > 0 ? ` and ${more} more` : ""}`;
    })
    .catch(() => line.remove()); // the count in Used by still says it is in use
  return line;
}

/** The panel: every referrer of `key` with its kind, parameter names and last resolve. */
export async function openReferrers(tenant, key, opener) {
  const dialog = $("referrers-dialog");
  const wanted = `${tenant}/${key}`;
  shown = wanted;
  $("referrers-title").textContent = `Used by: ${key}`;
  $("referrers-note").textContent = "Loading…";
  $("referrers-error").hidden = true;
  $("referrers-rows").replaceChildren();
  $("referrers-more").hidden = true;
  openDialog(dialog, opener, dialog.querySelector(".dialog-foot [data-close]"));
  await loadPanel(tenant, key, wanted, null);
}

async function loadPanel(tenant, key, wanted, after) {
  const dialog = $("referrers-dialog");
  try {
    const page = await api("GET", referencesPath(tenant, key, { limit: PANEL_PAGE, after }));
    if (shown !== wanted || !dialog.open) return;
    $("referrers-rows").append(...page.items.map(buildRow));
    const count = $("referrers-rows").children.length;
    $("referrers-note").textContent = count
      ? `The Actions and Event Types whose SECRET parameters name ${key}, as the Hub declared them. Each stops resolving if the key is deleted.`
      : `No Action or Event Type names ${key} any more.`;
    const more = $("referrers-more");
    more.hidden = !page.next;
    more.onclick = page.next ? () => loadPanel(tenant, key, wanted, page.next) : null;
  } catch (error) {
    if (shown !== wanted || error.status === 401) return;
    $("referrers-note").textContent = "";
    showAlert($("referrers-error"), `Could not load what uses ${key}: ${error.message}`);
  }
}

function buildRow(referrer) {
  const row = document.createElement("tr");
  row.setAttribute("role", "row");
  const name = cell("th", "Name", span("", referrer.name || referrer.id));
  name.scope = "row";
  const kind = cell("td", "Kind", span("", kindName(referrer.kind)));
  const names = referrer.parameters || [];
  const parameters = cell("td", "Parameters", names.length ? span("mono", names.join(", ")) : span("muted", "—"));
  const resolved = cell(
    "td",
    "Last resolved",
    referrer.last_resolved_time ? timeElement(referrer.last_resolved_time) : span("muted never", "never"),
  );
  resolved.className = "cell-time";
  row.append(name, kind, parameters, resolved);
  return row;
}

/**
 * The delete confirm's part for a referenced key: the sentence naming them, and the field where
 * the user types the key to delete anyway. `show(null)` puts back today's confirm.
 */
export function showTypedConfirm(key, count, referrers) {
  const part = $("confirm-referenced");
  const typed = $("confirm-typed");
  typed.value = "";
  typed.removeAttribute("aria-invalid");
  $("confirm-typed-error").hidden = true;
  if (referrers === null) {
    part.hidden = true;
    return;
  }
  $("confirm-referrers").textContent = referrersSentence(key, count, referrers);
  $("confirm-typed-label").textContent = `Type ${key} to delete it anyway`;
  part.hidden = false;
}

/** Whether the typed key matches; if not, says so under the field and focuses it. */
export function typedMatches(key) {
  const typed = $("confirm-typed");
  if ($("confirm-referenced").hidden || typed.value === key) return true;
  $("confirm-typed-error").textContent = typed.value ? `That is not ${key}.` : `Type ${key} to delete it anyway, or Cancel.`;
  $("confirm-typed-error").hidden = false;
  typed.setAttribute("aria-invalid", "true");
  typed.focus();
  return false;
}

export function typedConfirmShown() {
  return !$("confirm-referenced").hidden;
}

export function resetPanel() {
  shown = "";
  $("referrers-rows").replaceChildren();
}

/** paths.secret with ?force=true: a delete of a referenced key the user confirmed by typing it. */
export function forcedDelete(tenant, key) {
  return `${paths.secret(tenant, key)}?force=true`;
}
