// The account menu: change one's own password (PUT /api/v1/session/password). An account whose
// password an admin chose must do this first: the server answers nothing else until then, so
// the dialog then cannot be dismissed, only completed (or left by reloading and signing out).
// The dialog exists only while open: typed passwords leave the page with it.

import { api, ApiError } from "./api.js";
import { closeDialog, openDialog } from "./dialogs.js";
import { setBusy, showAlert, toast } from "./parts.js";

const $ = (id) => document.getElementById(id);
const FIELDS = ["current", "new", "repeat"];

const TEMPLATE = `
<dialog id="passwd-dialog" class="dialog narrow" aria-labelledby="passwd-title">
  <form id="passwd-form" novalidate>
    <div class="dialog-head">
      <h2 id="passwd-title">Change password</h2>
      <button type="button" class="icon-btn" data-close aria-label="Close"><svg class="icon"><use href="#i-x"/></svg></button>
    </div>
    <div class="dialog-body">
      <p id="passwd-required" class="notice" hidden>Your password was set by an administrator. Choose your own to continue.</p>
      <div id="passwd-error" class="alert" role="alert" hidden></div>
      <div class="field">
        <label for="passwd-current">Current password</label>
        <input id="passwd-current" name="current" type="password" autocomplete="current-password" required aria-describedby="passwd-current-error">
        <p id="passwd-current-error" class="field-error" hidden></p>
      </div>
      <div class="field">
        <label for="passwd-new">New password</label>
        <input id="passwd-new" name="new" type="password" autocomplete="new-password" required minlength="12" aria-describedby="passwd-new-error passwd-new-hint">
        <p id="passwd-new-error" class="field-error" hidden></p>
        <p id="passwd-new-hint" class="hint">At least 12 characters.</p>
      </div>
      <div class="field">
        <label for="passwd-repeat">New password again</label>
        <input id="passwd-repeat" name="repeat" type="password" autocomplete="new-password" required aria-describedby="passwd-repeat-error">
        <p id="passwd-repeat-error" class="field-error" hidden></p>
      </div>
    </div>
    <div class="dialog-foot">
      <button type="button" class="btn" data-close>Cancel</button>
      <button id="passwd-save" type="submit" class="btn primary">Change password</button>
    </div>
  </form>
</dialog>`;

function fieldError(name, message) {
  const element = $(`passwd-${name}-error`);
  element.textContent = message;
  element.hidden = !message;
}

function clearErrors() {
  for (const name of FIELDS) fieldError(name, "");
  $("passwd-error").hidden = true;
}

/** Open the dialog; `mustChange` (a first password) hides Cancel and ignores Escape until done. */
export function openPasswordDialog(opener, { mustChange = false, done = () => {} } = {}) {
  if ($("passwd-dialog")) return;
  document.body.insertAdjacentHTML("beforeend", TEMPLATE);
  const dialog = $("passwd-dialog");
  let required = mustChange;
  $("passwd-required").hidden = !mustChange;
  for (const button of dialog.querySelectorAll("[data-close]")) button.hidden = mustChange;
  dialog.addEventListener("cancel", (event) => {
    if (required) event.preventDefault(); // a required change cannot be dismissed with Escape
  });
  dialog.addEventListener("close", () => dialog.remove());
  $("passwd-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    const form = event.target.elements;
    const current = form.current.value;
    const fresh = form.new.value;
    if (fresh !== form.repeat.value) {
      fieldError("repeat", "The two new passwords differ.");
      return;
    }
    const button = $("passwd-save");
    setBusy(button, true, "Saving…");
    try {
      await api("PUT", "/api/v1/session/password", { body: { current, new: fresh } });
      required = false;
      closeDialog(dialog);
      toast("Password changed");
      done();
    } catch (error) {
      if (error.status === 401) return; // the sign-in screen takes over
      const fields = error instanceof ApiError ? error.fields : {};
      if (fields.current) fieldError("current", fields.current);
      if (fields.new) fieldError("new", fields.new);
      if (!fields.current && !fields.new) showAlert($("passwd-error"), error.message);
    } finally {
      setBusy(button, false);
      for (const name of FIELDS) form[name].value = ""; // typed passwords are not kept around
    }
  });
  openDialog(dialog, opener, $("passwd-current"));
}

export function initAccount() {
  $("account-menu").addEventListener("click", (event) => openPasswordDialog(event.currentTarget));
}
