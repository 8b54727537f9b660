// Last used and expiry on the Secrets screen: the Last used cell, expiry badges, the sort by
// last use, the expiry form field's value, and what the delete confirm says a delete breaks.

import { cell, parseTime, span, timeElement } from "./parts.js";

export const EXPIRING_DAYS = 14;
const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeZone: "UTC" });

/** "expired", "soon" (within EXPIRING_DAYS) or "" for an item's expires_at. */
export function expiryState(item, now = Date.now()) {
  const when = parseTime(item.expires_at);
  if (!when) return "";
  if (when.getTime() <= now) return "expired";
  return when.getTime() - now <= EXPIRING_DAYS * DAY_MS ? "soon" : "";
}

/** The badge beside a key that expires soon or has expired; null otherwise. */
export function expiryBadge(item) {
  const state = expiryState(item);
  if (!state) return null;
  const when = parseTime(item.expires_at);
  const days = Math.ceil((when.getTime() - Date.now()) / DAY_MS);
  const text = state === "expired" ? "Expired" : days <= 1 ? "Expires today" : `Expires in ${days} days`;
  const badge = span(`badge expiry ${state}`, text);
  badge.title = `${state === "expired" ? "Expired" : "Expires"} ${dateOnly.format(when)} (UTC). The Hub still resolves it and logs a warning.`;
  return badge;
}

/** When the Hub last resolved a key, as recorded: to the hour, so the current hour reads "this hour". */
function usedTime(text) {
  const element = timeElement(text);
  const when = parseTime(text);
  if (when && Date.now() - when.getTime() < HOUR_MS) element.textContent = "this hour";
  element.title = `Recorded to the hour: ${element.title}`;
  return element;
}

/** The Last used cell: "3 hours ago", "this hour" or "never". */
export function lastUsedCell(item) {
  const content = item.last_used_time ? usedTime(item.last_used_time) : span("muted never", "never");
  const element = cell("td", "Last used", content);
  element.className = "cell-time cell-used";
  return element;
}

/**
 * The table's sort by last use: "" (key order, as Vault lists), "desc" (most recent first) or
 * "asc" (least recent first, never used on top: the candidates for clean-up).
 */
export function nextSort(current) {
  return current === "" ? "desc" : current === "desc" ? "asc" : "";
}

/** Reorder the table's rows by the sort; key order breaks ties and is the "" order. */
export function sortRows(tbody, items, sort) {
  const used = (key) => {
    const time = parseTime((items.get(key) || {}).last_used_time);
    return time ? time.getTime() : -Infinity;
  };
  const rows = [...tbody.children];
  rows.sort((a, b) => {
    const byKey = a.dataset.key < b.dataset.key ? -1 : a.dataset.key > b.dataset.key ? 1 : 0;
    if (!sort) return byKey;
    const diff = sort === "desc" ? used(b.dataset.key) - used(a.dataset.key) : used(a.dataset.key) - used(b.dataset.key);
    return diff || byKey;
  });
  tbody.append(...rows);
}

export function showSort(header, sort) {
  header.setAttribute("aria-sort", sort === "desc" ? "descending" : sort === "asc" ? "ascending" : "none");
  const button = header.querySelector("button");
  button.dataset.sort = sort;
  button.querySelector("use").setAttribute("href", sort ? "#i-sort-down" : "#i-sort");
  button.title = sort === "desc" ? "Most recently used first" : sort === "asc" ? "Least recently used first (never used on top)" : "Sort by last use";
}

/** The form's date (YYYY-MM-DD) for an expires_at, and back (midnight UTC). */
export function dateField(expiresAt) {
  const when = parseTime(expiresAt);
  return when ? when.toISOString().slice(0, 10) : "";
}

export function expiresAtOf(date) {
  return date ? `${date}T00:00:00Z` : null;
}

/** The hint under the expiry field: a date already past is allowed, and said so. */
export function expiryHint(date) {
  if (date && parseTime(expiresAtOf(date)).getTime() <= Date.now()) {
    return "This date has passed: the secret will be marked expired. The Hub still resolves it.";
  }
  return `Expires at midnight UTC; marked in the table ${EXPIRING_DAYS} days before. The Hub still resolves it afterwards and logs a warning.`;
}

/** What deleting breaks, for the confirm: when the Hub last resolved the key, or that it never did.
 * The sentence says "it": the confirm names the key once, in the sentence before. */
export function usageSentence(item) {
  const paragraph = document.createElement("p");
  paragraph.id = "confirm-usage";
  if (item.last_used_time) {
    const when = usedTime(item.last_used_time);
    paragraph.className = "usage-warning";
    paragraph.append("Resolved by the Hub ", when, ": Actions that reference it will stop resolving. Update those parameters before deleting.");
  } else {
    paragraph.append("Never resolved by the Hub: no Action is known to use it. Any parameter that references it will stop resolving.");
  }
  return paragraph;
}
