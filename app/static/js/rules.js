// The API's input rules (app/names.py, app/schemas.py), mirrored to explain mistakes as you type.
// The server checks again; these only give earlier, friendlier messages.

export const KEY_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;
export const KEY_MAX = 128;
export const DESCRIPTION_MAX = 512;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Why `key` is not a valid key, or "" if it is. */
export function keyProblem(key) {
  if (key === "") return "Enter a key.";
  if (key.length > KEY_MAX) return `Use at most ${KEY_MAX} characters.`;
  if (!/^[A-Za-z_]/.test(key)) return "Start with a letter or an underscore.";
  const bad = [...key].find((ch) => !/[A-Za-z0-9_.-]/.test(ch));
  if (bad !== undefined) {
    const shown = bad === " " ? "spaces" : `“${bad}”`;
    return `Use only letters, digits, “_”, “.” and “-” (no ${shown}).`;
  }
  return KEY_RE.test(key) ? "" : "Not a valid key.";
}

/** Why `text` is not a valid description, or "". */
export function descriptionProblem(text) {
  if (text.length > DESCRIPTION_MAX) return `Use at most ${DESCRIPTION_MAX} characters.`;
  if (CONTROL.test(text)) return "Remove tabs and other control characters.";
  return "";
}
