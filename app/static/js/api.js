// The JSON API client: CSRF header on unsafe calls, one error type, and a hook for 401s.

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

let csrfToken = "";
let onUnauthorized = () => {};

export function setCsrf(token) {
  csrfToken = token || "";
}

/** Called when any signed-in call answers 401 (session expired or token revoked). */
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

/** An API failure: HTTP status, the server's safe message, and field errors by field name. */
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || (status ? `Request failed (${status})` : "Request failed"));
    this.status = status;
    this.fields = fieldErrors(body && body.errors);
    this.errors = (body && typeof body.errors === "object" && body.errors) || {}; // as answered, e.g. an import's results
  }
}

// `errors` maps each field to its messages ({"key": [...]}; README: HTTP API): one text per field.
function fieldErrors(errors) {
  const out = {};
  if (!errors || typeof errors !== "object") return out;
  for (const [name, detail] of Object.entries(errors)) {
    if (Array.isArray(detail)) {
      out[name] = detail.map(String).join(" ");
    } else if (typeof detail === "string") {
      out[name] = detail;
    }
  }
  return out;
}

/**
 * One API call. `auth: false` marks calls where 401 is an answer (a wrong password),
 * not an expired session.
 */
export async function api(method, path, { body, signal, auth = true } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (!SAFE.has(method)) headers["X-CSRF-Token"] = csrfToken;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, { message: "Cannot reach the service. Check your connection and try again." });
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    if (response.status === 401 && auth) onUnauthorized(error);
    throw error;
  }
  return data;
}

export const paths = {
  session: "/api/v1/session",
  secrets: (tenant) => `/api/v1/tenants/${encodeURIComponent(tenant)}/secrets`,
  secret: (tenant, key) => `/api/v1/tenants/${encodeURIComponent(tenant)}/secrets/${encodeURIComponent(key)}`,
};
