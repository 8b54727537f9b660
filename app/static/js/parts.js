// Small DOM helpers the Secrets screen's modules share: icons, table cells, times, busy
// buttons, alerts and the toast.

const $ = (id) => document.getElementById(id);

export function icon(name) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "icon");
  svg.setAttribute("aria-hidden", "true");
  const use = document.createElementNS("http://www.w3.org/2000/svg", "use");
  use.setAttribute("href", `#i-${name}`);
  svg.append(use);
  return svg;
}

export function cell(tag, label, ...children) {
  const element = document.createElement(tag);
  element.setAttribute("role", tag === "th" ? "rowheader" : "cell");
  element.dataset.label = label;
  element.append(...children);
  return element;
}

export function span(className, text) {
  const element = document.createElement("span");
  element.className = className;
  element.textContent = text;
  return element;
}

export function iconButton(name, label, onClick, extraClass = "") {
  const button = document.createElement("button");
  button.type = "button";
  button.className = `icon-btn ${extraClass}`.trim();
  button.setAttribute("aria-label", label);
  button.title = label;
  button.append(icon(name));
  button.addEventListener("click", onClick);
  return button;
}

/**
 * A description shown on at most two lines (a 512-byte one would make a row a screen tall).
 * The whole text is in its title, and a click (or Enter) unfolds it, when it is cut.
 */
export function clampedText(text) {
  const element = span("desc", text);
  element.title = text;
  const toggle = () => {
    if (!element.classList.contains("open") && element.scrollHeight <= element.clientHeight) return; // not cut
    element.setAttribute("aria-expanded", String(element.classList.toggle("open")));
  };
  element.addEventListener("click", toggle);
  element.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" && event.key !== " ") return;
    event.preventDefault();
    toggle();
  });
  // Focusable only when cut, so keyboard users reach the folded text and no one tabs through the rest.
  requestAnimationFrame(() => {
    if (element.scrollHeight <= element.clientHeight) return;
    element.tabIndex = 0;
    element.setAttribute("aria-expanded", "false");
    element.classList.add("cut");
  });
  return element;
}

// Vault times carry nanoseconds; Date wants at most milliseconds.
export function parseTime(text) {
  const time = Date.parse(String(text || "").replace(/(\.\d{3})\d+/, "$1"));
  return Number.isNaN(time) ? null : new Date(time);
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function timeElement(text) {
  const date = parseTime(text);
  const element = document.createElement("time");
  if (!date) {
    element.textContent = "—";
    return element;
  }
  element.dateTime = date.toISOString();
  element.title = absolute.format(date);
  const seconds = Math.round((date.getTime() - Date.now()) / 1000);
  const steps = [
    [60, "second"],
    [60, "minute"],
    [24, "hour"],
    [30, "day"],
    [12, "month"],
    [Infinity, "year"],
  ];
  let amount = seconds;
  for (const [size, unit] of steps) {
    if (Math.abs(amount) < size) {
      element.textContent = unit === "second" && Math.abs(amount) < 45 ? "just now" : relative.format(amount, unit);
      return element;
    }
    amount = Math.round(amount / size);
  }
  element.textContent = absolute.format(date);
  return element;
}

export function showAlert(element, message) {
  element.textContent = message;
  element.hidden = false;
}

export function setBusy(button, busy, label) {
  if (busy) {
    button.dataset.label = button.textContent;
    button.textContent = label;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
  } else if (button.dataset.label !== undefined) {
    button.textContent = button.dataset.label;
    delete button.dataset.label;
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

let toastTimer = 0;
const TOAST_MS = 4000;
const TOAST_ACTION_MS = 10000; // time to reach an Undo

/**
 * A short confirmation: shown for a few seconds, and announced through a live region that
 * always exists (regions that appear together with their text are often not read out).
 * `action` ({label, name, run}) adds a button (Undo), kept while the toast shows; `name` is its
 * accessible name (“Undo delete of KEY”).
 */
export function toast(message, action = null) {
  const element = $("toast");
  $("toast-text").textContent = message;
  const buttons = [];
  if (action) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "btn small";
    button.textContent = action.label;
    button.setAttribute("aria-label", action.name || action.label);
    button.addEventListener("click", () => {
      hideToast();
      action.run();
    });
    buttons.push(button);
  }
  element.replaceChildren($("toast-text"), ...buttons);
  element.hidden = false;
  $("announce").textContent = action ? `${message} ${action.label} is available at the bottom of the page.` : message;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(hideToast, action ? TOAST_ACTION_MS : TOAST_MS);
}

function hideToast() {
  clearTimeout(toastTimer);
  const element = $("toast");
  // Focus on the Undo button must not be lost with it: back to the page's heading.
  if (element.contains(document.activeElement)) document.getElementById("page-title").focus();
  element.hidden = true;
  element.replaceChildren($("toast-text"));
  $("announce").textContent = "";
}
