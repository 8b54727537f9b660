// Import and download: the Import dialog (paste or drop a .env file or a JSON list, a preview of
// what each key will do, then confirm) and the Download menu (the inventory as CSV or JSON).
// The file's text lives in one variable while the dialog is open and is dropped when it closes;
// it is never put into the page: the drop zone stays empty and only keys are shown.

import { api } from "./api.js";
import { openDialog } from "./dialogs.js";

const $ = (id) => document.getElementById(id);

const WILL = { created: "will be created", updated: "will get a new version", skipped: "will be skipped" };
const DID = { created: "created", updated: "new version", skipped: "skipped", failed: "failed" };

let content = ""; // the loaded file's text: only ever sent, never shown
let format = "dotenv";
let previewed = false; // the current content and choice were previewed without problems
let written = false; // something was written: the table needs reloading on close
let request = 0; // the latest preview: an older answer arriving late is ignored
let hooks = { tenant: () => "", imported: () => {}, forbidden: () => {} };

/** Wire the toolbar's Import button and Download menu; main.js calls `showBulkTools` per tenant. */
export function initBulkTools(options) {
  hooks = { ...hooks, ...options };
  $("import").addEventListener("click", (event) => open(event.currentTarget));
  const zone = $("import-paste");
  zone.addEventListener("paste", (event) => {
    event.preventDefault();
    load(event.clipboardData.getData("text/plain"), "Pasted text");
  });
  // Typing would show values: the zone only takes a paste or a drop.
  zone.addEventListener("beforeinput", (event) => event.preventDefault());
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", async (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    const file = event.dataTransfer.files[0];
    if (file) await loadFile(file);
    else load(event.dataTransfer.getData("text/plain"), "Dropped text");
  });
  $("import-file").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    event.target.value = "";
    if (file) await loadFile(file);
  });
  $("import-clear").addEventListener("click", () => {
    forget();
    zone.focus();
  });
  for (const radio of document.querySelectorAll('#import-form input[name="on_conflict"]')) {
    radio.addEventListener("change", () => {
      if (content) preview();
    });
  }
  $("import-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (previewed) run();
  });
  $("import-dialog").addEventListener("closing", () => {
    forget();
    if (written) hooks.imported();
    written = false;
  });
  // Choosing a download closes the menu, as a menu does.
  for (const link of document.querySelectorAll("#download .menu-item")) {
    link.addEventListener("click", () => $("download").removeAttribute("open"));
  }
  document.addEventListener("click", (event) => {
    if (!$("download").contains(event.target)) $("download").removeAttribute("open");
  });
  $("download").addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || !$("download").open) return;
    $("download").removeAttribute("open");
    $("download").querySelector("summary").focus();
  });
}

/** Show Download to everyone who sees the tenant, Import to its writers. */
export function showBulkTools(tenant, canWrite) {
  $("download").hidden = !tenant;
  $("download").removeAttribute("open");
  $("import").hidden = !canWrite;
  if (!tenant) return;
  const base = `/api/v1/tenants/${encodeURIComponent(tenant)}/secrets/export`;
  $("download-csv").href = `${base}?format=csv`;
  $("download-json").href = `${base}?format=json`;
}

function open(opener) {
  forget();
  written = false;
  openDialog($("import-dialog"), opener, $("import-paste"));
}

async function loadFile(file) {
  try {
    load(await file.text(), file.name);
  } catch {
    showError("The file could not be read.");
  }
}

function load(text, name) {
  content = text.replace(/^\ufeff/, "");
  // A .env line never starts with "[": a leading "[" is the JSON list.
  format = /\.json$/i.test(name) || content.trimStart().startsWith("[") ? "json" : "dotenv";
  const lines = content ? content.replace(/(\r\n|\n|\r)$/, "").split(/\r\n|\n|\r/).length : 0;
  $("import-loaded-text").textContent = `${name}: ${lines} ${lines === 1 ? "line" : "lines"}, read as ${format === "json" ? "JSON" : ".env"}`;
  $("import-loaded").hidden = !content;
  if (content) preview();
  else forget();
}

/** Drop the text and everything shown about it. */
function forget() {
  content = "";
  previewed = false;
  request += 1;
  $("import-paste").value = "";
  $("import-file").value = "";
  $("import-loaded").hidden = true;
  $("import-error").hidden = true;
  $("import-outcome").hidden = true;
  $("import-list").replaceChildren();
  $("import-source").hidden = false;
  $("import-submit").hidden = false;
  $("import-submit").disabled = true;
  $("import-submit").textContent = "Import";
  $("import-cancel").textContent = "Cancel";
}

