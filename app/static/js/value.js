// The Value field of the secret form: several lines (PEM keys, certificates, JSON files), masked
// like a password field (app.css), pasted or loaded from a file, and sent exactly as given.
//
// A textarea normalises line breaks: its value has "\n" where the pasted text or the file had
// "\r\n". So the text as given is kept here beside it (`exact`), and sent while the field still
// shows that text; after a hand edit the field's text is sent, with the line breaks the pasted
// text used. Nothing of the value is ever shown: not in the field, not in the line under it,
// nor in a title or the page's HTML; closing the form forgets it (clear()).

const $ = (id) => document.getElementById(id);
const MAX_FILE_BYTES = 64 * 1024; // far above any PEM or service-account file, far below the request limit
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }); // a BOM is kept: byte for byte

let field = null;
let exact = null; // the text as pasted or loaded, while the field still shows it
let breaks = "\n"; // the line breaks of the last paste or file ("\r\n" from Windows)
let onError = () => {};

const normalised = (text) => text.replace(/\r\n?/g, "\n");

/** Wire the field, its "Load from file" button and its file input. `error(message)` shows a problem. */
export function initValueField({ error }) {
  field = $("f-value");
  onError = error;
  // Like a password field: the masked text cannot be copied or cut out again.
  for (const type of ["copy", "cut", "dragstart"]) field.addEventListener(type, (event) => event.preventDefault());
  field.addEventListener("paste", onPaste);
  field.addEventListener("input", () => {
    if (exact !== null && normalised(exact) !== field.value) exact = null;
    say("");
  });
  $("f-value-load").addEventListener("click", () => $("f-value-file").click());
  $("f-value-file").addEventListener("change", async (event) => {
    const [file] = event.target.files;
    event.target.value = ""; // the same file again later is a new choice
    if (file) await load(file);
  });
}

function onPaste(event) {
  const text = event.clipboardData ? event.clipboardData.getData("text/plain") : "";
  if (!text.includes("\r")) {
    breaks = text.includes("\n") ? "\n" : breaks;
    return; // the browser's own paste keeps everything else exactly
  }
  event.preventDefault();
  breaks = text.includes("\r\n") ? "\r\n" : "\r";
  const whole = field.selectionStart === 0 && field.selectionEnd === field.value.length;
  field.setRangeText(normalised(text), field.selectionStart, field.selectionEnd, "end");
  exact = whole ? text : null;
  field.dispatchEvent(new Event("input", { bubbles: true }));
  if (whole) exact = text; // the input listener above saw the field change
}

async function load(file) {
  if (file.size > MAX_FILE_BYTES) {
    onError(`${file.name} is ${Math.ceil(file.size / 1024)} KB: a secret's value is at most ${MAX_FILE_BYTES / 1024} KB.`);
    return;
  }
  let text;
  try {
    text = strict.decode(await file.arrayBuffer());
  } catch {
    onError(`${file.name} is not UTF-8 text; a PEM or JSON file is. Binary keys (DER, .p12) need base64 first.`);
    return;
  }
  if (!text) {
    onError(`${file.name} is empty.`);
    return;
  }
  field.value = normalised(text);
  exact = text;
  breaks = text.includes("\r\n") ? "\r\n" : "\n";
  field.dispatchEvent(new Event("input", { bubbles: true }));
  exact = text;
  const lines = normalised(text).replace(/\n$/, "").split("\n").length;
  say(`Loaded ${file.name}: ${lines} ${lines === 1 ? "line" : "lines"}, ${new TextEncoder().encode(text).length} bytes. Its content is not shown.`);
}

function say(text) {
  $("f-value-loaded").textContent = text;
}

/** The value to send: exactly what was pasted or loaded, or the field's text with the pasted line breaks. */
export function valueText() {
  if (exact !== null && normalised(exact) === field.value) return exact;
  return breaks === "\n" ? field.value : field.value.replace(/\n/g, breaks);
}

/** Forget the value (the form closed, or was reset). */
export function clearValue() {
  field.value = "";
  exact = null;
  breaks = "\n";
  say("");
}
