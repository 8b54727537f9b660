// The API's input rules, read from the server's own OpenAPI document (the schemas that validate
// requests), to explain mistakes as you type. The server checks again.

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// Before the rules are loaded: what Vault calls printable (letters, marks, numbers, punctuation,
// symbols, the ASCII space), the same definition as the document's pattern.
const UNPRINTABLE = /[^\p{L}\p{M}\p{N}\p{P}\p{S} ]/gu;
const bytes = new TextEncoder();
let rules = null;

/** Load the key pattern and the description's byte limit from /api/openapi.json (once). */
export async function loadRules() {
  if (rules) return rules;
  const reply = await fetch("/api/openapi.json", { credentials: "same-origin" });
  if (!reply.ok) throw new Error(`Could not load the input rules (HTTP ${reply.status}).`);
  const fields = (await reply.json()).components.schemas.SecretCreate.properties;
  rules = {
    key: new RegExp(fields.key.pattern),
    keyRule: fields.key.description,
    descriptionMaxBytes: fields.description["x-max-bytes"],
    // "^[...]*$": the characters Vault accepts in metadata (and the API in a search)
    description: new RegExp(fields.description.pattern, "u"),
    unprintable: new RegExp(`[^${fields.description.pattern.slice(2, -3)}]`, "gu"),
  };
  return rules;
}

/** Why `key` is not a valid key, or "" if it is (or the rules are not loaded yet). */
export function keyProblem(key) {
  if (key === "") return "Enter a key.";
  if (!rules || rules.key.test(key)) return "";
  // Every beginning of a valid key is valid itself: the first character that makes the
  // beginning invalid is the one to point at.
  const at = [...key].findIndex((_, i) => !rules.key.test([...key].slice(0, i + 1).join("")));
  if (at < 0) return rules.keyRule; // too long
  const ch = [...key][at];
  if (ch === " ") return `No spaces. ${rules.keyRule}`;
  if (at === 0) return `A key cannot start with “${ch}”. ${rules.keyRule}`;
  return `“${ch}” is not allowed. ${rules.keyRule}`;
}

/** Why `text` is not a valid description, or "". Vault counts UTF-8 bytes, so this does too. */
export function descriptionProblem(text) {
  if (!rules) return "";
  const size = bytes.encode(text).length;
  if (size > rules.descriptionMaxBytes) {
    return `Use at most ${rules.descriptionMaxBytes} bytes (this is ${size}; accented letters and emoji take 2–4).`;
  }
  if (CONTROL.test(text)) return "Remove tabs and other control characters.";
  if (!rules.description.test(text)) {
    return "Remove invisible characters (zero-width spaces, direction marks, soft hyphens, special spaces).";
  }
  return "";
}

/** `text` with every character the API refuses in a search turned into a space. */
export function printable(text) {
  return text.replace(rules ? rules.unprintable : UNPRINTABLE, " ");
}