function onConflict() {
  return document.querySelector('#import-form input[name="on_conflict"]:checked').value;
}

function body(dryRun) {
  return { format, content, on_conflict: onConflict(), dry_run: dryRun };
}

async function preview() {
  const mine = ++request;
  const tenant = hooks.tenant();
  previewed = false;
  $("import-submit").disabled = true;
  $("import-error").hidden = true;
  $("import-summary").textContent = "Checking…";
  $("import-outcome").hidden = false;
  $("import-list").replaceChildren();
  try {
    const answer = await api("POST", `/api/v1/tenants/${encodeURIComponent(tenant)}/secrets/import`, { body: body(true) });
    if (mine !== request) return;
    const results = answer.results;
    const writes = results.filter((r) => r.status !== "skipped").length;
    $("import-summary").textContent = summary(results, true);
    showResults(results, WILL);
    previewed = writes > 0;
    $("import-submit").disabled = !previewed;
    $("import-submit").textContent = writes ? `Import ${writes} ${writes === 1 ? "secret" : "secrets"}` : "Nothing to import";
  } catch (error) {
    if (mine !== request || error.status === 401) return;
    $("import-outcome").hidden = true;
    showError(error.message, problems(error));
    if (error.status === 403) hooks.forbidden();
  }
}

async function run() {
  const tenant = hooks.tenant();
  const button = $("import-submit");
  button.disabled = true;
  button.textContent = "Importing…";
  try {
    const answer = await api("POST", `/api/v1/tenants/${encodeURIComponent(tenant)}/secrets/import`, { body: body(false) });
    finished(answer.results);
    $("import-summary").textContent = summary(answer.results, false);
  } catch (error) {
    if (error.status === 401) return;
    const results = error.errors.results;
    if (results) {
      // Vault failed half way: say what was written, so that a retry (Skip) finishes the job.
      finished(results);
      $("import-summary").textContent = summary(results, false);
    } else {
      button.disabled = false;
      button.textContent = "Import";
    }
    showError(error.message, problems(error));
    if (error.status === 403) hooks.forbidden();
  }
}

/** The import has run: the text is no longer needed; show each key's result. */
function finished(results) {
  content = "";
  previewed = false;
  written = written || results.some((r) => r.status === "created" || r.status === "updated");
  $("import-source").hidden = true;
  $("import-submit").hidden = true;
  $("import-cancel").textContent = "Done";
  showResults(results, DID);
  $("import-cancel").focus();
}

function summary(results, planned) {
  const count = (status) => results.filter((r) => r.status === status).length;
  const parts = [];
  for (const [status, label] of [["created", "new"], ["updated", planned ? "to overwrite" : "overwritten"], ["skipped", "skipped"], ["failed", "failed"]]) {
    if (count(status)) parts.push(`${count(status)} ${label}`);
  }
  const total = `${results.length} ${results.length === 1 ? "key" : "keys"}`;
  return `${planned ? "Preview" : "Imported"}: ${total}${parts.length ? ` (${parts.join(", ")})` : ""}`;
}

function showResults(results, words) {
  $("import-outcome").hidden = false;
  $("import-list").replaceChildren(
    ...results.map((result) => {
      const item = document.createElement("li");
      item.dataset.status = result.status;
      const key = document.createElement("code");
      key.textContent = result.key;
      const status = document.createElement("span");
      status.className = `status ${result.status}`;
      const reason = result.reason && result.reason !== "exists" ? ` (${result.reason})` : "";
      status.textContent = (words[result.status] || result.status) + reason;
      item.append(key, status);
      return item;
    }),
  );
}

/** The refusal's list: each line (or item) and the rule it broke, or the existing keys. */
function problems(error) {
  const found = error.errors;
  const lines = found.content || [];
  if (found.existing && !lines.length) return [];
  return Array.isArray(lines) ? lines.map(String) : [];
}

function showError(message, details = []) {
  const alert = $("import-error");
  const list = document.createElement("ul");
  list.className = "problems";
  list.append(...details.map((text) => Object.assign(document.createElement("li"), { textContent: text })));
  alert.replaceChildren(document.createTextNode(message), ...(details.length ? [list] : []));
  alert.hidden = false;
}
