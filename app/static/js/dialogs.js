// Modal <dialog> helpers: open with focus on a chosen field, keep Tab inside, Escape or any
// [data-close] button closes, and focus goes back to the control that opened it.
// A "closing" event fires synchronously before every close ("close" itself comes a task later),
// so listeners can wipe typed input at once.

import { setBusy, showAlert, toast } from "./parts.js";

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';
const openers = new WeakMap();

function focusables(dialog) {
  return [...dialog.querySelectorAll(FOCUSABLE)].filter((element) => !element.closest("[hidden]"));
}

function trapTab(event) {
  if (event.key !== "Tab") return;
  const dialog = event.currentTarget;
  const items = focusables(dialog);
  if (items.length === 0) return;
  const first = items[0];
  const last = items[items.length - 1];
  if (event.shiftKey && (document.activeElement === first || !dialog.contains(document.activeElement))) {
    event.preventDefault();
    last.focus();
  } else if (!event.shiftKey && (document.activeElement === last || !dialog.contains(document.activeElement))) {
    event.preventDefault();
    first.focus();
  }
}

function wire(dialog) {
  if (dialog.dataset.wired) return;
  dialog.dataset.wired = "1";
  dialog.addEventListener("keydown", trapTab);
  dialog.addEventListener("cancel", () => dialog.dispatchEvent(new Event("closing")));
  for (const button of dialog.querySelectorAll("[data-close]")) {
    button.addEventListener("click", () => closeDialog(dialog));
  }
  dialog.addEventListener("close", () => {
    const opener = openers.get(dialog);
    openers.delete(dialog);
    if (opener && opener.isConnected && !opener.closest("[hidden]") && dialog.dataset.restore !== "no") opener.focus();
    delete dialog.dataset.restore;
  });
}

export function openDialog(dialog, opener, focusTarget) {
  wire(dialog);
  openers.set(dialog, opener || document.activeElement);
  if (!dialog.open) dialog.showModal();
  (focusTarget || focusables(dialog)[0] || dialog).focus();
}

export function closeDialog(dialog, { restoreFocus = true } = {}) {
  if (!dialog.open) return;
  if (!restoreFocus) dialog.dataset.restore = "no";
  dialog.dispatchEvent(new Event("closing"));
  dialog.close();
}

// The submit of a dialog that confirms a deletion. Its button is busy while remove(subject)
// runs. Done, or a 404 (someone else was first: gone() says so), closes the dialog and runs
// after(subject); any other failure shows in the dialog's alert and keeps it open (refused()
// hears of a 403). A 401 is left to the sign-in screen.
// `action(subject)`, if given, may add a button to the done toast (an Undo); `ready(subject)`, if
// given, may stop the submit before anything is sent (it says why itself).
export function onConfirm(form, { dialog, button, alert, busy, subject, remove, done, gone, refused, after, action, ready }) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const what = subject();
    if (!what || (ready && !ready(what))) return;
    setBusy(button, true, busy);
    try {
      await remove(what);
      toast(done(what), action ? action(what) : null);
    } catch (error) {
      if (error.status === 401) return;
      if (error.status !== 404) {
        showAlert(alert, error.message);
        if (error.status === 403 && refused) refused();
        return;
      }
      toast(gone(what));
    } finally {
      setBusy(button, false);
    }
    closeDialog(dialog, { restoreFocus: false });
    await after(what);
  });
}
