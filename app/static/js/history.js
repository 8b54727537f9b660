// A secret's history: its versions, when and by whom, deleted or not. Values are write-only,
// so there is no "show old value" and no rollback: the dialog says so where one would look.

import { api, paths } from "./api.js";
import { openDialog } from "./dialogs.js";
import { cell, showAlert, span, timeElement } from "./parts.js";

const $ = (id) => document.getElementById(id);
let shown = ""; // "tenant/key" whose history the dialog is loading or showing

/** Open the history of `key`, focus on Close; `opener` gets focus back. */
export async function openHistory(tenant, key, opener) {
  const dialog = $("history-dialog");
  const wanted = `${tenant}/${key}`;
  shown = wanted;
  $("history-title").textContent = `History of ${key}`;
  $("history-caption").textContent = "Versions"; // the dialog's title names the key, once
  $("history-note").textContent = "Loading…";
  $("history-description").textContent = "";
  $("history-error").hidden = true;
  $("history-rows").replaceChildren();
  openDialog(dialog, opener, dialog.querySelector(".dialog-foot [data-close]"));
  try {
    const answer = await api("GET", `${paths.secret(tenant, key)}/versions`);
    if (shown !== wanted || !dialog.open) return;
    $("history-rows").replaceChildren(...answer.items.map((version, index) => buildRow(version, index === 0)));
    const keep = answer.max_versions;
    $("history-note").textContent =
      "Values are write-only: an earlier value cannot be shown, and there is no rollback to it (that would need reading it). " +
      "To go back, save the old value again as a new version.";
    $("history-description").textContent = keep
      ? `Vault keeps the last ${keep} versions of a secret; older ones drop off this list. Description changes make no new version.`
      : "Vault keeps a limited number of versions of a secret (its mount's setting); older ones drop off this list. Description changes make no new version.";
  } catch (error) {
    if (shown !== wanted || error.status === 401) return;
    $("history-note").textContent = "";
    showAlert($("history-error"), `Could not load the history: ${error.message}`);
  }
}

function buildRow(version, newest) {
  const row = document.createElement("tr");
  row.setAttribute("role", "row");
  const number = cell("th", "Version", span("mono", `v${version.version}`));
  number.scope = "row";
  const when = cell("td", "Written", timeElement(version.created_time));
  when.className = "cell-time";
  // Versions written with the Vault CLI carry no name: Vault's audit log has it.
  const by = cell("td", "By", span("who", version.created_by || "—"));
  by.className = "cell-by";
  let status = newest ? "Current" : "Earlier";
  if (version.destroyed) status = "Destroyed";
  else if (version.deleted) status = "Deleted";
  const state = cell("td", "Status", span(`status status-${status.toLowerCase()}`, status));
  row.append(number, when, by, state);
  return row;
}
